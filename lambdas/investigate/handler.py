"""Lambda: what did the compromised credential do? CloudTrail in every enabled region, a summary, back doors.

The workflow runs it twice: right after containment (pass 1) and after a Wait state (pass 2), because
CloudTrail delivers events ~15 minutes late; pass 2 reports what pass 1 could not see yet.

Input:
    {"incident": <Incident dict>, "pass": 1 | 2,
     "previous_evidence": "s3://..."}        # pass 2: $.investigation.evidence of pass 1 (may be null)
    (pass 2 also still takes "previous_event_ids" [+ "previous_event_ids_cutoff"] instead of the evidence)
Output (bounded: it travels in the state machine's state, which Step Functions caps at 256 KiB):
    {"steps": [StepResult, ...],             # at most MAX_KEY_STEPS deactivate-backdoor-key steps listed
     "investigation": digest}                # summary.fit: counts, capped lists, and "evidence": the S3 URI
The evidence object investigations/<incident_id>/pass-<n>.json holds everything: "events" (every event
found), and "summary", "backdoors", "steps" (all of them, none cut).
Steps: "investigate-cloudtrail" (done when every region was searched, done naming the regions that are
not enabled; failed, i.e. the investigation is partial, when a look-up hit its cap, stopped early or no
region could be searched), "store-cloudtrail-evidence", "sweep-backdoor-keys" (exposed user keys),
"deactivate-backdoor-key" (one per access key the compromised credential created: done, or skipped and
reported when an exempted principal or the instance's own workload created it).

The look-ups: by access key id (and for stolen instance credentials by the instance id as session name) in
every enabled region, and by EventName for IAM's and STS's persistence calls in the region where IAM logs
(us-east-1 in the commercial partition), kept only when the compromised key or session made them: noise
after a back door cannot push it out of the per-key look-up's newest-first cap unseen.

Environment:
    EVIDENCE_BUCKET                  where the full event list goes: investigations/<incident_id>/pass-<n>.json
                                     (pass 2 reads pass 1's from there)
    EVIDENCE_KMS_KEY_ARN             the bucket's KMS key (optional; see _store_evidence for why it matters)
    LOOKBACK_HOURS=24                search from this long before the first sighting
    LOOKUP_MAX_EVENTS_PER_REGION=1000
    LOOKUP_MIN_INTERVAL_SECONDS=0.5  LookupEvents allows 2 calls per second per region
    DEACTIVATE_BACKDOOR_KEYS=true
IAM: permissions.GRANTS. Errors: UnsupportedEvent for malformed input; AWS failures become step results.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from common import aws
from common.errors import UnsupportedEvent, transient_errors
from common.guards import principal_guard
from common.steps import Status, StepResult, step
from incident.model import Incident, Kind
from investigate import backdoors, lookup, summary

logger = Logger(service="credential-responder")

MAIN_STEP = "investigate-cloudtrail"
EVIDENCE_STEP = "store-cloudtrail-evidence"
MAX_WORKERS = 8  # regions searched at once; each region's calls stay paced on their own
MAX_CREATED = 20  # created users/roles/keys listed in the state's digest (all of them in the evidence object)
MAX_KEY_STEPS = 10  # deactivate-backdoor-key steps listed one by one in the state; the rest are counted
MAX_DETAIL_CHARS = 2000
# IAM's (and STS's global endpoint's) calls that leave a way back in, looked up by name where IAM logs.
EVENT_NAME_LOOKUPS = (
    "CreateAccessKey",
    "CreateUser",
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "AttachUserPolicy",
    "PutUserPolicy",
    "AttachRolePolicy",
    "PutRolePolicy",
    "CreateRole",
    "UpdateAssumeRolePolicy",
    "AttachGroupPolicy",
    "PutGroupPolicy",
    "AddUserToGroup",
    "CreatePolicyVersion",
    "SetDefaultPolicyVersion",
    "CreateVirtualMFADevice",
    "EnableMFADevice",
    "UploadSSHPublicKey",
    "CreateServiceSpecificCredential",
    "CreateSAMLProvider",
    "CreateOpenIDConnectProvider",
    "GetFederationToken",
    "GetSessionToken",
)
TIME_MARGIN_SECONDS = 30  # left for the evidence write and the IAM calls after the look-up


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, str(default)).strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value in ("true", "1", "yes")


def _number(env: Mapping[str, str], name: str, default: float, kind: type = float, minimum: float = 0) -> Any:
    try:
        value = kind(env.get(name, default))
    except ValueError:
        raise ValueError(f"{name} must be a number, got {env.get(name)!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    evidence_bucket: str | None
    evidence_kms_key_arn: str | None
    lookback_hours: float
    max_events_per_region: int
    min_interval: float
    deactivate_backdoor_keys: bool
    dry_run: bool

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            evidence_bucket=env.get("EVIDENCE_BUCKET") or None,
            evidence_kms_key_arn=env.get("EVIDENCE_KMS_KEY_ARN") or None,
            lookback_hours=_number(env, "LOOKBACK_HOURS", 24),
            max_events_per_region=_number(env, "LOOKUP_MAX_EVENTS_PER_REGION", 1000, int, 1),
            min_interval=_number(env, "LOOKUP_MIN_INTERVAL_SECONDS", 0.5),
            deactivate_backdoor_keys=_flag(env, "DEACTIVATE_BACKDOOR_KEYS", True),
            dry_run=_flag(env, "DRY_RUN", False) or _flag(env, "DRY_RUN_BACKDOOR_KEYS", False),
        )


def cloudtrail_client(region: str) -> Any:
    """The client factory handed to the look-up (tests and the drill replace it with recorded events)."""
    return aws.client("cloudtrail", region)


def _time(value: str | None) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed and parsed.tzinfo is None else parsed


def _session(incident: Incident) -> str | None:
    if incident.kind != Kind.INSTANCE_CREDENTIAL_EXFILTRATION:
        return None
    session = incident.instance_id or (incident.principal_id or "").rpartition(":")[2]
    return session if session.startswith("i-") else None


def lookups_for(incident: Incident) -> list[lookup.Lookup]:
    """The key ids, and for stolen instance credentials the instance id too: EC2 names the role session
    after the instance, so Username finds calls made with other keys of the same theft."""
    lookups = [lookup.Lookup("AccessKeyId", key) for key in incident.access_key_ids]
    if session := _session(incident):
        lookups.append(lookup.Lookup("Username", session))
    return lookups


def iam_log_region(region: str) -> str:
    """Where IAM (a global service) records its calls: the partition's first region."""
    if region.startswith("us-gov-"):
        return "us-gov-west-1"
    if region.startswith("cn-"):
        return "cn-north-1"
    return "us-east-1"


