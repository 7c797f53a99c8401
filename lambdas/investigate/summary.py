"""Events -> a summary a responder can read in a minute. Pure: no AWS calls.

Input: LookupEvents `Events[]` entries (as `lookup` returns them: EventTime ISO, `Region`, and
`CloudTrailEvent`, the record as a JSON string). Output: counts by region and service, source IPs, user
agents, first and last call, the persistence calls (every one, with what each created and whether it
succeeded), the mutating calls (capped), and the event ids a second pass compares against.

Classification works on the event name alone, so it also covers services this module has never heard of:
a call is *mutating* when its name starts with a verb that changes something (Create, Put, Attach, Run, ...);
read-only verbs (Get, List, Describe, Lookup) are not. *Persistence* calls are the ones that leave the
attacker a way back in after the leaked key is deactivated; they are named one by one below.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from typing import Any
from urllib.parse import unquote

from common.times import iso

# fmt: off
MUTATING_VERBS = (
    "Create", "Put", "Attach", "Update", "Delete", "Run", "Start", "Stop", "Modify", "Add", "Remove", "Set",
    "Detach", "Associate", "Disassociate", "Replace", "Reboot", "Terminate", "Authorize", "Revoke", "Enable",
    "Disable", "Import", "Upload", "Tag", "Untag", "Copy", "Register", "Deregister", "Reset", "Send", "Invoke",
    "Assume",
)
# fmt: on

# What each persistence call created or changed, as paths into the record ("request" = requestParameters,
# "response" = responseElements, "identity" = userIdentity). The first path with a value wins: e.g.
# CreateAccessKey without a userName creates a key for the caller itself.
_CALLER = "identity.userName"
PERSISTENCE: dict[str, dict[str, tuple[str, ...]]] = {
    # new identities and credentials
    "CreateUser": {"user": ("request.userName",)},
    "CreateAccessKey": {
        "access_key_id": ("response.accessKey.accessKeyId",),
        "user": ("response.accessKey.userName", "request.userName", _CALLER),
    },
    "CreateLoginProfile": {"user": ("request.userName", _CALLER)},
    "UpdateLoginProfile": {"user": ("request.userName", _CALLER)},
    "CreateVirtualMFADevice": {
        "mfa_device": ("response.virtualMFADevice.serialNumber", "request.virtualMFADeviceName")
    },
    "EnableMFADevice": {"user": ("request.userName", _CALLER), "mfa_device": ("request.serialNumber",)},
    "UploadSSHPublicKey": {"user": ("request.userName", _CALLER)},
    "CreateServiceSpecificCredential": {"user": ("request.userName", _CALLER)},
    "CreateRole": {"role": ("request.roleName",)},
    "UpdateAssumeRolePolicy": {"role": ("request.roleName",)},
    "CreateSAMLProvider": {"provider": ("response.sAMLProviderArn", "request.name")},
    "CreateOpenIDConnectProvider": {"provider": ("response.openIDConnectProviderArn", "request.url")},
    # more rights for an identity
    "AttachUserPolicy": {"user": ("request.userName",), "policy": ("request.policyArn",)},
    "AttachRolePolicy": {"role": ("request.roleName",), "policy": ("request.policyArn",)},
    "AttachGroupPolicy": {"group": ("request.groupName",), "policy": ("request.policyArn",)},
    "PutUserPolicy": {"user": ("request.userName",), "policy": ("request.policyName",)},
    "PutRolePolicy": {"role": ("request.roleName",), "policy": ("request.policyName",)},
    "PutGroupPolicy": {"group": ("request.groupName",), "policy": ("request.policyName",)},
    "CreatePolicyVersion": {"policy": ("request.policyArn",), "version": ("response.policyVersion.versionId",)},
    "SetDefaultPolicyVersion": {"policy": ("request.policyArn",), "version": ("request.versionId",)},
    "AddUserToGroup": {"user": ("request.userName",), "group": ("request.groupName",)},
    # compute that keeps running (and billing) after the key is gone
    "RunInstances": {"instances": ("response.instancesSet.items[].instanceId",)},
    "CreateFunction": {"function": ("response.functionArn", "request.functionName")},
    "UpdateFunctionCode": {"function": ("response.functionArn", "request.functionName")},
    # temporary credentials survive the deactivation of the key that issued them
    "GetFederationToken": {"federated_user": ("request.name",), "access_key_id": ("response.credentials.accessKeyId",)},
    "GetSessionToken": {"access_key_id": ("response.credentials.accessKeyId",)},
}

MAX_MUTATING = 50
MAX_NEW_LISTED = 50
MAX_EVENT_IDS = 2000  # in the evidence object (pass 2 reads them from there), not in the state
TOP = 20
MAX_AGENT_CHARS = 200
MAX_TEXT_CHARS = 200  # any one string taken from a record (requestParameters are the caller's to write)
MAX_LIST_ITEMS = 20  # items of one list taken from a record (RunInstances' instance ids)
# Step Functions caps a state's data at 256 KiB, and that state holds the incident (three times on the
# instance path: every Parallel branch output is a full copy), both passes' digests and steps, and the
# report with the e-mail text. One pass's digest gets this much; the full summary is in the evidence object.
MAX_DIGEST_BYTES = 20_000
DIGEST_PERSISTENCE = 25
DIGEST_MUTATING = 20
DIGEST_NEW = 20
DIGEST_SERVICES = 40

# AWS's managed quarantine policies (V1, V2, V3, ...), by exact ARN in any partition.
_AWS_QUARANTINE_ARN = re.compile(
    r"arn:aws(-cn|-us-gov|-iso[a-z-]*)?:iam::aws:policy/AWSCompromisedKeyQuarantine(V\d+)?"
)
_AWS_QUARANTINE_NAME = re.compile(r"AWSCompromisedKeyQuarantine(V\d+)?")
# The inline policy the responder itself puts when it cannot attach AWS's (contain_key).
RESPONDER_QUARANTINE = "CredentialResponderQuarantine"

# Lambda's CloudTrail event names carry the API version: CreateFunction20150331, UpdateFunctionCode20150331v2.
_API_VERSION = re.compile(r"\d{8}(v\d+)?$")


def base_name(event_name: str) -> str:
    return _API_VERSION.sub("", event_name)


def is_persistence(event_name: str) -> bool:
    return base_name(event_name) in PERSISTENCE


def is_mutating(event_name: str) -> bool:
    """A verb from MUTATING_VERBS followed by a word boundary (so "Address..." is not "Add"), or a
    persistence call (GetFederationToken reads like a Get but mints credentials)."""
    name = base_name(event_name)
    for verb in MUTATING_VERBS:
        rest = name[len(verb) :]
        if name.startswith(verb) and (not rest or not rest[0].islower()):
            return True
    return is_persistence(name)


def record_of(event: dict[str, Any]) -> dict[str, Any]:
    """The CloudTrail record inside a LookupEvents entry (a JSON string); {} if unreadable."""
    raw = event.get("CloudTrailEvent")
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def one_line(value: Any, limit: int = MAX_TEXT_CHARS) -> str:
    """A record's string as one bounded line: whitespace and control characters collapse to one space."""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in str(value)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clean(value: Any) -> Any:
    if isinstance(value, list):
        return [_clean(item) for item in value[:MAX_LIST_ITEMS]]
    if isinstance(value, bool | int | float) or value is None:
        return value
    return one_line(value)


