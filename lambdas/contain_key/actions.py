"""Contain one exposed IAM user access key: deactivate it, quarantine its owner, and deny the
sessions minted from it before now.

Deactivate, never delete: the key is evidence and the alert may be false. Each function is
idempotent and reads back what it set before reporting "done". The deactivation is the containing
call and comes first, with nothing read before it; the steps after it read first, so that a policy
already in place is "already-done". A key counts as gone only when IAM answers NoSuchEntity for
that very key (GetAccessKeyLastUsed); a user that does not hold it is not a deleted key. Input: an IAM
client and the key and its owner as IAM names it. Every value placed in a command is shell-quoted.
IAM needs: see contain_key.permissions.
"""

from __future__ import annotations

import json
import shlex
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from common.aws import error_code
from common.cutoff import (
    OLDER_SESSIONS_POLICY,
    cutoff_at,
    cutoff_of,
    deny_older_sessions,
    later_cutoff,
)
from common.guards import ROOT_USER_NAME
from common.keys import key_status, set_inactive
from common.policies import user_policy
from common.steps import Status, StepResult, step
from common.times import iso

DEACTIVATE = "deactivate-access-key"
QUARANTINE = "quarantine-user"
USER_SESSIONS = "revoke-user-sessions"
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


def key_owner(iam: Any, access_key_id: str) -> str | None:
    """The key's owner as IAM names it, or None when IAM answers NoSuchEntity for the key: the only
    answer that means the key no longer exists. Anything else (AccessDenied too) raises."""
    try:
        response = iam.get_access_key_last_used(AccessKeyId=access_key_id)
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        raise
    # A root key is named <root_account>, or not at all: never mistake it for a user.
    return str(response.get("UserName") or ROOT_USER_NAME)


class NotTheOwnersKey(Exception):
    """UpdateAccessKey answered NoSuchEntity: the user does not exist or does not hold the key.
    Neither says the key is gone: only IAM's answer for the key itself does (key_owner)."""


def deactivate_key(iam: Any, user_name: str, access_key_id: str, *, dry_run: bool = False) -> StepResult:
    """The containing call comes first, with nothing read before it (issue "One cold start"): the
    write is idempotent, and what it set is read back after it. A key that was already Inactive
    reads back the same, so the step says done either way; AccessDenied (the explicit deny on the
    responder's own and exempted principals, or an SCP) is reported, never retried."""
    manual = _update_key_command(user_name, access_key_id, "Inactive")
    if dry_run:
        return step(
            DEACTIVATE,
            Status.SKIPPED,
            access_key_id,
            f"dry-run: would set the key of {user_name} Inactive",
            containment=True,
            manual=manual,
        )
    try:
        # NoSuchEntity: the user does not hold the key (or is gone), which says nothing of the key; the caller asks
        # IAM for its owner.
        set_inactive(iam, user_name, access_key_id, no_such_entity=NotTheOwnersKey)
    except ClientError as exc:
        if error_code(exc) in ("AccessDenied", "AccessDeniedException"):
            return step(
                DEACTIVATE,
                Status.FAILED,
                access_key_id,
                f"IAM refused UpdateAccessKey on {user_name} (AccessDenied): an explicit deny (the responder "
                "never acts on its own or on exempted principals), a service control policy or a permissions "
                "boundary stops the responder; nothing was changed",
                containment=True,
                manual=manual,
            )
        raise
    return confirm_inactive(iam, user_name, access_key_id)


def confirm_inactive(iam: Any, user_name: str, access_key_id: str) -> StepResult:
    """After UpdateAccessKey returned (this function's, or the state machine's own call): done only
    when the key reads back Inactive."""
    undo = _update_key_command(user_name, access_key_id, "Active")
    manual = _update_key_command(user_name, access_key_id, "Inactive")
    read_back = key_status(iam, user_name, access_key_id)
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


def key_gone(access_key_id: str) -> StepResult:
    return step(
        DEACTIVATE,
        Status.ALREADY_DONE,
        access_key_id,
        "IAM answers NoSuchEntity for this key: it no longer exists, and a deleted key cannot authenticate",
        containment=True,
        data={"key": "deleted"},  # the report offers no rotation or deletion of a key that is gone
    )


