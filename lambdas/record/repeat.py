"""A repeat: a delivery of an incident already recorded, judged by what it names (record.judge) and, unless it
brings nothing new, claimed as a new response (record.takeover), so that of several concurrent repeats exactly one
acts. Apart from record.registration, which imports it only when its conditional put finds the record: a new
incident is the first task's path to its containing call, and never judges or claims."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from common.times import iso_now
from record.judge import CONTAIN, NOTIFY, RECONTAIN, RESPOND, SILENT, Decision, judge
from record.principals import Delivery
from record.registration import COMPARED, Registration, registration_of
from record.responses import new_entry, own_response, responses_of
from record.takeover import Also, claim, sighting

# Concurrent repeats re-judge after losing a claim; beyond this many rounds the last one is told
# that another execution is responding (it is: every lost round means another claim succeeded).
MAX_ROUNDS = 4


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
        compared = {name: list(getattr(decision, name)) for name in COMPARED}
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


def _registration(
    decision: Decision, record_id: str, index: int, sightings: int, first: str, kind: str
) -> Registration:
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
    again = [item["principal"] for item in decision.again]
    if decision.action == RESPOND:
        return [*delivery.principals, *(p for p in again if p not in delivery.principals)]
    if decision.action == NOTIFY:
        return []
    return [*decision.new, *again]


def _unreported(old: dict[str, Any], delivery: Delivery, also: Also) -> Also:
    """A re-run of a response judged dead: only while that response still has not reported."""
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
