"""One containment per item of the attacker's reach: reversible, idempotent, read back, checked by content.

Every function takes an IAM client (restore_trust also an AWS Config client) and returns a StepResult.
Nothing is ever deleted, with one exception that puts back the state from before the attacker: a console
password the attacker created on a user that had none. The tools are a deny-all inline policy
(CredentialResponderEviction), the session cut-off (AWSRevokeOlderSessions, common.cutoff: rounded up),
Inactive keys, and a trust document put back when AWS Config proves the earlier one. Each names its undo.

"Already in place" is decided by content, never by name: a policy under the responder's name with other
content (the attacker can plant one first) is overwritten with the responder's, and the replaced document is
returned for the evidence object. "Already done" only when AWS itself says so: the key or user does not
exist (GetAccessKeyLastUsed / ListUsers, complete), the policy reads back as written, the key reads Inactive.
Values that came from CloudTrail (names, documents) are the attacker's data: they go into commands through
shlex.quote and into IAM calls as parameters only.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from common.aws import error_code
from common.cutoff import (
    OLDER_SESSIONS_POLICY,
    cutoff_at,
    cutoff_of,
    deny_older_sessions,
    sole_cutoff,
)
from common.errors import TransientError
from common.keys import key_status, set_inactive
from common.policies import role_policy, user_policy
from common.steps import Status, StepResult, step
from common.times import iso, parse
from reach.trust import document, principals

EVICT_USER = "evict-created-user"
HOLD_USER = "hold-user"
REMOVE_LOGIN_PROFILE = "remove-login-profile"
QUARANTINE_ROLE = "quarantine-created-role"
QUARANTINE_TRUST = "quarantine-rewritten-trust"
RESTORE_TRUST = "restore-trust"
BACKDOOR_KEY = "deactivate-backdoor-key"
MINTED = "revoke-minted-sessions"
GRANT = "attacker-grant"
RENAMED = "renamed-user"
TRUST_UNCHANGED = "trust-rewrite-adds-nobody"
OWNER = "owner-change"
SUMMARY = "evict-backdoors"
# Steps that contain part of the reach (the outcome is CONTAINED only when each is done).
EVICTION_STEPS = (
    EVICT_USER,
    HOLD_USER,
    REMOVE_LOGIN_PROFILE,
    QUARANTINE_ROLE,
    QUARANTINE_TRUST,
    RESTORE_TRUST,
    BACKDOOR_KEY,
    MINTED,
)

EVICTION_POLICY_NAME = "CredentialResponderEviction"
EVICTION_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "CredentialResponderEviction", "Effect": "Deny", "Action": "*", "Resource": "*"}],
}
SESSIONS_SID = "DenySessionsIssuedBeforeEviction"
SERVICE_LINKED_PATH = "/aws-service-role/"
EPOCH = "1970-01-01T00:00:00Z"
MAX_DETAIL = 1200
q = shlex.quote


@dataclass(frozen=True)
class Switch:
    """One action's configuration: `enabled` (its own switch) and dry-run (global or its own)."""

    enabled: bool = True
    dry_run: bool = False
    name: str = ""  # the environment switch, named when it is off


@dataclass
class Replaced:
    """Documents the responder overwrote or found: kept in the eviction's evidence object, never in the state."""

    documents: list[dict[str, Any]] = field(default_factory=list)

    def keep(self, where: str, name: str, replaced: Any) -> None:
        self.documents.append({"where": where, "policy": name, "document": replaced, "planted": not _ours(replaced)})


def shorten(text: str, limit: int = MAX_DETAIL) -> str:
    """Bounded at a word boundary, with a marker: the full text is in the eviction's evidence object."""
    if len(text) <= limit:
        return text
    marker = " … [cut: the whole text is in the eviction evidence]"
    cut = text[: limit - len(marker)].rsplit(" ", 1)[0]
    return cut + marker


