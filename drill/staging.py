"""Stage in the simulated account what an event names, and rewrite the event where moto
cannot take the event's identifiers (it mints its own key, instance, ENI and group ids).

This reads the event with its own small code, not the product's normalizer, so that a key the
normalizer missed still shows up, unchanged, in `observed`.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from drill.account import SimulatedAccount

DEFAULT_ACCOUNT = "123456789012"
QUARANTINE_POLICY_NAMES = (
    "AWSCompromisedKeyQuarantineV3",
    "AWSCompromisedKeyQuarantineV2",
    "AWSCompromisedKeyQuarantine",
)
HEALTH_CODES = {
    "AWS_RISK_CREDENTIALS_EXPOSED",
    "AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED",
    "AWS_RISK_CREDENTIALS_COMPROMISED",
    "AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED",
    "AWS_RISK_IAM_QUARANTINE",
}
EXFILTRATION = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration"
ATTACK_SEQUENCE = "AttackSequence:"
INSTANCE_GROUP = "AttackSequence:EC2/CompromisedInstanceGroup"


@dataclass
class Staged:
    event: Any
    mapping: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    access_key_ids: list[str] = field(default_factory=list)  # as rewritten
    roles: list[str] = field(default_factory=list)
    instances: list[str] = field(default_factory=list)
    region: str = "us-east-1"
    created: dict[str, list[str]] = field(default_factory=dict)  # what a CloudTrail scenario staged: "roles"
    bystanders: dict[str, str] = field(default_factory=dict)  # key id -> its user
    declared_users: set[str] = field(default_factory=set)  # declared by an account file
    elsewhere: dict[str, str] = field(default_factory=dict)  # principal name -> the second account holding it
    # What needs the exposure moment, known once the event is staged (drill.replay.settle): ("user", name,
    # time), ("key", id, time), ("role", name, time), ("trust_history", role, [TrustItem]).
    settle: list[tuple[str, str, Any]] = field(default_factory=list)

    def continued(self, event: Any) -> Staged:
        """The same account's staging, for the next event: shared ids and owners, fresh notes."""
        return Staged(
            event=event,
            mapping=dict(self.mapping),
            users=list(self.users),
            access_key_ids=list(self.access_key_ids),
            roles=list(self.roles),
            instances=list(self.instances),
            region=self.region,
            bystanders=self.bystanders,
            declared_users=self.declared_users,
            elsewhere=self.elsewhere,
            created=self.created,
            settle=self.settle,
            # An account file's notes belong to the first delivery's result.
            notes=list(self.notes) if self.event is None else [],
        )


ACCOUNT_ID = re.compile(r"\d{12}")


def named_accounts(event: Any) -> list[str]:
    """The account ids the event's body names (the envelope's `account` aside)."""
    if not isinstance(event, dict):
        return []
    detail = event.get("detail") if isinstance(event.get("detail"), dict) else event
    metadata = detail.get("eventMetadata") if isinstance(detail.get("eventMetadata"), dict) else {}
    values = (metadata.get("accountId"), detail.get("affectedAccount"), detail.get("accountId"))
    return list(dict.fromkeys(v for v in values if isinstance(v, str) and v.isdigit()))


def event_account(event: Any) -> str:
    """The simulated account: the envelope's (the deployment's: a delegated administrator receives
    its members' findings), or the account the event names when the envelope's is a placeholder."""
    if isinstance(event, dict):
        for candidate in (event.get("account"), *named_accounts(event)):
            if isinstance(candidate, str) and ACCOUNT_ID.fullmatch(candidate):
                return candidate
    return DEFAULT_ACCOUNT


def kept_accounts(event: Any) -> list[str]:
    """Named accounts that differ from a valid envelope account: the responder must see them."""
    envelope = event.get("account") if isinstance(event, dict) else None
    if not (isinstance(envelope, str) and ACCOUNT_ID.fullmatch(envelope)):
        return []
    return [n for n in named_accounts(event) if ACCOUNT_ID.fullmatch(n) and n != envelope]


def _map_accounts(account: SimulatedAccount, staged: Staged) -> None:
    kept = kept_accounts(staged.event)
    envelope = staged.event.get("account")
    for other in kept:
        staged.mapping[other] = other
        staged.notes.append(
            f"the envelope's account {envelope} differs from the account the event names, {other}: kept "
            f"(a delegated administrator or an organizational view); the simulated account is {envelope}"
        )
    # Placeholders (sanitized samples) and equal ids map consistently onto the simulated account.
    for value in (envelope, *named_accounts(staged.event)):
        if isinstance(value, str) and value.isdigit() and value not in kept and value != account.account_id:
            staged.mapping[value] = account.account_id


