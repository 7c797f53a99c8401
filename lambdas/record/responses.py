"""The record's responses: one entry per response, appended, never overwritten.

Every response to an incident (the first, a re-run, a containment of what a repeat names that is
new, a re-containment, a report-only notice, a release) is one entry of the record's `responses`
list, in the order they were claimed:

    {"kind": "first" | "rerun" | "contain" | "recontain" | "notify" | "release",
     "finding_id", "incident_id", "event_type", "event_id"   (the delivery it answers: the record's
                                          own finding, or one that joined it),
     "execution_arn", "started_at", "claim_reason",
     "principals": ["key AKIA...", "role NAME", ...]   (what this response contains),
     "names": [...]                       (all the delivery named: record.principals),
     "activity": {"count", "last_seen", "updated_at"},
     "new", "again", "known", "pending"  (how the delivery compared with the earlier responses),
     once reported: "outcome", "reason", "reported_at", "cutoff", "notifications",
                    "steps" (with their undo data) or, when they do not fit the item,
                    "steps_uri" + "steps_count" (the evidence bucket, record.finish)}

`cutoff` is the latest cut-off the response wrote (its steps' data.cutoff), or its start: activity
after it is activity the cut-off did not cover. A release entry holds "reversals" instead of steps.

Records written before responses existed hold one response in top-level fields (status, steps,
started_at, count, ...) and joined findings in `sequences`; `responses_of` reads them as entries
(marked "legacy": their steps stay in the top-level `steps`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from record.principals import KEY_KINDS, ROLE_KINDS, Delivery

# Outcomes after which a response's principals count as contained. A re-containment that
# succeeded reports `duplicate` (a repeat, cut off again).
SUCCEEDED = frozenset({"contained", "duplicate"})
RELEASED = "released"
# Worst first: the record's status is the worst latest outcome of its findings.
_SEVERITY = ("failed", "partial", "responding", "contained", "duplicate")


def new_entry(
    delivery: Delivery,
    *,
    kind: str,
    execution_arn: str,
    moment: str,
    claim_reason: str,
    principals: Iterable[str],
    compared: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A response entry as it is claimed (record.registration, record.join). `compared`: how the
    delivery compared with the earlier responses (new, again, known, pending), for a retry of the
    same execution to give the same answer."""
    return {
        "kind": kind,
        "finding_id": delivery.finding_id,
        "incident_id": delivery.incident_id,
        "event_type": delivery.event_type,
        "event_id": delivery.event_id,
        "execution_arn": execution_arn,
        "started_at": moment,
        "claim_reason": claim_reason,
        "principals": list(dict.fromkeys(principals)),
        "names": list(delivery.names),
        "activity": delivery.activity.as_dict(),
        **(compared or {}),
    }


def own_response(record: dict[str, Any], execution_arn: str) -> int | None:
    """The response this execution claimed before (a retry of its first task), if any."""
    if not execution_arn:
        return None
    found = [i for i, r in enumerate(responses_of(record)) if r.get("execution_arn") == execution_arn]
    return found[-1] if found else None


def responses_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    listed = record.get("responses")
    if isinstance(listed, list):
        return [r if isinstance(r, dict) else {} for r in listed]
    return legacy_responses(record)


def legacy_responses(record: dict[str, Any]) -> list[dict[str, Any]]:
    """A record written before `responses` existed, read as entries (their steps stay top-level)."""
    status = record.get("status")
    first = {
        "kind": "first",
        "legacy": True,
        "finding_id": record.get("finding_id"),
        "incident_id": record.get("incident_id"),
        "event_type": record.get("event_type"),
        "execution_arn": record.get("execution_arn"),
        "started_at": record.get("started_at") or record.get("first_received_at"),
        "principals": _legacy_principals(record),
        "names": [
            *_legacy_principals(record),
            *(f"key {k}" for k in record.get("access_key_ids") or []),
            *([f"instance {record['instance_id']}"] if record.get("instance_id") else []),
        ],
        "activity": {"count": record.get("count")},
        "outcome": None if status in (None, "responding") else status,
        "reported_at": record.get("reported_at"),
    }
    entries = [first]
    for joined in record.get("sequences") or []:
        if not isinstance(joined, dict):
            continue
        keys = [k for k in joined.get("access_key_ids") or [] if str(k).startswith("AKIA")]
        principals = [f"key {k}" for k in keys] or ([f"role {joined['role_name']}"] if joined.get("role_name") else [])
        named = [*principals, *(f"key {k}" for k in joined.get("access_key_ids") or [])]
        entries.append(
            {
                "kind": "first",
                "legacy": True,
                "finding_id": joined.get("finding_id"),
                "incident_id": joined.get("incident_id"),
                "event_type": joined.get("event_type"),
                "event_id": joined.get("event_id"),
                "execution_arn": joined.get("execution_arn"),
                "started_at": joined.get("received_at"),
                "principals": principals,
                "names": list(dict.fromkeys(named)),
                "activity": {},
                "outcome": joined.get("outcome"),
                "reported_at": joined.get("reported_at"),
            }
        )
    return entries


