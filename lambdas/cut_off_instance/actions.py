"""Cut the instance off, after its evidence image and before its network isolation.

Two steps, each its own StepResult; a failure of one does not stop the other. Neither is the
containment (the revoke is), and neither ends what is already under way:
1. deregister-from-load-balancers: out of every Elastic Load Balancing v2 target group it is
   registered in (by instance id, or by one of its private addresses in an IP target group) and
   every Classic Load Balancer it is in. The usual way instance credentials are stolen is a
   server-side request forgery through the web tier: while the instance stays behind its load
   balancer, it keeps receiving the attacker's requests. A deregistered target drains: requests
   in flight finish within the group's deregistration delay (300 s by default), new ones go
   elsewhere.
2. remove-instance-profile: the instance profile association is removed, so the metadata service
   hands out no new role credentials on the instance. Credentials already handed out stay valid
   until they expire; the revoke step is what denies them.
Each records in `data` exactly what `responder release` needs to put it back (target group ARN,
target id, port and zone; Classic Load Balancer names; the profile ARN). Elastic Load Balancing
and EC2 needs: see cut_off_instance.permissions.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from common.aws import error_code
from common.instances import GONE_STATES, describe_instance
from common.steps import Status, StepResult, step

LOAD_BALANCERS = "deregister-from-load-balancers"
PROFILE = "remove-instance-profile"
# The target health state of a target on its way out (deregistration under way). "unused" is not
# out: a registered target of a group no listener uses receives requests once one does.
LEFT_STATES = ("draining",)
# Association states in which the metadata service can hand out the profile's role credentials.
ASSOCIATED_STATES = ("associating", "associated")


def deregister_from_load_balancers(
    ec2: Any, elbv2: Any, elb: Any, instance_id: str, region: str, *, dry_run: bool = False
) -> StepResult:
    manual = (
        f"aws elbv2 describe-target-groups --region {shlex.quote(region)}  # then per group: aws elbv2 "
        f"describe-target-health --target-group-arn <arn>; aws elbv2 deregister-targets --target-group-arn <arn> "
        f"--targets Id={shlex.quote(instance_id)}; and aws elb deregister-instances-from-load-balancer "
        f"--load-balancer-name <name> --instances {shlex.quote(instance_id)}"
    )
    try:
        instance = describe_instance(ec2, instance_id)
        state = instance["State"]["Name"] if instance else None
        if instance is None or state in GONE_STATES:
            return step(LOAD_BALANCERS, Status.SKIPPED, instance_id, f"instance is gone ({state or 'terminated'})")
        addresses = _addresses(instance)
        targets = registered_targets(elbv2, instance_id, addresses)
        classic = classic_load_balancers(elb, instance_id)
        data = {"target_groups": targets, "classic_load_balancers": classic}
        where = _where(targets, classic)
        if not targets and not classic:
            return step(
                LOAD_BALANCERS,
                Status.ALREADY_DONE,
                instance_id,
                "in no target group (or draining out of it) and in no Classic Load Balancer (read from Elastic "
                "Load Balancing in this region)",
            )
        if dry_run:
            return step(
                LOAD_BALANCERS,
                Status.SKIPPED,
                instance_id,
                f"dry-run: would deregister it from {where}",
                manual=_deregister_commands(region, instance_id, targets, classic),
                data=data,
            )
        for target in targets:
            elbv2.deregister_targets(TargetGroupArn=target["target_group_arn"], Targets=[target_description(target)])
        for name in classic:
            elb.deregister_instances_from_load_balancer(LoadBalancerName=name, Instances=[{"InstanceId": instance_id}])
        left = registered_targets(elbv2, instance_id, addresses)
        left_classic = classic_load_balancers(elb, instance_id)
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", str(exc))
        return step(LOAD_BALANCERS, Status.FAILED, instance_id, f"{error_code(exc)}: {message}", manual=manual)
    undo = _register_commands(region, instance_id, targets, classic)
    if left or left_classic:
        return step(
            LOAD_BALANCERS,
            Status.FAILED,
            instance_id,
            f"read back: still in {_where(left, left_classic)}",
            manual=_deregister_commands(region, instance_id, left, left_classic),
            undo=undo,
            data=data,
        )
    return step(
        LOAD_BALANCERS,
        Status.DONE,
        instance_id,
        f"deregistered from {where}: no new requests reach it; requests in flight finish within each "
        "group's deregistration delay or connection draining timeout (read back)",
        undo=undo,
        data=data,
    )


def remove_instance_profile(ec2: Any, instance_id: str, region: str, *, dry_run: bool = False) -> StepResult:
    manual = (
        f"aws ec2 describe-iam-instance-profile-associations --region {shlex.quote(region)} --filters "
        f"Name=instance-id,Values={shlex.quote(instance_id)}  # then: aws ec2 disassociate-iam-instance-profile "
        "--association-id <id>"
    )
    try:
        instance = describe_instance(ec2, instance_id)
        state = instance["State"]["Name"] if instance else None
        if instance is None or state in GONE_STATES:
            return step(PROFILE, Status.SKIPPED, instance_id, f"instance is gone ({state or 'terminated'})")
        associations = associated_profiles(ec2, instance_id)
        if not associations:
            return step(
                PROFILE,
                Status.ALREADY_DONE,
                instance_id,
                "no instance profile is associated with it (read from EC2): the metadata service hands out no "
                "role credentials on it",
            )
        first = associations[0]
        arn = first["IamInstanceProfile"]["Arn"]
        data = {
            "instance_profile_arn": arn,
            "instance_profile_name": arn.rsplit("/", 1)[-1],
            "association_id": first["AssociationId"],
        }
        if dry_run:
            return step(
                PROFILE,
                Status.SKIPPED,
                instance_id,
                f"dry-run: would remove the association of instance profile {arn}",
                manual=f"aws ec2 disassociate-iam-instance-profile --region {shlex.quote(region)} --association-id "
                f"{shlex.quote(first['AssociationId'])}",
                data=data,
            )
        for association in associations:
            ec2.disassociate_iam_instance_profile(AssociationId=association["AssociationId"])
        left = associated_profiles(ec2, instance_id)
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", str(exc))
        return step(PROFILE, Status.FAILED, instance_id, f"{error_code(exc)}: {message}", manual=manual)
    undo = (
        f"aws ec2 associate-iam-instance-profile --region {shlex.quote(region)} --instance-id "
        f"{shlex.quote(instance_id)} --iam-instance-profile {shlex.quote('Arn=' + arn)}"
    )
    if left:
        return step(
            PROFILE,
            Status.FAILED,
            instance_id,
            f"read back: {left[0]['IamInstanceProfile']['Arn']} is still {left[0]['State']}",
            manual=manual,
            undo=undo,
            data=data,
        )
    return step(
        PROFILE,
        Status.DONE,
        instance_id,
        f"instance profile {arn} disassociated: the metadata service hands out no new role credentials on it; "
        "credentials already handed out stay valid until they expire (the revoke denies them) (read back)",
        undo=undo,
        data=data,
    )


def associated_profiles(ec2: Any, instance_id: str) -> list[dict[str, Any]]:
    paginator = ec2.get_paginator("describe_iam_instance_profile_associations")
    return [
        association
        for page in paginator.paginate(Filters=[{"Name": "instance-id", "Values": [instance_id]}])
        for association in page["IamInstanceProfileAssociations"]
        if association.get("State") in ASSOCIATED_STATES and association.get("InstanceId") == instance_id
    ]


def registered_targets(elbv2: Any, instance_id: str, addresses: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Every target of the instance that still receives new requests: (group ARN, id, port, zone).

    No API lists the groups of a target, so every group of the region is read: instance groups by
    the instance id, IP groups by the instance's private addresses."""
    ids = {"instance": {instance_id}, "ip": set(addresses)}
    found = []
    for page in elbv2.get_paginator("describe_target_groups").paginate():
        for group in page["TargetGroups"]:
            wanted = ids.get(group.get("TargetType", "instance"), set())
            if not wanted:
                continue
            try:
                health = elbv2.describe_target_health(TargetGroupArn=group["TargetGroupArn"])
            except ClientError as exc:
                if error_code(exc) == "TargetGroupNotFound":  # deleted since the listing: AWS says it is gone
                    continue
                raise
            for description in health["TargetHealthDescriptions"]:
                target = description["Target"]
                if target["Id"] not in wanted or description.get("TargetHealth", {}).get("State") in LEFT_STATES:
                    continue
                found.append(
                    {
                        "target_group_arn": group["TargetGroupArn"],
                        "id": target["Id"],
                        "port": target.get("Port"),
                        **({"availability_zone": target["AvailabilityZone"]} if target.get("AvailabilityZone") else {}),
                    }
                )
    return found


