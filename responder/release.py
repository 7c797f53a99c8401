"""Release an incident after a false alarm: reverse what the responder changed, one confirmed step
at a time, each made with boto3 and read back, each recorded on the incident's timeline.

Any id a report prints works: the incident's own, or that of a finding that joined it (its alias
item names the record). Every response of the incident since its last release is walked (the
first, re-runs, re-containments, joined findings': record.responses.release_steps), the first
`done` of each step kept, since it recorded the state before the responder changed anything. The
release itself is then appended to the record as a response of its own, and the record's status
becomes `released` when every reversal was made and read back.

Only steps with status "done" are reversed: "already-done" found the state that way (the
responder did not make it), "skipped" and "failed" changed nothing, or left a fix to a human.
The evidence image is kept: deleting evidence is a decision for a person, not for an undo.
The recorded `undo` strings are never executed; a few values are only recorded there (the
quarantine policy ARN, the shutdown behaviour before), so they are read from them as arguments.
The instance steps read only their step `data`, which the Report stored in the incident record:
never a tag on the instance, which whoever holds the instance may have written.

Re-associating the instance profile needs iam:PassRole on its role, with the operator's own
credentials (the responder's functions never hold it).

    record_id, record = resolve(dynamodb, table, any_id_a_report_prints)
    reversals, notes = plan(release_steps(record, s3), iam=..., ec2=..., ...)  # incident region
    outcomes = release(reversals, confirm=ask, record=lambda what: record_timeline(...))
    mark_released(dynamodb, table, record_id, record, outcomes, notes)
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from common.aws import error_code
from contain_key.actions import DEACTIVATE, FALLBACK_POLICY_NAME, OLDER_SESSIONS_POLICY, QUARANTINE, USER_SESSIONS
from cut_off_instance.actions import LOAD_BALANCERS, PROFILE, associated_profiles, target_description
from evict.actions import (
    BACKDOOR_KEY,
    EVICT_USER,
    HOLD_USER,
    MINTED,
    QUARANTINE_ROLE,
    QUARANTINE_TRUST,
    REMOVE_LOGIN_PROFILE,
    RESTORE_TRUST,
)
from isolate_instance.actions import GROUP_ID, ISOLATE, ORIGINAL_TAG
from preserve_evidence.actions import AUTOSCALING, IMAGE, PROTECT
from record.finish import record_release
from record.item import PREFIX, load, record_key
from revoke_sessions.actions import REVOKE

# Network first, so that the instance passes its health checks when it rejoins its load balancers
# and its group; the profile before the load balancers, so it serves with its credentials; the
# protection last of the instance steps, so it is never terminable while still detached.
ORDER = [ISOLATE, PROFILE, LOAD_BALANCERS, AUTOSCALING, PROTECT, REVOKE, USER_SESSIONS, QUARANTINE, DEACTIVATE]
ORDER += [BACKDOOR_KEY]
# Evictions after the incident's own steps (nothing they did deleted anything but a password the attacker
# made: each is a policy to delete or a key to set Active again).
ORDER += [MINTED, EVICT_USER, HOLD_USER, QUARANTINE_ROLE, QUARANTINE_TRUST, RESTORE_TRUST, REMOVE_LOGIN_PROFILE]


class ReleaseError(Exception):
    """A reversal was made but does not read back as expected, or cannot be made."""


@dataclass(frozen=True)
class Reversal:
    step: str
    target: str
    what: str
    run: Callable[[], str]  # makes the change, reads it back, returns what it read; raises on a mismatch


@dataclass(frozen=True)
class Outcome:
    reversal: Reversal
    status: str  # "released" | "declined" | "failed"
    detail: str


def plan(
    steps: list[Mapping[str, Any]],
    *,
    iam: Any,
    ec2: Any = None,
    autoscaling: Any = None,
    elbv2: Any = None,
    elb: Any = None,
) -> tuple[list[Reversal], list[str]]:
    """The reversals for the steps that changed something, in ORDER; and notes on the others."""
    reversals: list[Reversal] = []
    notes: list[str] = []
    for step in sorted(steps, key=lambda s: ORDER.index(s["name"]) if s["name"] in ORDER else len(ORDER)):
        name, status, target = step["name"], step["status"], step.get("target", "?")
        if status != "done":
            if step.get("undo") and status == "already-done":
                notes.append(f"{name} {target}: left as is, the responder found it already so ({step.get('detail')})")
            continue
        if name == IMAGE:
            notes.append(
                f"{name} {target}: evidence image {step.get('data', {}).get('image_id')} kept; "
                f"delete it by hand when it is no longer needed: {step.get('undo')}"
            )
        elif name in (DEACTIVATE, BACKDOOR_KEY):
            reversals.append(_reactivate_key(iam, step))
        elif name == QUARANTINE:
            reversals.append(_unquarantine(iam, step))
        elif name == REVOKE:
            reversals.append(_delete_revoke_policy(iam, step))
        elif name == USER_SESSIONS:
            reversals.append(_delete_user_sessions_policy(iam, step))
        elif name in (PROTECT, AUTOSCALING, ISOLATE, PROFILE, LOAD_BALANCERS) and ec2 is None:
            notes.append(
                f"{name} {target}: not reversed, the incident's region is unknown; by hand: {step.get('undo')}"
            )
        elif name == PROTECT:
            reversal = _unprotect(ec2, step)
            if reversal:
                reversals.append(reversal)
        elif name == AUTOSCALING:
            reversals.append(_reattach(autoscaling, step))
        elif name == ISOLATE:
            reversals.append(_restore_groups(ec2, step))
        elif name in (EVICT_USER, HOLD_USER):
            reversals.append(_release_user(iam, step))
        elif name in (QUARANTINE_ROLE, QUARANTINE_TRUST, RESTORE_TRUST) or (name == MINTED and _data(step).get("role")):
            if _data(step).get("policies"):
                reversals.append(_release_principal(iam, "role", step))
            if name == QUARANTINE_TRUST:
                notes.append(
                    f"{name} {target}: the trust policy stays as the attacker left it; restoring it is a "
                    "person's decision"
                )
            if name == RESTORE_TRUST and _data(step).get("trust_restored"):
                notes.append(
                    f"{name} {target}: the trust AWS Config recorded before the rewrite stays; the rewritten "
                    "document is kept in the eviction evidence, to put back by hand if the rewrite was the "
                    f"owner's: {step.get('undo')}"
                )
        elif name in (MINTED, REMOVE_LOGIN_PROFILE):
            if _data(step).get("policies"):
                reversals.append(_release_principal(iam, "user", step))
            if name == REMOVE_LOGIN_PROFILE and _data(step).get("password_removed"):
                user = _data(step).get("user") or target
                notes.append(
                    f"{name} {target}: the console password the attacker created is not put back (the user had none "
                    f"before it); to give {user} one: aws iam create-login-profile --user-name "
                    f"{shlex.quote(str(user))} --password-reset-required --password NEW_PASSWORD"
                )
        elif name == PROFILE:
            reversals.append(_reassociate_profile(ec2, step))
        elif name == LOAD_BALANCERS:
            reversals.append(_reregister(elbv2, elb, step))
        elif step.get("undo"):
            notes.append(f"{name} {target}: no automatic reversal; by hand: {step['undo']}")
    return reversals, notes


def release(
    reversals: list[Reversal], *, confirm: Callable[[Reversal], bool], record: Callable[[str], None]
) -> list[Outcome]:
    """Run each confirmed reversal and record it; one failing does not stop the next."""
    outcomes = []
    for reversal in reversals:
        if not confirm(reversal):
            outcomes.append(Outcome(reversal, "declined", "left as it is"))
            continue
        try:
            outcome = Outcome(reversal, "released", reversal.run())
        except (ReleaseError, ClientError, BotoCoreError) as exc:
            outcome = Outcome(reversal, "failed", str(exc))
        record(
            f"{'released' if outcome.status == 'released' else 'release failed'}: {reversal.what} ({outcome.detail})"
        )
        outcomes.append(outcome)
    return outcomes


# --- the incident record ----------------------------------------------------------------------


def resolve(dynamodb: Any, table: str, incident_id: str) -> tuple[str, dict[str, Any]]:
    """The record an id a report prints leads to, and its id: the incident's own id, or the id of a
    finding that joined it (its alias item names the record), with or without the table's prefix."""
    wanted = incident_id.strip().removeprefix(PREFIX)
    record = load(dynamodb, table, wanted)
    if record is None:
        raise ReleaseError(
            f"no incident {incident_id} in table {table}: check the id against the report's Incident, "
            "and that --region and --stack name the home stack that handled it"
        )
    if record.get("alias_of"):
        joined, wanted = wanted, str(record["alias_of"])
        record = load(dynamodb, table, wanted)
        if record is None:
            raise ReleaseError(f"{joined} joined incident {wanted}, which is not in table {table}")
    return wanted, record


