"""Registration: the dedupe write of an execution's first task, and the answer it gives.

The first delivery of an incident is one conditional put (`attribute_not_exists(id)`), its first
response entry included. A later delivery finds the item beside the conditional failure
(ReturnValuesOnConditionCheckFailure=ALL_OLD, no second read) and is either
* this execution's own earlier write (a Step Functions Retry of the first task, or botocore
  re-sending a PutItem whose reply was lost): the same answer, from the response entry it claimed;
* a repeat: judged by what it names and, unless it brings nothing new, claimed as a new response, so
  that of several concurrent repeats exactly one acts (record.repeat);
* a finding that joined another incident's record (the item is an alias): answered from that
  record, as record.join answers a finding that joins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from common.aws import error_code
from common.times import iso_now
from record.attributes import to_attribute
from record.item import CHECK_FAILED, DEFAULT_STALE_AFTER_SECONDS, entry, expiration, load, old_item, plain
from record.principals import delivery_of
from record.responses import new_entry, responses_of

# What a repeat's response entry keeps of the judgement, to answer a retry of its first task the same.
COMPARED = ("new", "again", "known", "pending")


@dataclass(frozen=True)
class Registration:
    """What the first task does next.

    duplicate=False: respond: the whole incident (new, a retry of this execution, a re-run: `reason`
    says which), or, with `narrow`, only the principals `new` and `again` name (a repeat that names
    something new). duplicate=True: a repeat; `recontain` asks the workflow to contain `again`
    (a new cut-off); `changed` says the responders are told. `response`: the index of this
    response's entry on record `record_id` (None: nothing to report there)."""

    duplicate: bool
    changed: bool
    sightings: int
    first_received_at: str
    reason: str = ""
    recontain: bool = False
    record_id: str = ""
    response: int | None = None
    kind: str = ""
    narrow: bool = False
    new: tuple[str, ...] = ()
    again: tuple[dict[str, Any], ...] = ()
    known: tuple[dict[str, Any], ...] = ()
    pending: tuple[dict[str, Any], ...] = ()


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
    moment = iso_now(now)
    delivery = delivery_of(incident)
    record_id = str(incident["incident_id"])
    first = new_entry(
        delivery,
        kind="first",
        execution_arn=execution_arn,
        moment=moment,
        claim_reason="",
        principals=delivery.principals,
    )
    item = {
        "id": f"incident#{record_id}",
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
        "first_received_at": moment,
        "last_received_at": moment,
        "execution_arn": execution_arn,
        "responses": [first],
        "timeline": [entry(moment, f"received {incident.get('event_type')} (event {incident.get('event_id')})")],
        "expiration": expiration(now),
    }
    try:
        dynamodb.put_item(
            TableName=table,
            Item={key: to_attribute(plain(value)) for key, value in item.items() if value is not None},
            ConditionExpression="attribute_not_exists(id)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return Registration(False, False, 1, moment, record_id=record_id, response=0, kind="first")
    except ClientError as exc:
        if error_code(exc) != CHECK_FAILED:
            raise
        old = old_item(exc)
    if old is None:
        # AWS returns the item with the failure; without it nothing says the incident was handled.
        return Registration(
            False,
            False,
            1,
            moment,
            reason="the incident record exists but could not be read back, so the response runs (again)",
        )
    if old.get("alias_of"):
        # This finding joined another incident's record: it is judged there.
        record_id = str(old["alias_of"])
        old = load(dynamodb, table, record_id) or {}
        if not old:
            gone = f"the record of incident {record_id}, which this finding joined, is gone"
            return Registration(False, False, 1, moment, reason=gone)
    # Imported here: a new incident, the first task's path to its containing call (compiled from source at every cold
    # start), never judges or claims; only a repeat does.
    from record.repeat import repeat

    return repeat(
        dynamodb,
        table,
        record_id,
        old,
        delivery,
        execution_arn=execution_arn,
        now=now,
        stale_after_seconds=stale_after_seconds,
    )


def registration_of(record: dict[str, Any], index: int, record_id: str) -> Registration:
    """The answer this execution got when it claimed response `index` (its first task is retried)."""
    response = responses_of(record)[index]
    kind = str(response.get("kind") or "first")
    sightings = int(record.get("sightings") or 1)
    first = str(record.get("first_received_at") or "")
    compared = {name: tuple(response.get(name) or ()) for name in COMPARED}
    reason = str(response.get("claim_reason") or "")
    narrow = kind in ("contain", "recontain", "notify")
    duplicate = kind in ("recontain", "notify")
    return Registration(
        duplicate,
        duplicate,
        sightings,
        first,
        reason,
        recontain=kind == "recontain",
        record_id=record_id,
        response=index,
        kind=kind,
        narrow=narrow,
        **compared,  # type: ignore[arg-type]
    )
