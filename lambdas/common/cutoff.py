"""Session cut-offs, as both containing functions write and read them back.

A cut-off is an inline Deny of every action for requests signed by a session issued before a time
(`aws:TokenIssueTime`): on a key's user (contain_key, step revoke-user-sessions) and on a role
(revoke_sessions), under the name the IAM console gives it on a role ("Revoke active sessions").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from common.times import iso

OLDER_SESSIONS_POLICY = "AWSRevokeOlderSessions"


def deny_older_sessions(cutoff: str, sid: str | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}},
    }
    return {"Version": "2012-10-17", "Statement": [{"Sid": sid, **statement} if sid else statement]}


def cutoff_at(now: datetime | None) -> str:
    now = now or datetime.now(UTC)
    # Round up, never down: every session issued up to this call must be before the cut-off.
    if now.microsecond:
        now = now.replace(microsecond=0) + timedelta(seconds=1)
    return iso(now)


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def condition_value(policy: Mapping[str, Any] | None, operator: str, key: str) -> str | None:
    """The value of `operator`/`key` in the policy's first Deny of every action on every resource
    whose only condition it is. A second condition beside it (a source IP, MFA) narrows the deny to
    less than every request, so such a statement counts as none: whoever wrote it, a person or the
    attacker, it must not pass for a cut-off this responder would write. Operators and condition keys
    are case-insensitive in IAM (a person may have written it by hand)."""
    for condition in _deny_all_conditions(policy):
        if len(condition) != 1:
            continue
        ((op, pairs),) = condition.items()
        if op.lower() != operator.lower() or not isinstance(pairs, Mapping) or len(pairs) != 1:
            continue
        ((name, value),) = pairs.items()
        value = value[0] if isinstance(value, list) and value else value
        if name.lower() == key.lower() and isinstance(value, str):
            return value
    return None


def cutoff_of(policy: Mapping[str, Any] | None) -> datetime | None:
    """The cut-off the policy sets, if it denies every action to older sessions; None otherwise."""
    value = condition_value(policy, "DateLessThan", "aws:TokenIssueTime")
    try:
        return parse_time(value) if value else None
    except ValueError:
        return None


def sole_cutoff(policy: Mapping[str, Any] | None) -> datetime | None:
    """The cut-off of a policy that is a cut-off and nothing else: one statement, a Deny of every action on
    every resource whose only condition is aws:TokenIssueTime (its Sid may be any: the containing functions
    and the eviction write their own). A second statement, an Allow planted under the name included, makes
    it no cut-off of the responder's."""
    statements = (policy or {}).get("Statement")
    statements = [statements] if isinstance(statements, Mapping) else statements
    if not isinstance(statements, list) or len(statements) != 1:
        return None
    return cutoff_of(policy)


def later_cutoff(
    written: Mapping[str, Any] | None, not_before: datetime, build: Callable[[str], dict[str, Any]]
) -> str | None:
    """What read back after a put, when it is not what this put wrote: another writer's cut-off in the
    very policy this function writes (`build`), at or after `not_before`, denies every session this one
    would have, so it stands (moving it would only cut off more legitimate sessions). None otherwise."""
    later = cutoff_of(written)
    if later is None or later < not_before:
        return None
    cutoff = iso(later)
    return cutoff if written == build(cutoff) else None


def _deny_all_conditions(policy: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    if not policy:
        return []
    statements = policy.get("Statement", [])
    statements = [statements] if isinstance(statements, Mapping) else statements
    return [
        statement["Condition"]
        for statement in statements
        if isinstance(statement, Mapping)
        and statement.get("Effect") == "Deny"
        and statement.get("Action") in ("*", ["*"])
        and statement.get("Resource") in ("*", ["*"])
        and isinstance(statement.get("Condition"), Mapping)
    ]
