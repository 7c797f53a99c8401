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
    )
}


def run_scenario(name: str, synthesized: Any, *, time_scale: float = 0.001, **drill: Any) -> dict[str, Any]:
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
        **drill,
    )
    result["fault"] = {"scenario": name, "what": scenario.what, "expected": scenario.expected}
    return result