def quarantine_user(iam: Any, user_name: str, policy_arn: str, *, dry_run: bool = False) -> StepResult:
    """Attach AWS's quarantine policy; fall back to an equivalent inline deny, and say so."""
    policy_name = policy_arn.rsplit("/", 1)[-1]
    attach = _attach_command(user_name, policy_arn)
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
        inline = user_policy(iam, user_name, FALLBACK_POLICY_NAME)
        if inline == FALLBACK_POLICY:  # by content: a name proves nothing
            return step(
                QUARANTINE,
                Status.ALREADY_DONE,
                user_name,
                f"inline {FALLBACK_POLICY_NAME} already in place (read back: the responder's document)",
                containment=True,
                undo=_delete_inline_command(user_name, FALLBACK_POLICY_NAME),
            )
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            # IAM says the user does not exist: deleting a user needs its policies gone first, so
            # nothing is left that a credential of it could use.
            return step(
                QUARANTINE,
                Status.ALREADY_DONE,
                user_name,
                f"IAM answers NoSuchEntity for user {user_name}: nothing is left to quarantine",
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
            manual=attach,
        )
    if inline is not None:
        # A policy under the responder's name with other content (an Allow the key planted first): the
        # attacker's. It is overwritten with the responder's deny; the quarantine is attached all the same.
        return _quarantine_inline(iam, user_name, policy_name, reason="planted", planted=inline, then_attach=policy_arn)
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
            manual=attach,
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


def _quarantine_inline(
    iam: Any,
    user_name: str,
    policy_name: str,
    *,
    reason: str,
    planted: dict[str, Any] | None = None,
    then_attach: str | None = None,
) -> StepResult:
    document = json.dumps(FALLBACK_POLICY, separators=(",", ":"))
    iam.put_user_policy(UserName=user_name, PolicyName=FALLBACK_POLICY_NAME, PolicyDocument=document)
    if planted is not None and then_attach:
        iam.attach_user_policy(UserName=user_name, PolicyArn=then_attach)
        in_place = user_policy(iam, user_name, FALLBACK_POLICY_NAME) == FALLBACK_POLICY
        attached = _has_managed_policy(iam, user_name, then_attach)
        if not (in_place and attached):
            return step(
                QUARANTINE,
                Status.FAILED,
                user_name,
                f"a policy named {FALLBACK_POLICY_NAME} with other content was on the user (planted?); "
                f"overwriting it or attaching {policy_name} does not read back",
                containment=True,
                manual=_attach_command(user_name, then_attach),
            )
        return step(
            QUARANTINE,
            Status.DONE,
            user_name,
            f"{policy_name} attached (read back); a policy named {FALLBACK_POLICY_NAME} with other content "
            f"({len(json.dumps(planted))} characters, statements {_effects(planted)}) was on the user, planted before "
            "containment: overwritten with the responder's deny (read back)",
            containment=True,
            undo=_detach_command(user_name, then_attach),
            data={"policy_arn": then_attach, "planted_policy": FALLBACK_POLICY_NAME},
        )
    if user_policy(iam, user_name, FALLBACK_POLICY_NAME) != FALLBACK_POLICY:
        return step(
            QUARANTINE,
            Status.FAILED,
            user_name,
            f"inline {FALLBACK_POLICY_NAME} does not read back",
            containment=True,
            manual=_put_user_policy_command(user_name, FALLBACK_POLICY_NAME, FALLBACK_POLICY),
        )
    return step(
        QUARANTINE,
        Status.DONE,
        user_name,
        f"could not attach {policy_name} ({reason}); attached the equivalent inline deny "
        f"{FALLBACK_POLICY_NAME} instead (read back)",
        containment=True,
        undo=_delete_inline_command(user_name, FALLBACK_POLICY_NAME),
        data={"inline_policy": FALLBACK_POLICY_NAME},
    )


# -- the sessions minted from the key ----------------------------------------------------------

SESSIONS_COVERAGE = (
    "sessions from GetSessionToken and GetFederationToken carry the user's permissions and outlive "
    "the key's deactivation; long-term keys carry no aws:TokenIssueTime, so the user's other keys "
    "keep working"
)


def older_sessions_policy(cutoff: str) -> dict[str, Any]:
    return deny_older_sessions(cutoff, sid="DenySessionsIssuedBeforeContainment")