def _policy_statements(document: Any) -> list[Any] | None:
    """The statements of a policy document as CloudTrail records it (a JSON string, sometimes URL-encoded)."""
    if isinstance(document, str):
        for text in (document, unquote(document)):
            try:
                document = json.loads(text)
                break
            except ValueError:
                continue
        else:
            return None
    if not isinstance(document, dict):
        return None
    statements = document.get("Statement")
    statements = [statements] if isinstance(statements, dict) else statements
    return statements if isinstance(statements, list) and statements else None


def deny_only(document: Any) -> bool:
    """True when every statement of the policy denies: such a policy cannot grant anything."""
    statements = _policy_statements(document)
    return statements is not None and all(isinstance(st, dict) and st.get("Effect") == "Deny" for st in statements)


def is_aws_quarantine(record: dict[str, Any]) -> bool:
    """AWS's own quarantine of an exposed key is recorded under the exposed user's identity, so it shows
    up among "the key's" calls. A name is not proof (anyone can name a policy AWSCompromisedKeyQuarantineV3):
    only these are AWS's or the responder's, and only on the exposed user itself (the caller's own user):
    - AttachUserPolicy of AWS's managed quarantine policy by its exact ARN (arn:<partition>:iam::aws:...);
    - PutUserPolicy of AWS's inline quarantine (named AWSCompromisedKeyQuarantine[Vn], as AWS recorded it)
      or of the responder's fallback (CredentialResponderQuarantine), with a deny-only document: a policy
      that only denies cannot be a back door, whatever its name.
    Everything else is reported as what it is."""
    if record.get("errorCode"):
        return False
    params = record.get("requestParameters")
    identity = record.get("userIdentity")
    if not isinstance(params, dict) or not isinstance(identity, dict) or identity.get("type") != "IAMUser":
        return False
    if not identity.get("userName") or params.get("userName") != identity.get("userName"):
        return False
    name = record.get("eventName")
    if name == "AttachUserPolicy":
        return bool(_AWS_QUARANTINE_ARN.fullmatch(str(params.get("policyArn") or "")))
    if name == "PutUserPolicy":
        policy = str(params.get("policyName") or "")
        named = policy == RESPONDER_QUARANTINE or bool(_AWS_QUARANTINE_NAME.fullmatch(policy))
        return named and deny_only(params.get("policyDocument"))
    return False