def refuse(name: str, target: str, switch: Switch, would: str, why: str, manual: str) -> StepResult | None:
    """The step, skipped and saying why, when configuration says not to act."""
    if not switch.enabled:
        detail = f"{switch.name} is off: left as it is; {why}"
        return step(name, Status.SKIPPED, target, shorten(detail), containment=True, manual=manual)
    if switch.dry_run:
        return step(
            name, Status.SKIPPED, target, shorten(f"dry-run: would {would}; {why}"), containment=True, manual=manual
        )
    return None


def _missing(exc: ClientError) -> bool:
    return error_code(exc) in ("NoSuchEntity", "NoSuchEntityException")


def _denied(exc: ClientError) -> bool:
    return error_code(exc) in ("AccessDenied", "AccessDeniedException", "UnmodifiableEntity")


def put_command(kind: str, name: str, policy: str, value: dict[str, Any]) -> str:
    return (
        f"aws iam put-{kind}-policy --{kind}-name {q(name)} --policy-name {q(policy)} "
        f"--policy-document {q(json.dumps(value, separators=(',', ':')))}"
    )


def delete_command(kind: str, name: str, policy: str) -> str:
    return f"aws iam delete-{kind}-policy --{kind}-name {q(name)} --policy-name {q(policy)}"


# -- inline policies, by content --------------------------------------------------------------------------


def _read(iam: Any, kind: str, name: str, policy: str) -> dict[str, Any] | None:
    return user_policy(iam, name, policy) if kind == "user" else role_policy(iam, name, policy)


def _put(iam: Any, kind: str, name: str, policy: str, value: dict[str, Any]) -> None:
    text = json.dumps(value)
    if kind == "user":
        iam.put_user_policy(UserName=name, PolicyName=policy, PolicyDocument=text)
    else:
        iam.put_role_policy(RoleName=name, PolicyName=policy, PolicyDocument=text)


@dataclass(frozen=True)
class Written:
    put: bool  # False: the responder's own content was already there
    replaced: Any  # a document under the responder's name with other content, now overwritten (None: none)


def ensure_policy(
    iam: Any, kind: str, name: str, policy: str, wanted: dict[str, Any], accept: Callable[[Any], bool] | None = None
) -> Written:
    """`wanted` under `policy` on the principal, read back by content. `accept` says whether what is there
    already does the job (default: equal to `wanted`). Raises ClientError; a read-back that differs raises
    PolicyNotInPlace."""
    current = _read(iam, kind, name, policy)
    good = accept or (lambda found: found == wanted)
    if current is not None and good(current):
        return Written(False, None)
    _put(iam, kind, name, policy, wanted)
    if not good(_read(iam, kind, name, policy)):
        raise PolicyNotInPlace(f"{policy} does not read back on {kind} {name} as written")
    return Written(True, current)


class PolicyNotInPlace(Exception):
    pass


def _cutoff_after(moment: str) -> Callable[[Any], bool]:
    """A cut-off in the responder's shape that denies every session issued at or before `moment`."""
    not_before = (parse(moment) or datetime.now(UTC)) + timedelta(seconds=1)

    def accept(found: Any) -> bool:
        cutoff = sole_cutoff(found)
        return cutoff is not None and cutoff >= not_before

    return accept


def _hold(
    iam: Any,
    kind: str,
    name: str,
    now: datetime,
    replaced: Replaced,
    *,
    deny_all: bool = True,
    sessions_before: str = "",
) -> tuple[list[str], str]:
    """The deny-all and the session cut-off on a principal. Returns (policies put now, the cut-off in place)."""
    put: list[str] = []
    if deny_all:
        written = ensure_policy(iam, kind, name, EVICTION_POLICY_NAME, EVICTION_POLICY)
        if written.put:
            put.append(EVICTION_POLICY_NAME)
        if written.replaced is not None:
            replaced.keep(f"{kind}/{name}", EVICTION_POLICY_NAME, written.replaced)
    cutoff = cutoff_at(now)
    wanted = deny_older_sessions(cutoff, SESSIONS_SID)
    if sessions_before:
        moment = sessions_before
    elif deny_all and not put:
        moment = (
            EPOCH  # the deny-all was already in place: an earlier cut-off of ours stands, every session since is denied
        )
    else:
        moment = iso(now - timedelta(seconds=1))
    written = ensure_policy(iam, kind, name, OLDER_SESSIONS_POLICY, wanted, _cutoff_after(moment))
    if written.put:
        put.append(OLDER_SESSIONS_POLICY)
    if written.replaced is not None:
        replaced.keep(f"{kind}/{name}", OLDER_SESSIONS_POLICY, written.replaced)
    in_place = cutoff_of(_read(iam, kind, name, OLDER_SESSIONS_POLICY))
    return put, iso(in_place) if in_place else cutoff