def classic_load_balancers(elb: Any, instance_id: str) -> list[str]:
    return [
        balancer["LoadBalancerName"]
        for page in elb.get_paginator("describe_load_balancers").paginate()
        for balancer in page["LoadBalancerDescriptions"]
        if any(member.get("InstanceId") == instance_id for member in balancer.get("Instances", []))
    ]


def target_description(target: Mapping[str, Any]) -> dict[str, Any]:
    """The TargetDescription that registers (or deregisters) exactly this target again."""
    description: dict[str, Any] = {"Id": target["id"]}
    if target.get("port") is not None:
        description["Port"] = int(target["port"])
    if target.get("availability_zone"):
        description["AvailabilityZone"] = target["availability_zone"]
    return description


def _addresses(instance: Mapping[str, Any]) -> set[str]:
    addresses: set[str] = set()
    for eni in instance.get("NetworkInterfaces", []):
        addresses.update(
            ip["PrivateIpAddress"] for ip in eni.get("PrivateIpAddresses", []) if ip.get("PrivateIpAddress")
        )
        addresses.update(ip["Ipv6Address"] for ip in eni.get("Ipv6Addresses", []) if ip.get("Ipv6Address"))
    if instance.get("PrivateIpAddress"):
        addresses.add(instance["PrivateIpAddress"])
    return addresses