def source_of(
    record: dict[str, Any],
    *,
    attacker_ips: Collection[str],
    attacker_accounts: Collection[str],
    own_ips: Collection[str],
) -> str:
    """Who made a call with stolen instance credentials, by where it came from (CloudTrail writes these):
    "attacker" (the finding's remote address or remote account), "workload" (the instance's own addresses:
    the workload uses the same role session) or "unknown" (neither: e.g. behind a NAT gateway)."""
    ip = record.get("sourceIPAddress")
    endpoint_account = record.get("vpcEndpointAccountId")
    if ip in attacker_ips or (endpoint_account and endpoint_account in attacker_accounts):
        return "attacker"
    if ip in own_ips:
        return "workload"
    return "unknown"


def _get(record: dict[str, Any], path: str) -> Any:
    roots = {"request": "requestParameters", "response": "responseElements", "identity": "userIdentity"}
    head, *rest = path.split(".")
    values: list[Any] = [record.get(roots[head])]
    for part in rest:
        values = [value.get(part.removesuffix("[]")) for value in values if isinstance(value, dict)]
        if part.endswith("[]"):  # a list hop: RunInstances starts several instances
            values = [item for value in values if isinstance(value, list) for item in value]
    found = [value for value in values if value not in (None, "", [])]
    if not found:
        return None
    return found if "[]" in path else found[0]


def created_by(record: dict[str, Any]) -> dict[str, Any]:
    """What a persistence call created or changed, e.g. CreateUser -> {"user": "malicious-iam-user"}."""
    created: dict[str, Any] = {}
    for label, paths in PERSISTENCE.get(base_name(record.get("eventName", "")), {}).items():
        for path in paths:
            value = _get(record, path)
            if value is not None:
                created[label] = _clean(value)
                break
    return created


def _when(event: dict[str, Any]) -> str:
    """EventTime as ISO-8601 UTC, whether the event came through `lookup` (a string) or straight from
    boto3 (a datetime)."""
    return iso(event.get("EventTime") or "")