def wrap_bare_finding(event: Any, notes: list[str]) -> Any:
    """EventBridge always sends an envelope; bare finding bodies from public samples get one."""
    if isinstance(event, dict) and "detail" not in event and "type" in event and "service" in event:
        notes.append("the file is a bare GuardDuty finding body: wrapped in an EventBridge envelope")
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "GuardDuty Finding",
            "source": "aws.guardduty",
            "account": event.get("accountId", DEFAULT_ACCOUNT),
            "time": event.get("updatedAt", "2026-01-01T00:00:00Z"),
            "region": event.get("region", "us-east-1"),
            "resources": [],
            "detail": event,
        }
    return event


def stage(
    account: SimulatedAccount, event: Any, *, include_samples: bool = False, base: Staged | None = None
) -> Staged:
    """Stage one event; with `base` (what earlier events of a sequence, or an account file, staged),
    reuse it: the same ids the events share name the same users, keys, roles and instances."""
    staged = Staged(event=event) if base is None else base.continued(event)
    staged.event = wrap_bare_finding(event, staged.notes)
    if not isinstance(staged.event, dict):
        return staged
    _map_accounts(account, staged)
    _install_aws_managed_quarantine_policies(account)
    source = staged.event.get("source")
    if source == "aws.health":
        _stage_health(account, staged)
    elif source == "aws.guardduty":
        _stage_guardduty(account, staged, include_samples=include_samples)
        _stage_attack_sequence(account, staged, include_samples=include_samples)
        _stage_instance_group(account, staged)
    staged.event = _rewrite(staged.event, staged.mapping)
    return staged


IAM_KEYS_PER_USER = 2  # IAM's quota (moto raises LimitExceeded past it, as AWS does)
IAM_USER_NAME = re.compile(r"[\w+=,.@-]{1,64}")


def _stage_health(account: SimulatedAccount, staged: Staged) -> None:
    detail = staged.event.get("detail")
    if not isinstance(detail, dict) or detail.get("eventTypeCode") not in HEALTH_CODES:
        return
    metadata = detail.get("eventMetadata") if isinstance(detail.get("eventMetadata"), dict) else {}
    keys: list[str] = []
    for entity in detail.get("affectedEntities") or []:
        if isinstance(entity, dict) and isinstance(entity.get("entityValue"), str):
            keys.append(entity["entityValue"])
    keys += [value for value in staged.event.get("resources") or [] if isinstance(value, str)]
    if isinstance(metadata.get("publicKey"), str):
        # The key eventMetadata.userName owns: staged first, so it lands on that user.
        keys.insert(0, metadata["publicKey"])
    keys = [key for key in dict.fromkeys(keys) if key]
    if not keys:
        return
    user = metadata.get("userName") if isinstance(metadata.get("userName"), str) else "ci-deployer"
    if not IAM_USER_NAME.fullmatch(user):
        staged.notes.append(f"the event names user {user!r}, a name IAM does not allow: keys staged on ci-deployer")
        user = "ci-deployer"
    iam = account.client("iam")
    if user in staged.elsewhere:
        staged.access_key_ids += [staged.mapping[k] for k in keys if k in staged.mapping]
        staged.notes.append(
            f"user {user} is in account {staged.elsewhere[user]} (the account file's second_account): "
            f"nothing staged for it in the simulated account {account.account_id}"
        )
        return
    if user not in staged.declared_users:
        _ensure_user(iam, staged, user)
    elif user not in staged.users:
        staged.users.append(user)
    placed: dict[str, list[str]] = {}
    for key in keys:
        if key in staged.mapping:
            # Staged before (an earlier event of the sequence, or the account file): the same key.
            if staged.mapping[key] not in staged.access_key_ids:
                staged.access_key_ids.append(staged.mapping[key])
            continue
        owner = _owner_with_room(iam, staged, user)
        minted = iam.create_access_key(UserName=owner)["AccessKey"]["AccessKeyId"]
        staged.mapping[key] = minted
        staged.access_key_ids.append(minted)
        placed.setdefault(owner, []).append(minted)
    for owner, minted in placed.items():
        if owner != user:
            staged.notes.append(
                f"IAM allows {IAM_KEYS_PER_USER} access keys per user: the event's key(s) {', '.join(minted)} "
                f"staged on {owner} instead of {user} (the responder resolves their owner through IAM)"
            )
    if user in staged.declared_users:
        return  # the account file says what else the user holds
    if user == ROOT_IN_EVENTS:
        as_root_user(account, staged, user)
        return
    if any(owner in (user, f"{user}-bystander") for owner in staged.bystanders.values()):
        return
    # A second, legitimate key of the same user: containment must leave it alone.
    holder = user if _key_count(iam, user) < IAM_KEYS_PER_USER else f"{user}-bystander"[:64]
    if holder != user:
        _ensure_user(iam, staged, holder)
    bystander = iam.create_access_key(UserName=holder)["AccessKey"]["AccessKeyId"]
    staged.bystanders[bystander] = holder
    if holder == user:
        staged.notes.append(f"staged user {user} with the event's key(s) and a bystander key {bystander}")
    else:
        staged.notes.append(
            f"staged user {user} with the event's key(s); {user} has no room for a bystander key "
            f"(IAM's quota of {IAM_KEYS_PER_USER}), so bystander key {bystander} is on {holder}"
        )


