"""The incident record: one DynamoDB item per incident, the dedupe key and the timeline.

Why a conditional put rather than Powertools Idempotency. Idempotency was weighed first, because
its INPROGRESS record with an expiry is exactly the guard a retried first task needs. It does not
fit the rest of what a repeat must decide:
* it replays the first response for a while and then forgets (expiry), while the responder needs
  a permanent record per incident that the report and `responder release` read and append to;
* a repeat must be judged by the *outcome* of the response that acted (failed or partial: run it
  again), which another function (Report) stores; Idempotency only knows "completed";
* a repeat that says *what changed* (a GuardDuty count that rose after containment: the credentials
  are still in use) must re-contain, not replay "accepted" or nothing.
So the record is built on the primitive Idempotency uses, a conditional write, and keeps its two
safety properties on purpose:
* the idempotency key of a retry is the execution: a write whose stored `execution_arn` is this
  execution's (a Step Functions Retry of the first task, or botocore re-sending a PutItem whose
  reply was lost) is this execution's own, never a duplicate. The stored item comes back with
  the conditional failure itself (ReturnValuesOnConditionCheckFailure=ALL_OLD), no second read;
* "in progress" expires: a record still `responding` after the workflow's own timeout
  (STALE_AFTER, set by infra from the state machine's timeout) belongs to an execution that died,
  and a repeat takes the response over.
Taking over (a re-run or a re-containment) is itself a conditional write on the execution that
held the record, so of several concurrent repeats exactly one acts.

Item: {"id": "incident#<incident_id>", incident fields, "status", "sightings", "count",
"first_received_at", "last_received_at", "started_at", "execution_arn", "claim" ("respond" |
"recontain": what that execution was started to do), "claim_reason", "timeline": [{"at", "what"}],
"timeline_dropped", "steps", "notifications", "expiration"}.
The timeline is bounded (DynamoDB items hold at most 400 KB; GuardDuty may re-send every 15
minutes for months): it keeps its first TIMELINE_FIRST and last TIMELINE_LAST entries, each at
most ENTRY_MAX characters, and counts what it dropped in between in `timeline_dropped`.
TTL: `expiration` is set to RETENTION_DAYS after the last change, so a record lives two years
past its incident's last activity (long enough for audits and repeat offenders, bounded cost).

One incident per attack (join_earlier, finish_joined): a later finding of the same attack (an
attack sequence whose signals include a finding already handled, or a finding whose
associatedAttackSequenceArn names a sequence already handled) gets no record of its own. It is
appended to the earlier record's `sequences` list ({"finding_id", "incident_id", "event_type",
"event_id", "execution_arn", "received_at", "role_name", "access_key_ids", "instance_ids", and once
reported "outcome", "reason", "reported_at", "notifications"}), its finding id to the string set
`joined_findings` (the dedupe of a re-sent sequence), and its steps to the record's `steps`, so that
`responder release` sees both responses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from common.aws import error_code
from record.attributes import from_attribute as _deserialize
from record.attributes import to_attribute as _serialize

RETENTION_DAYS = 730
TIMELINE_FIRST = 10
TIMELINE_LAST = 40
ENTRY_MAX = 300
# Used only when the deployment does not say (infra sets the state machine's own timeout).
DEFAULT_STALE_AFTER_SECONDS = 6 * 3600
# Outcomes after which a repeat in which nothing changed is only recorded. Any other stored
# status (failed, partial, an unknown value) means the credentials may still be live.
FINAL_STATUSES = frozenset({"contained"})
_CHECK_FAILED = "ConditionalCheckFailedException"
# A function deployed without its table still contains (twice beats not at all), and says so.
NO_RECORD_NOTE = " (INCIDENT_TABLE is not set: no incident record, dedupe skipped)"
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class Registration:
    """duplicate=False: respond (new, a retry of this execution, or a re-run: `reason` says which).
    duplicate=True: a repeat; `recontain` asks the workflow to cut the credentials off again."""

    duplicate: bool
    changed: bool
    sightings: int
    first_received_at: str
    reason: str = ""
    recontain: bool = False


def stale_after() -> int:
    """INCIDENT_STALE_AFTER_SECONDS (set by infra to the state machine's timeout), or the default."""
    try:
        seconds = int(os.environ.get("INCIDENT_STALE_AFTER_SECONDS", ""))
    except ValueError:
        return DEFAULT_STALE_AFTER_SECONDS
    return seconds if seconds > 0 else DEFAULT_STALE_AFTER_SECONDS


def record_key(incident_id: str) -> dict[str, Any]:
    return {"id": {"S": f"incident#{incident_id}"}}


def register(
    dynamodb: Any,
    table: str,
    incident: dict[str, Any],
    *,
    execution_arn: str,
    now: datetime | None = None,
    stale_after_seconds: int = DEFAULT_STALE_AFTER_SECONDS,
) -> Registration:
    """Record the incident, or the repeat of one already recorded, and say what to do."""
    moment = _iso(now)
    count = int(incident.get("count") or 0)
    item = {
        "id": f"incident#{incident['incident_id']}",
        **{
            field: incident.get(field)
            for field in (
                "incident_id",
                "kind",
                "account",
                "region",
                "source",
                "event_type",
                "finding_id",
                "role_name",
                "instance_id",
            )
        },
        "access_key_ids": incident.get("access_key_ids") or [],
        "status": "responding",
        "sightings": 1,
        "count": count,
        "first_received_at": moment,
        "last_received_at": moment,
        "started_at": moment,
        "execution_arn": execution_arn,
        "claim": "respond",
        "claim_reason": "",
        "timeline": [_entry(moment, f"received {incident.get('event_type')} (event {incident.get('event_id')})")],
        "expiration": _expiration(now),
    }
    try:
        dynamodb.put_item(
            TableName=table,
            Item={key: _serialize(value) for key, value in item.items() if value is not None},
            ConditionExpression="attribute_not_exists(id)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return Registration(duplicate=False, changed=False, sightings=1, first_received_at=moment)
    except ClientError as exc:
        if error_code(exc) != _CHECK_FAILED:
            raise
        old = _old_item(exc)
    if old is None:
        # AWS returns the item with the failure; without it nothing says the incident was handled.
        return Registration(
            duplicate=False,
            changed=False,
            sightings=1,
            first_received_at=moment,
            reason="the incident record exists but could not be read back, so the response runs (again)",
        )
    if execution_arn and old.get("execution_arn") == execution_arn:
        return _own(old)
    return _repeat(dynamodb, table, incident, old, execution_arn, moment, count, now, stale_after_seconds)


def _own(old: dict[str, Any]) -> Registration:
    """This execution already wrote the record (its first task is being retried): same decision."""
    sightings = int(old.get("sightings", 1))
    first = str(old.get("first_received_at", ""))
    reason = str(old.get("claim_reason") or "")
    if old.get("claim") == "recontain":
        return Registration(True, True, sightings, first, reason, recontain=True)
    return Registration(False, False, sightings, first, reason)


def _repeat(
    dynamodb: Any,
    table: str,
    incident: dict[str, Any],
    old: dict[str, Any],
    execution_arn: str,
    moment: str,
    count: int,
    now: datetime | None,
    stale_after_seconds: int,
) -> Registration:
    first = str(old.get("first_received_at", moment))
    previous_count = int(old.get("count") or 0)
    rerun = _rerun_reason(old, first, now, stale_after_seconds)
    if rerun:
        claim, reason = "respond", rerun
    elif count > previous_count:
        claim = "recontain"
        reason = (
            f"seen again: GuardDuty's count rose from {previous_count} to {count} since the incident was first "
            f"received at {first}, so the credentials are still in use (fix the flaw that leaked them); "
            "they are cut off again with a new cut-off"
        )
    else:
        return _sighting(dynamodb, table, incident, old, moment, count, now, first)
    taken = _take_over(
        dynamodb, table, incident, old, execution_arn, moment, max(count, previous_count), now, claim, reason
    )
    if taken is None:
        return _sighting(dynamodb, table, incident, old, moment, count, now, first, taken_by_another=True)
    if isinstance(taken, Registration):
        return taken  # our own earlier attempt took it over
    if claim == "recontain":
        return Registration(True, True, taken, first, reason, recontain=True)
    return Registration(False, False, taken, first, reason)


def _rerun_reason(old: dict[str, Any], first: str, now: datetime | None, stale_after_seconds: int) -> str:
    status = str(old.get("status") or "")
    if status in FINAL_STATUSES:
        return ""
    lead = f"repeat of the incident first received at {first}: "
    if status == "responding":
        started = str(old.get("started_at") or first)
        age = ((now or datetime.now(UTC)) - _parse(started)).total_seconds()
        if age <= stale_after_seconds:
            return ""  # an execution is still responding: it will report
        return (
            lead + f"the response started at {started} (execution {old.get('execution_arn') or '?'}) never "
            f"reported and is past the workflow's {stale_after_seconds // 60}-minute timeout, so the response "
            "runs again (every action is idempotent)"
        )
    if status in ("failed", "partial"):
        return lead + f"its last response ended {status}, so the response runs again (every action is idempotent)"
    return lead + f"its stored status {status!r} is not a final outcome, so the response runs again"


def _take_over(
    dynamodb: Any,
    table: str,
    incident: dict[str, Any],
    old: dict[str, Any],
    execution_arn: str,
    moment: str,
    count: int,
    now: datetime | None,
    claim: str,
    reason: str,
) -> int | Registration | None:
    """Make this execution the record's: conditional on the execution that held it, so one of
    several concurrent repeats wins. Returns the sightings, our own earlier claim, or None."""
    values: dict[str, Any] = {
        ":me": {"S": execution_arn},
        ":claim": {"S": claim},
        ":one": {"N": "1"},
        ":zero": {"N": "0"},
        ":now": {"S": moment},
        ":count": {"N": str(count)},
        ":empty": {"L": []},
        ":entry": _serialize([_entry(moment, f"{_received_again(incident)}: {claim} ({execution_arn or '?'})")]),
        ":expiration": {"N": str(_expiration(now))},
        # Stored so that a retry of this execution's first task returns the same words.
        ":reason": {"S": reason},
    }
    update = (
        "SET execution_arn = :me, claim = :claim, claim_reason = :reason, last_received_at = :now, "
        "sightings = if_not_exists(sightings, :zero) + :one, #count = :count, expiration = :expiration, "
        "timeline = list_append(if_not_exists(timeline, :empty), :entry)"
    )
    if claim == "respond":
        update += ", #status = :responding, started_at = :now"
        values[":responding"] = {"S": "responding"}
    if old.get("execution_arn") is None:
        condition = "attribute_not_exists(execution_arn)"
    else:
        condition = "execution_arn = :held_by"
        values[":held_by"] = {"S": str(old["execution_arn"])}
    if claim == "respond" and old.get("status") is not None:
        # The run judged stuck or failed may have reported meanwhile: then nothing is taken over.
        condition += " AND #status = :was"
        values[":was"] = {"S": str(old["status"])}
    try:
        new = dynamodb.update_item(
            TableName=table,
            Key=record_key(incident["incident_id"]),
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#count": "count", **({"#status": "status"} if claim == "respond" else {})},
            ExpressionAttributeValues=values,
            ReturnValues="UPDATED_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )["Attributes"]
    except ClientError as exc:
        if error_code(exc) != _CHECK_FAILED:
            raise
        current = _old_item(exc)
        if current is not None and execution_arn and current.get("execution_arn") == execution_arn:
            return _own(current)
        return None
    _trim(dynamodb, table, incident["incident_id"], len(new.get("timeline", {}).get("L", [])))
    return int(_deserialize(new["sightings"]))


def _sighting(
    dynamodb: Any,
    table: str,
    incident: dict[str, Any],
    old: dict[str, Any],
    moment: str,
    count: int,
    now: datetime | None,
    first: str,
    *,
    taken_by_another: bool = False,
) -> Registration:
    new = dynamodb.update_item(
        TableName=table,
        Key=record_key(incident["incident_id"]),
        UpdateExpression="SET sightings = if_not_exists(sightings, :zero) + :one, last_received_at = :now, "
        "timeline = list_append(if_not_exists(timeline, :empty), :entry), expiration = :expiration",
        ExpressionAttributeValues={
            ":one": {"N": "1"},
            ":zero": {"N": "0"},
            ":now": {"S": moment},
            ":empty": {"L": []},
            ":entry": _serialize([_entry(moment, f"{_received_again(incident)}, count {count}")]),
            ":expiration": {"N": str(_expiration(now))},
        },
        ReturnValues="UPDATED_NEW",
    )["Attributes"]
    _trim(dynamodb, table, incident["incident_id"], len(new.get("timeline", {}).get("L", [])))
    sightings = int(_deserialize(new["sightings"]))
    if taken_by_another:
        reason = (
            f"repeat of the incident first received at {first} (sighting {sightings}); another execution is "
            "already responding to it"
        )
    elif old.get("status") == "responding":
        reason = (
            f"repeat of the incident first received at {first} (sighting {sightings}); the response started at "
            f"{old.get('started_at') or first} is still running and will report"
        )
    else:
        reason = f"repeat of the incident first received at {first} (sighting {sightings}); nothing changed"
    return Registration(duplicate=True, changed=False, sightings=sightings, first_received_at=first, reason=reason)


def finish(
    dynamodb: Any,
    table: str,
    incident_id: str,
    *,
    outcome: str,
    reason: str,
    steps: list[dict[str, Any]],
    notifications: list[dict[str, Any]],
    now: datetime | None = None,
) -> None:
    """Store what the response did. Idempotent (SET), so a retried report may call it again."""
    moment = _iso(now)
    new = dynamodb.update_item(
        TableName=table,
        Key=record_key(incident_id),
        UpdateExpression="SET #status = :outcome, reason = :reason, steps = :steps, notifications = :notes, "
        "reported_at = :now, expiration = :expiration, "
        "timeline = list_append(if_not_exists(timeline, :empty), :entry)",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={
            ":outcome": {"S": outcome},
            ":reason": {"S": reason},
            ":steps": _serialize(_plain(steps)),
            ":notes": _serialize(_plain([{k: v for k, v in n.items() if k != "text"} for n in notifications])),
            ":now": {"S": moment},
            ":expiration": {"N": str(_expiration(now))},
            ":empty": {"L": []},
            ":entry": _serialize([_entry(moment, f"reported: {outcome}")]),
        },
        ReturnValues="UPDATED_NEW",
    )["Attributes"]
    _trim(dynamodb, table, incident_id, len(new.get("timeline", {}).get("L", [])))


def note(dynamodb: Any, table: str, incident_id: str, what: str, now: datetime | None = None) -> None:
    """Append to the timeline only: a repeat's report must not overwrite what the response did."""
    moment = _iso(now)
    new = dynamodb.update_item(
        TableName=table,
        Key=record_key(incident_id),
        UpdateExpression="SET timeline = list_append(if_not_exists(timeline, :empty), :entry)",
        ExpressionAttributeValues={":empty": {"L": []}, ":entry": _serialize([_entry(moment, what)])},
        ReturnValues="UPDATED_NEW",
    )["Attributes"]
    _trim(dynamodb, table, incident_id, len(new.get("timeline", {}).get("L", [])))


def load(dynamodb: Any, table: str, incident_id: str) -> dict[str, Any] | None:
    item = dynamodb.get_item(TableName=table, Key=record_key(incident_id), ConsistentRead=True).get("Item")
    return {key: _deserialize(value) for key, value in item.items()} if item else None


def _trim(dynamodb: Any, table: str, incident_id: str, length: int) -> None:
    """Drop the timeline's middle once it holds more than its first and last entries allow.
    Conditional on the length just read: after a concurrent append the next append trims."""
    if length <= TIMELINE_FIRST + TIMELINE_LAST:
        return
    # Highest index first: the same result whether removals apply at once (AWS) or one by one.
    drop = sorted(range(TIMELINE_FIRST, length - TIMELINE_LAST), reverse=True)
    try:
        dynamodb.update_item(
            TableName=table,
            Key=record_key(incident_id),
            UpdateExpression="REMOVE " + ", ".join(f"timeline[{index}]" for index in drop) + " ADD timeline_dropped :n",
            ConditionExpression="size(timeline) = :length",
            ExpressionAttributeValues={":n": {"N": str(len(drop))}, ":length": {"N": str(length)}},
        )
    except ClientError as exc:
        if error_code(exc) != _CHECK_FAILED:
            raise


def _old_item(exc: ClientError) -> dict[str, Any] | None:
    # ReturnValuesOnConditionCheckFailure=ALL_OLD puts the stored item beside the error.
    item: dict[str, Any] | None = exc.response.get("Item")  # type: ignore[assignment]
    return {key: _deserialize(value) for key, value in item.items()} if item else None


def _received_again(incident: dict[str, Any]) -> str:
    return f"received again (event {incident.get('event_id')})"


def _entry(moment: str, what: str) -> dict[str, str]:
    what = " ".join(str(what).split())
    return {"at": moment, "what": what if len(what) <= ENTRY_MAX else what[: ENTRY_MAX - 1] + "…"}


def _plain(value: Any) -> Any:
    """DynamoDB takes no floats and no empty strings in sets: keep JSON-ish values only."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return str(value)
    return value


def _parse(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)  # unreadable: as old as can be, so a repeat takes over
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).strftime(_TIME_FORMAT)


def _expiration(now: datetime | None) -> int:
    return int(((now or datetime.now(UTC)) + timedelta(days=RETENTION_DAYS)).timestamp())


# -- one incident per attack -------------------------------------------------------------------


@dataclass(frozen=True)
class Joined:
    """A finding that joined an earlier incident's record instead of getting its own.

    `joined`: what the report says and where finish_joined stores the outcome (the fields of
    incident.model.JoinedIncident); `unresolved`: the incident's own list without the principals the
    earlier response already contained (they are reported as such, not as failures)."""

    registration: Registration
    joined: dict[str, Any]
    unresolved: list[str]


def join_earlier(
    dynamodb: Any,
    table: str,
    incident: dict[str, Any],
    *,
    execution_arn: str,
    now: datetime | None = None,
) -> Joined | None:
    """Join the record of the first related finding (incident["related_finding_ids"]) that has one,
    or return None (then the incident is recorded on its own: register). One conditional
    UpdateItem per candidate: it appends only when that record exists and does not hold this
    finding yet, and returns the record either way, so no read grant and no race."""
    finding_id = str(incident.get("finding_id") or "")
    if not finding_id:
        return None
    moment = _iso(now)
    entry = {
        "finding_id": finding_id,
        "incident_id": incident.get("incident_id"),
        "event_type": incident.get("event_type"),
        "event_id": incident.get("event_id"),
        "execution_arn": execution_arn,
        "received_at": moment,
        "role_name": incident.get("role_name"),
        "access_key_ids": incident.get("access_key_ids") or [],
        "instance_ids": incident.get("group_instance_ids") or [],
    }
    for related in incident.get("related_finding_ids") or []:
        earlier_id = f"{incident['account']}:guardduty:{related}"
        if earlier_id == incident.get("incident_id"):
            continue
        line = f"joined by {incident.get('event_type')} {finding_id} (event {incident.get('event_id')}): same attack"
        try:
            record = dynamodb.update_item(
                TableName=table,
                Key=record_key(earlier_id),
                UpdateExpression="SET sequences = list_append(if_not_exists(sequences, :empty), :entry), "
                "last_received_at = :now, expiration = :expiration, "
                "timeline = list_append(if_not_exists(timeline, :empty), :line) ADD joined_findings :finding_set",
                ConditionExpression="attribute_exists(id) AND NOT contains(joined_findings, :finding)",
                ExpressionAttributeValues={
                    ":empty": {"L": []},
                    ":entry": _serialize([_plain(entry)]),
                    ":now": {"S": moment},
                    ":expiration": {"N": str(_expiration(now))},
                    ":line": _serialize([_entry(moment, line)]),
                    ":finding_set": {"SS": [finding_id]},
                    ":finding": {"S": finding_id},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )["Attributes"]
        except ClientError as exc:
            if error_code(exc) != _CHECK_FAILED:
                raise
            old = _old_item(exc)
            if old is None:
                continue  # no record of that finding: not handled here
            return _joined_before(old, incident, finding_id, execution_arn)
        stored = {key: _deserialize(value) for key, value in record.items()}
        return _joined(stored, incident, finding_id, execution_arn, duplicate=False)
    return None


def _joined_before(old: dict[str, Any], incident: dict[str, Any], finding_id: str, execution_arn: str) -> Joined:
    """The record already holds this finding: this execution's own earlier attempt (a retry of the
    first task: the same answer) or a re-sent finding (recorded; no second response)."""
    entries = [e for e in old.get("sequences") or [] if isinstance(e, dict) and e.get("finding_id") == finding_id]
    own = bool(execution_arn) and any(e.get("execution_arn") == execution_arn for e in entries)
    return _joined(old, incident, finding_id, execution_arn, duplicate=not own)


def _joined(
    record: dict[str, Any], incident: dict[str, Any], finding_id: str, execution_arn: str, *, duplicate: bool
) -> Joined:
    entries = [e if isinstance(e, dict) else {} for e in record.get("sequences") or []]
    mine = [i for i, e in enumerate(entries) if e.get("finding_id") == finding_id]
    index = next((i for i in mine if entries[i].get("execution_arn") == execution_arn), mine[0] if mine else 0)
    contained = _contained_by(record)
    named = {f"role {incident['role_name']}"} if incident.get("role_name") else set()
    named |= {f"key {key}" for key in incident.get("access_key_ids") or []}
    # A role the sequence named but did not act on (one role per response, or keys first) is
    # already contained when the earlier response contained it: reported as such, not as a failure.
    unresolved, deferred = [], set()
    for reason in incident.get("unresolved") or []:
        role = next((p for p in contained if p.startswith("role ") and f": {p} (" in str(reason)), None)
        if role:
            deferred.add(role)
        else:
            unresolved.append(reason)
    earlier = str(record.get("finding_id") or "")
    first = str(record.get("first_received_at") or "")
    status = str(record.get("status") or "")
    joined = {
        "incident_id": str(record.get("incident_id") or ""),
        "finding_id": earlier or None,
        "event_type": record.get("event_type"),
        "status": status or None,
        "first_received_at": first or None,
        "already_contained": sorted((named & contained) | deferred),
        "entry": index,
    }
    what = f"finding {earlier} ({record.get('event_type')}), first received at {first}, {status or 'no outcome yet'}"
    if duplicate:
        reason = f"repeat of {incident.get('event_type')} {finding_id}, which already joined the incident of {what}"
        registration = Registration(True, False, int(record.get("sightings") or 1), first, reason)
    else:
        reason = f"same attack as {what}: recorded on incident {joined['incident_id']}, not as a new incident"
        registration = Registration(False, False, int(record.get("sightings") or 1), first, reason)
    return Joined(registration=registration, joined=joined, unresolved=unresolved)


def _contained_by(record: dict[str, Any]) -> set[str]:
    """The principals the record's responses contained: its own when its outcome is `contained`,
    and those of joined findings whose response was."""
    found: set[str] = set()
    responses = [record] if record.get("status") in FINAL_STATUSES else []
    entries = [e for e in record.get("sequences") or [] if isinstance(e, dict)]
    responses += [e for e in entries if e.get("outcome") in FINAL_STATUSES]
    for response in responses:
        if response.get("role_name"):
            found.add(f"role {response['role_name']}")
        found |= {f"key {key}" for key in response.get("access_key_ids") or []}
    return found


def finish_joined(
    dynamodb: Any,
    table: str,
    joined: dict[str, Any],
    *,
    outcome: str,
    reason: str,
    steps: list[dict[str, Any]],
    notifications: list[dict[str, Any]],
    now: datetime | None = None,
) -> None:
    """Store a joined finding's response on the earlier record: its entry's outcome, and its steps
    appended to the record's (release undoes both). Once per entry (a retried report stores
    nothing twice). The record's status becomes this outcome only when it is worse than contained:
    a repeat of the earlier finding must then respond again."""
    moment = _iso(now)
    index = int(joined.get("entry") or 0)
    at = f"sequences[{index}]"
    update = (
        f"SET {at}.outcome = :outcome, {at}.reason = :reason, {at}.reported_at = :now, {at}.notifications = :notes, "
        "steps = list_append(if_not_exists(steps, :empty), :steps), expiration = :expiration, "
        "timeline = list_append(if_not_exists(timeline, :empty), :entry)"
    )
    names: dict[str, str] = {}
    if outcome not in FINAL_STATUSES:
        update += ", #status = :outcome"
        names["#status"] = "status"
    try:
        new = dynamodb.update_item(
            TableName=table,
            Key=record_key(str(joined["incident_id"])),
            UpdateExpression=update,
            ConditionExpression=f"attribute_exists(id) AND attribute_not_exists({at}.reported_at)",
            **({"ExpressionAttributeNames": names} if names else {}),
            ExpressionAttributeValues={
                ":outcome": {"S": outcome},
                ":reason": {"S": reason},
                ":now": {"S": moment},
                ":notes": _serialize(_plain([{k: v for k, v in n.items() if k != "text"} for n in notifications])),
                ":steps": _serialize(_plain(steps)),
                ":empty": {"L": []},
                ":expiration": {"N": str(_expiration(now))},
                ":entry": _serialize([_entry(moment, f"reported the joined finding: {outcome}")]),
            },
            ReturnValues="UPDATED_NEW",
        )["Attributes"]
    except ClientError as exc:
        if error_code(exc) != _CHECK_FAILED:
            raise
        return  # stored by an earlier attempt of this report
    _trim(dynamodb, table, str(joined["incident_id"]), len(new.get("timeline", {}).get("L", [])))
