"""Revoke the sessions of the instance role whose credentials were stolen.

This is the IAM console's "Revoke active sessions": an inline policy AWSRevokeOlderSessions that
denies everything to sessions issued before a cut-off (aws:TokenIssueTime). Deleting the policy
undoes it. It also denies the instance's own cached credentials, and those of every other
instance using the role, until EC2 hands out fresh ones. With scope "instance" the deny covers
only the sessions of the one instance (aws:userid = "<RoleId>:<instance id>", the session name of
EC2 role credentials), so other instances keep working but every credential that instance was
ever given is denied, fresh ones included, until the policy is removed.

Returns a StepResult that reads the policy back before it says "done". IAM needs: see
revoke_sessions.permissions.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from common.aws import error_code
from common.cutoff import (
    OLDER_SESSIONS_POLICY,
    condition_value,
    cutoff_at,
    deny_older_sessions,
    later_cutoff,
    parse_time,
)
from common.guards import exempted_by_name, instance_guard, principal_guard
from common.policies import role_policy
from common.steps import Status, StepResult, step

REVOKE = "revoke-role-sessions"
INSTANCE_SESSION_POLICY = "AWSRevokeInstanceSession"
SERVICE_LINKED_PATH = "/aws-service-role/"


class RoleNotResolved(Exception):
    """The incident names no role and the instance's profile does not lead to one."""


def revoke(
    iam: Any,
    ec2: Any | None,
    incident: Mapping[str, Any],
    *,
    scope: str = "role",
    own_role_arns: frozenset[str] = frozenset(),
    partition: str = "aws",
    dry_run: bool = False,
    now: datetime | None = None,
) -> StepResult:
    """Revoke for one incident: the role the finding names. `ec2` (of the incident's region) finds the
    role when the finding names none, and tells whether the instance's profile now points elsewhere."""
    instance_id = incident.get("instance_id")
    role_name = incident.get("role_name")
    region = incident.get("region") or ""
    if scope == "instance" and instance_id and (refusal := instance_guard(instance_id)):
        # A revoke scoped to the instance acts on exactly that instance: its exemption applies.
        return step(
            REVOKE, Status.SKIPPED, role_name or instance_id, refusal.detail, containment=True, manual=refusal.manual
        )
    if not role_name:
        if ec2 is None or not instance_id:
            return step(
                REVOKE,
                Status.FAILED,
                instance_id or "unknown",
                "the finding names neither a role nor an instance, so there is no role to revoke",
                containment=True,
                manual="Find the role in the finding's accessKeyDetails, then revoke its sessions: IAM console, "
                "the role, tab 'Revoke sessions', 'Revoke active sessions'",
            )
        try:
            role_name = resolve_role_name(ec2, iam, instance_id, incident.get("instance_profile_arn"))
        except RoleNotResolved as exc:
            return step(
                REVOKE,
                Status.FAILED,
                instance_id,
                str(exc),
                containment=True,
                manual=f"aws ec2 describe-iam-instance-profile-associations --region {shlex.quote(region)} "
                f"--filters {shlex.quote(f'Name=instance-id,Values={instance_id}')}",
            )
    exempt = exempted_by_name("role", partition, str(incident.get("account") or ""), role_name)
    if exempt:
        # Known from the configuration, with nothing read: IAM's explicit deny backs it.
        return step(REVOKE, Status.SKIPPED, role_name, exempt.detail, containment=True, manual=exempt.manual)
    result = revoke_role_sessions(
        iam,
        role_name,
        detected_at=incident["detected_at"],
        instance_id=instance_id,
        scope=scope,
        own_role_arns=own_role_arns,
        dry_run=dry_run,
        now=now,
    )
    if ec2 is not None and instance_id:
        note_current_profile(result, ec2, iam, instance_id, role_name)
    return result


