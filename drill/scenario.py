"""Serve CloudTrail's LookupEvents from a scenario file (moto does not implement it).

A scenario object ({"history": [...]}, docs/drill.md) is an account's history: drill.replay stages it, every
record at its own time, made by its own principal. The rest of this docstring is about the older format, a JSON
array of CloudTrail records (or {"Records": [...]}), kept for the public detonation records:

The scenario's records are real, from several detonations with their own keys, users and
invented regions. The drill makes them one consistent story about the staged incident: every
long-term key that an IAM user used becomes the incident's key and its user the staged owner,
times are shifted to start four minutes after the exposure (the real case), invented regions
become the incident's region, and what the records say the attacker created (users, access
keys, admin policies, console passwords, roles and rewritten trust policies) is created in the simulated
account so the responder can find and evict it.
The seam is the investigation's client factory; the product's own code path is unchanged.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from common.times import iso
from drill.account import SimulatedAccount
from drill.cloudtrail_fake import FakeCloudTrailFactory, parse_time
from drill.history import History, HistoryError, is_history, parse_history
from drill.replay import Replay, settle
from drill.staging import Staged
from drill.timeline import exposure_moment

REAL_REGIONS = set(boto3.session.Session().get_available_regions("ec2"))
FIRST_CALL_AFTER_EXPOSURE = timedelta(minutes=4)


def load_records(path: str | Path) -> list[dict[str, Any]]:
    data = json.loads(Path(path).read_text())
    return list(data["Records"] if isinstance(data, dict) and "Records" in data else data)


def load_cloudtrail(path: str | Path) -> list[dict[str, Any]] | History:
    """A --cloudtrail file: a history (scenario object) or CloudTrail's own records. Raises HistoryError."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise HistoryError(f"{path}: {exc}") from None
    if is_history(data):
        return parse_history(data, base=Path(path).resolve().parent, origin=str(path))
    return list(data["Records"] if isinstance(data, dict) else data)


def install_cloudtrail(
    account: SimulatedAccount, staged: Staged, records: list[dict[str, Any]] | History | None
) -> FakeCloudTrailFactory:
    """Stage the scenario and serve its records; with none, serve none (and settle what an account file
    declared at times relative to the exposure)."""
    if isinstance(records, History):
        records = Replay(account, staged, records).run()
    else:
        settle(account, staged)
        records = _as_incident_story(account, staged, records) if records else []
    factory = FakeCloudTrailFactory(records, region_of=lambda record: record.get("awsRegion", staged.region))
    from investigate import handler  # the fresh module of this simulated account

    handler.cloudtrail_client = factory  # type: ignore[assignment]
    return factory