# The name an event gives the root user. An IAM user cannot hold the root user's keys, so an event that names
# "root" is staged as a root key (GetAccessKeyLastUsed names the owner <root_account>), never as an IAM user
# called root that the responder would then quarantine.
ROOT_IN_EVENTS = "root"
ROOT_USER_NAME = "<root_account>"  # what IAM names the root user (credential report, GetAccessKeyLastUsed)


def as_root_user(account: SimulatedAccount, staged: Staged, user: str) -> None:
    """moto has no root access keys: the keys staged on `user` are made to read as IAM reports a root key's.
    A drill-side stand-in, as the quarantine policies are (moto_quirks)."""
    from moto.iam.models import iam_backends

    backend = iam_backends[account.account_id]["global"]
    if user not in backend.users:
        return
    holder = backend.users.pop(user)
    holder.name = ROOT_USER_NAME
    backend.users[ROOT_USER_NAME] = holder
    for key in holder.access_keys:
        key.user_name = ROOT_USER_NAME
    staged.users = [ROOT_USER_NAME if name == user else name for name in staged.users]
    staged.notes.append(f"the event names user {user}: its key(s) staged as the root user's (IAM: {ROOT_USER_NAME})")


def _ensure_user(iam: Any, staged: Staged, user: str) -> None:
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_user(UserName=user)
    if user not in staged.users:
        staged.users.append(user)


def _key_count(iam: Any, user: str) -> int:
    try:
        return len(iam.list_access_keys(UserName=user)["AccessKeyMetadata"])
    except iam.exceptions.NoSuchEntityException:
        return IAM_KEYS_PER_USER  # a user the account file deleted holds no room


def _owner_with_room(iam: Any, staged: Staged, user: str) -> str:
    """The named user while it has room; else the drill's own bystander key makes way; else another
    staged owner (`<user>-key-owner-N`), as a real account would need to hold that many keys."""
    if _key_count(iam, user) < IAM_KEYS_PER_USER:
        return user
    for bystander, holder in list(staged.bystanders.items()):
        if holder == user:
            iam.delete_access_key(UserName=user, AccessKeyId=bystander)
            del staged.bystanders[bystander]
            moved_to = f"{user}-bystander"[:64]
            _ensure_user(iam, staged, moved_to)
            moved = iam.create_access_key(UserName=moved_to)["AccessKey"]["AccessKeyId"]
            staged.bystanders[moved] = moved_to
            staged.notes.append(
                f"the drill's bystander key {bystander} of {user} made room for the event's key: "
                f"deleted, and bystander key {moved} staged on {moved_to}"
            )
            return user
    index = 1
    while True:
        owner = f"{user[:48]}-key-owner-{index}"
        _ensure_user(iam, staged, owner)
        if _key_count(iam, owner) < IAM_KEYS_PER_USER:
            return owner
        index += 1


def _finding_to_stage(staged: Staged, type_prefix: str, *, include_samples: bool) -> dict[str, Any] | None:
    """The finding (the event's detail) when it is of this type and not a sample left out."""
    detail = staged.event.get("detail")
    if not isinstance(detail, dict) or not str(detail.get("type", "")).startswith(type_prefix):
        return None
    service = detail.get("service") if isinstance(detail.get("service"), dict) else {}
    additional = service.get("additionalInfo") if isinstance(service.get("additionalInfo"), dict) else {}
    if additional.get("sample") is True and not include_samples:
        staged.notes.append("sample finding: nothing staged (use --include-samples to opt in)")
        return None
    return detail