def note_current_profile(result: StepResult, ec2: Any, iam: Any, instance_id: str, role_name: str) -> StepResult:
    """After the containing call, never before it: does the instance's profile point at another role now?
    Both are reported; the finding's role is the one revoked."""
    try:
        current = current_profile_role(ec2, iam, instance_id)
    except ClientError as exc:
        result["detail"] += f"; the instance's current profile could not be read ({error_code(exc)})"
        return result
    if current and current[1] != role_name:
        profile_arn, other = current
        result["detail"] += (
            f"; the instance's current profile {profile_arn} points at role {other}, not the finding's role "
            f"{role_name}: {role_name} was revoked, {other} was not (check who replaced the profile)"
        )
        result.setdefault("data", {})["current_profile_role"] = other
    return result


def current_profile_role(ec2: Any, iam: Any, instance_id: str) -> tuple[str, str] | None:
    """(profile ARN, role name) of the instance's profile association now, or None."""
    associations = ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [instance_id]}, {"Name": "state", "Values": ["associated"]}]
    )["IamInstanceProfileAssociations"]
    if not associations:
        return None
    profile_arn = associations[0]["IamInstanceProfile"]["Arn"]
    try:
        roles = iam.get_instance_profile(InstanceProfileName=profile_arn.rsplit("/", 1)[-1])["InstanceProfile"]["Roles"]
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        raise
    return (profile_arn, str(roles[0]["RoleName"])) if roles else None


def resolve_role_name(ec2: Any, iam: Any, instance_id: str, profile_arn: str | None = None) -> str:
    """The role behind the finding's instance profile; the instance's current profile only when the
    finding names none that IAM knows (whoever holds the instance may have replaced its profile since)."""
    if profile_arn and ":instance-profile/" in profile_arn:
        try:
            return _profile_role(iam, instance_id, profile_arn)
        except RoleNotResolved:
            pass  # deleted since, or not a profile of this account: what the instance has now
    associations = ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [instance_id]}, {"Name": "state", "Values": ["associated"]}]
    )["IamInstanceProfileAssociations"]
    if not associations:
        raise RoleNotResolved(f"instance {instance_id} has no instance profile, so no role to revoke")
    return _profile_role(iam, instance_id, associations[0]["IamInstanceProfile"]["Arn"])


def _profile_role(iam: Any, instance_id: str, profile_arn: str) -> str:
    profile_name = profile_arn.rsplit("/", 1)[-1]
    try:
        roles = iam.get_instance_profile(InstanceProfileName=profile_name)["InstanceProfile"]["Roles"]
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            raise RoleNotResolved(f"instance profile {profile_name} of {instance_id} does not exist") from exc
        raise
    if not roles:
        raise RoleNotResolved(f"instance profile {profile_name} of {instance_id} has no role")
    return str(roles[0]["RoleName"])


def revoke_role_sessions(
    iam: Any,
    role_name: str,
    *,
    detected_at: str,
    instance_id: str | None = None,
    scope: str = "role",
    own_role_arns: frozenset[str] = frozenset(),
    dry_run: bool = False,
    now: datetime | None = None,
) -> StepResult:
    """Scope "role": the containing call is the first, with nothing read before it: IAM refuses the
    write itself on a service-linked role (UnmodifiableEntity) and, by the explicit deny in this
    function's policy, on the responder's own roles and exempted ones (AccessDenied); the role is read
    only afterwards, to say which. Scope "instance" needs the RoleId for the session's aws:userid, so
    it reads the role first."""
    if scope == "instance":
        return _revoke_instance_session(iam, role_name, instance_id, own_role_arns, dry_run, now)
    cutoff = cutoff_at(now)
    policy = older_sessions_policy(cutoff)
    data = {"role_name": role_name, "policy_name": OLDER_SESSIONS_POLICY, "cutoff": cutoff}
    what = f"denies sessions issued before {cutoff}"
    manual = _put_command(role_name, OLDER_SESSIONS_POLICY, policy)
    if dry_run:
        return step(
            REVOKE,
            Status.SKIPPED,
            role_name,
            f"dry-run: would put {OLDER_SESSIONS_POLICY} on {role_name}: {what}",
            containment=True,
            manual=manual,
            data=data,
        )
    try:
        iam.put_role_policy(RoleName=role_name, PolicyName=OLDER_SESSIONS_POLICY, PolicyDocument=json.dumps(policy))
    except ClientError as exc:
        code = error_code(exc)
        if code == "NoSuchEntity":
            return _no_such_role(role_name)
        if code in ("UnmodifiableEntity", "AccessDenied", "AccessDeniedException"):
            return _refused(iam, role_name, code, own_role_arns, manual)
        raise
    return confirm_cutoff(iam, role_name, cutoff)


