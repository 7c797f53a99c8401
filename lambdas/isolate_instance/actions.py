"""Isolate an instance: every network interface gets one security group with no rules at all.

The sequence is AWS's runbook AWSSupport-ContainEC2Instance:
1. record the original groups per ENI in an instance tag, before anything changes, and never
   overwrite that record (a re-run would otherwise record the isolation group as "original");
2. per VPC, find or create the isolation group (no inbound, no outbound rules, checked on every
   run) and a temporary all-open group;
3. per ENI: original groups -> all-open -> isolation. Security groups are stateful, and a tracked
   connection (the attacker's reverse shell, SSH) survives a group change until it times out
   (default 5 days for TCP). Flows allowed by an all-open rule in both directions are untracked,
   so passing through the all-open group first makes the final swap cut them.
Per ENI, never ModifyInstanceAttribute(Groups): that changes only the primary interface.

What this cannot cut (the flows stay tracked whatever the groups say):
* ICMP: always tracked;
* flows through a Network Load Balancer, NAT gateway, transit gateway attachment, Gateway Load
  Balancer (endpoint), Global Accelerator, Network Firewall endpoint, egress-only internet
  gateway or PrivateLink interface endpoint: always tracked;
* anything not governed by security groups: the instance's own credentials already handed out
  (revoke_sessions does that), the EC2 serial console, SSM sessions already open through an
  endpoint, traffic from other ENIs attached later.
The all-open group is attached for the moment between two API calls; it is left in place,
unused, for the next incident (security scanners may flag it as open).

The original-groups tag value is compact JSON {eni: [group, ...]}; a value longer than a tag
allows (256) continues in tags "<key>:2", "<key>:3", ... to be concatenated in order.
EC2 needs: see isolate_instance.permissions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from common.aws import error_code
from common.steps import Status, StepResult, step

ISOLATE = "isolate-instance"
ISOLATION_GROUP = "credential-responder-isolation"
UNTRACK_GROUP = "credential-responder-untrack"
PURPOSE_TAG = "credential-responder:purpose"
ORIGINAL_TAG = "credential-responder:original-sgs"
TAG_VALUE_LIMIT = 256
GONE_STATES = ("shutting-down", "terminated")
OPEN = (("-1", "0.0.0.0/0"), ("-1", "::/0"))


def isolate_instance(ec2: Any, instance_id: str, region: str, *, dry_run: bool = False) -> StepResult:
    try:
        instance = _describe_instance(ec2, instance_id)
        state = instance["State"]["Name"] if instance else None
        if instance is None or state in GONE_STATES:
            return step(ISOLATE, Status.SKIPPED, instance_id, f"instance is gone ({state or 'terminated'})")
        return _isolate(ec2, instance, region, dry_run=dry_run)
    except ClientError as exc:
        if error_code(exc) == "InvalidInstanceID.NotFound":
            return step(ISOLATE, Status.SKIPPED, instance_id, "instance is gone (terminated)")
        message = exc.response.get("Error", {}).get("Message", str(exc))
        return step(
            ISOLATE,
            Status.FAILED,
            instance_id,
            f"{error_code(exc)}: {message}",
            manual=f"aws ec2 describe-instances --region {region} --instance-ids {instance_id}  # then per "
            "ENI: aws ec2 modify-network-interface-attribute --network-interface-id <eni> --groups "
            "<a group of its VPC with no rules>",
        )


def _isolate(ec2: Any, instance: Mapping[str, Any], region: str, *, dry_run: bool) -> StepResult:
    instance_id = instance["InstanceId"]
    enis = {
        eni["NetworkInterfaceId"]: (eni["VpcId"], [group["GroupId"] for group in eni.get("Groups", [])])
        for eni in instance.get("NetworkInterfaces", [])
        if eni.get("VpcId")
    }
    if not enis:
        return step(ISOLATE, Status.SKIPPED, instance_id, "instance has no VPC network interface")
    recorded = read_original_groups(instance.get("Tags", []))
    # The record wins: after a partial run the current groups may already be the isolation group.
    originals = {eni: recorded.get(eni, groups) for eni, (_, groups) in enis.items()}
    vpcs = sorted({vpc for vpc, _ in enis.values()})
    isolation = {vpc: _find_group(ec2, vpc, ISOLATION_GROUP) for vpc in vpcs}
    pending = [eni for eni, (vpc, groups) in enis.items() if groups != [isolation[vpc]]]
    open_rules = {vpc: _rule_ids(ec2, group) for vpc, group in isolation.items() if group}
    data = {"original_groups": originals, "isolation_groups": isolation}
    undo = _restore_command(region, originals)
    if not pending and not any(open_rules.values()):
        return step(
            ISOLATE,
            Status.ALREADY_DONE,
            instance_id,
            f"every interface already has only the isolation group, which has no rules: {_describe_map(isolation)}",
            undo=undo,
            data=data,
        )
    if dry_run:
        return step(
            ISOLATE,
            Status.SKIPPED,
            instance_id,
            f"dry-run: would move {len(pending)} of {len(enis)} "
            f"interface(s) in {', '.join(vpcs)} to a rule-less isolation group",
            data=data,
        )

    if any(eni not in recorded for eni in enis):
        ec2.create_tags(Resources=[instance_id], Tags=original_groups_tags({**recorded, **originals}))
    for vpc in vpcs:
        group = isolation[vpc] or _create_group(
            ec2, vpc, ISOLATION_GROUP, "isolation", "credential-responder: no inbound, no outbound"
        )
        isolation[vpc] = group
        _revoke_all(ec2, group)
    untrack = {vpc: _untrack_group(ec2, vpc) for vpc in sorted({enis[eni][0] for eni in pending})}
    for eni in pending:
        vpc = enis[eni][0]
        ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=[untrack[vpc]])
        try:
            ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=[isolation[vpc]])
        except ClientError:
            # Never leave an interface on the all-open group: back to where it was, then report.
            if originals[eni]:
                ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=originals[eni])
            raise

    problems = _verify(ec2, enis, isolation)
    manual = " && ".join(
        f"aws ec2 modify-network-interface-attribute --region {region} --network-interface-id "
        f"{eni} --groups {isolation[vpc]}"
        for eni, (vpc, _) in enis.items()
    )
    if problems:
        return step(
            ISOLATE,
            Status.FAILED,
            instance_id,
            "read back: " + "; ".join(problems),
            manual=manual,
            undo=undo,
            data=data,
        )
    return step(
        ISOLATE,
        Status.DONE,
        instance_id,
        f"{len(enis)} interface(s) now have only the isolation group "
        f"({_describe_map(isolation)}), 0 inbound/0 outbound rules, passed through the all-open group to "
        "cut tracked flows (read back)",
        undo=undo,
        data=data,
    )


def read_original_groups(tags: list[Mapping[str, str]]) -> dict[str, list[str]]:
    values = {tag["Key"]: tag["Value"] for tag in tags}
    if ORIGINAL_TAG not in values:
        return {}
    text, part = values[ORIGINAL_TAG], 2
    while f"{ORIGINAL_TAG}:{part}" in values:
        text, part = text + values[f"{ORIGINAL_TAG}:{part}"], part + 1
    try:
        return {str(eni): [str(group) for group in groups] for eni, groups in json.loads(text).items()}
    except (ValueError, AttributeError):
        return {}


def original_groups_tags(originals: Mapping[str, list[str]]) -> list[dict[str, str]]:
    text = json.dumps(dict(originals), separators=(",", ":"), sort_keys=True)
    chunks = [text[i : i + TAG_VALUE_LIMIT] for i in range(0, len(text), TAG_VALUE_LIMIT)]
    return [
        {"Key": ORIGINAL_TAG if n == 1 else f"{ORIGINAL_TAG}:{n}", "Value": chunk}
        for n, chunk in enumerate(chunks, start=1)
    ]


def _describe_instance(ec2: Any, instance_id: str) -> dict[str, Any] | None:
    reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    instances = [instance for reservation in reservations for instance in reservation["Instances"]]
    return instances[0] if instances else None


def _find_group(ec2: Any, vpc: str, name: str) -> str | None:
    groups = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": [name]}]
    )["SecurityGroups"]
    return str(groups[0]["GroupId"]) if groups else None


def _create_group(ec2: Any, vpc: str, name: str, purpose: str, description: str) -> str:
    try:
        return str(
            ec2.create_security_group(
                GroupName=name,
                Description=description,
                VpcId=vpc,
                TagSpecifications=[
                    {
                        "ResourceType": "security-group",
                        "Tags": [{"Key": PURPOSE_TAG, "Value": purpose}, {"Key": "Name", "Value": name}],
                    }
                ],
            )["GroupId"]
        )
    except ClientError as exc:
        # Another execution (another finding on the same VPC) created it a moment ago.
        if error_code(exc) != "InvalidGroup.Duplicate":
            raise
        found = _find_group(ec2, vpc, name)
        if not found:
            raise
        return found


def _rules(ec2: Any, group_id: str) -> list[dict[str, Any]]:
    paginator = ec2.get_paginator("describe_security_group_rules")
    return [
        rule
        for page in paginator.paginate(Filters=[{"Name": "group-id", "Values": [group_id]}])
        for rule in page["SecurityGroupRules"]
    ]


def _rule_ids(ec2: Any, group_id: str) -> list[str]:
    return [rule["SecurityGroupRuleId"] for rule in _rules(ec2, group_id)]


def _revoke_all(ec2: Any, group_id: str) -> None:
    rules = _rules(ec2, group_id)
    egress = [rule["SecurityGroupRuleId"] for rule in rules if rule["IsEgress"]]
    ingress = [rule["SecurityGroupRuleId"] for rule in rules if not rule["IsEgress"]]
    # A new group starts with "all outbound" (and ::/0 when the VPC has IPv6); revoking by rule id
    # removes exactly what is there, whatever its shape.
    if egress:
        ec2.revoke_security_group_egress(GroupId=group_id, SecurityGroupRuleIds=egress)
    if ingress:
        ec2.revoke_security_group_ingress(GroupId=group_id, SecurityGroupRuleIds=ingress)


def _untrack_group(ec2: Any, vpc: str) -> str:
    group = _find_group(ec2, vpc, UNTRACK_GROUP) or _create_group(
        ec2, vpc, UNTRACK_GROUP, "untrack", "credential-responder: all open, attached only for a moment"
    )
    present = {
        (rule["IsEgress"], rule["IpProtocol"], rule.get("CidrIpv4") or rule.get("CidrIpv6"))
        for rule in _rules(ec2, group)
    }
    directions = ((False, ec2.authorize_security_group_ingress), (True, ec2.authorize_security_group_egress))
    for egress, authorize in directions:
        missing = [(protocol, cidr) for protocol, cidr in OPEN if (egress, protocol, cidr) not in present]
        if not missing:
            continue
        permissions = [
            {
                "IpProtocol": protocol,
                **({"Ipv6Ranges": [{"CidrIpv6": cidr}]} if ":" in cidr else {"IpRanges": [{"CidrIp": cidr}]}),
            }
            for protocol, cidr in missing
        ]
        try:
            authorize(GroupId=group, IpPermissions=permissions)
        except ClientError as exc:
            if error_code(exc) != "InvalidPermission.Duplicate":
                raise
    return group


def _verify(ec2: Any, enis: Mapping[str, tuple[str, list[str]]], isolation: Mapping[str, str | None]) -> list[str]:
    problems = []
    for vpc, group in isolation.items():
        left = _rule_ids(ec2, str(group))
        if left:
            problems.append(f"isolation group {group} in {vpc} still has {len(left)} rule(s)")
    interfaces = ec2.describe_network_interfaces(NetworkInterfaceIds=list(enis))["NetworkInterfaces"]
    for interface in interfaces:
        groups = sorted(group["GroupId"] for group in interface["Groups"])
        expected = [isolation[enis[interface["NetworkInterfaceId"]][0]]]
        if groups != expected:
            problems.append(f"{interface['NetworkInterfaceId']} has {groups}, expected {expected}")
    return problems


def _restore_command(region: str, originals: Mapping[str, list[str]]) -> str:
    return " && ".join(
        f"aws ec2 modify-network-interface-attribute --region {region} --network-interface-id {eni} "
        f"--groups {' '.join(groups)}"
        for eni, groups in sorted(originals.items())
        if groups
    )


def _describe_map(isolation: Mapping[str, str | None]) -> str:
    return ", ".join(f"{vpc}: {group}" for vpc, group in sorted(isolation.items()))
