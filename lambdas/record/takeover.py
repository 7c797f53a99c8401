"""Taking a record over for a new response: a conditional append, so that of several concurrent
repeats exactly one acts; and the sighting of a repeat that brings nothing new.

A repeat is judged from the item as it was read (record.judge). Its response is appended only if
the item still holds exactly the responses it was judged from (`size(responses)`; for a record
written before responses existed, none) and, for a re-run of a response judged dead, only if that
response still has not reported. Otherwise the write fails with the stored item beside it
(ReturnValuesOnConditionCheckFailure=ALL_OLD), and the repeat is judged again from that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from common.aws import error_code
from record.attributes import to_attribute
from record.item import CHECK_FAILED, entry, expiration, old_item, plain, record_key, trim
from record.responses import legacy_responses


@dataclass(frozen=True)
class Also:
    """More of the same write: a join's finding set, a re-run's condition on the dead response."""

    set: str = ""
    add: str = ""
    condition: str = ""
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Claim:
    """`index`: where the response was appended (None: another write came first, and `current`
    is the item as it is now, or None when the record is gone)."""

    index: int | None
    sightings: int
    current: dict[str, Any] | None = None
    moved: bool = False  # the item changed (or went) since it was judged: judge again from `current`


def claim(
    dynamodb: Any,
    table: str,
    record_id: str,
    old: dict[str, Any],
    response: dict[str, Any],
    *,
    line: str,
    moment: str,
    now: datetime | None,
    containing: bool,
    also: Also | None = None,
) -> Claim:
    also = also or Also()
    listed = old.get("responses")
    index = len(listed) if isinstance(listed, list) else len(legacy_responses(old))
    values: dict[str, Any] = {
        ":entry": to_attribute([plain(response)]),
        ":legacy": to_attribute([] if isinstance(listed, list) else plain(legacy_responses(old))),
        ":me": {"S": str(response.get("execution_arn") or "")},
        ":now": {"S": moment},
        ":one": {"N": "1"},
        ":zero": {"N": "0"},
        ":empty": {"L": []},
        ":line": to_attribute([entry(moment, line)]),
        ":expiration": {"N": str(expiration(now))},
        **also.values,
    }
    names = dict(also.names)
    update = (
        "SET responses = list_append(if_not_exists(responses, :legacy), :entry), execution_arn = :me, "
        "last_received_at = :now, sightings = if_not_exists(sightings, :zero) + :one, expiration = :expiration, "
        "timeline = list_append(if_not_exists(timeline, :empty), :line)" + also.set
    )
    if containing:
        update += ", #status = :responding"
        names["#status"] = "status"
        values[":responding"] = {"S": "responding"}
    if also.add:
        update += f" ADD {also.add}"
    if isinstance(listed, list):
        condition = "size(responses) = :judged"
        values[":judged"] = {"N": str(index)}
    else:
        condition = "attribute_exists(id) AND attribute_not_exists(responses)"
    try:
        dynamodb.update_item(
            TableName=table,
            Key=record_key(record_id),
            UpdateExpression=update,
            ConditionExpression=condition + also.condition,
            **({"ExpressionAttributeNames": names} if names else {}),
            ExpressionAttributeValues=values,
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if error_code(exc) != CHECK_FAILED:
            raise
        return Claim(None, int(old.get("sightings") or 1), old_item(exc), moved=True)
    trim(dynamodb, table, record_id, len(old.get("timeline") or []) + 1)
    return Claim(index, int(old.get("sightings") or 0) + 1)


def sighting(
    dynamodb: Any,
    table: str,
    record_id: str,
    line: str,
    *,
    moment: str,
    now: datetime | None,
    also: Also | None = None,
) -> Claim:
    """A repeat that brings nothing new: counted and put on the timeline, nothing else. `index` is
    None; `current` is the item as it is now when `also.condition` no longer holds (judge again)."""
    also = also or Also()
    update = (
        "SET sightings = if_not_exists(sightings, :zero) + :one, last_received_at = :now, "
        "timeline = list_append(if_not_exists(timeline, :empty), :line), expiration = :expiration" + also.set
    )
    if also.add:
        update += f" ADD {also.add}"
    try:
        new = dynamodb.update_item(
            TableName=table,
            Key=record_key(record_id),
            UpdateExpression=update,
            # Never a stray item for a record that went meanwhile.
            ConditionExpression="attribute_exists(id)" + also.condition,
            **({"ExpressionAttributeNames": also.names} if also.names else {}),
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":zero": {"N": "0"},
                ":now": {"S": moment},
                ":empty": {"L": []},
                ":line": to_attribute([entry(moment, line)]),
                ":expiration": {"N": str(expiration(now))},
                **also.values,
            },
            ReturnValues="UPDATED_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )["Attributes"]
    except ClientError as exc:
        if error_code(exc) != CHECK_FAILED:
            raise
        return Claim(None, 0, old_item(exc), moved=True)
    trim(dynamodb, table, record_id, len(new.get("timeline", {}).get("L", [])))
    return Claim(None, int(new["sightings"]["N"]))