def confirm_cutoff(iam: Any, role_name: str, cutoff: str) -> StepResult:
    """After PutRolePolicy returned (this function's, or the state machine's own call with `cutoff`):
    done only when the policy reads back as written, or as a later cut-off (later_cutoff's rule)."""
    policy = older_sessions_policy(cutoff)
    data = {"role_name": role_name, "policy_name": OLDER_SESSIONS_POLICY, "cutoff": cutoff}
    what = f"denies sessions issued before {cutoff}"
    manual = _put_command(role_name, OLDER_SESSIONS_POLICY, policy)
    written = role_policy(iam, role_name, OLDER_SESSIONS_POLICY)
    # Another execution (a repeat, a concurrent re-containment) may have put a later cut-off meanwhile:
    # it denies every session this one does.
    later = later_cutoff(written, parse_time(cutoff), older_sessions_policy) if written != policy else None
    if later is not None:
        policy, cutoff = older_sessions_policy(later), later  # what was read back, by later_cutoff's rule
        data["cutoff"] = cutoff
        what = f"denies sessions issued before {cutoff}"
    if written != policy:
        return step(
            REVOKE,
            Status.FAILED,
            role_name,
            f"PutRolePolicy returned but {OLDER_SESSIONS_POLICY} does not read back as written",
            containment=True,
            manual=manual,
            data=data,
        )
    return step(
        REVOKE,
        Status.DONE,
        role_name,
        f"{OLDER_SESSIONS_POLICY} {what} (read back; IAM applies it within minutes)",
        containment=True,
        undo=_delete_command(role_name, OLDER_SESSIONS_POLICY),
        data=data,
    )


def _refused(iam: Any, role_name: str, code: str, own_role_arns: frozenset[str], manual: str) -> StepResult:
    """IAM refused the write: read the role now (after the containing call) to say why."""
    try:
        role = iam.get_role(RoleName=role_name)["Role"]
    except ClientError as exc:
        role = None
        why = f"the role could not be read to say why ({error_code(exc)})"
    else:
        refusal = _refusal(role, own_role_arns)
        if refusal:
            refusal["detail"] += f" (IAM refused the write: {code})"
            return refusal
        why = "no exemption of the responder names it: a service control policy or a permissions boundary denies it"
    return step(
        REVOKE,
        Status.FAILED,
        role_name,
        f"IAM refused PutRolePolicy on {role_name} ({code}); {why}; nothing was changed",
        containment=True,
        manual=manual,
    )


def _no_such_role(role_name: str) -> StepResult:
    # Failed, not done: this function cannot see what the role's sessions can still do, so a person
    # must (the manual command shows whether the role is gone or was made again).
    return step(
        REVOKE,
        Status.FAILED,
        role_name,
        f"role {role_name} does not exist (deleted since the finding?); its sessions cannot be revoked this way",
        containment=True,
        manual=f"aws iam get-role --role-name {shlex.quote(role_name)}",
    )