def load_incident(dynamodb: Any, table: str, incident_id: str) -> dict[str, Any]:
    return resolve(dynamodb, table, incident_id)[1]


def mark_released(
    dynamodb: Any,
    table: str,
    incident_id: str,
    record: dict[str, Any],
    outcomes: list[Outcome],
    notes: list[str],
    *,
    by: str = "",
    now: datetime | None = None,
) -> str:
    """Append the release to the record as a response of its own; `released` when every reversal
    was made and read back (then the record's status is `released`), else `partial`/`failed`."""
    reversals = [
        {"step": o.reversal.step, "target": o.reversal.target, "what": o.reversal.what, "status": o.status,
         "detail": o.detail}
        for o in outcomes
    ]  # fmt: skip
    return record_release(dynamodb, table, incident_id, reversals=reversals, notes=notes, record=record, by=by, now=now)


def record_timeline(dynamodb: Any, table: str, incident_id: str, what: str, *, now: datetime | None = None) -> None:
    entry = {"at": (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"), "what": what}
    dynamodb.update_item(
        TableName=table,
        Key=record_key(incident_id),
        UpdateExpression="SET timeline = list_append(if_not_exists(timeline, :empty), :entry)",
        ConditionExpression="attribute_exists(id)",  # never create a stray record for a mistyped id
        ExpressionAttributeValues={":empty": {"L": []}, ":entry": TypeSerializer().serialize([entry])},
    )


# --- one reversal per kind of step ------------------------------------------------------------


def _reactivate_key(iam: Any, step: Mapping[str, Any]) -> Reversal:
    key_id = step["target"]
    user = _data(step).get("user_name") or _argument(step, "--user-name")

    def run() -> str:
        owner = user or str(iam.get_access_key_last_used(AccessKeyId=key_id)["UserName"])
        iam.update_access_key(UserName=owner, AccessKeyId=key_id, Status="Active")
        status = next(
            (
                key["Status"]
                for page in iam.get_paginator("list_access_keys").paginate(UserName=owner)
                for key in page["AccessKeyMetadata"]
                if key["AccessKeyId"] == key_id
            ),
            "absent",
        )
        if status != "Active":
            raise ReleaseError(f"key {key_id} reads back as {status}")
        return f"key {key_id} of {owner} is Active (read back)"

    why = " (deactivated as a possible backdoor)" if step["name"] == BACKDOOR_KEY else ""
    return Reversal(step["name"], key_id, f"re-activate access key {key_id} of {user or 'its owner'}{why}", run)


def _unquarantine(iam: Any, step: Mapping[str, Any]) -> Reversal:
    user = step["target"]
    policy_arn = _data(step).get("policy_arn") or _argument(step, "--policy-arn")

    def detach() -> str:
        _tolerate_missing(lambda: iam.detach_user_policy(UserName=user, PolicyArn=policy_arn))
        attached = [
            policy["PolicyArn"]
            for page in iam.get_paginator("list_attached_user_policies").paginate(UserName=user)
            for policy in page["AttachedPolicies"]
        ]
        if policy_arn in attached:
            raise ReleaseError(f"{policy_arn} still reads back as attached to {user}")
        return f"{policy_arn} is not attached to {user} (read back)"

    def delete_inline() -> str:
        _tolerate_missing(lambda: iam.delete_user_policy(UserName=user, PolicyName=FALLBACK_POLICY_NAME))
        if FALLBACK_POLICY_NAME in iam.list_user_policies(UserName=user)["PolicyNames"]:
            raise ReleaseError(f"inline {FALLBACK_POLICY_NAME} still reads back on {user}")
        return f"inline {FALLBACK_POLICY_NAME} is gone from {user} (read back)"

    if policy_arn and _data(step).get("planted_policy"):
        # The attacker planted a policy under the responder's name before containment; the responder wrote its
        # deny over it. The state before the attacker had neither: both go.
        def both() -> str:
            return f"{detach()}; {delete_inline()}"

        what = f"detach {policy_arn} and delete the inline {FALLBACK_POLICY_NAME} of user {user}"
        return Reversal(step["name"], user, what, both)
    if policy_arn:
        return Reversal(step["name"], user, f"detach {policy_arn} from user {user}", detach)
    return Reversal(
        step["name"], user, f"delete the inline policy {FALLBACK_POLICY_NAME} of user {user}", delete_inline
    )


def _delete_revoke_policy(iam: Any, step: Mapping[str, Any]) -> Reversal:
    role = _data(step).get("role_name") or step["target"]
    policy = _data(step).get("policy_name") or _argument(step, "--policy-name")

    def run() -> str:
        _tolerate_missing(lambda: iam.delete_role_policy(RoleName=role, PolicyName=policy))
        if policy in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            raise ReleaseError(f"{policy} still reads back on role {role}")
        return f"{policy} is gone from role {role} (read back)"

    return Reversal(step["name"], role, f"delete the inline policy {policy} of role {role} (sessions work again)", run)


def _delete_user_sessions_policy(iam: Any, step: Mapping[str, Any]) -> Reversal:
    user = _data(step).get("user_name") or step["target"]
    policy = _data(step).get("policy_name") or _argument(step, "--policy-name") or OLDER_SESSIONS_POLICY

    def run() -> str:
        _tolerate_missing(lambda: iam.delete_user_policy(UserName=user, PolicyName=policy))
        if policy in iam.list_user_policies(UserName=user)["PolicyNames"]:
            raise ReleaseError(f"{policy} still reads back on user {user}")
        return f"{policy} is gone from user {user} (read back)"

    return Reversal(
        step["name"],
        user,
        f"delete the inline policy {policy} of user {user} (its sessions issued before the cut-off work again)",
        run,
    )


def _unprotect(ec2: Any, step: Mapping[str, Any]) -> Reversal | None:
    instance_id = step["target"]
    # Only what the responder changed, as its step data records it (older records: their undo command).
    data = _data(step)
    if "termination_protection_was_off" in data:
        termination_was_off = bool(data["termination_protection_was_off"])
        shutdown = data.get("shutdown_behavior_before")
    else:
        termination_was_off = "--no-disable-api-termination" in _words(step)
        shutdown = _argument(step, "--instance-initiated-shutdown-behavior")
    if not termination_was_off and not shutdown:
        return None
    changes = (["turn termination protection off"] if termination_was_off else []) + (
        [f"set shutdown behaviour back to '{shutdown}'"] if shutdown else []
    )

    def run() -> str:
        if termination_was_off:
            ec2.modify_instance_attribute(InstanceId=instance_id, DisableApiTermination={"Value": False})
        if shutdown:
            ec2.modify_instance_attribute(InstanceId=instance_id, InstanceInitiatedShutdownBehavior={"Value": shutdown})
        termination = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="disableApiTermination")
        behaviour = ec2.describe_instance_attribute(
            InstanceId=instance_id, Attribute="instanceInitiatedShutdownBehavior"
        )
        now = (termination["DisableApiTermination"]["Value"], behaviour["InstanceInitiatedShutdownBehavior"]["Value"])
        if (termination_was_off and now[0]) or (shutdown and now[1] != shutdown):
            raise ReleaseError(f"{instance_id} reads back as termination protection={now[0]}, shutdown={now[1]}")
        return f"{instance_id}: termination protection={now[0]}, shutdown behaviour '{now[1]}' (read back)"

    return Reversal(step["name"], instance_id, f"{instance_id}: {' and '.join(changes)}", run)


def _reattach(autoscaling: Any, step: Mapping[str, Any]) -> Reversal:
    instance_id, group = step["target"], _data(step).get("auto_scaling_group")

    def run() -> str:
        autoscaling.attach_instances(InstanceIds=[instance_id], AutoScalingGroupName=group)
        found = autoscaling.describe_auto_scaling_instances(InstanceIds=[instance_id])["AutoScalingInstances"]
        if not found or found[0]["AutoScalingGroupName"] != group:
            raise ReleaseError(f"{instance_id} does not read back as a member of {group}")
        return f"{instance_id} is {found[0]['LifecycleState']} in {group} (read back)"

    return Reversal(
        step["name"],
        instance_id,
        f"re-attach {instance_id} to Auto Scaling group {group} (its "
        "desired capacity grows by one: the group launched a replacement when it was detached)",
        run,
    )


def _restore_groups(ec2: Any, step: Mapping[str, Any]) -> Reversal:
    """The groups recorded in the step's data (the incident record), onto the instance's own interfaces.

    The prompt names exactly what `run` applies: the same dictionary. An interface that is no longer
    attached to the instance, or a group id that is not one, is left out, and the prompt says so."""
    instance_id = step["target"]
    recorded = _data(step).get("original_groups") or {}
    restore: dict[str, list[str]] = {}
    refused: list[str] = []
    for eni, groups in sorted(recorded.items()) if isinstance(recorded, dict) else []:
        valid = [g for g in groups if isinstance(g, str) and GROUP_ID.fullmatch(g)] if isinstance(groups, list) else []
        if valid and len(valid) == len(groups):
            restore[str(eni)] = valid
        else:
            refused.append(f"{eni} (no valid original groups recorded)")

    def run() -> str:
        reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        instance = reservations[0]["Instances"][0] if reservations and reservations[0]["Instances"] else {}
        attached = {eni["NetworkInterfaceId"] for eni in instance.get("NetworkInterfaces", [])}
        foreign = sorted(set(restore) - attached)
        if foreign:
            # Never change an interface that is not this instance's, whatever the record says.
            raise ReleaseError(f"{', '.join(foreign)} not attached to {instance_id} now; nothing changed")
        if not restore:
            raise ReleaseError(f"no original security groups recorded for {instance_id}")
        for eni, groups in sorted(restore.items()):
            ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=groups)
        interfaces = ec2.describe_network_interfaces(NetworkInterfaceIds=sorted(restore))["NetworkInterfaces"]
        now = {i["NetworkInterfaceId"]: sorted(g["GroupId"] for g in i["Groups"]) for i in interfaces}
        wrong = [eni for eni, groups in restore.items() if now.get(eni) != sorted(groups)]
        if wrong:
            raise ReleaseError("read back: " + "; ".join(f"{eni} has {now.get(eni)}" for eni in wrong))
        # The instance's copy of the record goes too: a later incident records the groups of that day.
        tags = [tag["Key"] for tag in instance.get("Tags", []) if tag["Key"].startswith(ORIGINAL_TAG)]
        if tags:
            ec2.delete_tags(Resources=[instance_id], Tags=[{"Key": key} for key in tags])
        return "; ".join(f"{eni}: {', '.join(groups)}" for eni, groups in sorted(now.items())) + " (read back)"

    described = "; ".join(f"{eni} -> {', '.join(groups)}" for eni, groups in sorted(restore.items()))
    left_out = f"; left as they are: {', '.join(refused)}" if refused else ""
    return Reversal(
        step["name"],
        instance_id,
        f"restore the security groups of {instance_id}'s own interfaces: {described or 'none recorded'}{left_out}",
        run,
    )