def _undo(kind: str, name: str, policies: list[str], keys: list[str] | None = None) -> str | None:
    parts = [delete_command(kind, name, policy) for policy in policies]
    parts += [
        f"aws iam update-access-key --user-name {q(name)} --access-key-id {q(key)} --status Active"
        for key in keys or []
    ]
    return " && ".join(parts) or None


def _ours(value: Any) -> bool:
    """A document the responder itself writes: its deny-all, or a cut-off (an earlier one is replaced by a later)."""
    return value == EVICTION_POLICY or sole_cutoff(value) is not None


def _replaced_note(replaced: Replaced, before: int) -> str:
    planted = [doc for doc in replaced.documents[before:] if doc["planted"]]
    if not planted:
        return ""
    names = ", ".join(sorted({doc["policy"] for doc in planted}))
    return (
        f"; a policy named {names} with other content was there (planted?): overwritten, its document kept as evidence"
    )


# -- users ------------------------------------------------------------------------------------------------


def current_user(iam: Any, name: str, user_id: str) -> tuple[str | None, str]:
    """The user's name now: `name` when IAM's user by that name has `user_id`; else found by id in IAM's
    complete user list (a rename CloudTrail did not show yet). (None, why) when IAM lists no user with that
    id: only then is the user gone."""
    try:
        user = iam.get_user(UserName=name)["User"]
        if not user_id or user.get("UserId") == user_id:
            return str(user["UserName"]), ""
    except ClientError as exc:
        if not _missing(exc):
            raise
        if not user_id:
            return None, f"IAM answers NoSuchEntity for user {name}, and its id is not known"
    for page in iam.get_paginator("list_users").paginate():
        for user in page["Users"]:
            if user.get("UserId") == user_id:
                return str(user["UserName"]), f"renamed to {user['UserName']} (found by its id {user_id})"
    return None, f"IAM lists no user with id {user_id} (the user {name} was deleted)"


def hold_user(
    iam: Any, name: str, user_id: str, why: str, switch: Switch, *, step_name: str, now: datetime, replaced: Replaced
) -> StepResult:
    """Every access key of the user Inactive, the deny-all, and its sessions cut off. The console password,
    if any, stays (a password cannot be restored, only reset): the deny-all covers the console too."""
    manual = (
        f"{put_command('user', name, EVICTION_POLICY_NAME, EVICTION_POLICY)} && aws iam list-access-keys "
        f"--user-name {q(name)}  # then update-access-key --status Inactive for each"
    )
    refused = refuse(
        step_name, name, switch, "deactivate its keys, put the deny-all and cut off its sessions", why, manual
    )
    if refused:
        return refused

    def result(status: Status, target: str, text: str, **extra: Any) -> StepResult:
        return step(step_name, status, target, shorten(f"{text}; {why}"), containment=True, **extra)

    before = len(replaced.documents)
    try:
        current, note = current_user(iam, name, user_id)
        if current is None:
            return result(Status.ALREADY_DONE, name, note)
        keys = iam.list_access_keys(UserName=current)["AccessKeyMetadata"]  # a user has at most two
        deactivated = []
        for key in keys:
            if key["Status"] != "Inactive":
                iam.update_access_key(UserName=current, AccessKeyId=key["AccessKeyId"], Status="Inactive")
                deactivated.append(key["AccessKeyId"])
        put, cutoff = _hold(iam, "user", current, now, replaced)
        active = [
            k["AccessKeyId"]
            for k in iam.list_access_keys(UserName=current)["AccessKeyMetadata"]
            if k["Status"] != "Inactive"
        ]
    except PolicyNotInPlace as exc:
        return result(Status.FAILED, name, f"read back: {exc}", manual=manual)
    except ClientError as exc:
        return result(Status.FAILED, name, f"{error_code(exc)}: {exc}", manual=manual)
    if active:
        return result(Status.FAILED, current, f"read back: key(s) {', '.join(active)} still active", manual=manual)
    renamed = f" ({note})" if note else ""
    text = (
        f"user {current}{renamed}: {len(keys)} access key(s) Inactive ({len(deactivated)} now), deny-all "
        f"{EVICTION_POLICY_NAME} and sessions before {cutoff} denied (read back){_replaced_note(replaced, before)}"
    )
    undo = _undo("user", current, put, deactivated)
    data = {"user": current, "user_id": user_id, "policies": put, "deactivated_keys": deactivated}
    return result(Status.DONE if undo else Status.ALREADY_DONE, current, text, undo=undo, data=data)


