"""`--account STATE.json`: a declarative description of the simulated account, staged before the
first event (docs/drill.md, "Account state").

Objects are declared with the ids the events use (`AKIA…`, `i-…`, `eni-…`, `sg-…`, `vpc-…`,
`subnet-…`); moto mints its own, so the drill maps each declared id to the minted one and rewrites
the events with that map (`staged`). An object the file declares wins over what staging would
make up for an event naming the same id. Every reference is checked before anything is staged:
an unknown field or a reference to an undeclared object is an `AccountStateError` naming it.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from drill.account import SimulatedAccount
from drill.staging import Staged

IAM_NAME = r"^[\w+=,.@-]{1,64}$"
IAM_PATH = r"^(/|/[\x21-\x7e]{0,510}/)$"
ACCOUNT = r"^\d{12}$"
TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "{service}"}, "Action": "sts:AssumeRole"}],
}


class AccountStateError(ValueError):
    """The state file cannot be staged: the message names the field or reference at fault."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _time(value: str | None) -> str | None:
    from drill.timeline import check_time

    return value if value is None else check_time(value)


class AccessKey(_Strict):
    id: str = Field(min_length=8, max_length=128, pattern=r"^\w+$")  # samples hold sanitized ids
    status: Literal["Active", "Inactive", "Deleted"] = "Active"
    # When it was made: relative to the exposure ("-400d") or absolute; default: when staged.
    created: str | None = None

    _created = field_validator("created")(_time)


class Policy(_Strict):
    """A customer-managed policy; attach it by name."""

    name: str = Field(pattern=r"^[\w+=,.@-]{1,128}$")
    path: str = Field("/", pattern=IAM_PATH)
    document: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}],
    }


class User(_Strict):
    name: str = Field(pattern=IAM_NAME)
    path: str = Field("/", pattern=IAM_PATH)
    access_keys: list[AccessKey] = Field(default_factory=list, max_length=2)  # IAM's quota
    attached_policies: list[str] = Field(default_factory=list)  # AWS-managed ARN or a declared policy's name
    inline_policies: dict[str, dict[str, Any]] = Field(default_factory=dict)
    login_profile: bool = False
    tags: dict[str, str] = Field(default_factory=dict)
    deleted: bool = False  # staged, then deleted with its keys: "the user no longer exists"
    created: str | None = None

    _created = field_validator("created")(_time)


class TrustItem(_Strict):
    """A trust document AWS Config recorded for a role, and when."""

    at: str
    document: dict[str, Any]

    _at = field_validator("at")(_time)


class Role(_Strict):
    name: str = Field(pattern=IAM_NAME)
    path: str = Field("/", pattern=IAM_PATH)
    id: str | None = Field(None, description="the role's unique id (AROA…) as events name it")
    trusted_service: str = "ec2.amazonaws.com"
    trust_policy: dict[str, Any] | None = None  # the whole trust document (instead of trusted_service)
    # What AWS Config recorded of the role's trust before the history: declaring it makes Config record the
    # role (GetResourceConfigHistory answers from it, and from each later change the history makes).
    trust_history: list[TrustItem] = Field(default_factory=list)
    created: str | None = None
    service_linked: bool = False
    attached_policies: list[str] = Field(default_factory=list)
    inline_policies: dict[str, dict[str, Any]] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)

    _created = field_validator("created")(_time)

    def trust_document(self) -> dict[str, Any]:
        if self.trust_policy is not None:
            return self.trust_policy
        return dict(json.loads(json.dumps(TRUST_POLICY).replace("{service}", self.trusted_service)))

    @model_validator(mode="after")
    def _service_linked_shape(self) -> Role:
        if self.service_linked and not (
            self.name.startswith("AWSServiceRoleFor") and self.path.startswith("/aws-service-role/")
        ):
            raise ValueError(
                f"role {self.name}: a service-linked role is named AWSServiceRoleFor* under /aws-service-role/"
            )
        return self


