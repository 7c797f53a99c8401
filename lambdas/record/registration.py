"""Registration: the dedupe write of an execution's first task, and the answer it gives.

The first delivery of an incident is one conditional put (`attribute_not_exists(id)`), its first
response entry included. A later delivery finds the item beside the conditional failure
(ReturnValuesOnConditionCheckFailure=ALL_OLD, no second read) and is either
* this execution's own earlier write (a Step Functions Retry of the first task, or botocore
  re-sending a PutItem whose reply was lost): the same answer, from the response entry it claimed;
* a repeat: judged by what it names (record.judge) and, unless it brings nothing new, claimed as a
  new response (record.takeover), so that of several concurrent repeats exactly one acts;
* a finding that joined another incident's record (the item is an alias): answered from that
  record, as record.join answers a finding that joins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from common.aws import error_code
from common.times import iso_now
from record.attributes import to_attribute
from record.item import CHECK_FAILED, DEFAULT_STALE_AFTER_SECONDS, entry, expiration, load, old_item, plain
from record.principals import Delivery, delivery_of
from record.responses import new_entry, own_response, responses_of

if TYPE_CHECKING:
    from record.judge import Decision
    from record.takeover import Also

# Concurrent repeats re-judge after losing a claim; beyond this many rounds the last one is told
# that another execution is responding (it is: every lost round means another claim succeeded).
MAX_ROUNDS = 4
_COMPARED = ("new", "again", "known", "pending")


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


def repeat(
    dynamodb: Any,
    table: str,
    record_id: str,
    old: dict[str, Any],
    delivery: Delivery,
    *,
    execution_arn: str,
    now: datetime | None,
    stale_after_seconds: int,
    also: Also | None = None,
    silent_lead: str = "",
) -> Registration:
    """Judge a delivery against the record `old` and claim its response; again from the item as it
    is now whenever another write came first. `also`: what a join adds to the same write."""
    # Imported here: a new incident (the first task's path to its containing call, compiled from source at every
    # cold start) never judges or claims, only a repeat does.
    from record.judge import CONTAIN, NOTIFY, RECONTAIN, RESPOND, SILENT, judge
    from record.takeover import Also, claim, sighting

    moment = iso_now(now)
    also = also or Also()
    for _ in range(MAX_ROUNDS):
        first = str(old.get("first_received_at") or moment)
        own = own_response(old, execution_arn)
        if own is not None:
            return registration_of(old, own, record_id)
        decision = judge(old, delivery, record_id=record_id, now=now, stale_after_seconds=stale_after_seconds)
        if decision.action == SILENT:
            counted = sighting(
                dynamodb,
                table,
                record_id,
                f"received again (event {delivery.event_id}): nothing new",
                moment=moment,
                now=now,
                also=also,
            )
            if counted.moved:
                if counted.current is None:
                    break
                old = counted.current
                continue
            return Registration(
                True, False, counted.sightings, first, _silent_reason(old, decision, silent_lead, counted.sightings)
            )
        kind = {RESPOND: "rerun", CONTAIN: "contain", RECONTAIN: "recontain", NOTIFY: "notify"}[decision.action]
        compared = {name: list(getattr(decision, name)) for name in _COMPARED}
        response = new_entry(
            delivery,
            kind=kind,
            execution_arn=execution_arn,
            moment=moment,
            claim_reason=decision.reason,
            principals=_contains(decision, delivery),
            compared=compared,
        )
        claimed = claim(
            dynamodb,
            table,
            record_id,
            old,
            response,
            line=f"received again (event {delivery.event_id}): {kind} ({execution_arn or '?'})",
            moment=moment,
            now=now,
            containing=kind != "notify",
            also=_unreported(old, delivery, also) if kind == "rerun" else also,
        )
        if claimed.index is not None:
            return _registration(decision, record_id, claimed.index, claimed.sightings, first, kind)
        if claimed.current is None:
            break
        old = claimed.current
    return Registration(
        True,
        False,
        int(old.get("sightings") or 1),
        str(old.get("first_received_at") or moment),
        f"repeat of incident {record_id}: another execution is already responding to it and will report",
    )


def registration_of(record: dict[str, Any], index: int, record_id: str) -> Registration:
    """The answer this execution got when it claimed response `index` (its first task is retried)."""
    response = responses_of(record)[index]
    kind = str(response.get("kind") or "first")
    sightings = int(record.get("sightings") or 1)
    first = str(record.get("first_received_at") or "")
    compared = {name: tuple(response.get(name) or ()) for name in _COMPARED}
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


def _registration(
    decision: Decision, record_id: str, index: int, sightings: int, first: str, kind: str
) -> Registration:
    from record.judge import NOTIFY, RECONTAIN, RESPOND

    duplicate = decision.action in (RECONTAIN, NOTIFY)
    return Registration(
        duplicate,
        duplicate,
        sightings,
        first,
        decision.reason,
        recontain=decision.action == RECONTAIN,
        record_id=record_id,
        response=index,
        kind=kind,
        narrow=decision.action != RESPOND,
        new=decision.new,
        again=decision.again,
        known=decision.known,
        pending=decision.pending,
    )


def _contains(decision: Decision, delivery: Delivery) -> list[str]:
    """The principals the response claimed by `decision` contains."""
    from record.judge import NOTIFY, RESPOND

    again = [item["principal"] for item in decision.again]
    if decision.action == RESPOND:
        return [*delivery.principals, *(p for p in again if p not in delivery.principals)]
    if decision.action == NOTIFY:
        return []
    return [*decision.new, *again]


def _unreported(old: dict[str, Any], delivery: Delivery, also: Also) -> Also:
    """A re-run of a response judged dead: only while that response still has not reported."""
    from record.takeover import Also

    responses = responses_of(old)
    mine = [i for i, r in enumerate(responses) if r.get("incident_id") == delivery.incident_id]
    if not mine or responses[mine[-1]].get("outcome") is not None:
        return also
    if isinstance(old.get("responses"), list):
        condition = f" AND attribute_not_exists(responses[{mine[-1]}].reported_at)"
        return Also(also.set, also.add, also.condition + condition, also.names, also.values)
    # A record written before responses existed: its status says whether it reported.
    return Also(
        also.set,
        also.add,
        also.condition + " AND #was_status = :was",
        {**also.names, "#was_status": "status"},
        {**also.values, ":was": {"S": str(old.get("status") or "responding")}},
    )


def _silent_reason(record: dict[str, Any], decision: Decision, lead: str, sightings: int) -> str:
    first = record.get("first_received_at") or "?"
    lead = lead or f"repeat of the incident first received at {first} (sighting {sightings})"
    if decision.pending:
        running = decision.pending[-1]
        return (
            f"{lead}; the response started at {running.get('started_at')} by another execution "
            f"({running.get('execution_arn') or '?'}) is still running and will report"
        )
    if decision.known:
        left = ", ".join(f"{k['principal']} (cut-off {k['at']})" for k in decision.known)
        return f"{lead}; nothing changed: no new principal, no activity after the cut-off of {left}"
    return f"{lead}; nothing changed"