def brief(event: dict[str, Any], record: dict[str, Any] | None = None) -> dict[str, Any]:
    record = record_of(event) if record is None else record
    entry = {
        "time": _when(event),
        "event_name": _clean(event.get("EventName") or record.get("eventName")),
        "event_source": _clean(event.get("EventSource") or record.get("eventSource")),
        "region": _clean(event.get("Region") or record.get("awsRegion")),
        "source_ip": _clean(record.get("sourceIPAddress")),
        "succeeded": not record.get("errorCode"),
        "event_id": _clean(event.get("EventId")),
    }
    if record.get("errorCode"):
        entry["error_code"] = _clean(record["errorCode"])
    return entry


def _caller(record: dict[str, Any]) -> dict[str, str] | None:
    """The principal behind a call, as CloudTrail recorded it: {"arn", "name"} of the IAM user, or of the
    role behind an assumed-role session (what exemptions are written against)."""
    identity = record.get("userIdentity")
    if not isinstance(identity, dict):
        return None
    if identity.get("type") == "IAMUser" and identity.get("arn"):
        return {"arn": one_line(identity["arn"], 2048), "name": one_line(identity.get("userName") or "", 64)}
    if identity.get("type") == "Root":
        return {"arn": one_line(identity.get("arn") or "root", 2048), "name": "root"}
    issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
    if identity.get("type") == "AssumedRole" and isinstance(issuer, dict) and issuer.get("arn"):
        return {"arn": one_line(issuer["arn"], 2048), "name": one_line(issuer.get("userName") or "", 64)}
    return None


def _top(counter: Counter[str], n: int = TOP) -> dict[str, int]:
    return dict(counter.most_common(n))


def summarize(
    events: Iterable[dict[str, Any]],
    *,
    previous_event_ids: Collection[str] | None = None,
    previous_cutoff: str | None = None,
    source: Callable[[dict[str, Any]], str] | None = None,
) -> dict[str, Any]:
    """Summarize events (any order). With `previous_event_ids` (pass 2), report what is new: events
    whose id the previous pass did not return, ignoring events at or before `previous_cutoff` when the
    previous pass could hand over only its newest ids (see `event_ids_cutoff`). With `source` (stolen
    instance credentials), each persistence call says who made it (see `source_of`)."""
    ordered = sorted(events, key=_when)
    records = [record_of(event) for event in ordered]
    by_region: Counter[str] = Counter()
    by_service: Counter[str] = Counter()
    ips: Counter[str] = Counter()
    agents: Counter[str] = Counter()
    keys: Counter[str] = Counter()
    persistence: list[dict[str, Any]] = []
    mutating: list[dict[str, Any]] = []
    failed = 0
    for event, record in zip(ordered, records, strict=True):
        by_region[event.get("Region") or record.get("awsRegion") or "unknown"] += 1
        by_service[event.get("EventSource") or record.get("eventSource") or "unknown"] += 1
        ips[one_line(record.get("sourceIPAddress") or "unknown", 64)] += 1
        agents[one_line(record.get("userAgent") or "unknown", MAX_AGENT_CHARS)] += 1
        key = (record.get("userIdentity") or {}).get("accessKeyId") or event.get("AccessKeyId")
        if key:
            keys[key] += 1
        failed += bool(record.get("errorCode"))
        name = event.get("EventName") or record.get("eventName") or ""
        if not is_mutating(name):
            continue
        entry = brief(event, record)
        if is_aws_quarantine(record):
            entry["by_aws"] = "AWS's quarantine of the exposed key, not the attacker"
        elif is_persistence(name):
            call = {**entry, "caller_key": _clean(key), "created": created_by(record)}
            if source is not None:
                call["source"] = source(record)
            caller = _caller(record)
            if caller:
                call["caller"] = caller
            persistence.append(call)
        mutating.append(entry)

    new_ids: set[str] = set()
    if previous_event_ids is not None:
        known = set(previous_event_ids)
        new_ids = {
            event["EventId"]
            for event in ordered
            if event["EventId"] not in known and (not previous_cutoff or _when(event) > previous_cutoff)
        }
        for entry in persistence:
            entry["new"] = entry["event_id"] in new_ids

    newest_first = [event["EventId"] for event in reversed(ordered)]
    summary: dict[str, Any] = {
        "event_count": len(ordered),
        "by_region": _top(by_region, len(by_region)),
        "by_service": _top(by_service, len(by_service)),
        "source_ips": _top(ips),
        "source_ip_count": len(ips),
        "user_agents": _top(agents),
        "user_agent_count": len(agents),
        "access_key_ids": _top(keys),
        "first_call": brief(ordered[0], records[0]) if ordered else None,
        "last_call": brief(ordered[-1], records[-1]) if ordered else None,
        "failed_calls": failed,
        "persistence_calls": persistence,
        "mutating_calls": mutating[:MAX_MUTATING],
        "mutating_total": len(mutating),
        # Newest first, so that a cut keeps the recent end, where CloudTrail's late arrivals land.
        "event_ids": newest_first[:MAX_EVENT_IDS],
        "event_ids_cutoff": _when(ordered[-MAX_EVENT_IDS]) if len(ordered) > MAX_EVENT_IDS else None,
        "new_since_previous_pass": None,
    }
    if previous_event_ids is not None:
        new_events = [
            brief(event, record) for event, record in zip(ordered, records, strict=True) if event["EventId"] in new_ids
        ]
        summary["new_since_previous_pass"] = {"count": len(new_events), "events": new_events[:MAX_NEW_LISTED]}
    return summary