def revoke_user_sessions(
    iam: Any, user_name: str, *, not_before: datetime, dry_run: bool = False, now: datetime | None = None
) -> StepResult:
    """Deny every request signed by a temporary credential of the user issued before now.

    `not_before`: when the user's key was confirmed Inactive. A cut-off at or after it denies every
    session the key could have minted; an earlier one does not, whoever wrote it."""
    cutoff = cutoff_at(now)
    policy = older_sessions_policy(cutoff)
    undo = _delete_inline_command(user_name, OLDER_SESSIONS_POLICY)
    manual = _put_user_policy_command(user_name, OLDER_SESSIONS_POLICY, policy)
    existing = cutoff_of(user_policy(iam, user_name, OLDER_SESSIONS_POLICY))
    # An existing cut-off at or after the key's deactivation already denies every session minted
    # from it; moving it would only cut off more legitimate sessions.
    if existing is not None and existing >= not_before:
        return step(
            USER_SESSIONS,
            Status.ALREADY_DONE,
            user_name,
            f"{OLDER_SESSIONS_POLICY} already denies sessions issued before {iso(existing)}",
            containment=True,
            undo=undo,
            data={"user_name": user_name, "policy_name": OLDER_SESSIONS_POLICY},
        )
    if dry_run:
        return step(
            USER_SESSIONS,
            Status.SKIPPED,
            user_name,
            f"dry-run: would put {OLDER_SESSIONS_POLICY} on {user_name}, denying sessions issued before {cutoff}",
            containment=True,
            manual=manual,
        )
    written: dict[str, Any] | None = None
    # Two keys of one user are contained in parallel (one Map item each): the other item's put may
    # land after this one. Its cut-off is as good as this one when it is at or after this key's
    # deactivation; an earlier one is overwritten once more, and the later writer wins the same way.
    for _attempt in range(2):
        try:
            iam.put_user_policy(
                UserName=user_name,
                PolicyName=OLDER_SESSIONS_POLICY,
                PolicyDocument=json.dumps(policy, separators=(",", ":")),
            )
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity":
                raise
            # PutUserPolicy answers NoSuchEntity only for the user: deleting a user needs its policies
            # gone first, and a session has no permissions but its user's.
            return step(
                USER_SESSIONS,
                Status.ALREADY_DONE,
                user_name,
                f"IAM answers NoSuchEntity for user {user_name}: its sessions have no permissions left",
                containment=True,
            )
        written = user_policy(iam, user_name, OLDER_SESSIONS_POLICY)
        if written == policy:
            break
        later = later_cutoff(written, not_before, older_sessions_policy)
        if later is not None:
            cutoff, policy = later, older_sessions_policy(later)  # what was read back, by later_cutoff's rule
            break
    if written != policy:
        return step(
            USER_SESSIONS,
            Status.FAILED,
            user_name,
            f"PutUserPolicy returned but {OLDER_SESSIONS_POLICY} does not read back as written",
            containment=True,
            manual=manual,
        )
    return step(
        USER_SESSIONS,
        Status.DONE,
        user_name,
        f"{OLDER_SESSIONS_POLICY} denies every request of {user_name}'s sessions issued before {cutoff} "
        f"(read back; IAM applies it within minutes): {SESSIONS_COVERAGE}",
        containment=True,
        undo=undo,
        data={"user_name": user_name, "policy_name": OLDER_SESSIONS_POLICY, "cutoff": cutoff},
    )


# -- reads and commands ------------------------------------------------------------------------


def _has_managed_policy(iam: Any, user_name: str, policy_arn: str) -> bool:
    paginator = iam.get_paginator("list_attached_user_policies")
    return any(
        policy["PolicyArn"] == policy_arn
        for page in paginator.paginate(UserName=user_name)
        for policy in page["AttachedPolicies"]
    )


def _effects(policy: dict[str, Any]) -> str:
    statements = policy.get("Statement")
    statements = statements if isinstance(statements, list) else [statements]
    return ", ".join(str(s.get("Effect")) for s in statements if isinstance(s, dict)) or "none"


def _q(value: str) -> str:
    return shlex.quote(value)


def _update_key_command(user_name: str, access_key_id: str, status: str) -> str:
    return (
        f"aws iam update-access-key --user-name {_q(user_name)} --access-key-id {_q(access_key_id)} --status {status}"
    )


def _attach_command(user_name: str, policy_arn: str) -> str:
    return f"aws iam attach-user-policy --user-name {_q(user_name)} --policy-arn {_q(policy_arn)}"


def _detach_command(user_name: str, policy_arn: str) -> str:
    return f"aws iam detach-user-policy --user-name {_q(user_name)} --policy-arn {_q(policy_arn)}"


def _delete_inline_command(user_name: str, policy_name: str) -> str:
    return f"aws iam delete-user-policy --user-name {_q(user_name)} --policy-name {_q(policy_name)}"


def _put_user_policy_command(user_name: str, policy_name: str, policy: dict[str, Any]) -> str:
    document = json.dumps(policy, separators=(",", ":"))
    return (
        f"aws iam put-user-policy --user-name {_q(user_name)} --policy-name {_q(policy_name)} "
        f"--policy-document {_q(document)}"
    )