def event_name_lookups(incident: Incident) -> list[lookup.Lookup]:
    """The persistence calls by name, kept only when the compromised key or instance session made them."""
    session = _session(incident)
    identities = (*incident.access_key_ids, *([session] if session else []))
    if not identities:
        return []
    return [lookup.Lookup("EventName", name, only=identities) for name in EVENT_NAME_LOOKUPS]


def source_split(incident: Incident) -> Any:
    """For stolen instance credentials: who made each call, the finding's remote caller or the instance's
    own workload (see summary.source_of). None for an exposed key (one owner, one key)."""
    if incident.kind != Kind.INSTANCE_CREDENTIAL_EXFILTRATION:
        return None
    own_ips = {ip for eni in incident.network_interfaces for ip in (eni.private_ip, eni.public_ip) if ip}
    remote = incident.remote
    attacker_ips = {remote.ip} if remote and remote.ip else set()
    accounts = {remote.account_id} if remote and remote.account_id and remote.account_id != incident.account else set()

    def source(record: dict[str, Any]) -> str:
        return summary.source_of(record, attacker_ips=attacker_ips, attacker_accounts=accounts, own_ips=own_ips)

    return source


def _regions(incident: Incident) -> tuple[list[str], str | None]:
    try:
        return lookup.enabled_regions(aws.client("ec2")), None
    except (ClientError, BotoCoreError) as exc:
        # Search what we can rather than nothing: the incident's region and our own.
        regions = sorted({incident.region, os.environ.get("AWS_REGION", incident.region)})
        return regions, f"region list unavailable ({aws.error_code(exc)}), searched only {', '.join(regions)}"