def _reassociate_profile(ec2: Any, step: Mapping[str, Any]) -> Reversal:
    instance_id, arn = step["target"], _data(step).get("instance_profile_arn")

    def run() -> str:
        if not arn:
            raise ReleaseError(f"no instance profile recorded for {instance_id}")
        current = associated_profiles(ec2, instance_id)
        if not current:
            ec2.associate_iam_instance_profile(InstanceId=instance_id, IamInstanceProfile={"Arn": arn})
            current = associated_profiles(ec2, instance_id)
        if not current or current[0]["IamInstanceProfile"]["Arn"] != arn:
            found = current[0]["IamInstanceProfile"]["Arn"] if current else "none"
            raise ReleaseError(f"{instance_id} reads back with instance profile {found}, expected {arn}")
        return f"{instance_id} has instance profile {arn} ({current[0]['State']}, read back)"

    return Reversal(
        step["name"],
        instance_id,
        f"re-associate instance profile {arn} with {instance_id} (needs iam:PassRole on its role)",
        run,
    )


def _reregister(elbv2: Any, elb: Any, step: Mapping[str, Any]) -> Reversal:
    instance_id = step["target"]
    targets = [t for t in _data(step).get("target_groups") or [] if isinstance(t, dict) and t.get("target_group_arn")]
    classic = [str(name) for name in _data(step).get("classic_load_balancers") or []]

    def run() -> str:
        if elbv2 is None or elb is None:
            raise ReleaseError("no Elastic Load Balancing client for the incident's region")
        done = []
        for target in targets:
            description = target_description(target)
            elbv2.register_targets(TargetGroupArn=target["target_group_arn"], Targets=[description])
            health = elbv2.describe_target_health(TargetGroupArn=target["target_group_arn"], Targets=[description])
            states = [d.get("TargetHealth", {}).get("State") for d in health["TargetHealthDescriptions"]]
            if not states or "draining" in states:
                raise ReleaseError(f"{target['id']} reads back as {states or 'absent'} in {target['target_group_arn']}")
            done.append(f"{target['target_group_arn']} ({', '.join(map(str, states))})")
        for name in classic:
            elb.register_instances_with_load_balancer(LoadBalancerName=name, Instances=[{"InstanceId": instance_id}])
            members = elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"][0]["Instances"]
            if instance_id not in {m["InstanceId"] for m in members}:
                raise ReleaseError(f"{instance_id} does not read back as a member of {name}")
            done.append(name)
        return f"{instance_id} registered again in {', '.join(done)} (read back)"

    where = [f"target group {t['target_group_arn']} as {t.get('id')}:{t.get('port')}" for t in targets] + [
        f"Classic Load Balancer {name}" for name in classic
    ]
    return Reversal(step["name"], instance_id, f"register {instance_id} again in {'; '.join(where)}", run)