def remove_login_profile(
    iam: Any, user: str, made_at: str, why: str, switch: Switch, *, now: datetime, replaced: Replaced
) -> StepResult:
    """The one deletion: a console password the attacker created on a user that had none (CreateLoginProfile
    succeeds only then) is removed, which puts back the state from before the attacker; the user's console
    sessions are cut off. A password created after the attacker's (someone reset it since) is left alone."""
    manual = f"aws iam delete-login-profile --user-name {q(user)}"
    refused = refuse(
        REMOVE_LOGIN_PROFILE, user, switch, "remove the console password the attacker created", why, manual
    )
    if refused:
        return refused

    def result(status: Status, text: str, **extra: Any) -> StepResult:
        return step(REMOVE_LOGIN_PROFILE, status, user, shorten(f"{text}; {why}"), containment=True, **extra)

    try:
        try:
            profile = iam.get_login_profile(UserName=user)["LoginProfile"]
        except ClientError as exc:
            if not _missing(exc):
                raise
            profile = None
        if profile is not None:
            created = parse(profile.get("CreateDate"))
            made = parse(made_at)
            if created and made and created > made + timedelta(minutes=5):
                return result(
                    Status.SKIPPED,
                    f"the console password of {user} was created {iso(created)}, after the attacker's "
                    f"{iso(made)}: someone set it since, so it is left alone; check who",
                    manual=manual,
                )
            iam.delete_login_profile(UserName=user)
        # Removed now: the cut-off moves to now. Gone before this call (an earlier pass removed it, minutes ago in
        # AWS): no console session can be newer than that removal, so a cut-off of ours written after the attacker
        # made the password stands and a second pass changes nothing; an older one is replaced.
        since = made_at if profile is None else ""
        put, cutoff = _hold(iam, "user", user, now, replaced, deny_all=False, sessions_before=since)
        try:
            iam.get_login_profile(UserName=user)
            removed = False
        except ClientError as exc:
            if not _missing(exc):
                raise
            removed = True
    except ClientError as exc:
        if error_code(exc) == "EntityTemporarilyUnmodifiable":
            raise TransientError(f"login profile of {user}: {exc}") from exc
        return result(Status.FAILED, f"{error_code(exc)}: {exc}", manual=manual)
    except PolicyNotInPlace as exc:
        return result(Status.FAILED, f"read back: {exc}", manual=manual)
    if not removed:
        return result(Status.FAILED, "the console password still reads back", manual=manual)
    what = "removed (read back)" if profile is not None else "already gone (IAM: NoSuchEntity)"
    text = (
        f"the console password the attacker created on {user} {what}: the user had none before; console "
        f"sessions before {cutoff} denied"
    )
    undo_parts = [delete_command("user", user, policy) for policy in put]
    data = {"user": user, "policies": put, "password_removed": profile is not None}
    status = Status.DONE if profile is not None or put else Status.ALREADY_DONE
    return result(status, text, undo=" && ".join(undo_parts) or None, data=data)


# -- access keys ------------------------------------------------------------------------------------------