def _legacy_principals(record: dict[str, Any]) -> list[str]:
    if record.get("kind") in KEY_KINDS:
        return [f"key {k}" for k in record.get("access_key_ids") or []]
    if record.get("kind") in ROLE_KINDS and record.get("role_name"):
        return [f"role {record['role_name']}"]
    return []


def overall_status(responses: list[dict[str, Any]]) -> str:
    """`released` when the last containing response came before a release; otherwise the worst
    latest outcome of the record's findings (`responding` while one of them has none yet)."""
    latest: dict[str, str] = {}
    for response in responses:
        outcome = response.get("outcome")
        if response.get("kind") == "release":
            if outcome == RELEASED:
                latest = {"": RELEASED}
            continue
        if response.get("kind") == "notify":
            continue  # told, nothing contained: it changes no principal's state
        latest.pop("", None)
        latest[str(response.get("incident_id") or "")] = str(outcome or "responding")
    if not latest:
        return "responding"
    outcomes = set(latest.values())
    for worst in _SEVERITY:
        if worst in outcomes:
            return "contained" if worst == "duplicate" else worst
    return sorted(outcomes)[0]  # an outcome this code does not know: shown as it is


def cutoff_of(steps: Iterable[dict[str, Any]], started_at: str | None) -> str | None:
    """The latest cut-off a response wrote (its succeeded steps' data.cutoff), else its start."""
    cutoffs = [
        str(s["data"]["cutoff"])
        for s in steps
        if isinstance(s, dict)
        and s.get("status") in ("done", "already-done")
        and isinstance(s.get("data"), dict)
        and s["data"].get("cutoff")
    ]
    return max([*cutoffs, *([started_at] if started_at else [])], default=None)


def release_steps(record: dict[str, Any], s3: Any = None) -> list[dict[str, Any]]:
    """Every step whose change a release must reverse: those of every response since the last
    release (the top-level `steps` of a record written before responses existed), the first
    `done` of each (name, target) kept, since it recorded the state before the responder changed it.
    A response whose steps went to the evidence bucket is read from there (`s3`: a client)."""
    responses = responses_of(record)
    last_release = max((i for i, r in enumerate(responses) if r.get("kind") == "release"), default=-1)
    steps: list[dict[str, Any]] = []
    if last_release < 0:
        steps += [s for s in record.get("steps") or [] if isinstance(s, dict)]
    for response in responses[last_release + 1 :]:
        steps += steps_of(response, s3)
    kept: dict[tuple[str, str], dict[str, Any]] = {}
    others: list[dict[str, Any]] = []
    for step in steps:
        if step.get("status") != "done":
            others.append(step)
            continue
        kept.setdefault((str(step.get("name")), str(step.get("target"))), step)
    return [*kept.values(), *others]


def steps_of(response: dict[str, Any], s3: Any = None) -> list[dict[str, Any]]:
    if isinstance(response.get("steps"), list):
        return [s for s in response["steps"] if isinstance(s, dict)]
    uri = response.get("steps_uri")
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        return []
    if s3 is None:
        raise ValueError(f"the steps of this response are in {uri}: an S3 client is needed to read them")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return [s for s in document.get("steps") or [] if isinstance(s, dict)]


def number(value: Any) -> int | None:
    """A count as stored (Decimal from DynamoDB, int from an event), or None."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
        return None
    return int(value)
