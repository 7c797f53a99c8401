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

import importlib
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from common.action import by_step
from common.release import ReleaseError, Reversal, argument, data, tolerate_missing
from common.times import iso_now
from contain_key.actions import DEACTIVATE, FALLBACK_POLICY_NAME, OLDER_SESSIONS_POLICY, QUARANTINE, USER_SESSIONS
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
from record.finish import record_release
from record.item import PREFIX, load, record_key
from revoke_sessions.actions import REVOKE

# The declared actions are reversed first, each in its declaration's release order and its own steps in the
# reverse of the order it made them (common.action). Then the credential's own containment, then the evictions
# (nothing they did deleted anything but a password the attacker made: each is a policy to delete or a key
# to set Active again).
CORE_ORDER = [REVOKE, USER_SESSIONS, QUARANTINE, DEACTIVATE, BACKDOOR_KEY]
CORE_ORDER += [MINTED, EVICT_USER, HOLD_USER, QUARANTINE_ROLE, QUARANTINE_TRUST, RESTORE_TRUST, REMOVE_LOGIN_PROFILE]


def release_order(step: Mapping[str, Any]) -> tuple[int, int]:
    action = by_step(step["name"])
    if action is not None:
        return (action.release_order, -action.steps.index(step["name"]))
    if step["name"] in CORE_ORDER:
        return (100 + CORE_ORDER.index(step["name"]), 0)
    return (1000, 0)


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
    clients = {"iam": iam, "ec2": ec2, "autoscaling": autoscaling, "elbv2": elbv2, "elb": elb}
    for step in sorted(steps, key=release_order):
        name, status, target = step["name"], step["status"], step.get("target", "?")
        if status != "done":
            if step.get("undo") and status == "already-done":
                notes.append(f"{name} {target}: left as is, the responder found it already so ({step.get('detail')})")
            continue
        action = by_step(name)
        if action is not None and action.undo:
            undo = importlib.import_module(action.undo).reversals(step, clients)
            reversals += undo.reversals
            notes += undo.notes
        elif name in (DEACTIVATE, BACKDOOR_KEY):
            reversals.append(_reactivate_key(iam, step))
        elif name == QUARANTINE:
            reversals.append(_unquarantine(iam, step))
        elif name == REVOKE:
            reversals.append(_delete_revoke_policy(iam, step))
        elif name == USER_SESSIONS:
            reversals.append(_delete_user_sessions_policy(iam, step))
        elif name in (EVICT_USER, HOLD_USER):
            reversals.append(_release_user(iam, step))
        elif name in (QUARANTINE_ROLE, QUARANTINE_TRUST, RESTORE_TRUST) or (name == MINTED and data(step).get("role")):
            if data(step).get("policies"):
                reversals.append(_release_principal(iam, "role", step))
            if name == QUARANTINE_TRUST:
                notes.append(
                    f"{name} {target}: the trust policy stays as the attacker left it; restoring it is a "
                    "person's decision"
                )
            if name == RESTORE_TRUST and data(step).get("trust_restored"):
                notes.append(
                    f"{name} {target}: the trust AWS Config recorded before the rewrite stays; the rewritten "
                    "document is kept in the eviction evidence, to put back by hand if the rewrite was the "
                    f"owner's: {step.get('undo')}"
                )
        elif name in (MINTED, REMOVE_LOGIN_PROFILE):
            if data(step).get("policies"):
                reversals.append(_release_principal(iam, "user", step))
            if name == REMOVE_LOGIN_PROFILE and data(step).get("password_removed"):
                user = data(step).get("user") or target
                notes.append(
                    f"{name} {target}: the console password the attacker created is not put back (the user had none "
                    f"before it); to give {user} one: aws iam create-login-profile --user-name "
                    f"{shlex.quote(str(user))} --password-reset-required --password NEW_PASSWORD"
                )
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
    entry = {"at": iso_now(now), "what": what}
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
    user = data(step).get("user_name") or argument(step, "--user-name")

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
    policy_arn = data(step).get("policy_arn") or argument(step, "--policy-arn")

    def detach() -> str:
        tolerate_missing(lambda: iam.detach_user_policy(UserName=user, PolicyArn=policy_arn))
        attached = [
            policy["PolicyArn"]
            for page in iam.get_paginator("list_attached_user_policies").paginate(UserName=user)
            for policy in page["AttachedPolicies"]
        ]
        if policy_arn in attached:
            raise ReleaseError(f"{policy_arn} still reads back as attached to {user}")
        return f"{policy_arn} is not attached to {user} (read back)"

    def delete_inline() -> str:
        tolerate_missing(lambda: iam.delete_user_policy(UserName=user, PolicyName=FALLBACK_POLICY_NAME))
        if FALLBACK_POLICY_NAME in iam.list_user_policies(UserName=user)["PolicyNames"]:
            raise ReleaseError(f"inline {FALLBACK_POLICY_NAME} still reads back on {user}")
        return f"inline {FALLBACK_POLICY_NAME} is gone from {user} (read back)"

    if policy_arn and data(step).get("planted_policy"):
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
    role = data(step).get("role_name") or step["target"]
    policy = data(step).get("policy_name") or argument(step, "--policy-name")

    def run() -> str:
        tolerate_missing(lambda: iam.delete_role_policy(RoleName=role, PolicyName=policy))
        if policy in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            raise ReleaseError(f"{policy} still reads back on role {role}")
        return f"{policy} is gone from role {role} (read back)"

    return Reversal(step["name"], role, f"delete the inline policy {policy} of role {role} (sessions work again)", run)