def _targets_argument(target: Mapping[str, Any]) -> str:
    parts = [f"Id={target['id']}"]
    if target.get("port") is not None:
        parts.append(f"Port={target['port']}")
    if target.get("availability_zone"):
        parts.append(f"AvailabilityZone={target['availability_zone']}")
    return shlex.quote(",".join(parts))


def _register_commands(region: str, instance_id: str, targets: list[dict[str, Any]], classic: list[str]) -> str:
    region_q = shlex.quote(region)
    return " && ".join(
        [
            f"aws elbv2 register-targets --region {region_q} --target-group-arn "
            f"{shlex.quote(t['target_group_arn'])} --targets {_targets_argument(t)}"
            for t in targets
        ]
        + [
            f"aws elb register-instances-with-load-balancer --region {region_q} --load-balancer-name "
            f"{shlex.quote(name)} --instances {shlex.quote(instance_id)}"
            for name in classic
        ]
    )


def _deregister_commands(region: str, instance_id: str, targets: list[dict[str, Any]], classic: list[str]) -> str:
    region_q = shlex.quote(region)
    return " && ".join(
        [
            f"aws elbv2 deregister-targets --region {region_q} --target-group-arn "
            f"{shlex.quote(t['target_group_arn'])} --targets {_targets_argument(t)}"
            for t in targets
        ]
        + [
            f"aws elb deregister-instances-from-load-balancer --region {region_q} --load-balancer-name "
            f"{shlex.quote(name)} --instances {shlex.quote(instance_id)}"
            for name in classic
        ]
    )


def _where(targets: list[dict[str, Any]], classic: list[str]) -> str:
    parts = []
    if targets:
        groups = sorted({t["target_group_arn"].split(":targetgroup/", 1)[-1] for t in targets})
        parts.append(f"{len(groups)} target group(s) ({', '.join(groups)})")
    if classic:
        parts.append(f"{len(classic)} Classic Load Balancer(s) ({', '.join(sorted(classic))})")
    return " and ".join(parts)