class InstanceProfile(_Strict):
    name: str = Field(pattern=IAM_NAME)
    path: str = Field("/", pattern=IAM_PATH)
    roles: list[str] = Field(default_factory=list, max_length=1)  # IAM: one role per profile


class Vpc(_Strict):
    id: str = Field(pattern=r"^vpc-\w+$")
    cidr: str = "10.0.0.0/16"
    default_group_egress: bool = True  # false: the default group's all-out egress rule was removed


class Subnet(_Strict):
    id: str = Field(pattern=r"^subnet-\w+$")
    vpc: str
    cidr: str
    availability_zone: str | None = None


class Rule(_Strict):
    protocol: str = "-1"
    from_port: int | None = None
    to_port: int | None = None
    cidr: str | None = None
    source_group: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Rule:
        if (self.cidr is None) == (self.source_group is None):
            raise ValueError("a rule names exactly one of cidr or source_group")
        return self


class SecurityGroup(_Strict):
    id: str = Field(pattern=r"^sg-\w+$")
    name: str
    vpc: str
    description: str = "declared in the drill's account file"
    ingress: list[Rule] = Field(default_factory=list)
    egress: list[Rule] | None = None  # None: AWS's default all-out rule; []: none


class NetworkInterface(_Strict):
    id: str = Field(pattern=r"^eni-\w+$")
    subnet: str
    groups: list[str] = Field(min_length=1, max_length=5)


class Instance(_Strict):
    id: str = Field(pattern=r"^i-\w+$")
    state: Literal["running", "stopped", "terminated"] = "running"
    instance_type: str = "t3.micro"
    tags: dict[str, str] = Field(default_factory=dict)
    profile: str | None = None
    network_interfaces: list[NetworkInterface] = Field(min_length=1)
    auto_scaling_group: str | None = None
    target_groups: list[str] = Field(default_factory=list)
    termination_protection: bool = False
    shutdown_behavior: Literal["stop", "terminate"] = "stop"

    @model_validator(mode="after")
    def _terminable(self) -> Instance:
        if self.state == "terminated" and self.termination_protection:
            raise ValueError(f"instance {self.id}: terminated, yet termination protection is on")
        return self


class TargetGroup(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9-]{1,32}$")
    vpc: str
    protocol: Literal["HTTP", "HTTPS", "TCP"] = "HTTP"
    port: int = 80


class LoadBalancer(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9-]{1,32}$")
    subnets: list[str] = Field(min_length=2)  # an Application Load Balancer spans two AZs
    groups: list[str] = Field(default_factory=list)
    target_groups: list[str] = Field(default_factory=list)


class AutoScalingGroup(_Strict):
    name: str = Field(pattern=r"^[\w.:/-]+$", max_length=255)
    subnets: list[str] = Field(min_length=1)
    min_size: int = 0
    max_size: int = 3
    target_groups: list[str] = Field(default_factory=list)


class SecondAccount(_Strict):
    """Another account (a member, a cross-account target): IAM principals only."""

    account_id: str = Field(pattern=ACCOUNT)
    users: list[User] = Field(default_factory=list)
    roles: list[Role] = Field(default_factory=list)
    policies: list[Policy] = Field(default_factory=list)


