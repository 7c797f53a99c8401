"""One eviction per back door the attacker left, each idempotent, read back, and recorded with its undo.

Every function takes an IAM client (the trust look-up also an AWS Config client) and returns a StepResult.
"Already done" only when AWS itself says so: the policy reads back in place, the key reads Inactive, or the
user, role or login profile is gone (NoSuchEntity). Values that came from CloudTrail (names, documents) are
the attacker's data: they go into commands through shlex.quote and into IAM calls as parameters only.

Steps (all `containment=True` unless said: the outcome is CONTAINED only when each is done):
- evict-created-user: every access key of a user the attacker created set Inactive, and the inline deny-all
  CredentialResponderEviction put on it (a user the attacker made has no legitimate use, so it gets a full
  deny rather than AWS's quarantine list, which leaves reads such as secrets open);
- remove-login-profile: the console password removed (created or changed by the attacker). It cannot be put
  back: the user sets a new one;
- quarantine-created-role / quarantine-rewritten-trust: CredentialResponderEviction (deny-all) on the role, and
  AWSRevokeOlderSessions (the console's "Revoke active sessions") so that sessions minted before stay dead if
  the deny is lifted; the trust step also names the principals that were added and the command that restores
  the previous document once a person has checked it;
- detach-attacker-policy: a policy the attacker attached or put, removed when it created the principal;
  otherwise reported with the command (not containment: that principal's own credentials are someone's);
- minted-session-tokens: reported (GetFederationToken / GetSessionToken sessions carry the user's
  permissions and die with the user-level session revocation; AssumeRole sessions need the role's);
- owner-change: a call the rule gives to the owner, reported, never acted on (not containment).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from common.aws import error_code
from common.errors import TransientError
from common.steps import Status, StepResult, step
from evict.attribution import Decision, as_dict
from evict.plan import ROLE_POLICY_CALLS, USER_POLICY_CALLS, target_user
from revoke_sessions.actions import OLDER_SESSIONS_POLICY

EVICT_USER = "evict-created-user"
REMOVE_LOGIN_PROFILE = "remove-login-profile"
QUARANTINE_ROLE = "quarantine-created-role"
QUARANTINE_TRUST = "quarantine-rewritten-trust"
DETACH_POLICY = "detach-attacker-policy"
MINTED = "minted-session-tokens"
OWNER = "owner-change"
SUMMARY = "evict-backdoors"
EVICTION_STEPS = (EVICT_USER, REMOVE_LOGIN_PROFILE, QUARANTINE_ROLE, QUARANTINE_TRUST, DETACH_POLICY)

EVICTION_POLICY_NAME = "CredentialResponderEviction"
EVICTION_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "CredentialResponderEviction", "Effect": "Deny", "Action": "*", "Resource": "*"}],
}
SERVICE_LINKED_PATH = "/aws-service-role/"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
MAX_DETAIL = 1500
PASSWORD_NOTE = "a password cannot be restored, only reset: the user sets a new one"  # noqa: S105 (a sentence)
q = shlex.quote


@dataclass(frozen=True)
class Switch:
    """One action's configuration: `enabled` (its own switch) and dry-run (global or its own)."""

    enabled: bool = True
    dry_run: bool = False
    name: str = ""  # the environment switch, named when it is off


def shorten(text: str) -> str:
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 3] + "..."


def _not_acting(name: str, target: str, switch: Switch, would: str, why: str, manual: str) -> StepResult | None:
    if not switch.enabled:
        return step(
            name, Status.SKIPPED, target, shorten(f"{switch.name} is off: left as it is; {why}"), containment=True,
            manual=manual,
        )  # fmt: skip
    if switch.dry_run:
        return step(
            name, Status.SKIPPED, target, shorten(f"dry-run: would {would}; {why}"), containment=True, manual=manual
        )
    return None


def _missing(exc: ClientError) -> bool:
    return error_code(exc) in ("NoSuchEntity", "NoSuchEntityException")


def _policy_is(document: Any, expected: dict[str, Any]) -> bool:
    if isinstance(document, str):
        try:
            document = json.loads(unquote(document))
        except ValueError:
            return False
    return bool(document == expected)


def _put_policy_command(kind: str, name: str, policy: str, document: dict[str, Any]) -> str:
    return (
        f"aws iam put-{kind}-policy --{kind}-name {q(name)} --policy-name {q(policy)} "
        f"--policy-document {q(json.dumps(document))}"
    )


