"""A repeat judged by what it names: pure, from the record and the delivery.

Every delivery that reaches a record that already exists (the same finding again, an attack
sequence's update, a finding joining a handled one, a Health re-send) is compared with the
record's responses (record.responses), principal by principal:

* The delivery's own last response (same incident id) ended failed, partial or with an outcome
  this code does not know, or never reported and is older than the workflow's timeout: the whole
  response runs again (`respond`; every action is idempotent). This holds for a finding that
  joined another's record as much as for the record's own.
* A principal no response contained is **new**: contained now.
* A principal a response contained is contained **again** (a new cut-off) when the delivery shows
  activity after that response's cut-off (eventLastSeen, or updatedAt when it has none), when its
  GuardDuty count rose above what the finding's earlier responses saw, when it names a credential
  of the role no response saw (fresh credentials), or when the last response that contained it
  failed, or died. "Already contained" is never taken from an earlier outcome alone.
* Otherwise it is **known**: already contained, left as it is, and the report says by which
  response. A principal of a response still running is **pending**: that response reports.
* After a release (a person's decision that it was a false alarm), activity is told but not
  contained again; a principal named for the first time is still contained.

Then: something new -> `contain` (only the new and the again principals); only again ->
`recontain`; only news that cannot be contained (a released principal active again, a principal
named for the first time that cannot be resolved) -> `notify`; nothing -> `silent`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from common.times import iso
from record.item import parse
from record.principals import ROLE_KINDS, Delivery
from record.responses import RELEASED, SUCCEEDED, number, responses_of

RESPOND, CONTAIN, RECONTAIN, NOTIFY, SILENT = "respond", "contain", "recontain", "notify", "silent"


@dataclass(frozen=True)
class Decision:
    action: str
    reason: str = ""
    new: tuple[str, ...] = ()
    again: tuple[dict[str, str], ...] = ()  # {"principal", "why"}
    known: tuple[dict[str, Any], ...] = ()  # {"principal", "finding_id", "incident_id", "response", "at", "outcome"}
    pending: tuple[dict[str, Any], ...] = ()  # {"principal", "finding_id", "execution_arn", "started_at"}
    news: tuple[str, ...] = ()  # named for the first time, not containable
    released: tuple[str, ...] = ()  # released by a person, active since


@dataclass
class _History:
    """The latest response that contained each principal, and the release that followed it."""

    by: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    released_at: dict[str, str] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)


def judge(
    record: dict[str, Any],
    delivery: Delivery,
    *,
    record_id: str,
    now: datetime | None,
    stale_after_seconds: int,
) -> Decision:
    responses = responses_of(record)
    lead = _lead(record, delivery, record_id)
    mine = [r for r in responses if r.get("incident_id") == delivery.incident_id and r.get("kind") in _CONTAINING]
    moment = now or datetime.now(UTC)

    def stale(response: dict[str, Any]) -> bool:
        started = parse(response.get("started_at"))
        return started is None or (moment - started).total_seconds() > stale_after_seconds

    rerun = _rerun(mine[-1], lead, stale, stale_after_seconds) if mine else ""
    history = _history(responses)
    activity = parse(delivery.activity.last_seen) or parse(delivery.activity.updated_at)
    counts = [c for c in (number((r.get("activity") or {}).get("count")) for r in mine) if c is not None]
    count = delivery.activity.count
    rose = f"GuardDuty's count rose from {max(counts)} to {count}" if counts and count and count > max(counts) else ""
    # A role's session keys (ASIA...) no response saw: they may have been issued after its last revoke.
    fresh_credentials = [n for n in delivery.names if n.startswith("key ASIA") and n not in history.seen]

    new: list[str] = []
    again: list[dict[str, str]] = []
    known: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    released: list[str] = []
    for principal in [*delivery.principals, *(f"role {r}" for r in delivery.deferred_roles)]:
        if principal in history.released_at:
            if activity and activity > (parse(history.released_at[principal]) or moment):
                released.append(principal)
            continue
        if principal not in history.by:
            if principal in delivery.principals:
                new.append(principal)
            continue  # a deferred role nobody contained stays unresolved (reported by hand)
        index, response = history.by[principal]
        outcome = response.get("outcome")
        if outcome is None and not stale(response):
            pending.append(_pending(principal, response))
            continue
        why = _why_again(principal, response, activity, rose, fresh_credentials, stale)
        if why:
            again.append({"principal": principal, "why": why})
        else:
            known.append(_known(principal, index, response))

    if delivery.kind in ROLE_KINDS and (new or again):
        # The role's revoke is the containment of everything an instance-credential response acts
        # on: it is written again (a new cut-off is cheap and covers fresh credentials).
        for item in [k for k in known if k["principal"].startswith("role ")]:
            known.remove(item)
            again.append({"principal": item["principal"], "why": "revoked again with the rest of this response"})
    news = [n for n in delivery.names if _news(n) and n not in history.seen]
    decision = Decision(
        RESPOND,
        new=tuple(new),
        again=tuple(again),
        known=tuple(known),
        pending=tuple(pending),
        news=tuple(news),
        released=tuple(released),
    )
    if rerun:
        return _with(decision, RESPOND, rerun)
    if new:
        return _with(decision, CONTAIN, _reason(lead, decision, history))
    if again:
        return _with(decision, RECONTAIN, _reason(lead, decision, history))
    if released or news:
        return _with(decision, NOTIFY, _reason(lead, decision, history))
    return _with(decision, SILENT, "")


# Responses that contain (a release and a notice change no principal's state by themselves).
_CONTAINING = frozenset({"first", "rerun", "contain", "recontain"})


def _history(responses: list[dict[str, Any]]) -> _History:
    history = _History()
    for index, response in enumerate(responses):
        history.seen.update(str(n) for n in response.get("names") or [])
        if response.get("kind") == "release":
            if response.get("outcome") == RELEASED:
                at = str(response.get("started_at") or "")
                history.released_at.update({principal: at for principal in history.by})
                history.by.clear()
            continue
        if response.get("kind") not in _CONTAINING:
            continue
        for principal in response.get("principals") or []:
            history.by[str(principal)] = (index, response)
            history.released_at.pop(str(principal), None)
    return history


def _rerun(last: dict[str, Any], lead: str, stale: Any, stale_after_seconds: int) -> str:
    outcome = last.get("outcome")
    if outcome is None:
        if not stale(last):
            return ""  # an execution is still responding: it will report
        started = last.get("started_at") or "?"
        return (
            f"{lead}: the response started at {started} (execution {last.get('execution_arn') or '?'}) never "
            f"reported and is past the workflow's {stale_after_seconds // 60}-minute timeout, so the response "
            "runs again (every action is idempotent)"
        )
    if outcome in SUCCEEDED:
        return ""
    if outcome in ("failed", "partial"):
        return f"{lead}: its last response ended {outcome}, so the response runs again (every action is idempotent)"
    return f"{lead}: its stored outcome {outcome!r} is not a final outcome, so the response runs again"


def _why_again(
    principal: str,
    response: dict[str, Any],
    activity: datetime | None,
    rose: str,
    fresh_credentials: list[str],
    stale: Any,
) -> str:
    outcome = response.get("outcome")
    if outcome is None:
        return f"the response that contained it (execution {response.get('execution_arn') or '?'}) never reported"
    if outcome not in SUCCEEDED:
        return f"the last response that contained it ended {outcome}"
    cutoff = str(response.get("cutoff") or response.get("started_at") or "")
    signs = [rose] if rose else []
    cut = parse(cutoff)
    if activity and (cut is None or activity > cut):
        seen = iso(activity)
        signs.append(f"{'it' if signs else 'GuardDuty'} saw activity at {seen}, after its cut-off at {cutoff}")
    if principal.startswith("role ") and fresh_credentials:
        signs.append(f"the finding names credentials no earlier response saw ({', '.join(fresh_credentials)})")
    if not signs:
        return ""
    return " and ".join(signs) + ", so the credentials are still in use (fix the flaw that leaked them)"


def _known(principal: str, index: int, response: dict[str, Any]) -> dict[str, Any]:
    return {
        "principal": principal,
        "finding_id": response.get("finding_id"),
        "incident_id": response.get("incident_id"),
        "response": index,
        "at": str(response.get("cutoff") or response.get("started_at") or ""),
        "outcome": response.get("outcome"),
    }


def _pending(principal: str, response: dict[str, Any]) -> dict[str, Any]:
    return {
        "principal": principal,
        "finding_id": response.get("finding_id"),
        "execution_arn": response.get("execution_arn"),
        "started_at": response.get("started_at"),
    }


def _news(name: str) -> bool:
    # Users come with their keys (a user named without one is an `unresolved` entry).
    return name.startswith(("unresolved: ", "role "))


def _lead(record: dict[str, Any], delivery: Delivery, record_id: str) -> str:
    first = record.get("first_received_at") or "?"
    if delivery.incident_id == record_id:
        return f"repeat of the incident first received at {first}"
    return (
        f"{delivery.event_type} {delivery.finding_id}, same attack as finding {record.get('finding_id')} "
        f"(incident {record_id}, first received at {first})"
    )


def _reason(lead: str, decision: Decision, history: _History) -> str:
    parts = []
    if decision.new:
        parts.append(f"{', '.join(decision.new)}: named for the first time, contained now")
    parts += [
        f"{item['principal']}: {item['why']}: it is contained again with a new cut-off" for item in decision.again
    ]
    if decision.known:
        left = ", ".join(f"{k['principal']} (cut-off {k['at']})" for k in decision.known)
        parts.append(f"already contained and left as they are, no activity after their cut-off: {left}")
    if decision.pending:
        parts.append(
            "being contained by a response still running: "
            + ", ".join(f"{p['principal']} (execution {p['execution_arn']})" for p in decision.pending)
        )
    parts += [
        f"{principal}: active since a person released the incident ({history.released_at[principal]}): told, not "
        "contained again (the release was their decision: contain it by hand if it was wrong)"
        for principal in decision.released
    ]
    if decision.news:
        parts.append(f"named for the first time, not contained automatically: {'; '.join(decision.news)}")
    return f"{lead}: " + "; ".join(parts)


def _with(decision: Decision, action: str, reason: str) -> Decision:
    return Decision(
        action,
        reason,
        new=decision.new,
        again=decision.again,
        known=decision.known,
        pending=decision.pending,
        news=decision.news,
        released=decision.released,
    )