class AccountState(_Strict):
    account_id: str | None = Field(None, pattern=ACCOUNT)  # default: the first event's
    region: str = Field("us-east-1", pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    policies: list[Policy] = Field(default_factory=list)
    users: list[User] = Field(default_factory=list)
    roles: list[Role] = Field(default_factory=list)
    instance_profiles: list[InstanceProfile] = Field(default_factory=list)
    vpcs: list[Vpc] = Field(default_factory=list)
    subnets: list[Subnet] = Field(default_factory=list)
    security_groups: list[SecurityGroup] = Field(default_factory=list)
    instances: list[Instance] = Field(default_factory=list)
    target_groups: list[TargetGroup] = Field(default_factory=list)
    load_balancers: list[LoadBalancer] = Field(default_factory=list)
    auto_scaling_groups: list[AutoScalingGroup] = Field(default_factory=list)
    second_account: SecondAccount | None = None
    # The account's CloudTrail history (docs/drill.md): a scenario file, relative to this file, or one inline.
    cloudtrail: str | dict[str, Any] | None = None
    _base: Path | None = PrivateAttr(None)  # the state file's folder

    def history(self) -> Any:
        """The declared history (drill.history.History), or None. Raises drill.history.HistoryError."""
        from drill.history import load_history, parse_history

        base = self._base or Path.cwd()
        if self.cloudtrail is None:
            return None
        if isinstance(self.cloudtrail, str):
            return load_history(base / self.cloudtrail)
        return parse_history(self.cloudtrail, base=base, origin="the account file's cloudtrail")


def load_account_state(path: str | Path) -> AccountState:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise AccountStateError(f"{path}: {exc}") from None
    try:
        state = AccountState.model_validate(data)
    except ValidationError as exc:
        summary = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(top level)'}: {error['msg']}" for error in exc.errors()
        )
        raise AccountStateError(f"{path}: {summary}") from None
    problems = check_references(state)
    if problems:
        raise AccountStateError(f"{path}: " + "; ".join(problems))
    state._base = Path(path).resolve().parent
    from drill.history import HistoryError

    try:
        state.history()
    except HistoryError as exc:
        raise AccountStateError(f"{path}: cloudtrail: {exc}") from None
    return state