def _stage_guardduty(account: SimulatedAccount, staged: Staged, *, include_samples: bool) -> None:
    detail = _finding_to_stage(staged, EXFILTRATION, include_samples=include_samples)
    if detail is None:
        return
    resource = detail.get("resource") if isinstance(detail.get("resource"), dict) else {}
    key_details = resource.get("accessKeyDetails") or {}
    instance = resource.get("instanceDetails") or {}
    region = staged.event.get("region") or detail.get("region") or "us-east-1"
    staged.region = region
    iam, ec2 = account.client("iam"), account.client("ec2", region)

    role = key_details.get("userName") if key_details.get("userType") == "AssumedRole" else None
    role = role or "drill-instance-role"
    if role in staged.elsewhere:
        staged.notes.append(
            f"role {role} is in account {staged.elsewhere[role]} (the account file's second_account): "
            f"nothing staged for it or its instance in the simulated account {account.account_id}"
        )
        return
    profile_arn = (instance.get("iamInstanceProfile") or {}).get("arn") or ""
    profile = profile_arn.rsplit("/", 1)[-1] if ":instance-profile/" in profile_arn else f"{role}-profile"
    try:
        # Staged before (an earlier event of the sequence, or the account file): the same role.
        role_id = iam.get_role(RoleName=role)["Role"]["RoleId"]
        profiles = iam.list_instance_profiles_for_role(RoleName=role)["InstanceProfiles"]
        profile = profiles[0]["InstanceProfileName"] if profiles else profile
        if not profiles:
            iam.create_instance_profile(InstanceProfileName=profile)
            iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    except iam.exceptions.NoSuchEntityException:
        # Service-linked roles live under /aws-service-role/ and are named AWSServiceRoleFor*.
        path = "/aws-service-role/ecs.amazonaws.com/" if role.startswith("AWSServiceRoleFor") else "/"
        role_id = iam.create_role(
            RoleName=role,
            Path=path,
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
                    ],
                }
            ),
        )["Role"]["RoleId"]
        iam.create_instance_profile(InstanceProfileName=profile)
        iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    if role not in staged.roles:
        staged.roles.append(role)
    principal = key_details.get("principalId")
    if isinstance(principal, str) and ":" in principal:
        staged.mapping.setdefault(principal.split(":", 1)[0], role_id)

    interfaces = [eni for eni in instance.get("networkInterfaces") or [] if isinstance(eni, dict)]
    if not instance.get("instanceId"):
        return
    if instance["instanceId"] in staged.mapping:
        instance_id = staged.mapping[instance["instanceId"]]
        if instance_id not in staged.instances:
            staged.instances.append(instance_id)
        staged.notes.append(f"instance {instance['instanceId']} is {instance_id}, staged before")
        return
    if not interfaces:
        interfaces = [
            {
                "networkInterfaceId": "eni-drill0",
                "vpcId": "vpc-drill0",
                "subnetId": "subnet-drill0",
                "securityGroups": [{"groupId": "sg-drill0", "groupName": "drill-default"}],
            }
        ]
    vpcs: dict[str, str] = {}
    subnets: dict[str, str] = {}
    groups: dict[str, str] = {}
    for index, eni in enumerate(interfaces):
        vpc_key = eni.get("vpcId") or f"vpc-drill{index}"
        if vpc_key not in vpcs:
            vpcs[vpc_key] = (
                staged.mapping.get(vpc_key) or ec2.create_vpc(CidrBlock=f"10.{len(vpcs)}.0.0/16")["Vpc"]["VpcId"]
            )
        subnet_key = eni.get("subnetId") or f"subnet-drill{index}"
        if subnet_key not in subnets:
            subnets[subnet_key] = (
                staged.mapping.get(subnet_key)
                or ec2.create_subnet(
                    VpcId=vpcs[vpc_key], CidrBlock=f"10.{list(vpcs).index(vpc_key)}.{len(subnets)}.0/24"
                )["Subnet"]["SubnetId"]
            )
        for group in eni.get("securityGroups") or []:
            if group.get("groupId") and group["groupId"] not in groups:
                groups[group["groupId"]] = (
                    staged.mapping.get(group["groupId"])
                    or ec2.create_security_group(
                        GroupName=group.get("groupName") or group["groupId"],
                        Description="staged by the drill",
                        VpcId=vpcs[vpc_key],
                    )["GroupId"]
                )
    first = interfaces[0]
    launched = _launch(
        ec2,
        profile,
        subnets[first.get("subnetId") or "subnet-drill0"],
        [groups[g["groupId"]] for g in first.get("securityGroups") or []],
    )
    instance_id = launched["InstanceId"]
    staged.instances.append(instance_id)
    staged.mapping[instance["instanceId"]] = instance_id
    staged.mapping[first.get("networkInterfaceId", "")] = launched["NetworkInterfaces"][0]["NetworkInterfaceId"]
    for index, eni in enumerate(interfaces[1:], start=1):
        created = ec2.create_network_interface(
            SubnetId=subnets[eni.get("subnetId") or f"subnet-drill{index}"],
            Groups=[groups[g["groupId"]] for g in eni.get("securityGroups") or []],
        )["NetworkInterface"]["NetworkInterfaceId"]
        ec2.attach_network_interface(NetworkInterfaceId=created, InstanceId=instance_id, DeviceIndex=index)
        staged.mapping[eni.get("networkInterfaceId", "")] = created
    staged.mapping.update(vpcs)
    staged.mapping.update(subnets)
    staged.mapping.update(groups)
    staged.mapping.pop("", None)
    staged.notes.append(
        f"staged role {role} (profile {profile}) and instance {instance_id} in {region}, shutdown behaviour terminate"
    )
    for other in kept_accounts(staged.event):
        staged.notes.append(
            f"the finding places them in account {other}; staged in the simulated account {account.account_id} "
            "(declare `second_account` in an --account file to stage them there)"
        )