def _store_evidence(
    s3: Any, settings: Settings, incident: Incident, pass_no: int, document: dict[str, Any]
) -> tuple[StepResult, str | None]:
    if not settings.evidence_bucket:
        return step(EVIDENCE_STEP, Status.FAILED, incident.incident_id, "EVIDENCE_BUCKET is not set"), None
    key = f"investigations/{incident.incident_id}/pass-{pass_no}.json"
    uri = f"s3://{settings.evidence_bucket}/{key}"
    # "aws:kms" without a key id makes S3 use the AWS managed key aws/s3, NOT the bucket's default key;
    # naming the bucket's key keeps the evidence under the key (and key policy) the bucket was built with.
    encryption = {"ServerSideEncryption": "aws:kms"}
    if settings.evidence_kms_key_arn:
        encryption["SSEKMSKeyId"] = settings.evidence_kms_key_arn
    try:
        s3.put_object(
            Bucket=settings.evidence_bucket,
            Key=key,
            Body=json.dumps(document, default=str).encode(),
            ContentType="application/json",
            **encryption,
        )
    except ClientError as exc:
        return step(EVIDENCE_STEP, Status.FAILED, uri, f"{aws.error_code(exc)}: {exc}"), None
    detail = f"{len(document['events'])} event(s) stored, SSE-KMS"
    return step(EVIDENCE_STEP, Status.DONE, uri, detail), uri


def _previous_ids(s3: Any, settings: Settings, incident: Incident, uri: Any) -> tuple[list[str] | None, str | None]:
    """Pass 1's event ids, from its evidence object (the state carries only its URI). Only an object of
    this incident in the evidence bucket is read."""
    prefix = f"s3://{settings.evidence_bucket}/investigations/{incident.incident_id}/"
    if not isinstance(uri, str) or not settings.evidence_bucket or not uri.startswith(prefix):
        return None, "pass 1's evidence is not available: calls new since pass 1 are not told apart"
    try:
        body = s3.get_object(Bucket=settings.evidence_bucket, Key=uri.removeprefix(f"s3://{settings.evidence_bucket}/"))
        document = json.loads(body["Body"].read())
        return [str(event["EventId"]) for event in document["events"]], None
    except (ClientError, BotoCoreError, ValueError, KeyError, TypeError) as exc:
        code = aws.error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
        return None, f"pass 1's evidence unreadable ({code}): calls new since pass 1 are not told apart"


def _manual_lookup(incident: Incident, lookups: list[lookup.Lookup], start: datetime, region: str) -> str:
    return " && ".join(
        f"aws cloudtrail lookup-events --region {shlex.quote(region)} --start-time {lookup.iso(start)}"
        f" --lookup-attributes {shlex.quote(f'AttributeKey={item.key},AttributeValue={item.value}')}"
        for item in lookups
    )


