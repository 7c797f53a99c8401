"""Lambda: what did the compromised credential do? CloudTrail in every enabled region, a summary, back doors.

The workflow runs it twice: right after containment (pass 1) and after a Wait state (pass 2), because
CloudTrail delivers events ~15 minutes late; pass 2 reports what pass 1 could not see yet.

Input:
    {"incident": <Incident dict>, "pass": 1 | 2,
     "previous_event_ids": [...],            # pass 2: $.investigation.event_ids of pass 1
     "previous_event_ids_cutoff": "..."}     # pass 2: $.investigation.event_ids_cutoff of pass 1 (may be null)
Output:
    {"steps": [StepResult, ...], "investigation": {summary, see summary.summarize + the keys added below}}
Steps: "investigate-cloudtrail" (done when every region was searched, done naming the unsearched regions
otherwise, failed when none could be), "store-cloudtrail-evidence", "sweep-backdoor-keys" (exposed user
keys), "deactivate-backdoor-key" (one per access key the compromised credential created).

Environment:
    EVIDENCE_BUCKET                  where the full event list goes: investigations/<incident_id>/pass-<n>.json
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
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from common import aws
from common.errors import UnsupportedEvent, transient_errors
from common.steps import Status, StepResult, step
from incident.model import Incident, Kind
from investigate import backdoors, lookup, summary

logger = Logger(service="credential-responder")

MAIN_STEP = "investigate-cloudtrail"
EVIDENCE_STEP = "store-cloudtrail-evidence"
MAX_WORKERS = 8  # regions searched at once; each region's calls stay paced on their own
MAX_CREATED = 100  # created users/roles/keys listed in the summary
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


def lookups_for(incident: Incident) -> list[lookup.Lookup]:
    """The key ids, and for stolen instance credentials the instance id too: EC2 names the role session
    after the instance, so Username finds calls made with other keys of the same theft."""
    lookups = [lookup.Lookup("AccessKeyId", key) for key in incident.access_key_ids]
    if incident.kind == Kind.INSTANCE_CREDENTIAL_EXFILTRATION:
        session = incident.instance_id or (incident.principal_id or "").rpartition(":")[2]
        if session.startswith("i-"):
            lookups.append(lookup.Lookup("Username", session))
    return lookups


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
    if not searched:
        manual = " && ".join(
            f"aws cloudtrail lookup-events --region {incident.region} --start-time {lookup.iso(start)}"
            f" --lookup-attributes AttributeKey={item.key},AttributeValue={item.value}"
            for item in lookups
        )
        detail = "no region could be searched: " + "; ".join(unsearched)
        return step(MAIN_STEP, Status.FAILED, target, detail, manual=manual)
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
    return step(MAIN_STEP, Status.DONE, target, "; ".join(parts))


def _backdoor_steps(
    iam: Any, incident: Incident, persistence: list[dict[str, Any]], exposed_at: datetime, settings: Settings
) -> tuple[list[StepResult], dict[str, Any]]:
    incident_keys = set(incident.access_key_ids)
    new_keys = backdoors.attacker_keys(persistence, incident_keys)
    # Keys made before the exposure may be the owner's: lambdas/evict decides those by the source rule.
    new_keys = [key for key in new_keys if not key.get("time") or key["time"] >= lookup.iso(exposed_at)]
    steps: list[StepResult] = []
    user_keys: dict[str, Any] = {}
    # The exposed user's other keys: only a long-term user key has an owner with keys to sweep.
    if incident.kind == Kind.EXPOSED_ACCESS_KEY:
        for affected in incident.affected_keys:
            user = affected.user_name or backdoors.key_owner(iam, affected.access_key_id)
            if not user:
                detail = f"owner of {affected.access_key_id} unknown: other keys not listed"
                manual = f"aws iam get-access-key-last-used --access-key-id {affected.access_key_id}"
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
                manual = f"aws iam list-access-keys --user-name {user}"
                steps.append(step(backdoors.SWEEP_STEP, Status.FAILED, user, detail, manual=manual))
                continue
            user_keys[user] = keys
            steps.append(backdoors.sweep_step(user, keys))
    for key in new_keys:
        steps.append(
            backdoors.deactivate_key(
                iam, key, enabled=settings.deactivate_backdoor_keys, exposed_at=exposed_at, dry_run=settings.dry_run
            )
        )
    created = backdoors.created_entities(persistence, incident.region)
    # Listed up to a bound (the state machine's payload is capped); the evidence object has them all.
    return steps, {"created": created[:MAX_CREATED], "created_total": len(created), "user_keys": user_keys}


def investigate(
    incident: Incident,
    pass_no: int,
    previous_event_ids: list[str] | None,
    previous_cutoff: str | None,
    settings: Settings,
    *,
    deadline: float | None = None,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    exposed_at = _time(incident.first_seen) or _time(incident.detected_at) or now
    start = min(exposed_at, now) - timedelta(hours=settings.lookback_hours)
    lookups = lookups_for(incident)
    if not lookups:
        detail = "the incident names no access key or instance to look up"
        nothing = {"pass": pass_no, **summary.summarize([]), "evidence": None}
        return {"steps": [step(MAIN_STEP, Status.SKIPPED, incident.incident_id, detail)], "investigation": nothing}

    regions, region_note = _regions(incident)
    results = lookup.lookup_all_regions(
        cloudtrail_client,
        regions,
        lookups,
        start,
        now,
        max_workers=MAX_WORKERS,
        max_events=settings.max_events_per_region,
        min_interval=settings.min_interval,
        deadline=deadline,
    )
    events = lookup.merge(results)
    found = summary.summarize(events, previous_event_ids=previous_event_ids, previous_cutoff=previous_cutoff)
    window = {"start": lookup.iso(start), "end": lookup.iso(now), "first_sighting": lookup.iso(exposed_at)}
    regions_report = {
        "searched": [result.region for result in results if result.status == "searched"],
        "partly_searched": {result.region: result.note for result in results if result.status == "partly-searched"},
        "not_searched": {result.region: result.error for result in results if result.status == "not-searched"},
        "capped": [result.region for result in results if result.capped],
    }
    logger.info(
        "cloudtrail look-up finished",
        extra={"pass": pass_no, "events": len(events), "regions": {k: len(v) for k, v in regions_report.items()}},
    )

    document = {
        "incident_id": incident.incident_id,
        "pass": pass_no,
        "window": window,
        "lookups": [item.label for item in lookups],
        "regions": regions_report,
        "events": events,
    }
    evidence_step, uri = _store_evidence(aws.client("s3"), settings, incident, pass_no, document)
    main = _main_step(incident, lookups, results, found, pass_no, start, region_note)
    backdoor_steps, backdoor_report = _backdoor_steps(
        aws.client("iam"), incident, found["persistence_calls"], exposed_at, settings
    )
    investigation = summary.fit(
        {
            "pass": pass_no,
            "window": window,
            "lookups": document["lookups"],
            "regions": regions_report,
            **found,
            "backdoors": backdoor_report,
            "evidence": uri,
        }
    )
    return {"steps": [main, evidence_step, *backdoor_steps], "investigation": investigation}


def _request(event: Any) -> tuple[Incident, int, list[str] | None, str | None]:
    if not isinstance(event, dict) or not isinstance(event.get("incident"), dict):
        raise UnsupportedEvent('investigate expects {"incident": {...}, "pass": 1|2}')
    pass_no = event.get("pass", 1)
    if pass_no not in (1, 2):
        raise UnsupportedEvent(f"pass must be 1 or 2, got {pass_no!r}")
    if pass_no == 1:
        return Incident.model_validate(event["incident"]), 1, None, None
    previous = event.get("previous_event_ids")
    if not isinstance(previous, list):
        raise UnsupportedEvent("pass 2 needs previous_event_ids (pass 1's investigation.event_ids)")
    return Incident.model_validate(event["incident"]), 2, previous, event.get("previous_event_ids_cutoff")


@transient_errors
@logger.inject_lambda_context(correlation_id_path="incident.incident_id", clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    incident, pass_no, previous, cutoff = _request(event)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    deadline = time.monotonic() + remaining() / 1000 - TIME_MARGIN_SECONDS if remaining else None
    return investigate(incident, pass_no, previous, cutoff, Settings.from_env(), deadline=deadline)
