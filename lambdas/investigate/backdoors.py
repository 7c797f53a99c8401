"""Back doors the compromised credential left: the IAM users, roles and access keys the look-up shows it
created, the exposed user's other access keys, and the deactivation of the attacker's new keys.

Takes an IAM client; no other AWS calls. Rules, in order of importance:
- never touch the key the incident is about (containment deactivates it, and undoing that is its business);
- deactivate only keys the look-up attributes to the compromised credential (a successful CreateAccessKey
  it made); deactivate, never delete: the key stays as evidence and one command re-enables it;
- keys nobody can attribute (made before the exposure, or after it but not in CloudTrail yet) are reported
  only: the second pass, after CloudTrail has caught up, attributes the late ones;
- keys an exempted principal created (an automation user whose job is creating keys) are reported only:
  an exemption means the responder does not undo what that principal does;
- keys the workload itself created with its own instance session (from the instance's own addresses) are
  reported only: EC2 gives every session of an instance the same name, so the look-up by instance id finds
  the workload's calls too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from shlex import quote as shell_quote
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from common.aws import error_code
from common.steps import Status, StepResult, step

DEACTIVATE_STEP = "deactivate-backdoor-key"
SWEEP_STEP = "sweep-backdoor-keys"


def console_host(region: str) -> str:
    if region.startswith("us-gov-"):
        return "console.amazonaws-us-gov.com"
    if region.startswith("cn-"):
        return "console.amazonaws.cn"
    return "console.aws.amazon.com"


def _iam_link(host: str, kind: str, name: str, section: str = "") -> str:
    return f"https://{host}/iam/home#/{kind}/details/{quote(name, safe='')}{section}"


def created_entities(persistence_calls: list[dict[str, Any]], region: str) -> list[dict[str, Any]]:
    """The IAM users, roles, access keys and console passwords that succeeded, each with a console link."""
    host = console_host(region)
    entities: list[dict[str, Any]] = []
    for call in persistence_calls:
        created, name = call.get("created") or {}, call.get("event_name")
        if not call.get("succeeded"):
            continue
        user, role = created.get("user"), created.get("role")
        if name == "CreateUser" and user:
            entities.append({"type": "iam-user", "name": user, "console": _iam_link(host, "users", user)})
        elif name == "CreateRole" and role:
            entities.append({"type": "iam-role", "name": role, "console": _iam_link(host, "roles", role)})
        elif name in ("CreateAccessKey", "CreateLoginProfile") and user:
            entity = {"type": "access-key" if name == "CreateAccessKey" else "console-password", "user": user}
            if created.get("access_key_id"):
                entity["access_key_id"] = created["access_key_id"]
            entity["console"] = _iam_link(host, "users", user, "?section=security_credentials")
            entities.append(entity)
    return entities


def attacker_keys(persistence_calls: list[dict[str, Any]], incident_keys: set[str]) -> list[dict[str, Any]]:
    """Access keys a successful CreateAccessKey of the compromised credential made, once each."""
    keys: dict[str, dict[str, Any]] = {}
    for call in persistence_calls:
        created = call.get("created") or {}
        key_id, user = created.get("access_key_id"), created.get("user")
        if call.get("event_name") != "CreateAccessKey" or not call.get("succeeded") or not key_id or not user:
            continue
        if key_id in incident_keys:  # cannot happen in a real trail; the rule holds anyway
            continue
        keys.setdefault(key_id, {**call, "access_key_id": key_id, "user": user})
    return list(keys.values())


Guard = Callable[[str, str], Any]  # common.guards.principal_guard: (arn, name) -> Refusal | None


def held_back(key: dict[str, Any], guard: Guard) -> str | None:
    """Why a key the compromised credential's session created must NOT be deactivated, or None."""
    if key.get("source") == "workload":
        return (
            f"created from the instance's own address {key.get('source_ip')}: the workload's own key "
            "(same instance session), reported, not deactivated"
        )
    caller = key.get("caller") or {}
    refusal = guard(caller["arn"], caller.get("name") or "") if caller.get("arn") else None
    if refusal is not None:
        return f"created by {caller['arn']}: {refusal.detail}; reported, not deactivated"
    return None


def report_key(key: dict[str, Any], reason: str) -> StepResult:
    """A key left as it is, on purpose: reported with the command to deactivate it if that was wrong."""
    key_id, user = key["access_key_id"], key["user"]
    manual = (
        f"aws iam update-access-key --user-name {shell_quote(user)} --access-key-id {shell_quote(key_id)}"
        " --status Inactive"
    )
    detail = f"{reason}; user {user}; created at {key.get('time')}"
    return step(DEACTIVATE_STEP, Status.SKIPPED, key_id, detail, manual=manual, data={"user": user, "reason": reason})