def _main_step(
    incident: Incident,
    lookups: list[lookup.Lookup],
    results: list[lookup.RegionResult],
    found: dict[str, Any],
    pass_no: int,
    start: datetime,
    region_note: str | None,
) -> StepResult:
    target = ", ".join(item.value for item in lookups)
    searched = [result for result in results if result.status != "not-searched"]
    unsearched = [f"{result.region} ({result.error})" for result in results if result.status == "not-searched"]
    partly = [
        f"{result.region} ({result.note})" for result in results if result.note and result.status != "not-searched"
    ]
    # A look-up that hit its cap or stopped early read only the newest events: what is older (the back
    # door made before the noise) may be missing, so the investigation is partial, never done.
    incomplete = [result for result in results if result.capped or result.status == "partly-searched"]
    if not searched:
        manual = _manual_lookup(incident, lookups, start, incident.region)
        detail = "no region could be searched: " + "; ".join(unsearched)
        return step(MAIN_STEP, Status.FAILED, target, detail[:MAX_DETAIL_CHARS], manual=manual)
    parts = [f"pass {pass_no}: {found['event_count']} event(s) in {len(searched)} of {len(results)} region(s)"]
    if found["persistence_calls"]:
        parts.append(
            "persistence: "
            + ", ".join(
                f"{call['event_name']}({', '.join(map(str, call['created'].values()))})"
                + ("" if call["succeeded"] else " failed")
                for call in found["persistence_calls"][:10]
            )
        )
    if found["new_since_previous_pass"] is not None:
        parts.append(f"{found['new_since_previous_pass']['count']} new since pass {pass_no - 1}")
    if region_note:
        parts.append(region_note)
    if unsearched:
        parts.append("not searched: " + "; ".join(unsearched))
    if partly:
        parts.append("partly searched: " + "; ".join(partly))
    parts.append("management events only (S3 object reads and other data events are not in LookupEvents)")
    detail = "; ".join(parts)
    if len(detail) > MAX_DETAIL_CHARS:
        detail = detail[: MAX_DETAIL_CHARS - 1] + "…"
    if incomplete:
        capped = "; ".join(f"{result.region}: {result.note}" for result in incomplete)
        detail = f"partial: {capped[:MAX_DETAIL_CHARS]}; {detail}"
        regions = sorted({result.region for result in incomplete})
        manual = " ; ".join(_manual_lookup(incident, lookups, start, region) for region in regions[:3])
        manual += "  # or query the trail's S3 logs (Athena): older events were not read"
        return step(MAIN_STEP, Status.FAILED, target, detail, manual=manual)
    return step(MAIN_STEP, Status.DONE, target, detail)


def _backdoor_steps(
    iam: Any, incident: Incident, persistence: list[dict[str, Any]], exposed_at: datetime, settings: Settings
) -> tuple[list[StepResult], dict[str, Any]]:
    incident_keys = set(incident.access_key_ids)
    created_keys = backdoors.attacker_keys(persistence, incident_keys)
    # Keys made before the exposure may be the owner's: lambdas/evict decides those by the source rule.
    created_keys = [key for key in created_keys if not key.get("time") or key["time"] >= lookup.iso(exposed_at)]
    kept = {key["access_key_id"]: backdoors.held_back(key, principal_guard) for key in created_keys}
    new_keys = [key for key in created_keys if not kept[key["access_key_id"]]]
    steps: list[StepResult] = []
    user_keys: dict[str, Any] = {}
    # The exposed user's other keys: only a long-term user key has an owner with keys to sweep.
    if incident.kind == Kind.EXPOSED_ACCESS_KEY:
        for affected in incident.affected_keys:
            user = affected.user_name or backdoors.key_owner(iam, affected.access_key_id)
            if not user:
                detail = f"owner of {affected.access_key_id} unknown: other keys not listed"
                manual = f"aws iam get-access-key-last-used --access-key-id {shlex.quote(affected.access_key_id)}"
                steps.append(step(backdoors.SWEEP_STEP, Status.SKIPPED, affected.access_key_id, detail, manual=manual))
                continue
            try:
                keys = backdoors.sweep_user_keys(
                    iam,
                    user,
                    incident_keys=incident_keys,
                    exposed_at=exposed_at,
                    attacker_key_ids={key["access_key_id"] for key in new_keys},
                )
            except ClientError as exc:
                if aws.error_code(exc) == "NoSuchEntity":
                    # The user is gone, and its keys with it: nothing left to sweep.
                    steps.append(step(backdoors.SWEEP_STEP, Status.SKIPPED, user, f"user {user} no longer exists"))
                    continue
                detail = f"{aws.error_code(exc)}: {exc}"
                manual = f"aws iam list-access-keys --user-name {shlex.quote(user)}"
                steps.append(step(backdoors.SWEEP_STEP, Status.FAILED, user, detail, manual=manual))
                continue
            user_keys[user] = keys
            steps.append(backdoors.sweep_step(user, keys))
    for key in created_keys:
        reason = kept[key["access_key_id"]]
        if reason:
            steps.append(backdoors.report_key(key, reason))
            continue
        steps.append(
            backdoors.deactivate_key(
                iam, key, enabled=settings.deactivate_backdoor_keys, exposed_at=exposed_at, dry_run=settings.dry_run
            )
        )
    created = backdoors.created_entities(persistence, incident.region)
    return steps, {"created": created, "created_total": len(created), "user_keys": user_keys}


