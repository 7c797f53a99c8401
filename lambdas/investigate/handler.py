"""Lambda: what did the compromised credential do, and what did it derive? CloudTrail in every enabled region,
followed hop by hop through the attacker's reach (investigate.search, reach.graph), with a summary.

The workflow runs it twice: right after containment (pass 1) and after a Wait state (pass 2), because
CloudTrail delivers events ~15 minutes late; pass 2 reports what pass 1 could not see yet. It only reads:
Evict contains what the reach holds, from the evidence object this function writes.

Input:
    {"incident": <Incident dict>, "pass": 1 | 2,
     "previous_evidence": "s3://..."}        # pass 2: $.investigation.evidence of pass 1 (may be null)
    (pass 2 also still takes "previous_event_ids" [+ "previous_event_ids_cutoff"] instead of the evidence)
Output (bounded: it travels in the state machine's state, which Step Functions caps at 256 KiB):
    {"steps": [StepResult, ...],             # investigate-cloudtrail, store-cloudtrail-evidence
     "investigation": digest}                # summary.fit: counts, capped lists, the reach's counts, "evidence"
The evidence object investigations/<incident_id>/pass-<n>.json holds everything: "events" (every event
found), "summary", "reach" (every item with its verdict, rule and inputs), "window", "baseline", "signals".
Steps: "investigate-cloudtrail" (done when every region was searched, naming the regions that are not
enabled; failed, i.e. the investigation is partial, when a look-up that can hide a credential was cut or
stopped early, or no region could be searched), "store-cloudtrail-evidence".

Environment:
    EVIDENCE_BUCKET                  where the evidence goes: investigations/<incident_id>/pass-<n>.json
    EVIDENCE_KMS_KEY_ARN             the bucket's KMS key (optional; see _store_evidence for why it matters)
    SUSPICION_MARGIN_MINUTES=60      the window of suspicion opens this long before the exposure
    BASELINE_DAYS=7                  the owner's baseline: this many days before the window
    REACH_MAX_DEPTH=3                hops followed from the compromised credential
    REACH_MAX_ITEMS=40               credentials and principals the reach holds at most
    LOOKUP_MAX_EVENTS_PER_REGION=1000  per look-up, newest first
    LOOKUP_MIN_INTERVAL_SECONDS=0.5  LookupEvents allows 2 calls per second per region
IAM: permissions.GRANTS. Errors: UnsupportedEvent for malformed input; AWS failures become step results.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from common import aws
from common.errors import UnsupportedEvent, transient_errors
from common.steps import Status, StepResult, step
from common.times import iso, parse
from incident.model import Incident
from investigate import backdoors, lookup, search, seeds, summary
from reach.graph import Reach
from reach.judge import Window

logger = Logger(service="credential-responder")

MAIN_STEP = "investigate-cloudtrail"
EVIDENCE_STEP = "store-cloudtrail-evidence"
MAX_WORKERS = 8  # regions searched at once; each region's calls stay paced on their own
MAX_CREATED = 20  # reach items listed in the state's digest (all of them in the evidence object)
MAX_DETAIL_CHARS = 2000
TIME_MARGIN_SECONDS = 30  # left for the evidence write after the look-ups


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
    margin_minutes: int
    baseline_days: float
    max_depth: int
    max_items: int
    max_events_per_region: int
    min_interval: float

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            evidence_bucket=env.get("EVIDENCE_BUCKET") or None,
            evidence_kms_key_arn=env.get("EVIDENCE_KMS_KEY_ARN") or None,
            margin_minutes=_number(env, "SUSPICION_MARGIN_MINUTES", 60, int),
            baseline_days=_number(env, "BASELINE_DAYS", 7),
            max_depth=_number(env, "REACH_MAX_DEPTH", 3, int, 1),
            max_items=_number(env, "REACH_MAX_ITEMS", 40, int, 1),
            max_events_per_region=_number(env, "LOOKUP_MAX_EVENTS_PER_REGION", 1000, int, 1),
            min_interval=_number(env, "LOOKUP_MIN_INTERVAL_SECONDS", 0.5),
        )


def cloudtrail_client(region: str) -> Any:
    """The client factory handed to the look-up (tests and the drill replace it with recorded events)."""
    return aws.client("cloudtrail", region)


def iam_log_region(region: str) -> str:
    """Where IAM (a global service) records its calls: the partition's first region."""
    if region.startswith("us-gov-"):
        return "us-gov-west-1"
    if region.startswith("cn-"):
        return "cn-north-1"
    return "us-east-1"


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


def _manual_lookup(lookups: list[lookup.Lookup], start: datetime, region: str) -> str:
    return " && ".join(
        f"aws cloudtrail lookup-events --region {shlex.quote(region)} --start-time {iso(item.start or start)}"
        f" --lookup-attributes {shlex.quote(f'AttributeKey={item.key},AttributeValue={item.value}')}"
        for item in lookups
        if item.key != "EventName"
    )


