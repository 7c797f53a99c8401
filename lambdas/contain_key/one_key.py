"""One exposed key: its deactivation (refused, exempted, or the owner looked up when the event names another
user), then its owner's quarantine and older sessions; each step's failure is that step's result."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from common.aws import error_code
from common.errors import is_transient
from common.guards import ROOT_USER_NAME, Refusal, exempted_by_name, is_root, own_account, principal_guard
from common.settings import dry_run, env_bool, env_str
from common.steps import Status, StepResult, step
from contain_key.actions import (
    DEACTIVATE,
    OLDER_SESSIONS_POLICY,
    QUARANTINE,
    USER_SESSIONS,
    NotTheOwnersKey,
    deactivate_key,
    key_gone,
    key_owner,
    quarantine_user,
    revoke_user_sessions,
)
from contain_key.permissions import DEFAULT_QUARANTINE_POLICY

logger = Logger(service="credential-responder", child=True)


def deactivate(
    iam: Any, incident: dict[str, Any], key: dict[str, Any], context: Any
) -> tuple[list[StepResult], str | None]:
    """The key's deactivation (and, for a deleted key, its sessions), and the owner whose quarantine
    and sessions follow; None when nothing more is to be done for this key."""
    access_key_id = key["access_key_id"]
    named = key.get("user_name")
    account = own_account(context)
    refusal = _account_refusal(incident, account, access_key_id, named)
    if refusal:
        return [refusal], None
    dry = dry_run("DRY_RUN_CONTAIN_KEY")
    partition = context.invoked_function_arn.split(":")[1]

    def deactivate_on(user: str) -> StepResult:
        """Raises NotTheOwnersKey: the user does not hold the key (or is gone)."""
        return _each_step(
            DEACTIVATE,
            access_key_id,
            _deactivate_command(user, access_key_id),
            lambda: deactivate_key(iam, user, access_key_id, dry_run=dry),
        )

    if named:
        exempt = exempted_by_name("user", partition, account, named)
        if exempt:
            return [_skipped(access_key_id, exempt.detail, exempt.manual)], None
        try:
            result = deactivate_on(named)
        except NotTheOwnersKey:
            pass  # the event's user does not hold the key (or is gone): IAM names the owner
        else:
            logger.info("access key contained", extra={"access_key_id": access_key_id, "status": result["status"]})
            return [result], named
    try:
        owner = key_owner(iam, access_key_id)
    except ClientError as exc:
        if is_transient(exc):
            raise
        return [_lookup_failed(access_key_id, f"{error_code(exc)}: {exc}")], None
    if owner is None:
        # IAM itself says the key is gone. Sessions minted from it before the deletion still
        # carry its user's permissions; only when the event names a user can they be denied.
        return [key_gone(access_key_id), *_after_deletion(iam, named, access_key_id)], None
    if is_root(owner, owner):
        # IAM names a root key's owner <root_account> (or by its ARN, ending ":root"): never acted on.
        root = principal_guard(owner, ROOT_USER_NAME) or Refusal("root", "")
        # data.owner: the report tells the root user's steps from an IAM user's by it, never by a name.
        return [_skipped(access_key_id, root.detail, root.manual, data={"owner": "root"})], None
    mismatch = ""
    if named and named.lower() != owner.lower():
        mismatch = f"the event names {named}, but IAM says the key belongs to {owner}: acting on {owner}; "
        logger.warning("event names another user than the key's owner", extra={"named": named, "owner": owner})
    exempt = exempted_by_name("user", partition, account, owner)
    if exempt:
        return [_skipped(access_key_id, mismatch + exempt.detail, exempt.manual)], None
    try:
        result = deactivate_on(owner)
    except NotTheOwnersKey:
        # IAM named the owner a moment ago; the key moved or went since. Nothing was changed.
        result = step(
            DEACTIVATE,
            Status.FAILED,
            access_key_id,
            f"IAM names {owner} as the key's owner, but UpdateAccessKey on {owner} answers NoSuchEntity",
            containment=True,
            manual=f"aws iam get-access-key-last-used --access-key-id {shlex.quote(access_key_id)}",
        )
    if mismatch:
        result["detail"] = mismatch + result["detail"]
    logger.info("access key contained", extra={"access_key_id": access_key_id, "status": result["status"]})
    return [result], owner


def follow_up(iam: Any, user_name: str, *, not_before: datetime) -> list[StepResult]:
    """After the key, and attempted even when its deactivation failed: each limits the damage either way."""
    dry = dry_run("DRY_RUN_CONTAIN_KEY")
    return [_quarantine(iam, user_name, dry), _sessions(iam, user_name, dry, not_before)]


def _deactivate_command(user_name: str, access_key_id: str) -> str:
    q = shlex.quote
    return f"aws iam update-access-key --user-name {q(user_name)} --access-key-id {q(access_key_id)} --status Inactive"


def _quarantine(iam: Any, user_name: str, dry_run: bool) -> StepResult:
    if not env_bool("QUARANTINE_USER", default=True):
        return step(QUARANTINE, Status.SKIPPED, user_name, "quarantine switched off (quarantineUser=false)")
    policy_arn = env_str("QUARANTINE_POLICY_ARN", DEFAULT_QUARANTINE_POLICY)
    q = shlex.quote
    return _each_step(
        QUARANTINE,
        user_name,
        f"aws iam attach-user-policy --user-name {q(user_name)} --policy-arn {q(policy_arn)}",
        lambda: quarantine_user(iam, user_name, policy_arn, dry_run=dry_run),
    )


def _sessions(iam: Any, user_name: str, dry_run: bool, not_before: datetime) -> StepResult:
    return _each_step(
        USER_SESSIONS,
        user_name,
        f"aws iam put-user-policy --user-name {shlex.quote(user_name)} --policy-name {OLDER_SESSIONS_POLICY} "
        "--policy-document '<Deny * when aws:TokenIssueTime is before now>'",
        lambda: revoke_user_sessions(iam, user_name, not_before=not_before, dry_run=dry_run),
    )


def _after_deletion(iam: Any, named: str | None, access_key_id: str) -> list[StepResult]:
    if not named:
        return [
            step(
                USER_SESSIONS,
                Status.FAILED,
                access_key_id,
                "the key is deleted and the event names no user, so the sessions minted from it before "
                "the deletion cannot be tied to a user here; find the owner in CloudTrail",
                containment=True,
                manual=(
                    "aws cloudtrail lookup-events --region us-east-1 --lookup-attributes "
                    f"AttributeKey=AccessKeyId,AttributeValue={shlex.quote(access_key_id)}  "
                    "# userIdentity.userName, then put AWSRevokeOlderSessions on that user"
                ),
            )
        ]
    # The name cannot be checked against the key any more (IAM no longer knows the key); denying
    # a named user's older sessions is the cautious reading, and release undoes it.
    dry = dry_run("DRY_RUN_CONTAIN_KEY")
    result = _sessions(iam, named, dry, datetime.now(UTC))
    if result["status"] in (Status.DONE, Status.ALREADY_DONE):
        result["detail"] = f"owner as named by the event (the deleted key can no longer be checked): {result['detail']}"
    return [result]


def _account_refusal(
    incident: dict[str, Any], account: str, access_key_id: str, named: str | None
) -> StepResult | None:
    """Another account's key, or an event whose accounts disagree: nothing is changed here."""
    key_account = str(incident["account"])
    conflict = incident.get("account_conflict")
    if key_account == account and not conflict:
        return None
    why = f"the key belongs to account {key_account}"
    if incident.get("delivered_to"):
        why += f" (the event was delivered to {incident['delivered_to']})"
    if conflict:
        why += f"; the event's accounts disagree ({conflict})"
    q = shlex.quote
    # The event's name is used when it gives one; otherwise IAM names the owner there, and the next lines use it.
    find = [] if named else [f"user=$(aws iam get-access-key-last-used --access-key-id {q(access_key_id)} "
                             "--query UserName --output text)"]  # fmt: skip
    user = q(named) if named else '"$user"'
    manual = "\n".join(
        [
            f"# with credentials for account {key_account}:",
            *find,
            f"aws iam update-access-key --user-name {user} --access-key-id {q(access_key_id)} --status Inactive",
            f"aws iam attach-user-policy --user-name {user} --policy-arn "
            f"{q(env_str('QUARANTINE_POLICY_ARN', DEFAULT_QUARANTINE_POLICY))}",
        ]
    )
    return step(
        DEACTIVATE,
        Status.FAILED,
        access_key_id,
        f"{why}; this responder runs in {account} and changed nothing: contain it in account {key_account}",
        containment=True,
        manual=manual,
        data={"key_account": key_account},
    )


def _lookup_failed(access_key_id: str, error: str) -> StepResult:
    return step(
        DEACTIVATE,
        Status.FAILED,
        access_key_id,
        f"IAM did not name the key's owner ({error}): nothing was changed",
        containment=True,
        manual=f"aws iam get-access-key-last-used --access-key-id {shlex.quote(access_key_id)}",
    )


def _skipped(access_key_id: str, detail: str, manual: str, data: dict[str, Any] | None = None) -> StepResult:
    return step(DEACTIVATE, Status.SKIPPED, access_key_id, detail, containment=True, manual=manual, data=data)


def _each_step(name: str, target: str, manual: str, action: Callable[[], StepResult]) -> StepResult:
    """One step's failure is that step's result, not the task's: the other steps still run and
    the report names exactly what to finish by hand. Transient errors still fail the task, which
    the state machine retries (every step is idempotent)."""
    try:
        return action()
    except ClientError as exc:
        if is_transient(exc):
            raise
        return step(name, Status.FAILED, target, f"{error_code(exc)}: {exc}", containment=True, manual=manual)
