"""cut_off_instance against moto: assertions read target groups, load balancers and profile associations back."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from common.aws import client
from cut_off_instance import handler
from cut_off_instance.actions import (
    associated_profiles,
    classic_load_balancers,
    deregister_from_load_balancers,
    registered_targets,
    remove_instance_profile,
)
from drill.moto_quirks import aws_semantics
from tests.factories import exfiltration_incident

REGION = "ap-northeast-1"


@pytest.fixture
def ec2(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("DRY_RUN", "DRY_RUN_LOAD_BALANCERS", "DRY_RUN_INSTANCE_PROFILE", "EXEMPT_INSTANCE_IDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client.cache_clear()
    with mock_aws(), aws_semantics():
        yield boto3.client("ec2", region_name=REGION)
    client.cache_clear()


@pytest.fixture
def elbv2(ec2: Any) -> Any:
    return boto3.client("elbv2", region_name=REGION)


@pytest.fixture
def elb(ec2: Any) -> Any:
    return boto3.client("elb", region_name=REGION)


def launch(ec2: Any, profile: str | None = None) -> str:
    extra = {"IamInstanceProfile": {"Name": profile}} if profile else {}
    return ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, **extra)["Instances"][0]["InstanceId"]


def target_group(ec2: Any, elbv2: Any, name: str = "web", port: int = 8080) -> str:
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    return elbv2.create_target_group(Name=name, Protocol="HTTP", Port=port, VpcId=vpc, TargetType="instance")[
        "TargetGroups"
    ][0]["TargetGroupArn"]


def classic(ec2: Any, elb: Any, instance_id: str, name: str = "legacy-web") -> str:
    elb.create_load_balancer(
        LoadBalancerName=name,
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}],
        AvailabilityZones=[f"{REGION}a"],
    )
    elb.register_instances_with_load_balancer(LoadBalancerName=name, Instances=[{"InstanceId": instance_id}])
    return name


def profile(name: str = "web-app-profile") -> str:
    iam = boto3.client("iam", region_name=REGION)
    iam.create_role(RoleName="web-app-role", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"}))
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName="web-app-role")
    return name


def test_deregisters_from_every_target_group_and_classic_load_balancer(ec2: Any, elbv2: Any, elb: Any) -> None:
    instance = launch(ec2)
    web, api = target_group(ec2, elbv2, "web", 8080), target_group(ec2, elbv2, "api", 9090)
    other = launch(ec2)
    elbv2.register_targets(TargetGroupArn=web, Targets=[{"Id": instance, "Port": 8081}])
    elbv2.register_targets(TargetGroupArn=api, Targets=[{"Id": instance}, {"Id": other}])
    classic(ec2, elb, instance)

    result = deregister_from_load_balancers(ec2, elbv2, elb, instance, REGION)

    assert result["status"] == "done", result
    assert registered_targets(elbv2, instance) == [] and classic_load_balancers(elb, instance) == []
    # The bystander stays where it was.
    assert [t["id"] for t in registered_targets(elbv2, other)] == [other]
    recorded = {(t["target_group_arn"], t["port"]) for t in result["data"]["target_groups"]}
    assert recorded == {(web, 8081), (api, 9090)}
    assert result["data"]["classic_load_balancers"] == ["legacy-web"]
    commands = [shlex.split(part) for part in result["undo"].split(" && ")]
    assert any(c[-2:] == ["--targets", f"Id={instance},Port=8081"] for c in commands)
    assert not result["containment"]


def test_a_second_run_is_already_done(ec2: Any, elbv2: Any, elb: Any) -> None:
    instance = launch(ec2)
    web = target_group(ec2, elbv2)
    elbv2.register_targets(TargetGroupArn=web, Targets=[{"Id": instance}])
    assert deregister_from_load_balancers(ec2, elbv2, elb, instance, REGION)["status"] == "done"
    again = deregister_from_load_balancers(ec2, elbv2, elb, instance, REGION)
    assert again["status"] == "already-done" and "undo" not in again


def test_dry_run_changes_nothing(ec2: Any, elbv2: Any, elb: Any) -> None:
    instance = launch(ec2)
    web = target_group(ec2, elbv2)
    elbv2.register_targets(TargetGroupArn=web, Targets=[{"Id": instance}])
    result = deregister_from_load_balancers(ec2, elbv2, elb, instance, REGION, dry_run=True)
    assert result["status"] == "skipped" and result["detail"].startswith("dry-run")
    assert [t["id"] for t in registered_targets(elbv2, instance)] == [instance]


def test_a_denied_deregistration_fails_with_the_command(ec2: Any, elbv2: Any, elb: Any, monkeypatch) -> None:
    instance = launch(ec2)
    web = target_group(ec2, elbv2)
    elbv2.register_targets(TargetGroupArn=web, Targets=[{"Id": instance}])

    def denied(**kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "DeregisterTargets")

    monkeypatch.setattr(elbv2, "deregister_targets", denied)
    result = deregister_from_load_balancers(ec2, elbv2, elb, instance, REGION)
    assert result["status"] == "failed" and "AccessDenied" in result["detail"]
    assert "deregister-targets" in result["manual"]


def test_removes_the_instance_profile_and_records_it(ec2: Any) -> None:
    name = profile()
    instance = launch(ec2, name)
    assert associated_profiles(ec2, instance)

    result = remove_instance_profile(ec2, instance, REGION)

    assert result["status"] == "done", result
    assert associated_profiles(ec2, instance) == []
    assert result["data"]["instance_profile_name"] == name
    assert result["data"]["instance_profile_arn"].endswith(f":instance-profile/{name}")
    words = shlex.split(result["undo"])
    assert words[:3] == ["aws", "ec2", "associate-iam-instance-profile"]
    assert words[-1] == f"Arn={result['data']['instance_profile_arn']}"
    assert remove_instance_profile(ec2, instance, REGION)["status"] == "already-done"


def test_profile_dry_run_changes_nothing(ec2: Any) -> None:
    instance = launch(ec2, profile())
    result = remove_instance_profile(ec2, instance, REGION, dry_run=True)
    assert result["status"] == "skipped"
    assert associated_profiles(ec2, instance)


def test_a_terminated_instance_is_skipped(ec2: Any, elbv2: Any, elb: Any) -> None:
    instance = launch(ec2)
    ec2.terminate_instances(InstanceIds=[instance])
    assert deregister_from_load_balancers(ec2, elbv2, elb, instance, REGION)["status"] == "skipped"
    assert remove_instance_profile(ec2, instance, REGION)["status"] == "skipped"


def test_handler_switches(ec2: Any, elbv2: Any, monkeypatch, lambda_context) -> None:
    instance = launch(ec2, profile())
    web = target_group(ec2, elbv2)
    elbv2.register_targets(TargetGroupArn=web, Targets=[{"Id": instance}])
    incident = exfiltration_incident(instance_id=instance)
    monkeypatch.setenv("DRY_RUN_INSTANCE_PROFILE", "true")
    monkeypatch.setenv("DETACH_LOAD_BALANCERS", "false")
    steps = handler.handler({"incident": incident}, lambda_context)["steps"]
    assert [(s["name"], s["status"]) for s in steps] == [
        ("deregister-from-load-balancers", "skipped"),
        ("remove-instance-profile", "skipped"),
    ]
    assert associated_profiles(ec2, instance) and registered_targets(elbv2, instance)
    monkeypatch.setenv("EXEMPT_INSTANCE_IDS", instance)
    monkeypatch.delenv("DETACH_LOAD_BALANCERS")
    steps = handler.handler({"incident": incident}, lambda_context)["steps"]
    assert {s["status"] for s in steps} == {"skipped"} and "exempted" in steps[0]["detail"]