def incomplete_regions(results: list[lookup.RegionResult]) -> dict[str, str]:
    """Regions whose look-ups may have missed a credential, with why. A baseline cut only leaves the owner
    less evidence (more calls judged unknown, as each verdict says); a credential's look-up cut inside the
    window is covered when the look-up of the deriving calls by name read the part it missed."""
    by_region: dict[str, list[lookup.RegionResult]] = {}
    for result in results:
        by_region.setdefault(result.region, []).append(result)
    missed: dict[str, str] = {}
    for region, parts in by_region.items():
        notes = [str(result.error) for result in parts if result.status == "partly-searched"]
        cut = [label for result in parts for label in result.capped_lookups if search.BASELINE not in label]
        fallback_cut = [label for label in cut if search.FALLBACK in label]
        credential_cut = [label for label in cut if search.FALLBACK not in label]
        fallback_ran = any(search.FALLBACK in label for result in parts for label in result.lookups)
        if fallback_cut:
            notes.append(f"capped even by event name ({', '.join(fallback_cut[:3])})")
        elif credential_cut and not fallback_ran:
            notes.append(f"capped ({', '.join(credential_cut[:3])}): older events unread")
        if notes:
            missed[region] = "; ".join(notes)
    return missed


def _main_step(
    incident: Incident,
    found: search.Search,
    digest: dict[str, Any],
    pass_no: int,
    window: Window,
    region_note: str | None,
) -> StepResult:
    results = found.results
    target = ", ".join(dict.fromkeys(seed.id for seed in (found.reach.seeds if found.reach else [])))
    region_results: dict[str, list[lookup.RegionResult]] = {}
    for result in results:
        region_results.setdefault(result.region, []).append(result)
    searched = [region for region, parts in region_results.items() if any(r.status != "not-searched" for r in parts)]
    unsearched = [
        f"{region} ({next(r.error for r in parts if r.error)})"
        for region, parts in region_results.items()
        if region not in searched
    ]
    start = parse(window.opens_at) or datetime.now(UTC)
    if not searched:
        manual = _manual_lookup(found.lookups, start, incident.region)
        detail = "no region could be searched: " + "; ".join(unsearched)
        return step(MAIN_STEP, Status.FAILED, target, detail[:MAX_DETAIL_CHARS], manual=manual)
    reach = found.reach
    parts = [f"pass {pass_no}: {digest['event_count']} event(s) in {len(searched)} of {len(region_results)} region(s)"]
    if reach is not None:
        counts: dict[str, int] = {}
        for item in reach.items:
            counts[str(item.judgement.verdict)] = counts.get(str(item.judgement.verdict), 0) + 1
        held = ", ".join(f"{n} {verdict}'s" for verdict, n in sorted(counts.items())) or "nothing derived"
        parts.append(f"reach: {len(reach.items)} credential(s) and principal(s) derived ({held}); {reach.bound()}")
        if reach.items:
            listed = ", ".join(f"{item.label} ({item.judgement.verdict}'s)" for item in reach.items[:10])
            parts.append(f"derived: {listed}" + (", ..." if len(reach.items) > 10 else ""))
        parts.append(f"{window.describe()}; baseline: {found.baseline.describe()}")
        if reach.cut:
            parts.append(f"cut by the bound: {len(reach.cut)} ({'; '.join(reach.cut[:3])})")
    if digest.get("new_since_previous_pass") is not None:
        parts.append(f"{digest['new_since_previous_pass']['count']} new since pass {pass_no - 1}")
    covered = [
        f"{result.region}: {', '.join(label for label in result.capped_lookups if search.BASELINE not in label)}"
        for result in results
        if any(search.BASELINE not in label and search.FALLBACK not in label for label in result.capped_lookups)
    ]
    if covered:
        parts.append(
            f"capped at {results[0].cap} events per look-up, newest first ({'; '.join(covered[:3])}): the calls "
            "that derive a credential were read by name for the rest of the window"
        )
    if region_note:
        parts.append(region_note)
    if unsearched:
        parts.append("not searched: " + "; ".join(unsearched))
    if found.stopped:
        parts.append(found.stopped)
    parts.append("management events only (S3 object reads and other data events are not in LookupEvents)")
    detail = summary.one_line("; ".join(parts), MAX_DETAIL_CHARS)
    missed = incomplete_regions(results)
    if missed or found.stopped:
        detail = summary.one_line(
            f"partial: {'; '.join(f'{region}: {why}' for region, why in sorted(missed.items()))}; {detail}",
            MAX_DETAIL_CHARS,
        )
        regions = sorted(missed) or [incident.region]
        manual = " ; ".join(_manual_lookup(found.lookups, start, region) for region in regions[:3])
        manual += "  # or query the trail's S3 logs (Athena): older events were not read"
        return step(MAIN_STEP, Status.FAILED, target, detail, manual=manual)
    return step(MAIN_STEP, Status.DONE, target, detail)