def check_references(state: AccountState) -> list[str]:
    problems: list[str] = []

    def unique(kind: str, values: list[str]) -> set[str]:
        seen: set[str] = set()
        for value in values:
            if value in seen:
                problems.append(f"{kind} {value} is declared twice")
            seen.add(value)
        return seen

    def refer(where: str, value: str | None, declared: set[str], kind: str) -> None:
        if value is not None and value not in declared:
            problems.append(f"{where}: {value} is not declared in {kind}")

    policies = unique("policy", [p.name for p in state.policies])
    unique("user", [u.name for u in state.users])
    roles = unique("role", [r.name for r in state.roles])
    profiles = unique("instance profile", [p.name for p in state.instance_profiles])
    vpcs = unique("vpc", [v.id for v in state.vpcs])
    subnets = unique("subnet", [s.id for s in state.subnets])
    groups = unique("security group", [g.id for g in state.security_groups])
    unique("instance", [i.id for i in state.instances])
    unique("network interface", [e.id for i in state.instances for e in i.network_interfaces])
    unique("access key", [k.id for u in state.users for k in u.access_keys])
    target_groups = unique("target group", [t.name for t in state.target_groups])
    unique("load balancer", [lb.name for lb in state.load_balancers])
    asgs = unique("auto scaling group", [a.name for a in state.auto_scaling_groups])
    subnet_vpc = {s.id: s.vpc for s in state.subnets}
    group_vpc = {g.id: g.vpc for g in state.security_groups}

    def check_policies(where: str, attached: list[str], declared: set[str]) -> None:
        for name in attached:
            if not name.startswith("arn:aws:iam::aws:policy/") and name not in declared:
                problems.append(f"{where}.attached_policies: {name} is neither an AWS-managed ARN nor in policies")

    for index, user in enumerate(state.users):
        check_policies(f"users[{index}]", user.attached_policies, policies)
    for index, role in enumerate(state.roles):
        check_policies(f"roles[{index}]", role.attached_policies, policies)
    for index, profile in enumerate(state.instance_profiles):
        for role_name in profile.roles:
            refer(f"instance_profiles[{index}].roles", role_name, roles, "roles")
    for index, subnet in enumerate(state.subnets):
        refer(f"subnets[{index}].vpc", subnet.vpc, vpcs, "vpcs")
    for index, group in enumerate(state.security_groups):
        refer(f"security_groups[{index}].vpc", group.vpc, vpcs, "vpcs")
        for kind in ("ingress", "egress"):
            for rule_index, rule in enumerate(getattr(group, kind) or []):
                refer(
                    f"security_groups[{index}].{kind}[{rule_index}].source_group",
                    rule.source_group,
                    groups,
                    "security_groups",
                )
    for index, instance in enumerate(state.instances):
        where = f"instances[{index}]"
        refer(f"{where}.profile", instance.profile, profiles, "instance_profiles")
        refer(f"{where}.auto_scaling_group", instance.auto_scaling_group, asgs, "auto_scaling_groups")
        for name in instance.target_groups:
            refer(f"{where}.target_groups", name, target_groups, "target_groups")
        for eni_index, eni in enumerate(instance.network_interfaces):
            eni_where = f"{where}.network_interfaces[{eni_index}]"
            refer(f"{eni_where}.subnet", eni.subnet, subnets, "subnets")
            for group_id in eni.groups:
                refer(f"{eni_where}.groups", group_id, groups, "security_groups")
                if group_id in group_vpc and eni.subnet in subnet_vpc and group_vpc[group_id] != subnet_vpc[eni.subnet]:
                    problems.append(
                        f"{eni_where}.groups: {group_id} is in {group_vpc[group_id]}, the subnet in "
                        f"{subnet_vpc[eni.subnet]} (a group must be in the ENI's VPC)"
                    )
    for index, tg in enumerate(state.target_groups):
        refer(f"target_groups[{index}].vpc", tg.vpc, vpcs, "vpcs")
    for index, lb in enumerate(state.load_balancers):
        for subnet_id in lb.subnets:
            refer(f"load_balancers[{index}].subnets", subnet_id, subnets, "subnets")
        for group_id in lb.groups:
            refer(f"load_balancers[{index}].groups", group_id, groups, "security_groups")
        for name in lb.target_groups:
            refer(f"load_balancers[{index}].target_groups", name, target_groups, "target_groups")
    for index, asg in enumerate(state.auto_scaling_groups):
        for subnet_id in asg.subnets:
            refer(f"auto_scaling_groups[{index}].subnets", subnet_id, subnets, "subnets")
        for name in asg.target_groups:
            refer(f"auto_scaling_groups[{index}].target_groups", name, target_groups, "target_groups")
    if state.second_account:
        second = state.second_account
        if state.account_id and second.account_id == state.account_id:
            problems.append("second_account.account_id: the same as account_id")
        second_policies = unique("second_account policy", [p.name for p in second.policies])
        for index, user in enumerate(second.users):
            check_policies(f"second_account.users[{index}]", user.attached_policies, second_policies)
        for index, role in enumerate(second.roles):
            check_policies(f"second_account.roles[{index}]", role.attached_policies, second_policies)
    return problems


@contextlib.contextmanager
def _in_account(account_id: str) -> Iterator[None]:
    """moto takes the account of a request from MOTO_ACCOUNT_ID: staging only, single-threaded."""
    saved = os.environ.get("MOTO_ACCOUNT_ID")
    os.environ["MOTO_ACCOUNT_ID"] = account_id
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("MOTO_ACCOUNT_ID", None)
        else:
            os.environ["MOTO_ACCOUNT_ID"] = saved