def key_user(iam: Any, key_id: str) -> str | None:
    """The user that holds a key now, as IAM names it; None when IAM knows no such key (or cannot say)."""
    try:
        return iam.get_access_key_last_used(AccessKeyId=key_id).get("UserName")
    except ClientError:
        return None


def deactivate_key(iam: Any, key_id: str, user_hint: str, why: str, switch: Switch) -> StepResult:
    """Set a key the attacker made (or set Active again) Inactive. Its owner comes from IAM
    (GetAccessKeyLastUsed names the user by its name now, whatever renames happened)."""
    manual = (
        f"aws iam update-access-key --user-name {q(user_hint or 'USER')} --access-key-id {q(key_id)} --status Inactive"
    )
    refused = refuse(BACKDOOR_KEY, key_id, switch, "set the key Inactive", why, manual)
    if refused:
        return refused

    def result(status: Status, text: str, **extra: Any) -> StepResult:
        return step(BACKDOOR_KEY, status, key_id, shorten(f"{text}; {why}"), containment=True, **extra)

    try:
        try:
            owner = iam.get_access_key_last_used(AccessKeyId=key_id).get("UserName")
        except ClientError as exc:
            if _missing(exc):
                return result(Status.ALREADY_DONE, "IAM answers NoSuchEntity for this key: it no longer exists")
            raise
        user = str(owner or user_hint)
        undo = f"aws iam update-access-key --user-name {q(user)} --access-key-id {q(key_id)} --status Active"
        if key_status(iam, user, key_id) == "Inactive":
            return result(Status.ALREADY_DONE, f"key of {user} already Inactive (read)", undo=undo, data={"user": user})
        # NoSuchEntity now: IAM named the owner a moment ago, so the key or its user went since; a failure as any.
        set_inactive(iam, user, key_id, no_such_entity=None)
        after = key_status(iam, user, key_id)
    except ClientError as exc:
        return result(Status.FAILED, f"{error_code(exc)}: {exc}", manual=manual)
    if after != "Inactive":
        return result(Status.FAILED, f"update sent but the key reads back {after}", manual=manual)
    renamed = f" (CloudTrail named {user_hint})" if user_hint and user_hint != user else ""
    return result(Status.DONE, f"key of {user}{renamed} is Inactive (read back)", undo=undo, data={"user": user})


# -- roles ------------------------------------------------------------------------------------------------


def role_refusal(iam: Any, role: str, own_role_arns: frozenset[str]) -> tuple[str | None, str]:
    """Why the responder must not write on this role (its own, by exact ARN; a service-linked role), or None;
    and the role's ARN. Raises ClientError (NoSuchEntity when there is no such role)."""
    found = iam.get_role(RoleName=role)["Role"]
    arn, path = str(found.get("Arn", "")), str(found.get("Path", "/"))
    if arn in own_role_arns:
        return f"refused: {role} is one of the responder's own roles ({arn})", arn
    if path.startswith(SERVICE_LINKED_PATH):
        return f"refused: {role} is a service-linked role (IAM allows no policy on it)", arn
    return None, arn


def hold_role(
    iam: Any,
    role: str,
    name: str,
    why: str,
    switch: Switch,
    *,
    now: datetime,
    replaced: Replaced,
    own_role_arns: frozenset[str],
    note: str = "",
) -> StepResult:
    """The deny-all and the session cut-off on a role (sessions minted before stay dead if the deny is lifted)."""
    manual = put_command("role", role, EVICTION_POLICY_NAME, EVICTION_POLICY)
    extra = f"; {note}" if note else ""
    refused = refuse(name, role, switch, f"put the deny-all {EVICTION_POLICY_NAME} on the role", why + extra, manual)
    if refused:
        return refused

    def result(status: Status, text: str, **more: Any) -> StepResult:
        return step(name, status, role, shorten(f"{text}{extra}; {why}"), containment=True, **more)

    before = len(replaced.documents)
    try:
        refusal, _arn = role_refusal(iam, role, own_role_arns)
        if refusal:
            return result(Status.FAILED, f"{refusal}; check it by hand", manual=manual)
        put, cutoff = _hold(iam, "role", role, now, replaced)
    except PolicyNotInPlace as exc:
        return result(Status.FAILED, f"read back: {exc}", manual=manual)
    except ClientError as exc:
        if _missing(exc):
            return result(Status.ALREADY_DONE, f"IAM answers NoSuchEntity for role {role}: it no longer exists")
        return result(Status.FAILED, f"{error_code(exc)}: {exc}", manual=manual)
    text = (
        f"deny-all {EVICTION_POLICY_NAME} and sessions before {cutoff} denied ({OLDER_SESSIONS_POLICY}) "
        f"on role {role} (read back){_replaced_note(replaced, before)}"
    )
    data = {"role": role, "policies": put}
    return result(Status.DONE if put else Status.ALREADY_DONE, text, undo=_undo("role", role, put), data=data)


