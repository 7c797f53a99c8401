"""Contain one exposed IAM user access key: deactivate it, then quarantine its owner.

Deactivate, never delete: the key is evidence and the alert may be false. Each function is
idempotent (an inactive key or an attached policy is "already-done") and reads back what it set
before reporting "done". Input: an IAM client and the key (and owner, when the event names it).
IAM needs: see contain_key.permissions.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from common.aws import error_code
from common.steps import Status, StepResult, step

DEACTIVATE = "deactivate-access-key"
QUARANTINE = "quarantine-user"
FALLBACK_POLICY_NAME = "CredentialResponderQuarantine"
# A compact stand-in for AWSCompromisedKeyQuarantineV3 for when the managed policy cannot be
# attached (the user already has 10 managed policies, or a partition without it). It denies the
# same families of calls an attacker makes with a leaked key: IAM persistence, compute for
# mining, STS session minting, data exfiltration. Kept under the 2,048-character limit that
# IAM puts on all of a user's inline policies together.
FALLBACK_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "CredentialResponderQuarantine",
            "Effect": "Deny",
            "Action": [
                "iam:Add*",
                "iam:Attach*",
                "iam:Change*",
                "iam:Create*",
                "iam:Delete*",
                "iam:Detach*",
                "iam:PassRole",
                "iam:Put*",
                "iam:Set*",
                "iam:Update*",
                "iam:ListUsers",
                "sts:GetSessionToken",
                "sts:GetFederationToken",
                "ec2:RunInstances",
                "ec2:StartInstances",
                "ec2:RequestSpotInstances",
                "ec2:PurchaseReservedInstancesOffering",
                "lambda:CreateFunction",
                "lambda:UpdateFunctionCode",
                "lambda:AddPermission",
                "organizations:CreateAccount",
                "organizations:InviteAccountToOrganization",
                "s3:GetObject",
                "s3:ListBucket",
                "s3:ListAllMyBuckets",
                "s3:PutBucketPolicy",
                "s3:Delete*",
                "secretsmanager:GetSecretValue",
                "ssm:GetParameter*",
                "ses:SendEmail",
                "ses:SendRawEmail",
                "bedrock:InvokeModel*",
                "sagemaker:Create*",
                "ecs:RegisterTaskDefinition",
                "ecs:CreateService",
                "cloudtrail:StopLogging",
                "cloudtrail:DeleteTrail",
                "cloudtrail:LookupEvents",
            ],
            "Resource": "*",
        }
    ],
}


class KeyNotFound(Exception):
    """No user in this account owns the key."""


def resolve_owner(iam: Any, access_key_id: str) -> str:
    """The user that owns the key: the one lookup the event may not have answered."""
    try:
        return str(iam.get_access_key_last_used(AccessKeyId=access_key_id)["UserName"])
    except ClientError as exc:
        if error_code(exc) in ("NoSuchEntity", "AccessDenied", "InvalidClientTokenId"):
            raise KeyNotFound(access_key_id) from exc
        raise


def deactivate_key(iam: Any, user_name: str, access_key_id: str, *, dry_run: bool = False) -> StepResult:
    undo = f"aws iam update-access-key --user-name {user_name} --access-key-id {access_key_id} --status Active"
    manual = f"aws iam update-access-key --user-name {user_name} --access-key-id {access_key_id} --status Inactive"
    try:
        status = _key_status(iam, user_name, access_key_id)
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return step(
                DEACTIVATE,
                Status.ALREADY_DONE,
                access_key_id,
                f"user {user_name} no longer exists; its keys were deleted with it",
                containment=True,
            )
        raise
    if status is None:
        return step(
            DEACTIVATE,
            Status.ALREADY_DONE,
            access_key_id,
            f"key no longer exists on user {user_name}: a deleted key cannot authenticate",
            containment=True,
        )
    if status == "Inactive":
        return step(
            DEACTIVATE,
            Status.ALREADY_DONE,
            access_key_id,
            f"key of {user_name} was already Inactive",
            containment=True,
            undo=undo,
        )
    if dry_run:
        return step(
            DEACTIVATE,
            Status.SKIPPED,
            access_key_id,
            f"dry-run: would set the key of {user_name} Inactive",
            containment=True,
            manual=manual,
        )
    # UserName is required with temporary credentials (the Lambda's), though some mocks accept it without.
    iam.update_access_key(UserName=user_name, AccessKeyId=access_key_id, Status="Inactive")
    read_back = _key_status(iam, user_name, access_key_id)
    if read_back != "Inactive":
        return step(
            DEACTIVATE,
            Status.FAILED,
            access_key_id,
            f"UpdateAccessKey returned but the key reads back as {read_back}",
            containment=True,
            manual=manual,
        )
    return step(
        DEACTIVATE,
        Status.DONE,
        access_key_id,
        f"key of {user_name} is Inactive (read back)",
        containment=True,
        undo=undo,
        data={"user_name": user_name},
    )


def quarantine_user(iam: Any, user_name: str, policy_arn: str, *, dry_run: bool = False) -> StepResult:
    """Attach AWS's quarantine policy; fall back to an equivalent inline deny, and say so."""
    policy_name = policy_arn.rsplit("/", 1)[-1]
    try:
        if _has_managed_policy(iam, user_name, policy_arn):
            return step(
                QUARANTINE,
                Status.ALREADY_DONE,
                user_name,
                f"{policy_name} was already attached",
                containment=True,
                undo=_detach_command(user_name, policy_arn),
            )
        if _has_inline_policy(iam, user_name):
            return step(
                QUARANTINE,
                Status.ALREADY_DONE,
                user_name,
                f"inline {FALLBACK_POLICY_NAME} already in place",
                containment=True,
                undo=_delete_inline_command(user_name),
            )
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return step(
                QUARANTINE,
                Status.ALREADY_DONE,
                user_name,
                f"user {user_name} no longer exists: nothing is left to quarantine",
                containment=True,
            )
        raise
    if dry_run:
        return step(
            QUARANTINE,
            Status.SKIPPED,
            user_name,
            f"dry-run: would attach {policy_name}",
            containment=True,
            manual=f"aws iam attach-user-policy --user-name {user_name} --policy-arn {policy_arn}",
        )
    try:
        iam.attach_user_policy(UserName=user_name, PolicyArn=policy_arn)
    except ClientError as exc:
        # NoSuchEntity: the managed policy is missing in this partition; LimitExceeded: the user
        # already has 10 managed policies. Either way the inline stand-in still quarantines.
        if error_code(exc) not in ("NoSuchEntity", "LimitExceeded", "PolicyNotAttachable"):
            raise
        return _quarantine_inline(iam, user_name, policy_name, reason=error_code(exc))
    if not _has_managed_policy(iam, user_name, policy_arn):
        return step(
            QUARANTINE,
            Status.FAILED,
            user_name,
            f"{policy_name} does not read back as attached",
            containment=True,
            manual=f"aws iam attach-user-policy --user-name {user_name} --policy-arn {policy_arn}",
        )
    return step(
        QUARANTINE,
        Status.DONE,
        user_name,
        f"{policy_name} attached (read back)",
        containment=True,
        undo=_detach_command(user_name, policy_arn),
        data={"policy_arn": policy_arn},
    )