def _delete_policy_command(kind: str, name: str, policy: str) -> str:
    return f"aws iam delete-{kind}-policy --{kind}-name {q(name)} --policy-name {q(policy)}"


# -- users the attacker created --------------------------------------------------------------------------


def _user_policy(iam: Any, user: str, policy: str) -> Any:
    try:
        return iam.get_user_policy(UserName=user, PolicyName=policy)["PolicyDocument"]
    except ClientError as exc:
        if _missing(exc):
            return None
        raise


def evict_created_user(iam: Any, user: str, why: str, switch: Switch) -> StepResult:
    put = _put_policy_command("user", user, EVICTION_POLICY_NAME, EVICTION_POLICY)
    manual = f"{put} && aws iam list-access-keys --user-name {q(user)}  # then update-access-key --status Inactive"
    refused = _not_acting(EVICT_USER, user, switch, "deactivate its access keys and put the deny-all", why, manual)
    if refused:
        return refused

    def result(status: Status, text: str, **extra: Any) -> StepResult:
        return step(EVICT_USER, status, user, shorten(f"{text}; {why}"), containment=True, **extra)

    try:
        keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]  # a user has at most two
        deactivated = []
        for key in keys:
            if key["Status"] != "Inactive":
                iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Inactive")
                deactivated.append(key["AccessKeyId"])
        had_policy = _policy_is(_user_policy(iam, user, EVICTION_POLICY_NAME), EVICTION_POLICY)
        if not had_policy:
            iam.put_user_policy(
                UserName=user, PolicyName=EVICTION_POLICY_NAME, PolicyDocument=json.dumps(EVICTION_POLICY)
            )
        active = [
            k["AccessKeyId"]
            for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
            if k["Status"] != "Inactive"
        ]
        in_place = _policy_is(_user_policy(iam, user, EVICTION_POLICY_NAME), EVICTION_POLICY)
    except ClientError as exc:
        if _missing(exc):
            return result(Status.ALREADY_DONE, f"user {user} no longer exists (IAM: NoSuchEntity)")
        return result(Status.FAILED, f"{error_code(exc)}: {exc}", manual=manual)
    if active or not in_place:
        problem = f"key(s) {', '.join(active)} still active" if active else f"{EVICTION_POLICY_NAME} does not read back"
        return result(Status.FAILED, f"read back: {problem}", manual=manual)
    undo = ([] if had_policy else [_delete_policy_command("user", user, EVICTION_POLICY_NAME)]) + [
        f"aws iam update-access-key --user-name {q(user)} --access-key-id {q(key)} --status Active"
        for key in deactivated
    ]
    done = f"{len(keys)} access key(s) Inactive ({len(deactivated)} deactivated now), deny-all {EVICTION_POLICY_NAME}"
    done += " in place (read back)"
    data = {"user": user, "policy_name": None if had_policy else EVICTION_POLICY_NAME, "deactivated_keys": deactivated}
    status = Status.DONE if undo else Status.ALREADY_DONE
    return result(status, done, undo=" && ".join(undo) or None, data=data)


# -- console passwords -----------------------------------------------------------------------------------


def remove_login_profile(iam: Any, user: str, why: str, switch: Switch, *, created_by_attacker: bool) -> StepResult:
    manual = f"aws iam delete-login-profile --user-name {q(user)}"
    reset = "" if created_by_attacker else f"; the user {user} must set a new password (the attacker knows this one)"
    refused = _not_acting(REMOVE_LOGIN_PROFILE, user, switch, "delete the console password", why, manual)
    if refused:
        return refused

    def result(status: Status, text: str, **extra: Any) -> StepResult:
        return step(REMOVE_LOGIN_PROFILE, status, user, shorten(f"{text}; {why}"), containment=True, **extra)

    def gone() -> bool:
        try:
            iam.get_login_profile(UserName=user)
        except ClientError as exc:
            if _missing(exc):
                return True
            raise
        return False

    try:
        if gone():
            return result(Status.ALREADY_DONE, f"{user} has no console password (IAM: NoSuchEntity)")
        iam.delete_login_profile(UserName=user)
        removed = gone()
    except ClientError as exc:
        if error_code(exc) == "EntityTemporarilyUnmodifiable":
            # IAM is still creating the profile (the attacker's call was seconds ago): retry the task.
            raise TransientError(f"login profile of {user}: {exc}") from exc
        if _missing(exc):
            return result(Status.ALREADY_DONE, f"{user} or its console password no longer exists (IAM: NoSuchEntity)")
        return result(Status.FAILED, f"{error_code(exc)}: {exc}", manual=manual)
    if not removed:
        return result(Status.FAILED, "delete sent but the console password still reads back", manual=manual)
    undo = f"aws iam create-login-profile --user-name {q(user)} --password-reset-required --password NEW_PASSWORD"
    data = {"user": user, "password": PASSWORD_NOTE, "created_by_attacker": created_by_attacker}
    return result(
        Status.DONE, f"console password of {user} removed (read back); {PASSWORD_NOTE}{reset}", undo=undo, data=data
    )


