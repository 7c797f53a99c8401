"""The incident record's item: its key, its bounded timeline, and what every write of it shares.

The item is `{"id": "incident#<incident_id>", ...}`; its fields are described in record.store. The
timeline is bounded (DynamoDB items hold at most 400 KB; GuardDuty may re-send every 15 minutes
for months): it keeps its first TIMELINE_FIRST and last TIMELINE_LAST entries, each at most
ENTRY_MAX characters (cut at a word boundary: the reasoning itself is whole in the response
entries), and counts what it dropped in between in `timeline_dropped`.
TTL: `expiration` is set to RETENTION_DAYS after the last change, so a record lives two years
past its incident's last activity (long enough for audits and repeat offenders, bounded cost).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from common.aws import error_code
from common.text import cut
from record.attributes import from_attribute

RETENTION_DAYS = 730
TIMELINE_FIRST = 10
TIMELINE_LAST = 40
ENTRY_MAX = 300
# Used only when the deployment does not say (infra sets the state machine's own timeout).
DEFAULT_STALE_AFTER_SECONDS = 6 * 3600
CHECK_FAILED = "ConditionalCheckFailedException"
# A function deployed without its table still contains (twice beats not at all), and says so.
NO_RECORD_NOTE = " (INCIDENT_TABLE is not set: no incident record, dedupe skipped)"
PREFIX = "incident#"


def stale_after() -> int:
    """INCIDENT_STALE_AFTER_SECONDS (set by infra to the state machine's timeout), or the default."""
    try:
        seconds = int(os.environ.get("INCIDENT_STALE_AFTER_SECONDS", ""))
    except ValueError:
        return DEFAULT_STALE_AFTER_SECONDS
    return seconds if seconds > 0 else DEFAULT_STALE_AFTER_SECONDS


def record_key(incident_id: str) -> dict[str, Any]:
    return {"id": {"S": f"{PREFIX}{incident_id}"}}


def load(dynamodb: Any, table: str, incident_id: str) -> dict[str, Any] | None:
    item = dynamodb.get_item(TableName=table, Key=record_key(incident_id), ConsistentRead=True).get("Item")
    return plain_item(item) if item else None


def plain_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: from_attribute(value) for key, value in item.items()}


def old_item(exc: ClientError) -> dict[str, Any] | None:
    """The stored item DynamoDB returns beside a conditional failure (ReturnValuesOnConditionCheckFailure)."""
    item: dict[str, Any] | None = exc.response.get("Item")  # type: ignore[assignment]
    return plain_item(item) if item else None


def timeline_length(attributes: dict[str, Any]) -> int:
    return len(attributes.get("timeline", {}).get("L", []))


def trim(dynamodb: Any, table: str, incident_id: str, length: int) -> None:
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
        if error_code(exc) != CHECK_FAILED:
            raise


def entry(moment: str, what: str) -> dict[str, str]:
    return {"at": moment, "what": cut(" ".join(str(what).split()), ENTRY_MAX)}


def plain(value: Any) -> Any:
    """DynamoDB takes no floats and no empty strings in sets: keep JSON-ish values only."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float):
        return str(value)
    return value


def parse(value: Any) -> datetime | None:
    """An ISO-8601 time, or None when there is none or it does not read."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def expiration(now: datetime | None) -> int:
    return int(((now or datetime.now(UTC)) + timedelta(days=RETENTION_DAYS)).timestamp())