def _as_incident_story(
    account: SimulatedAccount, staged: Staged, records: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    records = [copy.deepcopy(record) for record in records]
    exposed = staged.access_key_ids[0] if staged.access_key_ids else None
    owner = staged.users[0] if staged.users else None
    start = _exposure_time(staged.event)
    earliest = min(parse_time(record["eventTime"]) for record in records)
    iam = account.client("iam")
    created_keys: dict[str, str] = {}
    for record in records:
        identity = record.get("userIdentity") or {}
        if identity.get("type") == "IAMUser" and str(identity.get("accessKeyId", "")).startswith("AKIA") and exposed:
            identity["accessKeyId"] = exposed
            if owner:
                identity["userName"] = owner
                identity["arn"] = f"arn:aws:iam::{account.account_id}:user/{owner}"
        if "accountId" in identity:
            identity["accountId"] = account.account_id
        record["recipientAccountId"] = account.account_id
        if record.get("awsRegion") not in REAL_REGIONS:
            record["awsRegion"] = staged.region
        moment = start + FIRST_CALL_AFTER_EXPOSURE + (parse_time(record["eventTime"]) - earliest)
        record["eventTime"] = iso(moment)
        _stage_what_it_created(iam, record, staged, created_keys, _ensure_user(iam, staged))
    return records


def _stage_what_it_created(
    iam: Any, record: dict[str, Any], staged: Staged, created_keys: dict[str, str], ensure_user: Callable[[str], None]
) -> None:
    if record.get("errorCode") or record.get("eventSource") != "iam.amazonaws.com":
        return
    request = record.get("requestParameters") or {}
    response = record.get("responseElements") or {}
    if record.get("eventName") == "CreateUser" and request.get("userName"):
        ensure_user(request["userName"])
        # CloudTrail names what IAM made: the user's id in the record is the one the account holds.
        made = iam.get_user(UserName=request["userName"])["User"]
        if isinstance(response.get("user"), dict):
            original = response["user"].get("userId")
            if isinstance(original, str) and original:
                staged.mapping[original] = made["UserId"]
            response["user"].update(userId=made["UserId"], arn=made["Arn"])
    _stage_iam_backdoor(iam, record, staged, ensure_user)
    if record.get("eventName") in ("CreateLoginProfile", "UpdateLoginProfile"):
        _date_login_profile(iam, request.get("userName"), parse_time(record["eventTime"]))
    if record.get("eventName") == "CreateAccessKey" and isinstance(response.get("accessKey"), dict):
        key = response["accessKey"]
        user = key.get("userName") or request.get("userName") or staged.users[0]
        ensure_user(user)
        minted = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
        created_keys[key["accessKeyId"]] = minted
        staged.mapping[key["accessKeyId"]] = minted
        staged.notes.append(f"the scenario's CreateAccessKey for {user} staged as {minted}")
        key["accessKeyId"] = minted
        key["userName"] = user


def _date_login_profile(iam: Any, user: Any, when: datetime) -> None:
    """The password dated as the record says it was set (moto dates it when the drill stages it)."""
    from moto.iam.models import iam_backends

    found = iam_backends[_account_of(iam)]["global"].users.get(user) if isinstance(user, str) else None
    if found is not None:
        found.login_profile_create_date = when


# The trust policy of a role the scenario rewrites, before the rewrite: what an instance role has.
PREVIOUS_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def _stage_iam_backdoor(iam: Any, record: dict[str, Any], staged: Staged, ensure_user: Callable[[str], None]) -> None:
    """What the record's IAM call left in the account: the admin policy it attached, the console password it
    set, the role it created or whose trust it rewrote. The roles are listed in `staged.created["roles"]`
    for `observed` (the scenario's permissions boundary is left out: moto lacks AWSDenyAll)."""
    name, request = record.get("eventName"), record.get("requestParameters") or {}
    user, role = request.get("userName"), request.get("roleName")
    if str(request.get("policyArn", "")).startswith("arn:aws:iam::aws:policy/"):
        _aws_managed_policy(iam, request["policyArn"])
    elif name in ("AttachUserPolicy", "AttachRolePolicy") and ":policy/" in str(request.get("policyArn", "")):
        _customer_policy(iam, request["policyArn"], staged)
    roles = staged.created.setdefault("roles", [])
    if name == "AttachUserPolicy" and user:
        ensure_user(user)
        iam.attach_user_policy(UserName=user, PolicyArn=request["policyArn"])
    elif name in ("CreateLoginProfile", "UpdateLoginProfile") and user:
        ensure_user(user)
        with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
            iam.create_login_profile(UserName=user, Password="Drill-staged-password-1!")
    elif name == "CreateRole" and role:
        try:
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=request["assumeRolePolicyDocument"])
        except iam.exceptions.EntityAlreadyExistsException:  # an AttachRolePolicy of the same second came first
            iam.update_assume_role_policy(RoleName=role, PolicyDocument=request["assumeRolePolicyDocument"])
        roles.append(role)
    elif name == "AttachRolePolicy" and role:
        with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(PREVIOUS_TRUST))
            roles.append(role)
        iam.attach_role_policy(RoleName=role, PolicyArn=request["policyArn"])
    elif name == "UpdateAssumeRolePolicy" and role:
        with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(PREVIOUS_TRUST))
        iam.update_assume_role_policy(RoleName=role, PolicyDocument=request["policyDocument"])
        roles.append(role)
    staged.created["roles"] = list(dict.fromkeys(roles))


def _customer_policy(iam: Any, arn: str, staged: Staged) -> None:
    """A customer-managed policy the scenario attaches exists before the attach (CloudTrail records
    only its ARN, so an Allow of everything stands in for its document: what an attacker would write)."""
    path_and_name = arn.split(":policy/", 1)[1]
    path, _, name = path_and_name.rpartition("/")
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_policy(PolicyName=name, Path=f"/{path}/" if path else "/", PolicyDocument=json.dumps(document))
        staged.notes.append(f"the scenario's customer policy {name} staged (its document is not in CloudTrail)")


def _aws_managed_policy(iam: Any, arn: str) -> None:
    """moto knows AWS's managed policies (AdministratorAccess, ...) only when told to load all of them: add
    the one the scenario attaches, from moto's own copy of AWS's documents (a drill-side stand-in)."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.iam.models import AWSManagedPolicy, iam_backends

    backend = iam_backends[_account_of(iam)]["global"]
    name = arn.rsplit("/", 1)[-1]
    data = json.loads(aws_managed_policies_data).get(name)
    if arn not in backend.managed_policies and data:
        backend.managed_policies[arn] = AWSManagedPolicy.from_data(name, backend.account_id, "us-east-1", data)


def _account_of(iam: Any) -> str:
    return str(boto3.client("sts", region_name=iam.meta.region_name).get_caller_identity()["Account"])


def _ensure_user(iam: Any, staged: Staged) -> Callable[[str], None]:
    def ensure(user: str) -> None:
        if user in staged.users:
            return
        with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
            iam.create_user(UserName=user)
        staged.users.append(user)

    return ensure


def _exposure_time(event: Any) -> datetime:
    return exposure_moment(event)
