"""Attacker or owner? One rule, decided per call from the CloudTrail events of the compromised credential.

Pure: no AWS calls. Input: the LookupEvents entries the investigation stored (every call it found for the
credential in its window) and the exposure moment (Health: the event's start; GuardDuty: the finding's
first activity). Output: a Decision per call, each with the rule's inputs, so that every eviction (and every
call left alone) can print why.

The rule (RULE): a call is the attacker's when it was made with the compromised credential at or after the
exposure, or from a source (source IP, user agent, calling account) that the credential's owner never used
in the window before it. Every other call is the owner's: reported, never acted on. A CI key that creates
roles all day from its usual runner keeps its roles.

"The owner's sources" are those of the calls before the exposure that the rule itself judged the owner's, in
time order: an attacker's early call from a new address does not make that address usual. The first call of
the window has nothing to be compared with; it is judged by its time alone, and the decision says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from investigate.summary import record_of

RULE = (
    "attacker's when made with the compromised credential at or after the exposure, or from a source (IP, user "
    "agent, calling account) the credential's owner never used in the window before it; otherwise the owner's "
    "(reported, never acted on)"
)
MAX_AGENT_CHARS = 120


@dataclass(frozen=True)
class Source:
    ip: str
    user_agent: str
    account: str

    def items(self) -> tuple[tuple[str, str], ...]:
        return (("IP", self.ip), ("user agent", self.user_agent), ("account", self.account))


@dataclass(frozen=True)
class Call:
    """One CloudTrail record, reduced to what the rule and the evictions read."""

    event_id: str
    event_name: str
    time: str  # ISO-8601 UTC, "2026-01-01T00:00:00Z": sorts as it reads
    region: str
    source: Source
    caller_key: str | None
    caller_user: str | None
    succeeded: bool
    request: dict[str, Any] = field(default_factory=dict, compare=False)
    response: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Decision:
    call: Call
    attacker: bool
    exposed_at: str
    after_exposure: bool
    new_sources: tuple[str, ...]  # "IP 203.0.113.9", ...: what the owner never used before this call
    compared_with: int  # how many earlier owner calls the source was compared with

    @property
    def verdict(self) -> str:
        return "attacker" if self.attacker else "owner"

    def explain(self) -> str:
        """The rule's inputs and its result, in one line."""
        call = self.call
        when = f"{call.event_name} at {call.time} ({'at or after' if self.after_exposure else 'before'} the exposure"
        when += f" {self.exposed_at})"
        source = ", ".join(f"{label} {_short(value)}" for label, value in call.source.items())
        if self.new_sources:
            sources = f"new to the owner: {', '.join(_short(s) for s in self.new_sources)}"
        elif self.compared_with:
            sources = f"every part used by the owner before ({self.compared_with} earlier call(s))"
        else:
            sources = "no earlier call in the window to compare with, so time alone decides"
        return f"{self.verdict}'s: {when}; from {source}: {sources}"


def _short(text: str) -> str:
    return text if len(text) <= MAX_AGENT_CHARS else text[:MAX_AGENT_CHARS] + "..."


def iso(value: Any) -> str:
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = str(value or "")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return iso(parsed)


def as_dict(value: Any) -> dict[str, Any]:
    """A record's object field, or {} when the attacker's record has anything else there."""
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) and value else "unknown"


def calls_of(events: Iterable[dict[str, Any]]) -> list[Call]:
    """Every event as a Call, oldest first (ties by event id, so the order is stable)."""
    calls = []
    for event in events:
        if not isinstance(event, dict):
            continue
        record = record_of(event)
        identity = as_dict(record.get("userIdentity"))
        request = record.get("requestParameters")
        response = record.get("responseElements")
        calls.append(
            Call(
                event_id=str(event.get("EventId") or record.get("eventID") or ""),
                event_name=str(event.get("EventName") or record.get("eventName") or ""),
                time=iso(event.get("EventTime") or record.get("eventTime")),
                region=str(event.get("Region") or record.get("awsRegion") or ""),
                source=Source(
                    ip=_text(record.get("sourceIPAddress")),
                    user_agent=_text(record.get("userAgent")),
                    account=_text(identity.get("accountId")),
                ),
                caller_key=identity.get("accessKeyId") or event.get("AccessKeyId"),
                caller_user=identity.get("userName") if identity.get("type") == "IAMUser" else None,
                succeeded=not record.get("errorCode"),
                request=request if isinstance(request, dict) else {},
                response=response if isinstance(response, dict) else {},
            )
        )
    return sorted(calls, key=lambda call: (call.time, call.event_id))


def decide(calls: Iterable[Call], exposed_at: str) -> list[Decision]:
    """A Decision for every call, in time order. Calls made in the same second as an owner call are not
    "before" it: only strictly earlier calls form the owner's sources."""
    decisions: list[Decision] = []
    owner_sources: dict[str, set[str]] = {"IP": set(), "user agent": set(), "account": set()}
    owner_calls = 0
    pending: list[Decision] = []  # owner calls of the current second: they join the sources after it
    second = None
    for call in calls:
        if call.time != second:
            for earlier in pending:
                for label, value in earlier.call.source.items():
                    owner_sources[label].add(value)
            owner_calls += len(pending)
            pending, second = [], call.time
        after = call.time >= exposed_at
        new = (
            tuple(f"{label} {value}" for label, value in call.source.items() if value not in owner_sources[label])
            if owner_calls
            else ()
        )
        decision = Decision(call, after or bool(new), exposed_at, after, new, owner_calls)
        decisions.append(decision)
        if not decision.attacker:
            pending.append(decision)
    return decisions