def revoke_sessions(
    iam: Any,
    kind: str,
    name: str,
    issued_at: str,
    why: str,
    switch: Switch,
    *,
    now: datetime,
    replaced: Replaced,
    own_role_arns: frozenset[str] = frozenset(),
) -> StepResult:
    """A session the attacker minted (AssumeRole into a role; GetSessionToken / GetFederationToken for a user)
    ends: a cut-off on the role or user that denies every session issued up to now. One already there that
    denies this session (a later cut-off of the responder's shape) stands."""
    wanted = deny_older_sessions(cutoff_at(now), SESSIONS_SID)
    manual = put_command(kind, name, OLDER_SESSIONS_POLICY, wanted)
    refused = refuse(MINTED, name, switch, f"cut off the {kind}'s sessions issued before now", why, manual)
    if refused:
        return refused

    def result(status: Status, text: str, **more: Any) -> StepResult:
        return step(MINTED, status, name, shorten(f"{text}; {why}"), containment=True, **more)

    before = len(replaced.documents)
    try:
        if kind == "role":
            refusal, _arn = role_refusal(iam, name, own_role_arns)
            if refusal:
                return result(
                    Status.FAILED, f"{refusal}; revoke the session by hand if it is the attacker's", manual=manual
                )
        written = ensure_policy(iam, kind, name, OLDER_SESSIONS_POLICY, wanted, _cutoff_after(issued_at))
        if written.replaced is not None:
            replaced.keep(f"{kind}/{name}", OLDER_SESSIONS_POLICY, written.replaced)
        cutoff = cutoff_of(_read(iam, kind, name, OLDER_SESSIONS_POLICY))
    except PolicyNotInPlace as exc:
        return result(Status.FAILED, f"read back: {exc}", manual=manual)
    except ClientError as exc:
        if _missing(exc):
            return result(Status.ALREADY_DONE, f"IAM answers NoSuchEntity for {kind} {name}: it no longer exists")
        return result(Status.FAILED, f"{error_code(exc)}: {exc}", manual=manual)
    text = (
        f"every session of {kind} {name} issued before {iso(cutoff)} denied ({OLDER_SESSIONS_POLICY}, read back); "
        f"the attacker's was issued {issued_at}{_replaced_note(replaced, before)}"
    )
    put = [OLDER_SESSIONS_POLICY] if written.put else []
    status = Status.DONE if written.put else Status.ALREADY_DONE
    return result(status, text, undo=_undo(kind, name, put), data={kind: name, "policies": put})


# -- trust ------------------------------------------------------------------------------------------------


def trust_before(iam: Any, config: Any, role: str, before: str) -> tuple[dict[str, Any] | None, str]:
    """The role's trust document AWS Config proves it had before `before`; (None, why) otherwise: no proof,
    and the role is held instead."""
    try:
        role_id = iam.get_role(RoleName=role)["Role"]["RoleId"]
    except ClientError as exc:
        return None, f"role unreadable ({error_code(exc)})"
    return previous_trust_from_config(config, role_id, before)