def _reach_digest(reach: Reach) -> dict[str, Any]:
    """What the state carries of the reach: counts and the first items' one-line labels (Evict reads the
    whole reach from the evidence object)."""
    by: dict[str, int] = {}
    for item in reach.items:
        key = f"{item.kind}:{item.judgement.verdict}"
        by[key] = by.get(key, 0) + 1
    return {
        "items": len(reach.items),
        "by_kind_and_verdict": by,
        "listed": [
            {"kind": str(item.kind), "label": summary.one_line(item.label), "verdict": str(item.judgement.verdict)}
            for item in reach.items[:MAX_CREATED]
        ],
        "bound": reach.bound(),
        "cut": len(reach.cut),
    }


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
    exposed_at = parse(incident.first_seen) or parse(incident.detected_at) or now
    window = Window.around(
        min(exposed_at, now), margin_minutes=settings.margin_minutes, baseline_days=settings.baseline_days
    )
    seed_list = seeds.seeds_of(incident)
    if not seed_list:
        detail = "the incident names no access key or instance to look up"
        nothing = {"pass": pass_no, **summary.fit(summary.summarize([])), "evidence": None}
        return {"steps": [step(MAIN_STEP, Status.SKIPPED, incident.incident_id, detail)], "investigation": nothing}

    s3 = aws.client("s3")
    previous_note = None
    if pass_no == 2 and previous_event_ids is None:
        previous_event_ids, previous_note = _previous_ids(s3, settings, incident, previous_evidence)
        previous_cutoff = None
    regions, region_note = _regions(incident)
    endpoints, endpoint_note = (
        seeds.vpc_endpoints(aws.client("ec2", incident.region), incident)
        if seeds.instance_session(incident)
        else (frozenset(), None)
    )
    signals = seeds.signals_of(incident, endpoints)
    iam_region = iam_log_region(incident.region)
    found = search.search(
        cloudtrail_client,
        regions,
        iam_region,
        seed_list,
        window,
        signals,
        now,
        max_depth=settings.max_depth,
        max_items=settings.max_items,
        max_events=settings.max_events_per_region,
        min_interval=settings.min_interval,
        deadline=deadline,
        max_workers=MAX_WORKERS,
        clock=time.monotonic,
    )
    reach = found.reach
    assert reach is not None  # search always builds one
    found_summary = summary.summarize(
        found.events, previous_event_ids=previous_event_ids, previous_cutoff=previous_cutoff
    )
    regions_report = {
        "searched": sorted({r.region for r in found.results if r.status == "searched"}),
        "partly_searched": {r.region: r.note for r in found.results if r.status == "partly-searched"},
        "not_searched": {r.region: r.error for r in found.results if r.status == "not-searched"},
        "capped": sorted({r.region for r in found.results if r.capped}),
        "capped_lookups": {r.region: r.capped_lookups for r in found.results if r.capped},
        "events_read": sum(r.read for r in found.results),
        "hops": found.hops,
    }
    logger.info(
        "cloudtrail look-up finished",
        extra={"pass": pass_no, "events": len(found.events), "reach": len(reach.items), "hops": found.hops},
    )
    notes = "; ".join(filter(None, (region_note, endpoint_note))) or None
    main = _main_step(incident, found, found_summary, pass_no, window, notes)
    if previous_note:
        main["detail"] += f"; {previous_note}"
    window_report = {
        "start": window.baseline_from,
        "end": iso(now),
        "first_sighting": window.exposed_at,
        "opens_at": window.opens_at,
        "margin_minutes": window.margin_minutes,
    }
    created = backdoors.created_entities(reach.items, incident.region)
    document = {
        "incident_id": incident.incident_id,
        "pass": pass_no,
        "window": window_report,
        "lookups": found.labels,
        "regions": regions_report,
        "events": found.events,
        # Added fields (the events list above keeps its place and shape): everything the state carries
        # only in part.
        "summary": found_summary,
        "reach": reach.as_dict(),
        "baseline": {"calls": found.baseline.calls, "described": found.baseline.describe(), "cut": found.baseline.cut},
        "signals": {
            "attacker_ips": sorted(signals.attacker_ips),
            "attacker_accounts": sorted(signals.attacker_accounts),
            "own_ips": sorted(signals.own_ips),
            "own_endpoints": sorted(signals.own_endpoints),
        },
        "backdoors": {"created": created, "created_total": len(created)},
        "steps": [main],
    }
    evidence_step, uri = _store_evidence(s3, settings, incident, pass_no, document)
    investigation = summary.fit(
        {
            "pass": pass_no,
            "window": window_report,
            "lookups": found.labels[:40],
            "regions": regions_report,
            **found_summary,
            "reach": _reach_digest(reach),
            "backdoors": {"created": created[:MAX_CREATED], "created_total": len(created)},
            "evidence": uri,
        }
    )
    return {"steps": [main, evidence_step], "investigation": investigation}


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
