"""Lambda: contain one exposed access key (one Map iteration of the workflow).

Input:  {"incident": {"incident_id", "account", ...}, "key": {"access_key_id", "user_name"|null}}
Output: {"steps": [StepResult, ...]}  (deactivate-access-key, quarantine-user)

This is the function that makes the containing call, so it imports only what it needs:
boto3, the Powertools Logger and the plain-dict step helpers (no pydantic).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from common.aws import client, error_code
from common.errors import is_transient, transient_errors
from common.guards import own_account, principal_guard
from common.settings import env_bool, env_str
from common.steps import Status, StepResult, step
from contain_key.actions import DEACTIVATE, QUARANTINE, KeyNotFound, deactivate_key, quarantine_user, resolve_owner

logger = Logger(service="credential-responder")

DEFAULT_QUARANTINE_POLICY = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"


@transient_errors
@logger.inject_lambda_context(correlation_id_path="incident.incident_id", clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    incident, key = event["incident"], event["key"]
    access_key_id = key["access_key_id"]
    account = own_account(context)
    if incident["account"] != account:
        # With Health's organizational view the event can name a member account's key: this
        # deployment's role cannot act there, and pretending otherwise would be a silent miss.
        detail = f"key belongs to account {incident['account']}; this responder runs in {account}"
        return {
            "steps": [
                step(
                    DEACTIVATE,
                    Status.SKIPPED,
                    access_key_id,
                    detail,
                    containment=True,
                    manual=f"in account {incident['account']}: aws iam update-access-key "
                    f"--access-key-id {access_key_id} --status Inactive --user-name <owner>",
                )
            ]
        }
    iam = client("iam")
    user_name = key.get("user_name")
    if not user_name:
        try:
            user_name = resolve_owner(iam, access_key_id)
        except KeyNotFound:
            return {
                "steps": [
                    step(
                        DEACTIVATE,
                        Status.FAILED,
                        access_key_id,
                        f"no user in account {account} owns this key: it was deleted, or the "
                        "event names a key of another account",
                        containment=True,
                        manual=f"aws iam get-access-key-last-used --access-key-id {access_key_id}",
                    )
                ]
            }
    refusal = principal_guard(f"arn:aws:iam::{account}:user/{user_name}", user_name)
    if refusal:
        return {
            "steps": [
                step(DEACTIVATE, Status.SKIPPED, access_key_id, refusal.detail, containment=True, manual=refusal.manual)
            ]
        }
    dry_run = env_bool("DRY_RUN") or env_bool("DRY_RUN_CONTAIN_KEY")
    steps = [
        _each_step(
            DEACTIVATE,
            access_key_id,
            f"aws iam update-access-key --user-name {user_name} --access-key-id {access_key_id} --status Inactive",
            lambda: deactivate_key(iam, user_name, access_key_id, dry_run=dry_run),
        )
    ]
    logger.info("access key contained", extra={"access_key_id": access_key_id, "status": steps[0]["status"]})
    if env_bool("QUARANTINE_USER", default=True):
        policy_arn = env_str("QUARANTINE_POLICY_ARN", DEFAULT_QUARANTINE_POLICY)
        # Attempted even when deactivation failed: the quarantine limits the damage either way.
        steps.append(
            _each_step(
                QUARANTINE,
                user_name,
                f"aws iam attach-user-policy --user-name {user_name} --policy-arn {policy_arn}",
                lambda: quarantine_user(iam, user_name, policy_arn, dry_run=dry_run),
            )
        )
    else:
        steps.append(step(QUARANTINE, Status.SKIPPED, user_name, "quarantine switched off (quarantineUser=false)"))
    return {"steps": steps}


def _each_step(name: str, target: str, manual: str, action: Callable[[], StepResult]) -> StepResult:
    """One step's failure is that step's result, not the task's: the other step still runs and
    the report names exactly what to finish by hand. Transient errors still fail the task, which
    the state machine retries (every step is idempotent)."""
    try:
        return action()
    except ClientError as exc:
        if is_transient(exc):
            raise
        return step(name, Status.FAILED, target, f"{error_code(exc)}: {exc}", containment=True, manual=manual)