def _release_user(iam: Any, step: Mapping[str, Any]) -> Reversal:
    user = _data(step).get("user") or step["target"]
    legacy = _data(step).get("policy_name")  # records written before the cut-off joined the deny-all
    policies = list(_data(step).get("policies") or ([legacy] if legacy else []))
    keys = list(_data(step).get("deactivated_keys") or [])

    def run() -> str:
        for policy in policies:
            _tolerate_missing(lambda policy=policy: iam.delete_user_policy(UserName=user, PolicyName=policy))
        left = set(policies) & set(iam.list_user_policies(UserName=user)["PolicyNames"])
        if left:
            raise ReleaseError(f"{', '.join(sorted(left))} still read back on user {user}")
        for key in keys:
            iam.update_access_key(UserName=user, AccessKeyId=key, Status="Active")
        status = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}
        inactive = [key for key in keys if status.get(key) != "Active"]
        if inactive:
            raise ReleaseError(f"key(s) {', '.join(inactive)} of {user} do not read back Active")
        return f"user {user}: {', '.join(policies) or 'no policy'} removed, {len(keys)} key(s) Active (read back)"

    what = f"let user {user} go: delete {', '.join(policies) or 'nothing'}, re-activate {', '.join(keys) or 'no key'}"
    return Reversal(step["name"], user, what + " (it was held as the attacker's or on doubt)", run)