def _revoke_instance_session(
    iam: Any,
    role_name: str,
    instance_id: str | None,
    own_role_arns: frozenset[str],
    dry_run: bool,
    now: datetime | None,
) -> StepResult:
    try:
        role = iam.get_role(RoleName=role_name)["Role"]
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return _no_such_role(role_name)
        raise
    refusal = _refusal(role, own_role_arns)
    if refusal:
        return refusal
    if not instance_id:
        return step(
            REVOKE,
            Status.FAILED,
            role_name,
            "REVOKE_SCOPE=instance but the finding names no instance",
            containment=True,
            manual=_put_command(role_name, OLDER_SESSIONS_POLICY, older_sessions_policy(cutoff_at(now))),
        )
    policy_name = INSTANCE_SESSION_POLICY
    session = f"{role['RoleId']}:{instance_id}"
    policy = instance_session_policy(session)
    what = f"denies every session of instance {instance_id} ({session})"
    data = {"role_name": role_name, "policy_name": policy_name, "cutoff": None}
    undo = _delete_command(role_name, policy_name)
    manual = _put_command(role_name, policy_name, policy)
    if _session_of(role_policy(iam, role_name, policy_name)) == session:
        return step(
            REVOKE,
            Status.ALREADY_DONE,
            role_name,
            f"{policy_name} already {what}",
            containment=True,
            undo=undo,
            data=data,
        )
    if dry_run:
        return step(
            REVOKE,
            Status.SKIPPED,
            role_name,
            f"dry-run: would put {policy_name} on {role_name}: {what}",
            containment=True,
            manual=manual,
            data=data,
        )
    iam.put_role_policy(RoleName=role_name, PolicyName=policy_name, PolicyDocument=json.dumps(policy))
    if role_policy(iam, role_name, policy_name) != policy:
        return step(
            REVOKE,
            Status.FAILED,
            role_name,
            f"PutRolePolicy returned but {policy_name} does not read back as written",
            containment=True,
            manual=manual,
            data=data,
        )
    return step(
        REVOKE,
        Status.DONE,
        role_name,
        f"{policy_name} {what} (read back; IAM applies it within minutes)",
        containment=True,
        undo=undo,
        data=data,
    )


def _delete_command(role_name: str, policy_name: str) -> str:
    return f"aws iam delete-role-policy --role-name {shlex.quote(role_name)} --policy-name {shlex.quote(policy_name)}"


def older_sessions_policy(cutoff: str) -> dict[str, Any]:
    return deny_older_sessions(cutoff)  # as the IAM console's "Revoke active sessions" writes it


def instance_session_policy(session: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"aws:userid": session}}}
        ],
    }


def _refusal(role: Mapping[str, Any], own_role_arns: frozenset[str]) -> StepResult | None:
    name = role["RoleName"]
    if role.get("Path", "/").startswith(SERVICE_LINKED_PATH):
        return step(
            REVOKE,
            Status.SKIPPED,
            name,
            f"{name} is a service-linked role: IAM does not allow inline "
            "policies on it, so its sessions cannot be revoked; contain through the owning service",
            containment=True,
            manual=f"aws iam get-role --role-name {shlex.quote(name)}  # find the service that owns it",
        )
    # The responder's own roles by their exact ARNs (known at synth), never by a path: anyone who may create
    # roles can create one under the responder's path, and such a role must still be contained.
    if role.get("Arn") in own_role_arns:
        return step(
            REVOKE,
            Status.SKIPPED,
            name,
            f"{name} is one of the responder's own roles ({role['Arn']}) and is never touched automatically",
            containment=True,
            manual=_put_command(name, OLDER_SESSIONS_POLICY, older_sessions_policy(cutoff_at(None))),
        )
    refusal = principal_guard(role["Arn"], name)
    if refusal:
        return step(REVOKE, Status.SKIPPED, name, refusal.detail, containment=True, manual=refusal.manual)
    return None


def _session_of(policy: Mapping[str, Any] | None) -> str | None:
    return condition_value(policy, "StringEquals", "aws:userid") or condition_value(policy, "StringLike", "aws:userid")


def _put_command(role_name: str, policy_name: str, policy: Mapping[str, Any]) -> str:
    return (
        f"aws iam put-role-policy --role-name {shlex.quote(role_name)} --policy-name {shlex.quote(policy_name)} "
        f"--policy-document {shlex.quote(json.dumps(policy, separators=(',', ':')))}"
    )