def _quarantine_inline(iam: Any, user_name: str, policy_name: str, *, reason: str) -> StepResult:
    iam.put_user_policy(UserName=user_name, PolicyName=FALLBACK_POLICY_NAME, PolicyDocument=json.dumps(FALLBACK_POLICY))
    if not _has_inline_policy(iam, user_name):
        return step(
            QUARANTINE, Status.FAILED, user_name, f"inline {FALLBACK_POLICY_NAME} does not read back", containment=True
        )
    return step(
        QUARANTINE,
        Status.DONE,
        user_name,
        f"could not attach {policy_name} ({reason}); attached the equivalent inline deny "
        f"{FALLBACK_POLICY_NAME} instead (read back)",
        containment=True,
        undo=_delete_inline_command(user_name),
        data={"inline_policy": FALLBACK_POLICY_NAME},
    )


def _key_status(iam: Any, user_name: str, access_key_id: str) -> str | None:
    paginator = iam.get_paginator("list_access_keys")
    for page in paginator.paginate(UserName=user_name):
        for key in page["AccessKeyMetadata"]:
            if key["AccessKeyId"] == access_key_id:
                return str(key["Status"])
    return None


def _has_managed_policy(iam: Any, user_name: str, policy_arn: str) -> bool:
    paginator = iam.get_paginator("list_attached_user_policies")
    return any(
        policy["PolicyArn"] == policy_arn
        for page in paginator.paginate(UserName=user_name)
        for policy in page["AttachedPolicies"]
    )


def _has_inline_policy(iam: Any, user_name: str) -> bool:
    try:
        iam.get_user_policy(UserName=user_name, PolicyName=FALLBACK_POLICY_NAME)
    except ClientError as exc:
        # Callers check that the user exists first, so NoSuchEntity here means no such policy.
        if error_code(exc) == "NoSuchEntity":
            return False
        raise
    return True


def _detach_command(user_name: str, policy_arn: str) -> str:
    return f"aws iam detach-user-policy --user-name {user_name} --policy-arn {policy_arn}"


def _delete_inline_command(user_name: str) -> str:
    return f"aws iam delete-user-policy --user-name {user_name} --policy-name {FALLBACK_POLICY_NAME}"
