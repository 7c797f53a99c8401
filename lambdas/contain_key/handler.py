"""Lambda: contain one exposed access key (one Map iteration of the workflow).

Input:  {"incident": {"incident_id", "account", "delivered_to", "account_conflict", "detected_at", ...},
         "key": {"access_key_id", "user_name"|null}}
Output: {"steps": [StepResult, ...]}  (deactivate-access-key, quarantine-user, revoke-user-sessions)

The owner is a fact, not a guess: IAM's GetAccessKeyLastUsed names it, whatever the event says.
This is the function that makes the containing call, so it imports only what it needs:
boto3, the Powertools Logger and the plain-dict step helpers (no pydantic).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from common.aws import client, error_code
from common.errors import is_transient, transient_errors
from common.guards import Refusal, is_root, own_account, principal_guard
from common.settings import env_bool, env_str
from common.steps import Status, StepResult, step
from contain_key.actions import (
    DEACTIVATE,
    OLDER_SESSIONS_POLICY,
    QUARANTINE,
    ROOT_USER_NAME,
    USER_SESSIONS,
    deactivate_key,
    key_gone,
    key_owner,
    quarantine_user,
    revoke_user_sessions,
    user_arn,
)

logger = Logger(service="credential-responder")

DEFAULT_QUARANTINE_POLICY = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"


@transient_errors
@logger.inject_lambda_context(correlation_id_path="incident.incident_id", clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    incident, key = event["incident"], event["key"]
    access_key_id = key["access_key_id"]
    account = own_account(context)
    refusal = _account_refusal(incident, account, access_key_id, key.get("user_name"))
    if refusal:
        return {"steps": [refusal]}
    iam = client("iam")
    named = key.get("user_name")
    try:
        owner = key_owner(iam, access_key_id)
    except ClientError as exc:
        if is_transient(exc):
            raise
        return {"steps": [_lookup_failed(access_key_id, f"{error_code(exc)}: {exc}")]}
    if owner is None:
        # IAM itself says the key is gone. Sessions minted from it before the deletion still
        # carry its user's permissions; only when the event names a user can they be denied.
        return {"steps": [key_gone(access_key_id), *_after_deletion(iam, incident, named, access_key_id)]}
    if is_root(owner, owner):
        # IAM names a root key's owner <root_account> (or by its ARN, ending ":root"): never acted on.
        root = principal_guard(owner, ROOT_USER_NAME) or Refusal("root", "")
        return {"steps": [_skipped(access_key_id, root.detail, root.manual)]}
    mismatch = ""
    if named and named.lower() != owner.lower():
        mismatch = f"the event names {named}, but IAM says the key belongs to {owner}: acting on {owner}; "
        logger.warning("event names another user than the key's owner", extra={"named": named, "owner": owner})
    try:
        arn = user_arn(iam, owner)
    except ClientError as exc:
        if is_transient(exc):
            raise
        return {"steps": [_lookup_failed(access_key_id, f"GetUser {owner}: {error_code(exc)}")]}
    guard = principal_guard(arn, owner)
    if guard:
        return {"steps": [_skipped(access_key_id, mismatch + guard.detail, guard.manual)]}
    return {"steps": _contain(iam, incident, owner, access_key_id, prefix=mismatch)}


def _contain(
    iam: Any, incident: dict[str, Any], user_name: str, access_key_id: str, *, prefix: str
) -> list[StepResult]:
    dry_run = env_bool("DRY_RUN") or env_bool("DRY_RUN_CONTAIN_KEY")
    q = shlex.quote
    deactivate = _each_step(
        DEACTIVATE,
        access_key_id,
        f"aws iam update-access-key --user-name {q(user_name)} --access-key-id {q(access_key_id)} --status Inactive",
        lambda: deactivate_key(iam, user_name, access_key_id, dry_run=dry_run),
    )
    if prefix:
        deactivate["detail"] = prefix + deactivate["detail"]
    steps = [deactivate]
    logger.info("access key contained", extra={"access_key_id": access_key_id, "status": deactivate["status"]})
    # Attempted even when deactivation failed: each limits the damage either way.
    steps.append(_quarantine(iam, user_name, dry_run))
    steps.append(_sessions(iam, incident, user_name, dry_run))
    return steps


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


def _sessions(iam: Any, incident: dict[str, Any], user_name: str, dry_run: bool) -> StepResult:
    return _each_step(
        USER_SESSIONS,
        user_name,
        f"aws iam put-user-policy --user-name {shlex.quote(user_name)} --policy-name {OLDER_SESSIONS_POLICY} "
        "--policy-document '<Deny * when aws:TokenIssueTime is before now>'",
        lambda: revoke_user_sessions(iam, user_name, detected_at=incident["detected_at"], dry_run=dry_run),
    )


def _after_deletion(iam: Any, incident: dict[str, Any], named: str | None, access_key_id: str) -> list[StepResult]:
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
    dry_run = env_bool("DRY_RUN") or env_bool("DRY_RUN_CONTAIN_KEY")
    result = _sessions(iam, incident, named, dry_run)
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
    user = q(named) if named else "<UserName>"
    manual = (
        f"with credentials for account {key_account}: "
        f"aws iam get-access-key-last-used --access-key-id {q(access_key_id)}  # the owner's UserName, then: "
        f"aws iam update-access-key --user-name {user} --access-key-id {q(access_key_id)} --status Inactive; "
        f"aws iam attach-user-policy --user-name {user} --policy-arn "
        f"{q(env_str('QUARANTINE_POLICY_ARN', DEFAULT_QUARANTINE_POLICY))}"
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


def _skipped(access_key_id: str, detail: str, manual: str) -> StepResult:
    return step(DEACTIVATE, Status.SKIPPED, access_key_id, detail, containment=True, manual=manual)


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