def previous_trust_from_config(config: Any, role_id: str, before: str) -> tuple[dict[str, Any] | None, str]:
    """The role's trust document as AWS Config last recorded it before `before`; (None, why) otherwise."""
    moment = parse(before)
    if moment is None:
        return None, "the rewrite's time is unreadable"
    try:
        items = config.get_resource_config_history(
            resourceType="AWS::IAM::Role",
            resourceId=role_id,
            laterTime=moment - timedelta(seconds=1),
            chronologicalOrder="Reverse",
            limit=1,
        )["configurationItems"]
    except ClientError as exc:
        return None, f"AWS Config has no history of it ({error_code(exc)})"
    if not items:
        return None, "AWS Config recorded nothing before the rewrite"
    configuration = document(items[0].get("configuration"))
    trust = document((configuration or {}).get("assumeRolePolicyDocument"))
    if trust is None:
        return None, "AWS Config's record holds no readable trust document"
    captured = items[0].get("configurationItemCaptureTime")
    return trust, f"AWS Config, recorded {iso(captured) if isinstance(captured, datetime) else captured}"


def restore_trust(
    iam: Any,
    role: str,
    previous: dict[str, Any],
    proof: str,
    attacker: Any,
    why: str,
    switch: Switch,
    *,
    now: datetime,
    replaced: Replaced,
    own_role_arns: frozenset[str],
    rewritten_at: str = "",
) -> StepResult:
    """Put back the trust document AWS Config proves the role had before the attacker's rewrite (at
    `rewritten_at`), and cut off the sessions minted meanwhile. The attacker's document is kept as evidence (the
    undo puts it back)."""
    restore = f"aws iam update-assume-role-policy --role-name {q(role)} --policy-document {q(json.dumps(previous))}"
    refused = refuse(RESTORE_TRUST, role, switch, "put back the trust document from before the rewrite", why, restore)
    if refused:
        return refused

    def result(status: Status, text: str, **more: Any) -> StepResult:
        return step(RESTORE_TRUST, status, role, shorten(f"{text}; {why}"), containment=True, **more)

    try:
        refusal, _arn = role_refusal(iam, role, own_role_arns)
        if refusal:
            return result(Status.FAILED, f"{refusal}; restore its trust by hand", manual=restore)
        current = document(iam.get_role(RoleName=role)["Role"].get("AssumeRolePolicyDocument"))
        changed = principals(current) != principals(previous)
        if changed:
            iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(previous))
        # Already put back (an earlier pass): a cut-off of ours written after the rewrite stands, as for a removed
        # password; an older one is replaced.
        since = "" if changed else rewritten_at
        put, cutoff = _hold(iam, "role", role, now, replaced, deny_all=False, sessions_before=since)
        after = document(iam.get_role(RoleName=role)["Role"].get("AssumeRolePolicyDocument"))
    except PolicyNotInPlace as exc:
        return result(Status.FAILED, f"read back: {exc}", manual=restore)
    except ClientError as exc:
        if _missing(exc):
            return result(Status.ALREADY_DONE, f"IAM answers NoSuchEntity for role {role}: it no longer exists")
        return result(Status.FAILED, f"{error_code(exc)}: {exc}", manual=restore)
    if principals(after) != principals(previous):
        return result(Status.FAILED, "the restored trust document does not read back", manual=restore)
    if changed:
        replaced.keep(f"role/{role}", "trust policy", current if current is not None else attacker)
    text = (
        f"trust of {role} put back as {proof} shows it before the rewrite (read back: trusts "
        f"{', '.join(sorted(principals(after))) or 'nobody'}); sessions before {cutoff} denied"
    )
    undo = (
        "put the rewritten trust back from the eviction evidence (its document is kept there): "
        f"aws iam update-assume-role-policy --role-name {q(role)} --policy-document file://rewritten-trust.json"
        if changed
        else None
    )
    undo = " && ".join(filter(None, [*(delete_command("role", role, p) for p in put), undo])) or None
    data = {"role": role, "policies": put, "trust_restored": changed}
    return result(Status.DONE if changed or put else Status.ALREADY_DONE, text, undo=undo, data=data)


# -- what is only reported --------------------------------------------------------------------------------


def report(name: str, target: str, text: str, *, containment: bool = False, manual: str | None = None) -> StepResult:
    return step(name, Status.SKIPPED, target, shorten(text), containment=containment, manual=manual)
