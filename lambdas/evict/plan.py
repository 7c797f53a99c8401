"""What to do about each item of the attacker's reach, from its verdict and the configuration. Pure: the work
it returns runs later, with the clients (evict.handler).

- attacker's: contained, reversibly (evict.actions);
- unknown: with unknownChanges=hold (the default) contained the same way and marked "held on doubt", with the
  one-line command that releases it; with unknownChanges=report left as it is and reported as skipped
  containment (the outcome is then PARTIAL and names it);
- the owner's: reported with its evidence, never acted on;
- an exempted principal, the responder's own roles, a role in another account: refused and reported as
  skipped containment, with what to do by hand.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from common.action import answered
from common.guards import exempted_by_name
from common.steps import Status, StepResult, step
from evict import actions
from evict.actions import Replaced, Switch
from evict.switches import SWITCHES as EVICTION_SWITCHES
from reach.trust import added_principals, document, principals

q = shlex.quote
HOLD = "hold"
REPORT = "report"
# action -> (its own switch, its dry-run switch), as infra.config sets them
# The eviction's switches by the items they act on: (on/off environment, dry-run environment).
SWITCHES = {switch.items: (switch.env, switch.dry_run_env) for switch in EVICTION_SWITCHES}


@dataclass(frozen=True)
class Settings:
    unknown_changes: str = HOLD
    switches: dict[str, Switch] = field(default_factory=dict)
    own_role_arns: frozenset[str] = frozenset()
    partition: str = "aws"
    account: str = ""
    # Seeds whose principal is exempted (an automation user whose job is making keys): what they made is
    # theirs to make, so their reach is reported, never acted on.
    exempt_seeds: dict[str, str] = field(default_factory=dict)  # seed id -> why

    def switch(self, action: str) -> Switch:
        return self.switches.get(action, Switch(name=SWITCHES[action][0]))


@dataclass
class Context:
    iam: Any
    config: Any
    now: datetime
    settings: Settings
    replaced: Replaced = field(default_factory=Replaced)


Work = Callable[[Context], StepResult]


@dataclass(frozen=True)
class Planned:
    label: str
    order: int
    work: Work


def _why(item: dict[str, Any], held: bool) -> str:
    text = f"{item.get('verdict')}'s ({item.get('rule')}): {item.get('evidence')}"
    if held:
        text = f"held on doubt (unknownChanges=hold; its undo command releases it): {text}"
    return text


def _exempt(settings: Settings, kind: str, name: str) -> str | None:
    if not name:
        return None
    refusal = exempted_by_name(kind, settings.partition, settings.account, name)
    return refusal.detail if refusal else None


def plan(reach: dict[str, Any], settings: Settings) -> list[Planned]:
    """One piece of work per item, in the order they are acted on: identities, then rights, then reports. An item
    of a kind a declared action answers (common.action.Action.answers) is that action's: it reads the same reach
    after the eviction and reports each one, acted on or not."""
    items = [item for item in reach.get("items") or [] if isinstance(item, dict)]
    held_users = {
        name
        for item in items
        if item.get("kind") == "user" and item.get("verdict") != "owner"
        for name in [*(item.get("names") or []), item.get("user")]
        if name
    }
    held_roles = {item.get("role") for item in items if item.get("kind") == "role" and item.get("verdict") != "owner"}
    planned: list[Planned] = []
    for item in items:
        if answered(str(item.get("kind"))) is None:
            planned.append(_plan_item(item, settings, held_users, held_roles))
    return sorted(planned, key=lambda p: p.order)


def _plan_item(item: dict[str, Any], settings: Settings, held_users: set[str], held_roles: set[Any]) -> Planned:
    kind, label = str(item.get("kind")), str(item.get("label"))
    verdict = item.get("verdict")
    if verdict == "owner":
        return Planned(label, 90, lambda c: _owner(item))
    if (root := str(item.get("root") or "")) in settings.exempt_seeds:
        text = (
            f"{label}: made from {root}, whose principal is exempted ({settings.exempt_seeds[root]}): what an "
            "exempted principal does is not undone; reported, not acted on"
        )
        return Planned(label, 88, lambda c: actions.report(_step_name(item), _target(item), text))
    held = verdict == "unknown"
    if held and settings.unknown_changes == REPORT:
        return Planned(label, 80, lambda c: _unknown(item))
    why = _why(item, held)
    user, role = str(item.get("user") or ""), str(item.get("role") or "")
    if kind == "user":
        if refusal := _exempt(settings, "user", user):
            return Planned(label, 10, partial(_refused_work, actions.EVICT_USER, user, refusal, why))
        return Planned(label, 10, partial(_user, item, why))
    if kind == "access-key":
        if refusal := _exempt(settings, "user", user):
            return Planned(label, 20, partial(_refused_work, actions.BACKDOOR_KEY, str(item["id"]), refusal, why))
        return Planned(label, 20, partial(_key, item, why))
    if kind == "login-profile":
        if user in held_users:
            text = f"console password of user {user}: the user is held whole (its deny-all covers the console); {why}"
            return Planned(label, 85, lambda c: actions.report(actions.REMOVE_LOGIN_PROFILE, user, text))
        if refusal := _exempt(settings, "user", user):
            return Planned(label, 30, partial(_refused_work, actions.REMOVE_LOGIN_PROFILE, user, refusal, why))
        return Planned(label, 30, partial(_login_profile, item, why))
    if kind == "role":
        if refusal := _exempt(settings, "role", role):
            return Planned(label, 40, partial(_refused_work, actions.QUARANTINE_ROLE, role, refusal, why))
        return Planned(label, 40, partial(_role, item, why))
    if kind == "trust":
        if refusal := _exempt(settings, "role", role):
            return Planned(label, 50, partial(_refused_work, actions.QUARANTINE_TRUST, role, refusal, why))
        return Planned(label, 50, partial(_trust, item, why))
    if kind == "session":
        return Planned(label, 60, partial(_session, item, why, held_users, held_roles))
    if kind == "named-role":
        text = (
            f"{label}: the finding names it; its sessions are the containing task's to cut off (revoke-role-sessions), "
            "and what they made is followed here"
        )
        return Planned(label, 89, lambda c: actions.report(actions.SUMMARY, role, text))
    if kind == "grant":
        return Planned(label, 85, lambda c: _grant(item, why))
    if kind == "rename":
        names = item.get("names") or [user, user]
        text = f"user {names[0]} renamed to {names[-1]} by the credential: not a credential, reported; {why}"
        manual = f"aws iam update-user --user-name {q(str(names[-1]))} --new-user-name {q(str(names[0]))}"
        return Planned(label, 85, lambda c: actions.report(actions.RENAMED, str(names[-1]), text, manual=manual))
    text = f"{label}: a kind of item the eviction does not know ({kind}); check it by hand; {why}"
    return Planned(label, 95, lambda c: actions.report(actions.SUMMARY, label, text, containment=True))


def _owner(item: dict[str, Any]) -> StepResult:
    text = f"{item.get('label')}: the owner's ({item.get('rule')}): {item.get('evidence')}; reported, never acted on"
    return actions.report(actions.OWNER, _target(item), text)


def _unknown(item: dict[str, Any]) -> StepResult:
    text = (
        f"{item.get('label')}: unknown ({item.get('rule')}): {item.get('evidence')}; left as it is "
        "(unknownChanges=report): a person decides whose it is"
    )
    return actions.report(_step_name(item), _target(item), text, containment=True, manual=_containing_command(item))


def _refused_work(name: str, target: str, refusal: str, why: str, c: Context) -> StepResult:
    return _refused(name, target, refusal, why)


def _refused(name: str, target: str, refusal: str, why: str) -> StepResult:
    text = f"{refusal}: not touched, reported; {why}"
    return actions.report(name, target, text, containment=True, manual="Contain it by hand if it is the attacker's")


def _target(item: dict[str, Any]) -> str:
    kind = item.get("kind")
    if kind in ("role", "trust"):
        return str(item.get("role") or item.get("id"))
    if kind in ("user", "login-profile", "rename"):
        return str(item.get("user") or item.get("id"))
    return str(item.get("id"))


def _step_name(item: dict[str, Any]) -> str:
    return {
        "user": actions.EVICT_USER,
        "access-key": actions.BACKDOOR_KEY,
        "login-profile": actions.REMOVE_LOGIN_PROFILE,
        "role": actions.QUARANTINE_ROLE,
        "trust": actions.QUARANTINE_TRUST,
        "session": actions.MINTED,
        "named-role": actions.MINTED,
        "grant": actions.GRANT,
        "rename": actions.RENAMED,
    }.get(str(item.get("kind")), actions.SUMMARY)


def _containing_command(item: dict[str, Any]) -> str:
    kind, user, role = item.get("kind"), str(item.get("user") or ""), str(item.get("role") or "")
    if kind == "access-key":
        return f"aws iam update-access-key --user-name {q(user)} --access-key-id {q(str(item['id']))} --status Inactive"
    if kind in ("user", "login-profile"):
        return actions.put_command("user", user, actions.EVICTION_POLICY_NAME, actions.EVICTION_POLICY)
    if kind in ("role", "trust") or (kind == "session" and role):
        return actions.put_command("role", role, actions.EVICTION_POLICY_NAME, actions.EVICTION_POLICY)
    return f"check {item.get('label')} by hand"


# -- the work ---------------------------------------------------------------------------------------------


def _user(item: dict[str, Any], why: str, c: Context) -> StepResult:
    grants = item.get("details", {}).get("grants") or []
    note = f"; the attacker also gave it: {', '.join(grants[:5])}" if grants else ""
    return actions.hold_user(
        c.iam, str(item["user"]), str(item.get("user_id") or ""), why + note, c.settings.switch("users"),
        step_name=actions.EVICT_USER, now=c.now, replaced=c.replaced,
    )  # fmt: skip


def _key(item: dict[str, Any], why: str, c: Context) -> StepResult:
    return actions.deactivate_key(c.iam, str(item["id"]), str(item.get("user") or ""), why, c.settings.switch("keys"))


def _login_profile(item: dict[str, Any], why: str, c: Context) -> StepResult:
    user = str(item["user"])
    if item.get("details", {}).get("created"):
        return actions.remove_login_profile(
            c.iam, user, str(item.get("made_at")), why, c.settings.switch("login_profiles"), now=c.now,
            replaced=c.replaced,
        )  # fmt: skip
    # The attacker changed a password it did not create: removing it would not restore the owner's. The user
    # is held until a person resets it.
    held = actions.hold_user(
        c.iam, user, "", f"the attacker changed its console password: reset it, then release the user; {why}",
        c.settings.switch("login_profiles"), step_name=actions.HOLD_USER, now=c.now, replaced=c.replaced,
    )  # fmt: skip
    reset = f"aws iam update-login-profile --user-name {q(user)} --password-reset-required --password NEW_PASSWORD"
    return {**held, "manual": reset}  # type: ignore[typeddict-item]


def _role(item: dict[str, Any], why: str, c: Context) -> StepResult:
    trusts = item.get("details", {}).get("trusts") or []
    grants = item.get("details", {}).get("grants") or []
    note = f"it trusts {', '.join(trusts) or 'nobody readable'}" + (
        f"; given {', '.join(grants[:5])}" if grants else ""
    )
    return actions.hold_role(
        c.iam, str(item["role"]), actions.QUARANTINE_ROLE, why, c.settings.switch("roles"), now=c.now,
        replaced=c.replaced, own_role_arns=c.settings.own_role_arns, note=note,
    )  # fmt: skip


def _trust(item: dict[str, Any], why: str, c: Context) -> StepResult:
    role = str(item["role"])
    details = item.get("details") or {}
    new = document(details.get("document"))
    previous, proof = _config_previous(c, role, str(item.get("made_at")))
    proven = previous is not None
    if previous is None and details.get("previous") is not None:
        previous = document(details["previous"].get("document"))
        proof = f"CloudTrail: {details['previous'].get('event_name')} at {details['previous'].get('time')}"
    if previous is not None:
        added = sorted(added_principals(previous, new))
        if not added:
            text = (
                f"the rewrite of {role}'s trust adds nobody (compared with {proof}): the same document or a "
                f"narrowing; reported, not acted on; {why}"
            )
            return actions.report(actions.TRUST_UNCHANGED, role, text)
        if proven:
            return actions.restore_trust(
                c.iam, role, previous, proof, new, f"it let in {', '.join(added)}; {why}", c.settings.switch("trust"),
                now=c.now, replaced=c.replaced, own_role_arns=c.settings.own_role_arns,
                rewritten_at=str(item.get("made_at") or ""),
            )  # fmt: skip
        restore = f"aws iam update-assume-role-policy --role-name {q(role)} --policy-document {q(json.dumps(previous))}"
        note = (
            f"it let in {', '.join(added)}; the earlier document is known only from {proof}, not proven by AWS "
            f"Config: the role is held, and once checked the trust can be put back with: {restore}"
        )
    else:
        lets_in = ", ".join(sorted(principals(new))) or "nobody readable"
        note = f"it lets in {lets_in}; the earlier document is unknown ({proof}): the role is held"
    return actions.hold_role(
        c.iam, role, actions.QUARANTINE_TRUST, why, c.settings.switch("trust"), now=c.now, replaced=c.replaced,
        own_role_arns=c.settings.own_role_arns, note=note,
    )  # fmt: skip


def _config_previous(c: Context, role: str, before: str) -> tuple[dict[str, Any] | None, str]:
    if c.config is None:
        return None, "AWS Config not asked"
    return actions.trust_before(c.iam, c.config, role, before)


def _session(item: dict[str, Any], why: str, held_users: set[str], held_roles: set[Any], c: Context) -> StepResult:
    key, role, user = str(item["id"]), str(item.get("role") or ""), str(item.get("user") or "")
    issued = str(item.get("session_issued_at") or item.get("made_at"))
    if item.get("outside"):
        text = f"{item.get('label')}: a session of a role in another account; nothing here can end it; {why}"
        manual = f"in that account: revoke the sessions of {item.get('role_arn')} (IAM console: Revoke active sessions)"
        return actions.report(actions.MINTED, key, text, containment=True, manual=manual)
    if role:
        if role in held_roles:
            text = f"{item.get('label')}: role {role} is held whole (its deny-all and cut-off end the session); {why}"
            return step(actions.MINTED, Status.ALREADY_DONE, key, actions.shorten(text), containment=True)
        if refusal := _exempt(c.settings, "role", role):
            return _refused(actions.MINTED, role, refusal, why)
        return actions.revoke_sessions(
            c.iam, "role", role, issued, f"{item.get('label')}; {why}", c.settings.switch("sessions"), now=c.now,
            replaced=c.replaced, own_role_arns=c.settings.own_role_arns,
        )  # fmt: skip
    if user in held_users:
        text = f"{item.get('label')}: user {user} is held whole (its deny-all denies the session); {why}"
        return step(actions.MINTED, Status.ALREADY_DONE, key, actions.shorten(text), containment=True)
    if refusal := _exempt(c.settings, "user", user):
        return _refused(actions.MINTED, user, refusal, why)
    return actions.revoke_sessions(
        c.iam, "user", user, issued, f"{item.get('label')}; {why}", c.settings.switch("sessions"), now=c.now,
        replaced=c.replaced,
    )  # fmt: skip


def _grant(item: dict[str, Any], why: str) -> StepResult:
    details = item.get("details") or {}
    policy, user, role = str(details.get("policy") or "?"), str(item.get("user") or ""), str(item.get("role") or "")
    name = str(item.get("event_name") or "")
    if user:
        verb = "detach" if name.startswith("Attach") else "delete"
        flag = "--policy-arn" if verb == "detach" else "--policy-name"
        manual = f"aws iam {verb}-user-policy --user-name {q(user)} {flag} {q(policy)}"
    elif role:
        verb = "detach" if name.startswith("Attach") else "delete"
        flag = "--policy-arn" if verb == "detach" else "--policy-name"
        manual = f"aws iam {verb}-role-policy --role-name {q(role)} {flag} {q(policy)}"
    else:
        manual = f"check {item.get('label')} by hand"
    text = (
        f"{item.get('label')}: more rights for a principal the attacker did not make; nothing is removed "
        f"automatically (its own credentials are contained on their own); remove it once checked; {why}"
    )
    return actions.report(
        actions.GRANT, str(item.get("user") or item.get("role") or item.get("id")), text, manual=manual
    )