def _stage_attack_sequence(account: SimulatedAccount, staged: Staged, *, include_samples: bool) -> None:
    """What an attack sequence's structured actors name (service.detection.sequence.actors[].user):
    an IAM user with its access key (credentialUid), or an assumed role. Read with the drill's own
    code, as the other stagers do, so that a principal the normalizer missed still shows in `observed`."""
    detail = _finding_to_stage(staged, ATTACK_SEQUENCE, include_samples=include_samples)
    if detail is None:
        return
    service = detail["service"] if isinstance(detail.get("service"), dict) else {}
    detection = service.get("detection") if isinstance(service.get("detection"), dict) else {}
    sequence = detection.get("sequence") if isinstance(detection.get("sequence"), dict) else {}
    actors = [a for a in sequence.get("actors") or [] if isinstance(a, dict) and isinstance(a.get("user"), dict)]
    if not actors:
        staged.notes.append("attack sequence without service.detection.sequence actors: nothing staged")
        return
    iam = account.client("iam")
    for actor in actors:
        user = actor["user"]
        name, kind, credential = user.get("name"), user.get("type"), user.get("credentialUid")
        if not (isinstance(name, str) and IAM_USER_NAME.fullmatch(name)):
            continue
        if kind == "IAMUser":
            _ensure_user(iam, staged, name)
            if isinstance(credential, str) and credential.startswith("AKIA") and credential not in staged.mapping:
                minted = iam.create_access_key(UserName=_owner_with_room(iam, staged, name))["AccessKey"]
                staged.mapping[credential] = minted["AccessKeyId"]
                staged.access_key_ids.append(minted["AccessKeyId"])
                if _key_count(iam, name) < IAM_KEYS_PER_USER:
                    bystander = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
                    staged.bystanders[bystander] = name
                staged.notes.append(f"staged user {name} with the sequence's key {minted['AccessKeyId']}")
        elif kind == "AssumedRole":
            try:
                role_id = iam.get_role(RoleName=name)["Role"]["RoleId"]
            except iam.exceptions.NoSuchEntityException:
                role_id = iam.create_role(
                    RoleName=name,
                    AssumeRolePolicyDocument=json.dumps(
                        {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Principal": {"Service": "ec2.amazonaws.com"},
                                    "Action": "sts:AssumeRole",
                                }
                            ],
                        }
                    ),
                )["Role"]["RoleId"]
            if name not in staged.roles:
                staged.roles.append(name)
            uid = user.get("uid")
            if isinstance(uid, str) and ":" in uid:
                staged.mapping.setdefault(uid.split(":", 1)[0], role_id)
            staged.notes.append(f"staged role {name} named by the attack sequence")