def _delete_user_sessions_policy(iam: Any, step: Mapping[str, Any]) -> Reversal:
    user = data(step).get("user_name") or step["target"]
    policy = data(step).get("policy_name") or argument(step, "--policy-name") or OLDER_SESSIONS_POLICY

    def run() -> str:
        tolerate_missing(lambda: iam.delete_user_policy(UserName=user, PolicyName=policy))
        if policy in iam.list_user_policies(UserName=user)["PolicyNames"]:
            raise ReleaseError(f"{policy} still reads back on user {user}")
        return f"{policy} is gone from user {user} (read back)"

    return Reversal(
        step["name"],
        user,
        f"delete the inline policy {policy} of user {user} (its sessions issued before the cut-off work again)",
        run,
    )


def _release_user(iam: Any, step: Mapping[str, Any]) -> Reversal:
    user = data(step).get("user") or step["target"]
    legacy = data(step).get("policy_name")  # records written before the cut-off joined the deny-all
    policies = list(data(step).get("policies") or ([legacy] if legacy else []))
    keys = list(data(step).get("deactivated_keys") or [])

    def run() -> str:
        for policy in policies:
            tolerate_missing(lambda policy=policy: iam.delete_user_policy(UserName=user, PolicyName=policy))
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
    name = str(data(step).get(kind) or step["target"])
    policies = list(data(step).get("policies") or [])

    def run() -> str:
        for policy in policies:
            if kind == "role":
                tolerate_missing(lambda policy=policy: iam.delete_role_policy(RoleName=name, PolicyName=policy))
            else:
                tolerate_missing(lambda policy=policy: iam.delete_user_policy(UserName=name, PolicyName=policy))
        listed = (iam.list_role_policies(RoleName=name) if kind == "role" else iam.list_user_policies(UserName=name))[
            "PolicyNames"
        ]
        left = set(policies) & set(listed)
        if left:
            raise ReleaseError(f"{', '.join(sorted(left))} still read back on {kind} {name}")
        return f"{kind} {name}: {', '.join(policies)} gone (read back)"

    return Reversal(step["name"], name, f"let {kind} {name} go: delete {', '.join(policies)}", run)