# -- roles -----------------------------------------------------------------------------------------------


def _role_policy(iam: Any, role: str, policy: str) -> Any:
    try:
        return iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
    except ClientError as exc:
        if _missing(exc):
            return None
        raise


def revoke_document(now: datetime) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": ["*"],
                "Resource": ["*"],
                "Condition": {"DateLessThan": {"aws:TokenIssueTime": now.strftime(TIME_FORMAT)}},
            }
        ],
    }


def quarantine_role(
    iam: Any,
    role: str,
    name: str,
    why: str,
    switch: Switch,
    *,
    protected_path: str,
    now: datetime | None = None,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> StepResult:
    """Deny-all on the role, and its older sessions revoked; refuses the responder's own and service-linked
    roles (their path says so, and a path cannot be changed after creation)."""
    now = now or datetime.now(UTC)
    manual = _put_policy_command("role", role, EVICTION_POLICY_NAME, EVICTION_POLICY)
    extra = f"; {note}" if note else ""
    refused = _not_acting(
        name, role, switch, f"put the deny-all {EVICTION_POLICY_NAME} on the role", why + extra, manual
    )
    if refused:
        return {**refused, **({"data": data} if data else {})}  # type: ignore[typeddict-item]

    def result(status: Status, text: str, **more: Any) -> StepResult:
        return step(name, status, role, shorten(f"{text}{extra}; {why}"), containment=True, data=data, **more)

    try:
        path = iam.get_role(RoleName=role)["Role"].get("Path", "/")
        if path.startswith(protected_path) or path.startswith(SERVICE_LINKED_PATH):
            whose = "the responder's own" if path.startswith(protected_path) else "a service-linked"
            return result(
                Status.FAILED, f"refused: {role} is {whose} role (path {path}); check it by hand", manual=manual
            )
        had_deny = _policy_is(_role_policy(iam, role, EVICTION_POLICY_NAME), EVICTION_POLICY)
        had_revoke = _role_policy(iam, role, OLDER_SESSIONS_POLICY) is not None
        if not had_deny:
            iam.put_role_policy(
                RoleName=role, PolicyName=EVICTION_POLICY_NAME, PolicyDocument=json.dumps(EVICTION_POLICY)
            )
        if not had_revoke:
            iam.put_role_policy(
                RoleName=role, PolicyName=OLDER_SESSIONS_POLICY, PolicyDocument=json.dumps(revoke_document(now))
            )
        in_place = _policy_is(_role_policy(iam, role, EVICTION_POLICY_NAME), EVICTION_POLICY)
        revoked = _role_policy(iam, role, OLDER_SESSIONS_POLICY) is not None
    except ClientError as exc:
        if _missing(exc):
            return result(Status.ALREADY_DONE, f"role {role} no longer exists (IAM: NoSuchEntity)")
        return result(Status.FAILED, f"{error_code(exc)}: {exc}", manual=manual)
    if not (in_place and revoked):
        return result(Status.FAILED, "read back: the deny-all or the session revocation is not in place", manual=manual)
    put = [policy for policy, had in ((EVICTION_POLICY_NAME, had_deny), (OLDER_SESSIONS_POLICY, had_revoke)) if not had]
    undo = " && ".join(_delete_policy_command("role", role, policy) for policy in put) or None
    data = {**(data or {}), "role": role, "policies": put}
    text = f"deny-all {EVICTION_POLICY_NAME} and {OLDER_SESSIONS_POLICY} (sessions before {now.strftime(TIME_FORMAT)})"
    text += " in place (read back)"
    return step(
        name, Status.DONE if put else Status.ALREADY_DONE, role, shorten(f"{text}{extra}; {why}"),
        containment=True, undo=undo, data=data,
    )  # fmt: skip


# -- trust policies --------------------------------------------------------------------------------------


def document(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if not isinstance(value, str) or not value:
        return None
    for text in (value, unquote(value)):
        try:
            parsed = json.loads(text)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            return parsed
    return None


def principals(document: dict[str, Any] | None) -> set[str]:
    """Who a trust policy lets in: "AWS arn:aws:iam::111122223333:root", "Service ec2.amazonaws.com", "*"."""
    found: set[str] = set()
    statements = (document or {}).get("Statement") or []
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        if principal == "*":
            found.add("*")
        elif isinstance(principal, dict):
            for kind, values in principal.items():
                for value in values if isinstance(values, list) else [values]:
                    found.add(f"{kind} {value}")
    return found


def previous_trust_from_config(config: Any, role_id: str, before: str) -> tuple[dict[str, Any] | None, str]:
    """The role's trust document as AWS Config last recorded it before `before`; (None, why) otherwise."""
    try:
        later = datetime.strptime(before, TIME_FORMAT).replace(tzinfo=UTC) - timedelta(seconds=1)
        items = config.get_resource_config_history(
            resourceType="AWS::IAM::Role", resourceId=role_id, laterTime=later, chronologicalOrder="Reverse", limit=1
        )["configurationItems"]
    except ClientError as exc:
        return None, f"AWS Config has no history of it ({error_code(exc)})"
    except ValueError:
        return None, "the rewrite's time is unreadable"
    if not items:
        return None, "AWS Config recorded nothing before the rewrite"
    configuration = document(items[0].get("configuration"))
    trust = document((configuration or {}).get("assumeRolePolicyDocument"))
    if trust is None:
        return None, "AWS Config's record holds no readable trust document"
    return trust, f"AWS Config, recorded {items[0].get('configurationItemCaptureTime')}"


def trust_report(
    role: str, rewrites: list[Decision], earlier: list[Decision], config_lookup: Callable[[], tuple[Any, str]]
) -> tuple[str, dict[str, Any]]:
    """What the attacker's rewrites let in, and how to put the previous document back once checked.
    `earlier`: the role's CreateRole/UpdateAssumeRolePolicy calls before the first attacker rewrite (anyone's)."""
    new = document(rewrites[-1].call.request.get("policyDocument"))
    previous, source = config_lookup()
    if previous is None and earlier:
        last = earlier[-1].call
        previous = document(last.request.get("policyDocument") or last.request.get("assumeRolePolicyDocument"))
        if previous is not None:
            source = f"CloudTrail: {last.event_name} at {last.time} ({source})"
    added = sorted(principals(new) - principals(previous)) if previous is not None else sorted(principals(new))
    data: dict[str, Any] = {"added_principals": added, "previous_source": source}
    if previous is None:
        text = f"previous trust document unknown ({source}); principals in the attacker's document: {', '.join(added)}"
        data["restore_trust"] = None
    else:
        restore = f"aws iam update-assume-role-policy --role-name {q(role)} --policy-document {q(json.dumps(previous))}"
        text = (
            f"principals added: {', '.join(added) or 'none'}; previous document from {source}; once checked: {restore}"
        )
        data["restore_trust"] = restore
    return text, data


# -- policies --------------------------------------------------------------------------------------------


def _policy_commands(decision: Decision) -> tuple[str, str, str]:
    """(principal kind, remove command, undo command) for an attach/put call."""
    call, request = decision.call, decision.call.request
    kind = (
        "user" if call.event_name in USER_POLICY_CALLS else "role" if call.event_name in ROLE_POLICY_CALLS else "group"
    )
    principal = str(request.get(f"{kind}Name", "?"))
    if call.event_name.startswith("Attach"):
        arn = str(request.get("policyArn", "?"))
        remove = f"aws iam detach-{kind}-policy --{kind}-name {q(principal)} --policy-arn {q(arn)}"
        undo = f"aws iam attach-{kind}-policy --{kind}-name {q(principal)} --policy-arn {q(arn)}"
    else:
        policy = str(request.get("policyName", "?"))
        remove = _delete_policy_command(kind, principal, policy)
        document = request.get("policyDocument")
        document_text = document if isinstance(document, str) else json.dumps(document)
        undo = (
            f"aws iam put-{kind}-policy --{kind}-name {q(principal)} --policy-name {q(policy)} "
            f"--policy-document {q(document_text)}"
        )
    return kind, remove, undo


def detach_policy(iam: Any, decision: Decision, created: str | None, why: str, switch: Switch) -> StepResult:
    call, request = decision.call, decision.call.request
    kind, remove, undo = _policy_commands(decision)
    principal = str(request.get(f"{kind}Name", "?"))
    policy = str(request.get("policyArn") or request.get("policyName") or "?")
    target = f"{kind}/{principal}: {policy}"
    if created is None:
        text = (
            f"{call.event_name} on {kind} {principal}, which the attacker did not create: reported, not removed "
            f"(its own credentials are someone's, and they are contained on their own); remove it once checked"
        )
        return step(DETACH_POLICY, Status.SKIPPED, target, shorten(f"{text}; {why}"), manual=remove)
    refused = _not_acting(DETACH_POLICY, target, switch, f"remove {policy} from {kind} {principal}", why, remove)
    if refused:
        return refused

    def result(status: Status, text: str, **extra: Any) -> StepResult:
        return step(DETACH_POLICY, status, target, shorten(f"{text}; {why}"), containment=True, **extra)

    attached = call.event_name.startswith("Attach")
    try:
        present = _has_policy(iam, kind, principal, policy, attached)
        if present:
            if attached and kind == "user":
                iam.detach_user_policy(UserName=principal, PolicyArn=policy)
            elif attached:
                iam.detach_role_policy(RoleName=principal, PolicyArn=policy)
            elif kind == "user":
                iam.delete_user_policy(UserName=principal, PolicyName=policy)
            else:
                iam.delete_role_policy(RoleName=principal, PolicyName=policy)
        still = _has_policy(iam, kind, principal, policy, attached)
    except ClientError as exc:
        if _missing(exc):
            return result(Status.ALREADY_DONE, f"{kind} {principal} or the policy no longer exists (IAM: NoSuchEntity)")
        return result(Status.FAILED, f"{error_code(exc)}: {exc}", manual=remove)
    if still:
        return result(Status.FAILED, f"{policy} still reads back on {kind} {principal}", manual=remove)
    if not present:
        return result(Status.ALREADY_DONE, f"{policy} is not on {kind} {principal} (read back)")
    data = {"kind": kind, "principal": principal, "policy": policy, "attached": attached}
    if not attached:
        data["document"] = request.get("policyDocument")
    verb = "detached from" if attached else "deleted from"
    return result(Status.DONE, f"{policy} {verb} {kind} {principal} (read back)", undo=undo, data=data)


def _has_policy(iam: Any, kind: str, principal: str, policy: str, attached: bool) -> bool:
    if attached:
        if kind == "user":
            listed = iam.list_attached_user_policies(UserName=principal, MaxItems=1000)["AttachedPolicies"]
        else:
            listed = iam.list_attached_role_policies(RoleName=principal, MaxItems=1000)["AttachedPolicies"]
        return policy in {item["PolicyArn"] for item in listed}
    reader = _user_policy if kind == "user" else _role_policy
    return reader(iam, principal, policy) is not None


# -- what is only reported -------------------------------------------------------------------------------


def minted_sessions(decision: Decision, why: str) -> StepResult:
    call = decision.call
    credentials = as_dict(call.response.get("credentials"))
    key = credentials.get("accessKeyId") or "?"
    user = target_user(decision) or "the compromised user"
    if call.event_name == "AssumeRole":
        role = str(call.request.get("roleArn", "?")).rpartition("/")[2]
        text = (
            f"AssumeRole into {role} minted session {key}: a role session keeps the role's rights, not the user's, "
            "so the user's revocation does not end it; revoke the role's sessions"
        )
        revoke = revoke_document(datetime.now(UTC))
        manual = _put_policy_command("role", role, OLDER_SESSIONS_POLICY, revoke)
        return step(MINTED, Status.SKIPPED, key, shorten(f"{text}; {why}"), containment=True, manual=manual)
    text = (
        f"{call.event_name} minted session {key} ({call.request.get('name') or 'no name'}) for {user}: such sessions "
        f"carry {user}'s permissions, so the user-level session revocation of ContainKey (step revoke-user-sessions) "
        "denies them, and the user's quarantine applies to them; nothing to do here"
    )
    manual = _put_policy_command("user", user, OLDER_SESSIONS_POLICY, revoke_document(datetime.now(UTC)))
    return step(MINTED, Status.SKIPPED, key, shorten(f"{text}; {why}"), manual=manual)


def owner_change(decision: Decision) -> StepResult:
    _call, request = decision.call, decision.call.request
    target = str(
        request.get("roleName") or request.get("userName") or request.get("groupName") or target_user(decision) or "?"
    )
    return step(OWNER, Status.SKIPPED, target, shorten(f"{decision.explain()}: reported, never acted on"))