def bound_steps(steps: list[StepResult], evidence: str | None) -> list[StepResult]:
    """The steps as they travel in the state: every step but the per-key ones, MAX_KEY_STEPS of those, and
    the rest folded into one step per (status, containment), so the outcome still counts them. An attacker
    can create hundreds of users with a key each; the evidence object lists every step."""
    keys = [s for s in steps if s["name"] == backdoors.DEACTIVATE_STEP]
    if len(keys) <= MAX_KEY_STEPS:
        return steps
    listed = keys[:MAX_KEY_STEPS]
    rest: dict[tuple[str, bool], list[StepResult]] = {}
    for item in keys[MAX_KEY_STEPS:]:
        rest.setdefault((item["status"], item["containment"]), []).append(item)
    where = evidence or "the Investigate function's logs"
    folded = [
        step(
            backdoors.DEACTIVATE_STEP,
            Status(status),
            f"{len(group)} more key(s)",
            f"{len(group)} more access key(s) {status}: "
            + ", ".join(item["target"] for item in group[:5])
            + (", ..." if len(group) > 5 else "")
            + f"; each key's step, with its undo, in {where} (steps)",
            containment=containment,
            manual=f"every key's command is in {where}" if status in (Status.FAILED, Status.SKIPPED) else None,
        )
        for (status, containment), group in rest.items()
    ]
    others = [s for s in steps if s["name"] != backdoors.DEACTIVATE_STEP]
    return [*others, *listed, *folded]