def apply_account_state(account: SimulatedAccount, state: AccountState) -> Staged:
    """Stage the declared account; the returned `Staged` is the base every event's staging reuses."""
    staged = Staged(event=None, region=state.region)
    iam = account.client("iam")
    _stage_iam(iam, account.account_id, state.policies, state.users, state.roles, staged)
    for profile in state.instance_profiles:
        iam.create_instance_profile(InstanceProfileName=profile.name, Path=profile.path)
        for role in profile.roles:
            iam.add_role_to_instance_profile(InstanceProfileName=profile.name, RoleName=role)
    ec2 = account.client("ec2", state.region)
    _stage_network(ec2, state, staged)
    _stage_instances(account, ec2, state, staged)
    if state.second_account:
        second = state.second_account
        other = Staged(event=None)
        with _in_account(second.account_id):
            _stage_iam(account.client("iam"), second.account_id, second.policies, second.users, second.roles, other)
        staged.mapping.update(other.mapping)
        staged.elsewhere.update({name: second.account_id for name in (*other.users, *other.roles)})
        staged.notes.append(
            f"second account {second.account_id}: users {[u.name for u in second.users]}, "
            f"roles {[r.name for r in second.roles]} (not read back in `observed`)"
        )
    staged.notes.append("account staged from the --account file before the first event")
    return staged


