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
from collections.abc import Collection, Iterable
from typing import Any

from investigate.lookup import iso

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
MAX_EVENT_IDS = 2000  # ~80 KB: the pass-1 ids travel through the state machine to pass 2
TOP = 20
MAX_AGENT_CHARS = 200
# Step Functions caps a state's data at 256 KB; the summary shares it with the incident and the steps.
MAX_SUMMARY_BYTES = 150_000

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


def is_aws_quarantine(record: dict[str, Any]) -> bool:
    """AWS's own quarantine of an exposed key is recorded under the exposed user's identity, so it
    shows up among "the key's" calls; it is not the attacker's."""
    params = record.get("requestParameters") or {}
    policy = f"{params.get('policyName', '')}{params.get('policyArn', '')}"
    return "AWSCompromisedKeyQuarantine" in policy


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
                created[label] = value
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
        "event_name": event.get("EventName") or record.get("eventName"),
        "event_source": event.get("EventSource") or record.get("eventSource"),
        "region": event.get("Region") or record.get("awsRegion"),
        "source_ip": record.get("sourceIPAddress"),
        "succeeded": not record.get("errorCode"),
        "event_id": event.get("EventId"),
    }
    if record.get("errorCode"):
        entry["error_code"] = record["errorCode"]
    return entry


def _top(counter: Counter[str], n: int = TOP) -> dict[str, int]:
    return dict(counter.most_common(n))


def summarize(
    events: Iterable[dict[str, Any]],
    *,
    previous_event_ids: Collection[str] | None = None,
    previous_cutoff: str | None = None,
) -> dict[str, Any]:
    """Summarize events (any order). With `previous_event_ids` (pass 2), report what is new: events
    whose id the previous pass did not return, ignoring events at or before `previous_cutoff` when the
    previous pass could hand over only its newest ids (see `event_ids_cutoff`)."""
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
        ips[record.get("sourceIPAddress") or "unknown"] += 1
        agents[(record.get("userAgent") or "unknown")[:MAX_AGENT_CHARS]] += 1
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
            persistence.append({**entry, "caller_key": key, "created": created_by(record)})
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


def fit(summary: dict[str, Any], limit: int = MAX_SUMMARY_BYTES) -> dict[str, Any]:
    """Keep the summary under `limit` bytes of JSON: halve the persistence list (the only unbounded
    part) until it fits, and say so; the full list is in the evidence object."""
    calls = summary["persistence_calls"]
    kept = len(calls)
    while kept > 1 and len(json.dumps({**summary, "persistence_calls": calls[:kept]}, default=str)) > limit:
        kept //= 2
    if kept == len(calls):
        return summary
    return {
        **summary,
        "persistence_calls": calls[:kept],
        "persistence_total": len(calls),
        "persistence_truncated": True,
    }
