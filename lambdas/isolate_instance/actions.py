"""Isolate an instance: every network interface gets one security group with no rules at all.

The sequence follows AWS's runbook AWSSupport-ContainEC2Instance:
1. record the original groups per ENI, before anything changes. The authority is this step's
   `data`, which the Report stores in the incident record. A copy goes on the instance (tag
   `credential-responder:original-sgs`, with this incident's id) only so that a retry after a
   Lambda timeout, whose first attempt never reached the Report, still knows them. The copy is
   trusted only when it carries this incident's id, only for this instance's own interfaces,
   only for interfaces the responder already moved, and only as valid group ids: whoever holds
   the instance may be able to tag it;
2. per VPC, find or create the isolation group (no inbound, no outbound rules, checked on every
   run) and a temporary all-open group that carries no rules at rest either;
3. per ENI: original groups -> all-open -> isolation. The all-open rules exist only around the
   swaps: authorized just before, revoked right after, on every path (any exception, not only
   an AWS error). A Lambda timeout runs no `finally`: the next attempt first moves any interface
   of the instance found on the all-open group to the isolation group, and revokes its rules.
Per ENI, never ModifyInstanceAttribute(Groups): that changes only the primary interface.

What this does, honestly (AWS, "Security group connection tracking"): changing security groups
does not end connections already tracked; they go on until they go idle (TCP: 5 days by
default). Flows allowed by an all-open rule in both directions are untracked, so the detour
through the all-open group helps only flows that were untracked; a tracked connection (the
attacker's reverse shell, an SSH session) survives it. What no security group filters: DNS to
the VPC resolver (VPC+2), the instance metadata service (169.254.169.254) and Amazon Time Sync
(169.254.169.123). What always stays tracked: ICMP, and flows through a Network Load Balancer, NAT
gateway, transit gateway attachment, Gateway Load Balancer endpoint, Global Accelerator, Network
Firewall endpoint, egress-only internet gateway or PrivateLink interface endpoint. To end
existing connections, a network ACL deny (subnet-wide) is the tool; see the report's next steps.

The copy's tag value is compact JSON {"incident": id, "groups": {eni: [group, ...]}}; a value
longer than a tag allows (256) continues in tags "<key>:2", "<key>:3", ... in order.
EC2 needs: see isolate_instance.permissions.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
from collections.abc import Mapping
from contextlib import suppress
from typing import Any

from botocore.exceptions import ClientError

from common.aws import error_code
from common.instances import GONE_STATES, describe_instance
from common.steps import Status, StepResult, step

ISOLATE = "isolate-instance"
ISOLATION_GROUP = "credential-responder-isolation"
UNTRACK_GROUP = "credential-responder-untrack"
PURPOSE_TAG = "credential-responder:purpose"
ORIGINAL_TAG = "credential-responder:original-sgs"
TAG_VALUE_LIMIT = 256
OPEN = (("-1", "0.0.0.0/0"), ("-1", "::/0"))
GROUP_ID = re.compile(r"sg-[0-9a-f]{8,17}")
ENI_ID = re.compile(r"eni-[0-9a-f]{8,17}")
WHAT_IT_DOES_NOT = (
    "changing security groups does not end connections already tracked (the all-open detour helps only flows "
    "that were untracked); DNS to the VPC resolver, the instance metadata service and Time Sync are not "
    "filtered by security groups"
)

logger = logging.getLogger(__name__)


class NotOurGroup(Exception):
    """A group with the responder's name but without its purpose tag: someone else's, never used."""


def isolate_instance(ec2: Any, instance_id: str, region: str, *, incident_id: str, dry_run: bool = False) -> StepResult:
    try:
        instance = describe_instance(ec2, instance_id)
        state = instance["State"]["Name"] if instance else None
        if instance is None or state in GONE_STATES:
            return step(ISOLATE, Status.SKIPPED, instance_id, f"instance is gone ({state or 'terminated'})")
        return _isolate(ec2, instance, region, incident_id, dry_run=dry_run)
    except NotOurGroup as exc:
        return step(ISOLATE, Status.FAILED, instance_id, str(exc), manual=_manual(region, instance_id))
    except ClientError as exc:
        if error_code(exc) == "InvalidInstanceID.NotFound":
            return step(ISOLATE, Status.SKIPPED, instance_id, "instance is gone (terminated)")
        message = exc.response.get("Error", {}).get("Message", str(exc))
        return step(
            ISOLATE, Status.FAILED, instance_id, f"{error_code(exc)}: {message}", manual=_manual(region, instance_id)
        )


def _isolate(ec2: Any, instance: Mapping[str, Any], region: str, incident_id: str, *, dry_run: bool) -> StepResult:
    instance_id = instance["InstanceId"]
    enis = {
        eni["NetworkInterfaceId"]: (eni["VpcId"], [group["GroupId"] for group in eni.get("Groups", [])])
        for eni in instance.get("NetworkInterfaces", [])
        if eni.get("VpcId")
    }
    if not enis:
        return step(ISOLATE, Status.SKIPPED, instance_id, "instance has no VPC network interface")
    vpcs = sorted({vpc for vpc, _ in enis.values()})
    isolation = {vpc: _find_group(ec2, vpc, ISOLATION_GROUP, "isolation") for vpc in vpcs}
    untrack = {vpc: _find_group(ec2, vpc, UNTRACK_GROUP, "untrack") for vpc in vpcs}
    ours = {group for group in [*isolation.values(), *untrack.values()] if group}
    copy, distrust = read_original_groups(instance.get("Tags", []), incident_id, own_enis=set(enis))
    originals, unknown = {}, []
    for eni, (_, groups) in enis.items():
        if not ours.intersection(groups):
            originals[eni] = groups  # live, untouched by the responder: the truth
        elif eni in copy:
            originals[eni] = copy[eni]  # moved by an earlier attempt of this incident, whose copy this is
        else:
            originals[eni] = [group for group in groups if group not in ours]
            if not originals[eni]:
                unknown.append(eni)
    stray = sorted(eni for eni, (vpc, groups) in enis.items() if untrack[vpc] and untrack[vpc] in groups)
    pending = [eni for eni, (vpc, groups) in enis.items() if groups != [isolation[vpc]]]
    open_rules = {group: _rule_ids(ec2, group) for group in ours}
    data = {"incident_id": incident_id, "original_groups": originals, "isolation_groups": isolation}
    undo = _restore_command(region, originals)
    notes = _notes(distrust, unknown)
    if not pending and not any(open_rules.values()):
        return step(
            ISOLATE,
            Status.ALREADY_DONE,
            instance_id,
            f"every interface already has only the isolation group, which has no rules: {_describe_map(isolation)}"
            f"; {WHAT_IT_DOES_NOT}{notes}",
            undo=undo,
            data=data,
        )
    if dry_run:
        return step(
            ISOLATE,
            Status.SKIPPED,
            instance_id,
            f"dry-run: would move {len(pending)} of {len(enis)} "
            f"interface(s) in {', '.join(vpcs)} to a rule-less isolation group{notes}",
            data=data,
        )

    known = {eni: groups for eni, groups in originals.items() if groups}
    if known and copy != known:
        ec2.create_tags(Resources=[instance_id], Tags=original_groups_tags(known, incident_id))
    for vpc in vpcs:
        group = isolation[vpc] or _create_group(
            ec2, vpc, ISOLATION_GROUP, "isolation", "credential-responder: no inbound, no outbound"
        )
        isolation[vpc] = group
        _revoke_all(ec2, group)
    # A retry after a Lambda timeout: an interface left on the all-open group goes straight to isolation.
    for eni in stray:
        ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=[isolation[enis[eni][0]]])
    for left_open in untrack.values():
        if left_open:
            _revoke_all(ec2, left_open)
    pending = [eni for eni in pending if eni not in stray]
    detour = {vpc: untrack[vpc] or _create_untrack_group(ec2, vpc) for vpc in sorted({enis[e][0] for e in pending})}
    _swap_through(ec2, pending, {eni: enis[eni][0] for eni in pending}, detour, isolation, originals)

    problems = _verify(ec2, enis, isolation, {vpc: g for vpc, g in {**untrack, **detour}.items() if g})
    manual = " && ".join(
        f"aws ec2 modify-network-interface-attribute --region {shlex.quote(region)} --network-interface-id "
        f"{shlex.quote(eni)} --groups {shlex.quote(str(isolation[vpc]))}"
        for eni, (vpc, _) in sorted(enis.items())
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
    fixed = f"; {len(stray)} interface(s) left on the all-open group by an earlier attempt moved first" if stray else ""
    return step(
        ISOLATE,
        Status.DONE,
        instance_id,
        f"security groups replaced: {len(enis)} interface(s) now have only the isolation group "
        f"({_describe_map(isolation)}), 0 inbound/0 outbound rules (read back), after a detour through the "
        f"all-open group, whose rules are revoked again{fixed}; {WHAT_IT_DOES_NOT}{notes}",
        undo=undo,
        data=data,
    )


def _swap_through(
    ec2: Any,
    pending: list[str],
    vpc_of: Mapping[str, str],
    detour: Mapping[str, str],
    isolation: Mapping[str, str | None],
    originals: Mapping[str, list[str]],
) -> None:
    """Each interface: all-open, then isolation. Whatever happens, no interface stays on the all-open
    group and the all-open group ends with no rules."""
    try:
        for group in detour.values():
            _open(ec2, group)
        for eni in pending:
            vpc = vpc_of[eni]
            try:
                ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=[detour[vpc]])
                ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=[isolation[vpc]])
            except BaseException:
                # Back where it was (or isolated, when its groups are unknown), then report.
                back = originals.get(eni) or [str(isolation[vpc])]
                with suppress(Exception):
                    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=back)
                raise
    except BaseException:
        for group in detour.values():
            try:
                _revoke_all(ec2, group)
            except Exception:  # the original failure is the one to report; the next run re-checks
                logger.exception("could not revoke the all-open rules of %s", group)
        raise
    for group in detour.values():
        _revoke_all(ec2, group)


def read_original_groups(
    tags: list[Mapping[str, str]], incident_id: str, *, own_enis: set[str] | None = None
) -> tuple[dict[str, list[str]], str | None]:
    """The instance's copy of the original groups, and why it was not trusted (None when it was).

    Trusted only when it carries `incident_id`; only interfaces in `own_enis` and valid ids are kept."""
    values = {tag["Key"]: tag["Value"] for tag in tags}
    if ORIGINAL_TAG not in values:
        return {}, None
    text, part = values[ORIGINAL_TAG], 2
    while f"{ORIGINAL_TAG}:{part}" in values:
        text, part = text + values[f"{ORIGINAL_TAG}:{part}"], part + 1
    try:
        parsed = json.loads(text)
        recorded_for, groups = parsed.get("incident"), parsed.get("groups")
    except (ValueError, AttributeError):
        return {}, f"the instance tag {ORIGINAL_TAG} is not the responder's record: ignored"
    if recorded_for != incident_id or not isinstance(groups, dict):
        return {}, f"the instance tag {ORIGINAL_TAG} does not carry this incident's id: ignored"
    copy = {}
    for eni, values_ in groups.items():
        if not (isinstance(eni, str) and ENI_ID.fullmatch(eni)) or (own_enis is not None and eni not in own_enis):
            continue
        if isinstance(values_, list) and values_ and all(isinstance(g, str) and GROUP_ID.fullmatch(g) for g in values_):
            copy[eni] = list(values_)
    return copy, None


def original_groups_tags(originals: Mapping[str, list[str]], incident_id: str) -> list[dict[str, str]]:
    record = {"incident": incident_id, "groups": dict(originals)}
    text = json.dumps(record, separators=(",", ":"), sort_keys=True)
    chunks = [text[i : i + TAG_VALUE_LIMIT] for i in range(0, len(text), TAG_VALUE_LIMIT)]
    return [
        {"Key": ORIGINAL_TAG if n == 1 else f"{ORIGINAL_TAG}:{n}", "Value": chunk}
        for n, chunk in enumerate(chunks, start=1)
    ]


def _find_group(ec2: Any, vpc: str, name: str, purpose: str) -> str | None:
    groups = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": [name]}]
    )["SecurityGroups"]
    if not groups:
        return None
    tags = {tag["Key"]: tag["Value"] for tag in groups[0].get("Tags", [])}
    if tags.get(PURPOSE_TAG) != purpose:
        # The responder may change rules only on groups with its purpose tag (its IAM policy says so too).
        raise NotOurGroup(
            f"security group {groups[0]['GroupId']} in {vpc} is named {name} but lacks the tag "
            f"{PURPOSE_TAG}={purpose}: not the responder's, never used; delete it or tag it after checking it"
        )
    return str(groups[0]["GroupId"])


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
        found = _find_group(ec2, vpc, name, purpose)
        if not found:
            raise
        return found


def _create_untrack_group(ec2: Any, vpc: str) -> str:
    group = _create_group(
        ec2, vpc, UNTRACK_GROUP, "untrack", "credential-responder: no rules at rest; all open during a swap"
    )
    _revoke_all(ec2, group)  # a new group starts with "all outbound": at rest it carries nothing
    return group


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


def _open(ec2: Any, group: str) -> None:
    """All protocols, 0.0.0.0/0 and ::/0, both directions: the shape that makes a flow untracked."""
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


def _verify(
    ec2: Any,
    enis: Mapping[str, tuple[str, list[str]]],
    isolation: Mapping[str, str | None],
    untrack: Mapping[str, str],
) -> list[str]:
    problems = []
    for vpc, group in isolation.items():
        left = _rule_ids(ec2, str(group))
        if left:
            problems.append(f"isolation group {group} in {vpc} still has {len(left)} rule(s)")
    for vpc, group in untrack.items():
        left = _rule_ids(ec2, group)
        if left:
            problems.append(f"all-open group {group} in {vpc} still has {len(left)} rule(s): revoke them")
    interfaces = ec2.describe_network_interfaces(NetworkInterfaceIds=list(enis))["NetworkInterfaces"]
    for interface in interfaces:
        groups = sorted(group["GroupId"] for group in interface["Groups"])
        expected = [isolation[enis[interface["NetworkInterfaceId"]][0]]]
        if groups != expected:
            problems.append(f"{interface['NetworkInterfaceId']} has {groups}, expected {expected}")
    return problems


def _restore_command(region: str, originals: Mapping[str, list[str]]) -> str:
    return " && ".join(
        f"aws ec2 modify-network-interface-attribute --region {shlex.quote(region)} --network-interface-id "
        f"{shlex.quote(eni)} --groups {' '.join(shlex.quote(group) for group in groups)}"
        for eni, groups in sorted(originals.items())
        if groups
    )


def _manual(region: str, instance_id: str) -> str:
    return (
        f"aws ec2 describe-instances --region {shlex.quote(region)} --instance-ids {shlex.quote(instance_id)}  "
        "# then per ENI (check none is left on the all-open group credential-responder-untrack): aws ec2 "
        "modify-network-interface-attribute --network-interface-id <eni> --groups <a group of its VPC with no rules>"
    )


def _notes(distrust: str | None, unknown: list[str]) -> str:
    notes = []
    if distrust:
        notes.append(distrust)
    if unknown:
        notes.append(
            f"original groups of {', '.join(sorted(unknown))} unknown (already on the responder's groups, and no "
            "copy of this incident): see the incident record of the earlier response"
        )
    return "".join(f"; {note}" for note in notes)


def _describe_map(isolation: Mapping[str, str | None]) -> str:
    return ", ".join(f"{vpc}: {group}" for vpc, group in sorted(isolation.items()))