@cache
def _aws_managed_policies() -> dict[str, Any]:
    """moto's copy of AWS's managed policies (1,300 of them, a 4 MB JSON string), parsed once per process."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return dict(json.loads(aws_managed_policies_data))


def _aws_managed(account_id: str, arn: str) -> None:
    """moto loads no AWS-managed policy by default: add the one named, from moto's own copy of AWS's."""
    from moto.iam.models import AWSManagedPolicy, iam_backends

    backend = iam_backends[account_id]["global"]
    if arn in backend.managed_policies:
        return
    name = arn.rsplit("/", 1)[-1]
    data = _aws_managed_policies().get(name)
    if data is None:
        raise AccountStateError(f"{arn}: not an AWS-managed policy moto knows")
    backend.managed_policies[arn] = AWSManagedPolicy.from_data(name, account_id, "us-east-1", copy.deepcopy(data))


def _policy_arns(account_id: str, policies: list[Policy], attached: list[str]) -> list[str]:
    for name in attached:
        if name.startswith("arn:aws:iam::aws:policy/"):
            _aws_managed(account_id, name)
    paths = {p.name: p.path for p in policies}
    return [
        name if name.startswith("arn:") else f"arn:aws:iam::{account_id}:policy{paths[name]}{name}" for name in attached
    ]


def _stage_iam(
    iam: Any, account_id: str, policies: list[Policy], users: list[User], roles: list[Role], staged: Staged
) -> None:
    for policy in policies:
        iam.create_policy(PolicyName=policy.name, Path=policy.path, PolicyDocument=json.dumps(policy.document))
    for user in users:
        iam.create_user(UserName=user.name, Path=user.path, Tags=[{"Key": k, "Value": v} for k, v in user.tags.items()])
        staged.users.append(user.name)
        staged.declared_users.add(user.name)
        if user.created:
            staged.settle.append(("user", user.name, user.created))
        for key in user.access_keys:
            minted = iam.create_access_key(UserName=user.name)["AccessKey"]["AccessKeyId"]
            staged.mapping[key.id] = minted
            if key.created:
                staged.settle.append(("key", minted, key.created))
            if key.status == "Inactive":
                iam.update_access_key(UserName=user.name, AccessKeyId=minted, Status="Inactive")
            elif key.status == "Deleted":
                iam.delete_access_key(UserName=user.name, AccessKeyId=minted)
                staged.notes.append(f"key {key.id} of {user.name} staged as {minted}, then deleted")
        for arn in _policy_arns(account_id, policies, user.attached_policies):
            iam.attach_user_policy(UserName=user.name, PolicyArn=arn)
        for name, document in user.inline_policies.items():
            iam.put_user_policy(UserName=user.name, PolicyName=name, PolicyDocument=json.dumps(document))
        if user.login_profile:
            iam.create_login_profile(UserName=user.name, Password="drill-Passw0rd-never-used!")
        if user.deleted:
            for key in iam.list_access_keys(UserName=user.name)["AccessKeyMetadata"]:
                iam.delete_access_key(UserName=user.name, AccessKeyId=key["AccessKeyId"])
            for arn in _policy_arns(account_id, policies, user.attached_policies):
                iam.detach_user_policy(UserName=user.name, PolicyArn=arn)
            for name in user.inline_policies:
                iam.delete_user_policy(UserName=user.name, PolicyName=name)
            if user.login_profile:
                iam.delete_login_profile(UserName=user.name)
            iam.delete_user(UserName=user.name)
            staged.notes.append(f"user {user.name} staged, then deleted with its keys")
    for role in roles:
        created = iam.create_role(
            RoleName=role.name,
            Path=role.path,
            AssumeRolePolicyDocument=json.dumps(role.trust_document()),
            Tags=[{"Key": k, "Value": v} for k, v in role.tags.items()],
        )["Role"]
        if role.id:
            staged.mapping[role.id] = created["RoleId"]
        staged.roles.append(role.name)
        if role.created:
            staged.settle.append(("role", role.name, role.created))
        if role.trust_history:
            staged.settle.append(("trust_history", role.name, role.trust_history))
        for arn in _policy_arns(account_id, policies, role.attached_policies):
            iam.attach_role_policy(RoleName=role.name, PolicyArn=arn)
        for name, document in role.inline_policies.items():
            iam.put_role_policy(RoleName=role.name, PolicyName=name, PolicyDocument=json.dumps(document))


def _ip_permission(rule: Rule, groups: dict[str, str]) -> dict[str, Any]:
    permission: dict[str, Any] = {"IpProtocol": rule.protocol}
    if rule.from_port is not None:
        permission["FromPort"] = rule.from_port
    if rule.to_port is not None:
        permission["ToPort"] = rule.to_port
    if rule.cidr is not None:
        key = "Ipv6Ranges" if ":" in rule.cidr else "IpRanges"
        permission[key] = [{"CidrIpv6" if key == "Ipv6Ranges" else "CidrIp": rule.cidr}]
    else:
        permission["UserIdGroupPairs"] = [{"GroupId": groups[str(rule.source_group)]}]
    return permission


ALL_OUT = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}


def _stage_network(ec2: Any, state: AccountState, staged: Staged) -> None:
    for vpc in state.vpcs:
        vpc_id = ec2.create_vpc(CidrBlock=vpc.cidr)["Vpc"]["VpcId"]
        staged.mapping[vpc.id] = vpc_id
        if not vpc.default_group_egress:
            default = ec2.describe_security_groups(
                Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}]
            )["SecurityGroups"][0]["GroupId"]
            ec2.revoke_security_group_egress(GroupId=default, IpPermissions=[ALL_OUT])
            staged.notes.append(f"vpc {vpc.id}: the default group {default} has no egress rule")
    for subnet in state.subnets:
        zone = {"AvailabilityZone": subnet.availability_zone} if subnet.availability_zone else {}
        staged.mapping[subnet.id] = ec2.create_subnet(VpcId=staged.mapping[subnet.vpc], CidrBlock=subnet.cidr, **zone)[
            "Subnet"
        ]["SubnetId"]
    groups: dict[str, str] = {}
    for group in state.security_groups:
        groups[group.id] = ec2.create_security_group(
            GroupName=group.name, Description=group.description, VpcId=staged.mapping[group.vpc]
        )["GroupId"]
    staged.mapping.update(groups)
    for group in state.security_groups:
        if group.ingress:
            ec2.authorize_security_group_ingress(
                GroupId=groups[group.id], IpPermissions=[_ip_permission(r, groups) for r in group.ingress]
            )
        if group.egress is not None:
            ec2.revoke_security_group_egress(GroupId=groups[group.id], IpPermissions=[ALL_OUT])
            if group.egress:
                ec2.authorize_security_group_egress(
                    GroupId=groups[group.id], IpPermissions=[_ip_permission(r, groups) for r in group.egress]
                )


def _stage_instances(account: SimulatedAccount, ec2: Any, state: AccountState, staged: Staged) -> None:
    elbv2 = account.client("elbv2", state.region)
    autoscaling = account.client("autoscaling", state.region)
    target_groups: dict[str, str] = {}
    for tg in state.target_groups:
        target_groups[tg.name] = elbv2.create_target_group(
            Name=tg.name, Protocol=tg.protocol, Port=tg.port, VpcId=staged.mapping[tg.vpc], TargetType="instance"
        )["TargetGroups"][0]["TargetGroupArn"]
    for lb in state.load_balancers:
        arn = elbv2.create_load_balancer(
            Name=lb.name,
            Subnets=[staged.mapping[s] for s in lb.subnets],
            SecurityGroups=[staged.mapping[g] for g in lb.groups],
        )["LoadBalancers"][0]["LoadBalancerArn"]
        for name in lb.target_groups:
            elbv2.create_listener(
                LoadBalancerArn=arn,
                Protocol="HTTP",
                Port=80 + lb.target_groups.index(name),
                DefaultActions=[{"Type": "forward", "TargetGroupArn": target_groups[name]}],
            )
    image_id = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    if state.auto_scaling_groups:
        template = ec2.create_launch_template(
            LaunchTemplateName="drill-declared", LaunchTemplateData={"ImageId": image_id, "InstanceType": "t3.micro"}
        )["LaunchTemplate"]["LaunchTemplateId"]
    for asg in state.auto_scaling_groups:
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=asg.name,
            LaunchTemplate={"LaunchTemplateId": template},
            MinSize=asg.min_size,
            MaxSize=asg.max_size,
            DesiredCapacity=asg.min_size,
            VPCZoneIdentifier=",".join(staged.mapping[s] for s in asg.subnets),
            TargetGroupARNs=[target_groups[name] for name in asg.target_groups],
        )
    for instance in state.instances:
        first, *others = instance.network_interfaces
        launch: dict[str, Any] = {
            "ImageId": image_id,
            "MinCount": 1,
            "MaxCount": 1,
            "InstanceType": instance.instance_type,
            "NetworkInterfaces": [
                {
                    "DeviceIndex": 0,
                    "SubnetId": staged.mapping[first.subnet],
                    "Groups": [staged.mapping[g] for g in first.groups],
                }
            ],
            "DisableApiTermination": instance.termination_protection,
            "InstanceInitiatedShutdownBehavior": instance.shutdown_behavior,
        }
        if instance.profile:
            launch["IamInstanceProfile"] = {"Name": instance.profile}
        if instance.tags:
            launch["TagSpecifications"] = [
                {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in instance.tags.items()]}
            ]
        launched = ec2.run_instances(**launch)["Instances"][0]
        instance_id = launched["InstanceId"]
        staged.mapping[instance.id] = instance_id
        staged.mapping[first.id] = launched["NetworkInterfaces"][0]["NetworkInterfaceId"]
        staged.instances.append(instance_id)
        for index, eni in enumerate(others, start=1):
            created = ec2.create_network_interface(
                SubnetId=staged.mapping[eni.subnet], Groups=[staged.mapping[g] for g in eni.groups]
            )["NetworkInterface"]["NetworkInterfaceId"]
            ec2.attach_network_interface(NetworkInterfaceId=created, InstanceId=instance_id, DeviceIndex=index)
            staged.mapping[eni.id] = created
        if instance.auto_scaling_group:
            autoscaling.attach_instances(InstanceIds=[instance_id], AutoScalingGroupName=instance.auto_scaling_group)
        for name in instance.target_groups:
            elbv2.register_targets(TargetGroupArn=target_groups[name], Targets=[{"Id": instance_id}])
        if instance.state == "stopped":
            ec2.stop_instances(InstanceIds=[instance_id])
        elif instance.state == "terminated":
            ec2.terminate_instances(InstanceIds=[instance_id])