def fit(summary: dict[str, Any], limit: int = MAX_DIGEST_BYTES) -> dict[str, Any]:
    """The digest of a summary that travels in the state machine's state, under `limit` bytes of JSON.

    Counts stay whole; lists are cut: the persistence calls that succeeded come first (failed ones, such
    as DryRun RunInstances, are cheap for an attacker to pile up), then the failed ones; mutating calls
    and late calls are cut to a few. Then lists are halved until the digest fits. The full summary, with
    every call and the event ids, is in the evidence object (`evidence`)."""
    calls = summary.get("persistence_calls") or []
    ordered = [c for c in calls if c.get("succeeded")] + [c for c in calls if not c.get("succeeded")]
    by_name: dict[str, dict[str, int]] = {}
    for call in calls:
        counts = by_name.setdefault(str(call.get("event_name")), {"succeeded": 0, "failed": 0})
        counts["succeeded" if call.get("succeeded") else "failed"] += 1
    services = summary.get("by_service") or {}
    digest = {key: value for key, value in summary.items() if key not in ("event_ids", "event_ids_cutoff")}
    digest.update(
        persistence_calls=ordered[:DIGEST_PERSISTENCE],
        persistence_total=len(calls),
        persistence_by_name=dict(sorted(by_name.items(), key=lambda item: -sum(item[1].values()))[:DIGEST_SERVICES]),
        mutating_calls=(summary.get("mutating_calls") or [])[:DIGEST_MUTATING],
        by_service=dict(list(services.items())[:DIGEST_SERVICES]),
        service_count=len(services),
    )
    if isinstance(digest.get("new_since_previous_pass"), dict):
        late = digest["new_since_previous_pass"]
        digest["new_since_previous_pass"] = {**late, "events": (late.get("events") or [])[:DIGEST_NEW]}

    def size() -> int:
        return len(json.dumps(digest, default=str))

    trimmable = ("persistence_calls", "mutating_calls", "user_agents", "source_ips", "access_key_ids")
    while size() > limit:
        longest = max(trimmable, key=lambda name: len(digest.get(name) or ()))
        items = digest.get(longest) or ()
        if not items:
            late = digest.get("new_since_previous_pass") or {}
            if late.get("events"):
                digest["new_since_previous_pass"] = {**late, "events": []}
                continue
            # Only bounded fields are left; nothing an event can grow remains.
            break
        kept = len(items) // 2
        digest[longest] = list(items)[:kept] if isinstance(items, list) else dict(list(items.items())[:kept])
    digest["persistence_truncated"] = len(digest["persistence_calls"]) < len(calls)
    return digest
