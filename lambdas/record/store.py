"""The incident record: one DynamoDB item per incident, the dedupe key and the timeline.

Why a conditional put rather than Powertools Idempotency: Idempotency replays the first
response for a while and then forgets; the responder needs a permanent record per incident
that also says *what changed* on a repeat (a GuardDuty count that rose after containment means
the credentials are still in use), and a timeline the report and `release` append to. The
conditional put is the primitive Idempotency is built on, used directly.

Item: {"id": "incident#<incident_id>", incident fields, "status", "sightings", "count",
"first_received_at", "last_received_at", "execution_arn", "timeline": [{"at", "what"}],
"steps", "notifications", "expiration"}.
TTL: `expiration` is set to RETENTION_DAYS after the last change, so a record lives two years
past its incident's last activity (long enough for audits and repeat offenders, bounded cost).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from common.aws import error_code

RETENTION_DAYS = 730
_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


@dataclass(frozen=True)
class Registration:
    duplicate: bool
    changed: bool
    sightings: int
    first_received_at: str
    reason: str = ""


def record_key(incident_id: str) -> dict[str, Any]:
    return {"id": {"S": f"incident#{incident_id}"}}


def register(
    dynamodb: Any, table: str, incident: dict[str, Any], *, execution_arn: str, now: datetime | None = None
) -> Registration:
    """Record the incident, or the repeat of one already recorded."""
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
        "execution_arn": execution_arn,
        "timeline": [
            {"at": moment, "what": f"received {incident.get('event_type')} (event {incident.get('event_id')})"}
        ],
        "expiration": _expiration(now),
    }
    try:
        dynamodb.put_item(
            TableName=table,
            Item={key: _serialize(value) for key, value in item.items() if value is not None},
            ConditionExpression="attribute_not_exists(id)",
        )
        return Registration(duplicate=False, changed=False, sightings=1, first_received_at=moment)
    except ClientError as exc:
        if error_code(exc) != "ConditionalCheckFailedException":
            raise
    return _record_repeat(dynamodb, table, incident, moment, count, now)


def _record_repeat(
    dynamodb: Any, table: str, incident: dict[str, Any], moment: str, count: int, now: datetime | None
) -> Registration:
    old = dynamodb.update_item(
        TableName=table,
        Key=record_key(incident["incident_id"]),
        UpdateExpression="SET sightings = sightings + :one, last_received_at = :now, "
        "timeline = list_append(timeline, :entry), expiration = :expiration",
        ExpressionAttributeValues={
            ":one": {"N": "1"},
            ":now": {"S": moment},
            ":entry": _serialize(
                [{"at": moment, "what": f"received again (event {incident.get('event_id')}, count {count})"}]
            ),
            ":expiration": {"N": str(_expiration(now))},
        },
        ReturnValues="ALL_OLD",
    )["Attributes"]
    previous = {key: _deserialize(value) for key, value in old.items()}
    sightings = int(previous.get("sightings", 1)) + 1
    first = str(previous.get("first_received_at", moment))
    previous_count = int(previous.get("count", 0))
    if count > previous_count and _raise_count(dynamodb, table, incident["incident_id"], count):
        return Registration(
            duplicate=True,
            changed=True,
            sightings=sightings,
            first_received_at=first,
            reason=f"seen again: GuardDuty's count rose from {previous_count} to {count} since the incident was "
            f"first received at {first}, so the credentials are still being used; check that the "
            "revocation holds and fix the flaw that leaked them",
        )
    return Registration(
        duplicate=True,
        changed=False,
        sightings=sightings,
        first_received_at=first,
        reason=f"repeat of the incident first received at {first} (sighting {sightings}); nothing changed",
    )


def _raise_count(dynamodb: Any, table: str, incident_id: str, count: int) -> bool:
    """Only one of several concurrent repeats with the same new count reports the change."""
    try:
        dynamodb.update_item(
            TableName=table,
            Key=record_key(incident_id),
            UpdateExpression="SET #count = :count",
            ConditionExpression="#count < :count",
            ExpressionAttributeNames={"#count": "count"},
            ExpressionAttributeValues={":count": {"N": str(count)}},
        )
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


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
    dynamodb.update_item(
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
            ":entry": _serialize([{"at": moment, "what": f"reported: {outcome}"}]),
        },
    )


def note(dynamodb: Any, table: str, incident_id: str, what: str, now: datetime | None = None) -> None:
    """Append to the timeline only: a repeat's report must not overwrite what the response did."""
    moment = _iso(now)
    dynamodb.update_item(
        TableName=table,
        Key=record_key(incident_id),
        UpdateExpression="SET timeline = list_append(if_not_exists(timeline, :empty), :entry)",
        ExpressionAttributeValues={":empty": {"L": []}, ":entry": _serialize([{"at": moment, "what": what}])},
    )


def load(dynamodb: Any, table: str, incident_id: str) -> dict[str, Any] | None:
    item = dynamodb.get_item(TableName=table, Key=record_key(incident_id), ConsistentRead=True).get("Item")
    return {key: _deserialize(value) for key, value in item.items()} if item else None


def _plain(value: Any) -> Any:
    """DynamoDB takes no floats and no empty strings in sets: keep JSON-ish values only."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return str(value)
    return value


def _iso(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _expiration(now: datetime | None) -> int:
    return int(((now or datetime.now(UTC)) + timedelta(days=RETENTION_DAYS)).timestamp())