def _stage_instance_group(account: SimulatedAccount, staged: Staged) -> None:
    """An instance group's instances (the ec2InstanceUids of the sequence's IAM_INSTANCE_PROFILE and
    AUTOSCALING_AUTO_SCALING_GROUP resources, EC2_INSTANCE uids), launched with the one instance
    profile the sequence names, holding the role its AssumedRole actor names (staged just before)."""
    detail = staged.event.get("detail")
    if not isinstance(detail, dict) or detail.get("type") != INSTANCE_GROUP or not staged.roles:
        return
    service = detail.get("service") if isinstance(detail.get("service"), dict) else {}
    sequence = ((service.get("detection") or {}) if isinstance(service.get("detection"), dict) else {}).get("sequence")
    resources = [r for r in (sequence or {}).get("resources") or [] if isinstance(r, dict)]
    profile, instances = f"{staged.roles[-1]}-profile", []
    for resource in resources:
        data = resource.get("data") if isinstance(resource.get("data"), dict) else {}
        group = data.get("iamInstanceProfile") or data.get("autoscalingAutoScalingGroup") or {}
        instances += [uid for uid in group.get("ec2InstanceUids") or [] if isinstance(uid, str)]
        if resource.get("resourceType") == "EC2_INSTANCE" and isinstance(resource.get("uid"), str):
            instances.append(resource["uid"])
        if resource.get("resourceType") == "IAM_INSTANCE_PROFILE" and isinstance(resource.get("name"), str):
            profile = resource["name"]
    staged.region = staged.event.get("region") or staged.region
    iam, ec2 = account.client("iam"), account.client("ec2", staged.region)
    try:
        iam.get_instance_profile(InstanceProfileName=profile)
    except iam.exceptions.NoSuchEntityException:
        iam.create_instance_profile(InstanceProfileName=profile)
        iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=staged.roles[-1])
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.8.1.0/24")["Subnet"]["SubnetId"]
    group_id = ec2.create_security_group(GroupName="fleet-sg", Description="staged by the drill", VpcId=vpc)["GroupId"]
    for instance in dict.fromkeys(instances):
        if instance in staged.mapping:
            continue
        launched = _launch(ec2, profile, subnet, [group_id])["InstanceId"]
        staged.mapping[instance] = launched
        staged.instances.append(launched)
    staged.notes.append(
        f"staged instance group: {len(staged.instances)} instance(s) with profile {profile} of role {staged.roles[-1]}"
    )


def _rewrite(event: Any, mapping: dict[str, str]) -> Any:
    if not mapping:
        return event
    text = json.dumps(event)
    # Longest first, whole tokens only, so that one id never rewrites part of another.
    for old in sorted(mapping, key=len, reverse=True):
        text = re.sub(rf"(?<![\w-]){re.escape(old)}(?![\w-])", mapping[old], text)
    return json.loads(text)


def _install_aws_managed_quarantine_policies(account: SimulatedAccount) -> None:
    """moto lacks AWS's quarantine policies: add them as AWS-managed policies (a drill-side stand-in)."""
    from moto.iam.models import AWSManagedPolicy, iam_backends

    backend = iam_backends[account.account_id]["global"]
    for name in QUARANTINE_POLICY_NAMES:
        arn = f"arn:aws:iam::aws:policy/{name}"
        if arn in backend.managed_policies:
            continue
        document = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Action": ["iam:CreateUser", "iam:CreateAccessKey", "ec2:RunInstances"],
                    "Resource": "*",
                }
            ],
        }
        backend.managed_policies[arn] = AWSManagedPolicy.from_data(
            name,
            account.account_id,
            "us-east-1",
            {
                "Arn": arn,
                "Path": "/",
                "DefaultVersionId": "v1",
                "CreateDate": "2024-08-21T00:00:00+00:00",
                "UpdateDate": "2024-10-02T00:00:00+00:00",
                "Document": document,
                "Description": "drill stand-in for the AWS-managed quarantine policy",
            },
        )


def _launch(ec2: Any, profile: str, subnet_id: str, group_ids: list[str]) -> dict[str, Any]:
    """One staged instance with the instance profile and one interface."""
    image_id = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    return ec2.run_instances(
        ImageId=image_id,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        # As many fleet instances are: an OS shutdown would destroy the disks, unless the
        # response sets "stop" (and so `observed` shows that it did).
        InstanceInitiatedShutdownBehavior="terminate",
        IamInstanceProfile={"Name": profile},
        NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet_id, "Groups": group_ids}],
    )["Instances"][0]