def _release_principal(iam: Any, kind: str, step: Mapping[str, Any]) -> Reversal:
    """Delete the policies the responder put on a role or user (its deny-all, its cut-off)."""
    name = str(_data(step).get(kind) or step["target"])
    policies = list(_data(step).get("policies") or [])

    def run() -> str:
        for policy in policies:
            if kind == "role":
                _tolerate_missing(lambda policy=policy: iam.delete_role_policy(RoleName=name, PolicyName=policy))
            else:
                _tolerate_missing(lambda policy=policy: iam.delete_user_policy(UserName=name, PolicyName=policy))
        listed = (iam.list_role_policies(RoleName=name) if kind == "role" else iam.list_user_policies(UserName=name))[
            "PolicyNames"
        ]
        left = set(policies) & set(listed)
        if left:
            raise ReleaseError(f"{', '.join(sorted(left))} still read back on {kind} {name}")
        return f"{kind} {name}: {', '.join(policies)} gone (read back)"

    return Reversal(step["name"], name, f"let {kind} {name} go: delete {', '.join(policies)}", run)


# --- helpers ----------------------------------------------------------------------------------


def _data(step: Mapping[str, Any]) -> Mapping[str, Any]:
    return step.get("data") or {}


def _words(step: Mapping[str, Any]) -> list[str]:
    return shlex.split(step.get("undo") or "")


def _argument(step: Mapping[str, Any], flag: str) -> str | None:
    """The value after `flag` in the step's recorded undo command (read, never run)."""
    words = _words(step)
    return next((words[i + 1] for i, word in enumerate(words[:-1]) if word == flag), None)


def _tolerate_missing(call: Callable[[], Any]) -> None:
    """Already gone is what a reversal wants; the read-back that follows confirms it."""
    try:
        call()
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