def investigate(
    incident: Incident,
    pass_no: int,
    previous_event_ids: list[str] | None,
    previous_cutoff: str | None,
    settings: Settings,
    *,
    deadline: float | None = None,
    previous_evidence: str | None = None,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    exposed_at = _time(incident.first_seen) or _time(incident.detected_at) or now
    start = min(exposed_at, now) - timedelta(hours=settings.lookback_hours)
    lookups = lookups_for(incident)
    if not lookups:
        detail = "the incident names no access key or instance to look up"
        nothing = {"pass": pass_no, **summary.fit(summary.summarize([])), "evidence": None}
        return {"steps": [step(MAIN_STEP, Status.SKIPPED, incident.incident_id, detail)], "investigation": nothing}

    s3 = aws.client("s3")
    previous_note = None
    if pass_no == 2 and previous_event_ids is None:
        previous_event_ids, previous_note = _previous_ids(s3, settings, incident, previous_evidence)
        previous_cutoff = None
    regions, region_note = _regions(incident)
    by_name = event_name_lookups(incident)
    iam_region = iam_log_region(incident.region)
    results = lookup.lookup_all_regions(
        cloudtrail_client,
        regions,
        lookups,
        start,
        now,
        max_workers=MAX_WORKERS,
        extra={iam_region: by_name} if iam_region in regions else {},
        max_events=settings.max_events_per_region,
        min_interval=settings.min_interval,
        deadline=deadline,
    )
    events = lookup.merge(results)
    found = summary.summarize(
        events,
        previous_event_ids=previous_event_ids,
        previous_cutoff=previous_cutoff,
        source=source_split(incident),
    )
    window = {"start": lookup.iso(start), "end": lookup.iso(now), "first_sighting": lookup.iso(exposed_at)}
    regions_report = {
        "searched": [result.region for result in results if result.status == "searched"],
        "partly_searched": {result.region: result.note for result in results if result.status == "partly-searched"},
        "not_searched": {result.region: result.error for result in results if result.status == "not-searched"},
        "capped": [result.region for result in results if result.capped],
        "capped_lookups": {result.region: result.capped_lookups for result in results if result.capped},
        "events_read": sum(result.read for result in results),
    }
    logger.info(
        "cloudtrail look-up finished",
        extra={
            "pass": pass_no,
            "events": len(events),
            "regions": {k: len(v) for k, v in regions_report.items() if isinstance(v, list | dict)},
        },
    )

    labels = [item.label for item in lookups]
    if by_name:
        labels.append(f"EventName: {len(by_name)} persistence call names in {iam_region}, made by the credential")
    backdoor_steps, backdoor_report = _backdoor_steps(
        aws.client("iam"), incident, found["persistence_calls"], exposed_at, settings
    )
    main = _main_step(incident, lookups, results, found, pass_no, start, region_note)
    if previous_note:
        main["detail"] += f"; {previous_note}"
    document = {
        "incident_id": incident.incident_id,
        "pass": pass_no,
        "window": window,
        "lookups": labels,
        "regions": regions_report,
        "events": events,
        # Added fields (the events list above keeps its place and shape): everything the state carries
        # only in part.
        "summary": found,
        "backdoors": backdoor_report,
        "steps": [main, *backdoor_steps],
    }
    evidence_step, uri = _store_evidence(s3, settings, incident, pass_no, document)
    backdoor_report = {**backdoor_report, "created": backdoor_report["created"][:MAX_CREATED]}
    investigation = summary.fit(
        {
            "pass": pass_no,
            "window": window,
            "lookups": labels,
            "regions": regions_report,
            **found,
            "backdoors": backdoor_report,
            "evidence": uri,
        }
    )
    return {"steps": bound_steps([main, evidence_step, *backdoor_steps], uri), "investigation": investigation}


def _request(event: Any) -> tuple[Incident, int, list[str] | None, str | None, str | None]:
    if not isinstance(event, dict) or not isinstance(event.get("incident"), dict):
        raise UnsupportedEvent('investigate expects {"incident": {...}, "pass": 1|2}')
    pass_no = event.get("pass", 1)
    if pass_no not in (1, 2):
        raise UnsupportedEvent(f"pass must be 1 or 2, got {pass_no!r}")
    if pass_no == 1:
        return Incident.model_validate(event["incident"]), 1, None, None, None
    previous = event.get("previous_event_ids")
    if "previous_evidence" in event:
        evidence = event["previous_evidence"]
        return (
            Incident.model_validate(event["incident"]),
            2,
            None,
            None,
            evidence if isinstance(evidence, str) else None,
        )
    if not isinstance(previous, list):
        raise UnsupportedEvent("pass 2 needs previous_evidence (pass 1's investigation.evidence) or previous_event_ids")
    return Incident.model_validate(event["incident"]), 2, previous, event.get("previous_event_ids_cutoff"), None


@transient_errors
@logger.inject_lambda_context(correlation_id_path="incident.incident_id", clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    incident, pass_no, previous, cutoff, evidence = _request(event)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    deadline = time.monotonic() + remaining() / 1000 - TIME_MARGIN_SECONDS if remaining else None
    return investigate(
        incident, pass_no, previous, cutoff, Settings.from_env(), deadline=deadline, previous_evidence=evidence
    )
