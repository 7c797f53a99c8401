"""Read back, from the simulated account, the state the response left behind.

Never copied from what the workflow claims: every value comes from the account's APIs or,
where moto's API misreports (ENI groups, aws-facts §8), from moto's own records.
"""

from __future__ import annotations

from typing import Any

from drill.account import SimulatedAccount
from drill.staging import Staged

ISOLATION_TAG = "credential-responder:purpose"


def observe(account: SimulatedAccount, staged: Staged) -> dict[str, Any]:
    iam = account.client("iam")
    observed: dict[str, Any] = {"access_keys": {}, "user_policies": {}}
    for user in staged.users:
        try:
            keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
        except iam.exceptions.NoSuchEntityException:
            continue
        for key in keys:
            observed["access_keys"][key["AccessKeyId"]] = key["Status"]
        attached = [p["PolicyName"] for p in iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]]
        inline = iam.list_user_policies(UserName=user)["PolicyNames"]
        observed["user_policies"][user] = attached + inline
    for key_id in staged.access_key_ids:
        observed["access_keys"].setdefault(key_id, "absent")
    if staged.roles or staged.instances:
        observed.update(_observe_instances(account, staged))
    return observed


def _observe_instances(account: SimulatedAccount, staged: Staged) -> dict[str, Any]:
    from moto.ec2.models import ec2_backends

    iam = account.client("iam")
    ec2 = account.client("ec2", staged.region)
    result: dict[str, Any] = {
        "role_policies": {},
        "images": [],
        "instance_network": {},
        "isolation_groups": {},
        "instance_protection": {},
        "auto_scaling": {},
    }
    for role in staged.roles:
        inline = iam.list_role_policies(RoleName=role)["PolicyNames"]
        attached = [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]]
        result["role_policies"][role] = inline + attached
    backend = ec2_backends[account.account_id][staged.region]
    for image in ec2.describe_images(Owners=["self"])["Images"]:
        tags = {tag["Key"]: tag["Value"] for tag in image.get("Tags", [])}
        source = getattr(backend.amis.get(image["ImageId"]), "instance_id", None)
        result["images"].append({"image_id": image["ImageId"], "instance_id": source, "tags": tags})
    for instance_id in staged.instances:
        reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        instance = reservations[0]["Instances"][0]
        # DescribeNetworkInterfaces in moto reports ENI groups unioned with the instance's;
        # moto's own ENI record holds the set ModifyNetworkInterfaceAttribute really left.
        result["instance_network"][instance_id] = {
            eni["NetworkInterfaceId"]: sorted(group.id for group in backend.enis[eni["NetworkInterfaceId"]]._group_set)
            for eni in instance.get("NetworkInterfaces", [])
        }
        if instance["State"]["Name"] == "terminated":
            continue
        termination = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="disableApiTermination")
        shutdown = ec2.describe_instance_attribute(
            InstanceId=instance_id, Attribute="instanceInitiatedShutdownBehavior"
        )
        result["instance_protection"][instance_id] = {
            "termination": termination["DisableApiTermination"]["Value"],
            "shutdown_behavior": shutdown["InstanceInitiatedShutdownBehavior"]["Value"],
        }
    if staged.instances:
        autoscaling = account.client("autoscaling", staged.region)
        members = autoscaling.describe_auto_scaling_instances(InstanceIds=staged.instances)["AutoScalingInstances"]
        groups_of = {m["InstanceId"]: m["AutoScalingGroupName"] for m in members}
        result["auto_scaling"] = {instance_id: groups_of.get(instance_id) for instance_id in staged.instances}
    groups = ec2.describe_security_groups(Filters=[{"Name": f"tag:{ISOLATION_TAG}", "Values": ["isolation"]}])
    for group in groups["SecurityGroups"]:
        rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group["GroupId"]]}])
        rules = rules["SecurityGroupRules"]
        result["isolation_groups"][group["GroupId"]] = {
            "ingress": sum(1 for rule in rules if not rule["IsEgress"]),
            "egress": sum(1 for rule in rules if rule["IsEgress"]),
        }
    return result