def key_owner(iam: Any, access_key_id: str) -> str | None:
    """The IAM user of a long-term key, when the event did not name it (classic Health events)."""
    try:
        return iam.get_access_key_last_used(AccessKeyId=access_key_id).get("UserName")
    except ClientError:
        return None


def _user_keys(iam: Any, user: str) -> list[dict[str, Any]]:
    # A user has at most two access keys: one page always holds them all.
    return iam.list_access_keys(UserName=user)["AccessKeyMetadata"]


def sweep_user_keys(
    iam: Any, user: str, *, incident_keys: set[str], exposed_at: datetime, attacker_key_ids: set[str]
) -> list[dict[str, Any]]:
    """The user's access keys, each marked: the incident's own, created after the exposure, created by
    the attacker (per the look-up). Raises ClientError (the caller reports it as a failed step)."""
    report = []
    for key in _user_keys(iam, user):
        created = key["CreateDate"]
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        report.append(
            {
                "access_key_id": key["AccessKeyId"],
                "status": key["Status"],
                "created": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "is_incident_key": key["AccessKeyId"] in incident_keys,
                "created_after_exposure": created >= exposed_at,
                "created_by_attacker": key["AccessKeyId"] in attacker_key_ids,
            }
        )
    return report


def sweep_step(user: str, keys: list[dict[str, Any]]) -> StepResult:
    others = [key for key in keys if not key["is_incident_key"]]
    notes = []
    for key in others:
        if key["created_by_attacker"]:
            notes.append(f"{key['access_key_id']} created by the compromised key")
        elif key["created_after_exposure"]:
            notes.append(f"{key['access_key_id']} created after the exposure, not (yet) in CloudTrail: check it")
        else:
            notes.append(f"{key['access_key_id']} older than the exposure, left alone")
    detail = f"{user}: {len(others)} other access key(s)" + (f"; {'; '.join(notes)}" if notes else "")
    return step(SWEEP_STEP, Status.DONE, user, detail, data={"user": user, "keys": keys})


def deactivate_key(
    iam: Any, key: dict[str, Any], *, enabled: bool, exposed_at: datetime, dry_run: bool = False
) -> StepResult:
    """Deactivate one attacker key and read it back. Idempotent: an Inactive or deleted key is
    already-done, so the second pass can run this again."""
    key_id, user = key["access_key_id"], key["user"]
    names = f"--user-name {shell_quote(user)} --access-key-id {shell_quote(key_id)}"
    undo = f"aws iam update-access-key {names} --status Active"
    manual = f"aws iam update-access-key {names} --status Inactive"
    origin = f"user {user}; created by {key.get('caller_key') or 'the compromised credential'} at {key.get('time')}"
    if key.get("time") and key["time"] < exposed_at.strftime("%Y-%m-%dT%H:%M:%SZ"):
        origin += " (before the first sighting: check it was not the owner)"
    if key.get("source") == "attacker":
        origin += f", from {key.get('source_ip')}: the finding's remote caller"
    elif key.get("source") == "unknown":
        origin += f", from {key.get('source_ip')}: not one of the instance's own addresses"

    def result(status: Status, detail: str, **extra: Any) -> StepResult:
        return step(DEACTIVATE_STEP, status, key_id, f"{detail}; {origin}", containment=True, **extra)

    if not enabled:
        return result(Status.SKIPPED, "DEACTIVATE_BACKDOOR_KEYS is off: key left as it is", manual=manual)
    if dry_run:
        return result(Status.SKIPPED, "dry-run: would set the key Inactive", manual=manual)
    try:
        before = {k["AccessKeyId"]: k["Status"] for k in _user_keys(iam, user)}.get(key_id)
        if before is None:
            return result(Status.ALREADY_DONE, "key no longer exists")
        if before == "Inactive":
            return result(Status.ALREADY_DONE, "key was already Inactive", undo=undo)
        iam.update_access_key(UserName=user, AccessKeyId=key_id, Status="Inactive")
        after = {k["AccessKeyId"]: k["Status"] for k in _user_keys(iam, user)}.get(key_id)
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return result(Status.ALREADY_DONE, "user or key no longer exists")
        return result(Status.FAILED, f"{error_code(exc)}: {exc}", manual=manual)
    if after != "Inactive":
        return result(Status.FAILED, f"update sent but the key reads back {after}", manual=manual)
    return result(Status.DONE, "key is Inactive (read back)", undo=undo)
