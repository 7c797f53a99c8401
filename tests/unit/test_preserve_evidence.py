"""preserve_evidence against moto: assertions read the instance, the group and the images back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from common.aws import client
from drill.moto_quirks import aws_semantics
from preserve_evidence import handler
from preserve_evidence.actions import create_evidence_image, protect_from_autoscaling, protect_instance
from tests.factories import exfiltration_incident

REGION = "ap-northeast-1"
ACCOUNT = "123456789012"
NOW = datetime(2026, 11, 20, 3, 5, 0, tzinfo=UTC)
INCIDENT_TAG = "credential-responder:incident-id"


make_incident = exfiltration_incident


@pytest.fixture
def ec2(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("DRY_RUN", raising=False)
    monkeypatch.delenv("EXEMPT_INSTANCE_IDS", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws(), aws_semantics():
        yield boto3.client("ec2", region_name=REGION)
    client.cache_clear()


@pytest.fixture
def autoscaling(ec2: Any) -> Any:
    return boto3.client("autoscaling", region_name=REGION)


def launch(ec2: Any) -> str:
    return ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]


def in_auto_scaling_group(ec2: Any, autoscaling: Any) -> tuple[str, str]:
    ec2.create_launch_template(
        LaunchTemplateName="web-template", LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"}
    )
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="web-asg",
        MinSize=1,
        MaxSize=3,
        DesiredCapacity=1,
        LaunchTemplate={"LaunchTemplateName": "web-template"},
        VPCZoneIdentifier=subnet,
    )
    return "web-asg", autoscaling.describe_auto_scaling_instances()["AutoScalingInstances"][0]["InstanceId"]


def attribute(ec2: Any, instance_id: str, name: str) -> Any:
    key = name[0].upper() + name[1:]
    return ec2.describe_instance_attribute(InstanceId=instance_id, Attribute=name)[key]["Value"]


def incident_images(ec2: Any, incident_id: str) -> list[dict[str, Any]]:
    return ec2.describe_images(Owners=["self"], Filters=[{"Name": f"tag:{INCIDENT_TAG}", "Values": [incident_id]}])[
        "Images"
    ]


def test_protect_instance_turns_both_protections_on(ec2: Any) -> None:
    instance_id = launch(ec2)
    ec2.modify_instance_attribute(InstanceId=instance_id, InstanceInitiatedShutdownBehavior={"Value": "terminate"})

    result = protect_instance(ec2, instance_id, REGION)

    assert attribute(ec2, instance_id, "disableApiTermination") is True
    assert attribute(ec2, instance_id, "instanceInitiatedShutdownBehavior") == "stop"
    assert result["status"] == "done"
    assert "--no-disable-api-termination" in result["undo"]
    assert "--instance-initiated-shutdown-behavior terminate" in result["undo"]
    with pytest.raises(ClientError):
        ec2.terminate_instances(InstanceIds=[instance_id])


def test_protect_instance_rerun_is_already_done(ec2: Any) -> None:
    instance_id = launch(ec2)
    protect_instance(ec2, instance_id, REGION)

    assert protect_instance(ec2, instance_id, REGION)["status"] == "already-done"


def test_image_is_tagged_and_made_without_reboot(ec2: Any) -> None:
    instance_id = launch(ec2)
    calls: list[dict[str, Any]] = []
    recording = Recorder(ec2, "create_image", calls)

    result = create_evidence_image(recording, make_incident(instance_id=instance_id), now=NOW)

    image = ec2.describe_images(ImageIds=[result["data"]["image_id"]])["Images"][0]
    tags = {tag["Key"]: tag["Value"] for tag in image["Tags"]}
    assert tags == {
        INCIDENT_TAG: f"{ACCOUNT}:c2c6f0f0a7d14c1e8d1b3e5f7a9b0c11",
        "credential-responder:finding-id": "c2c6f0f0a7d14c1e8d1b3e5f7a9b0c11",
        "credential-responder:source": "aws.guardduty",
        "credential-responder:instance-id": instance_id,
        "credential-responder:created-at": "2026-11-20T03:05:00Z",
    }
    assert image["Name"] == f"forensic-{instance_id}-20261120T030500Z"
    snapshot_id = image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    snapshot = ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]
    assert {tag["Key"]: tag["Value"] for tag in snapshot["Tags"]} == tags
    # moto ignores NoReboot, so check what was asked of EC2.
    assert calls[0]["NoReboot"] is True
    assert [spec["ResourceType"] for spec in calls[0]["TagSpecifications"]] == ["image", "snapshot"]
    assert result["status"] == "done"


def test_image_rerun_finds_the_first_image(ec2: Any) -> None:
    instance_id = launch(ec2)
    incident = make_incident(instance_id=instance_id)
    first = create_evidence_image(ec2, incident, now=NOW)

    again = create_evidence_image(ec2, incident, now=datetime(2026, 11, 20, 4, 0, 0, tzinfo=UTC))

    assert again["status"] == "already-done"
    assert again["data"]["image_id"] == first["data"]["image_id"]
    assert len(incident_images(ec2, incident["incident_id"])) == 1


def test_instance_in_auto_scaling_group_is_detached_without_shrinking_it(ec2: Any, autoscaling: Any) -> None:
    group, instance_id = in_auto_scaling_group(ec2, autoscaling)

    result = protect_from_autoscaling(autoscaling, instance_id, REGION)

    assert autoscaling.describe_auto_scaling_instances(InstanceIds=[instance_id])["AutoScalingInstances"] == []
    desired = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"][0]
    assert desired["DesiredCapacity"] == 1
    assert instance_id not in [i["InstanceId"] for i in desired["Instances"]]
    assert result["status"] == "done"
    assert result["data"] == {"auto_scaling_group": group}
    assert result["undo"] == (
        f"aws autoscaling attach-instances --region {REGION} --auto-scaling-group-name {group} "
        f"--instance-ids {instance_id}"
    )


def test_instance_outside_auto_scaling_is_skipped(ec2: Any, autoscaling: Any) -> None:
    result = protect_from_autoscaling(autoscaling, launch(ec2), REGION)

    assert (result["status"], result["detail"]) == ("skipped", "not in an Auto Scaling group")


def test_terminated_instance_is_skipped_everywhere(ec2: Any, autoscaling: Any, lambda_context: Any) -> None:
    instance_id = launch(ec2)
    ec2.terminate_instances(InstanceIds=[instance_id])

    output = handler.handler({"incident": make_incident(instance_id=instance_id)}, lambda_context)

    assert [(s["name"], s["status"]) for s in output["steps"]] == [
        ("protect-instance", "skipped"),
        ("protect-from-autoscaling", "skipped"),
        ("create-evidence-image", "skipped"),
    ]
    assert output["steps"][0]["detail"] == "instance is gone (terminated)"
    assert output["steps"][2]["detail"] == "instance is gone (terminated)"
    assert incident_images(ec2, make_incident()["incident_id"]) == []


def test_unknown_instance_is_skipped(ec2: Any) -> None:
    result = protect_instance(ec2, "i-0123456789abcdef0", REGION)

    assert (result["status"], result["detail"]) == ("skipped", "instance is gone (terminated)")


def test_a_failing_step_does_not_stop_the_next(
    ec2: Any, autoscaling: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance_id = launch(ec2)
    failing = Failing(ec2, "modify_instance_attribute", "UnsupportedOperation")
    monkeypatch.setattr(handler, "client", lambda service, region=None: failing if service == "ec2" else autoscaling)

    output = handler.handler({"incident": make_incident(instance_id=instance_id)}, lambda_context)

    protect, _, image = output["steps"]
    assert protect["status"] == "failed"
    assert protect["detail"].startswith("UnsupportedOperation:")
    assert protect["manual"].startswith("aws ec2 modify-instance-attribute")
    assert image["status"] == "done"
    assert len(incident_images(ec2, make_incident()["incident_id"])) == 1


def test_dry_run_changes_nothing(
    ec2: Any, autoscaling: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRY_RUN", "true")
    _, instance_id = in_auto_scaling_group(ec2, autoscaling)

    output = handler.handler({"incident": make_incident(instance_id=instance_id)}, lambda_context)

    assert [s["status"] for s in output["steps"]] == ["skipped", "skipped", "skipped"]
    assert all(s["detail"].startswith("dry-run: would") for s in output["steps"])
    assert attribute(ec2, instance_id, "disableApiTermination") is False
    assert autoscaling.describe_auto_scaling_instances(InstanceIds=[instance_id])["AutoScalingInstances"]
    assert incident_images(ec2, make_incident()["incident_id"]) == []


def test_handler(ec2: Any, autoscaling: Any, lambda_context: Any) -> None:
    _, instance_id = in_auto_scaling_group(ec2, autoscaling)

    output = handler.handler({"incident": make_incident(instance_id=instance_id)}, lambda_context)

    assert [(s["name"], s["status"]) for s in output["steps"]] == [
        ("protect-instance", "done"),
        ("protect-from-autoscaling", "done"),
        ("create-evidence-image", "done"),
    ]
    assert all(s["containment"] is False for s in output["steps"])
    assert attribute(ec2, instance_id, "disableApiTermination") is True
    assert autoscaling.describe_auto_scaling_instances(InstanceIds=[instance_id])["AutoScalingInstances"] == []
    assert len(incident_images(ec2, make_incident()["incident_id"])) == 1
    json.dumps(output)


def test_handler_respects_exempt_instances(ec2: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    instance_id = launch(ec2)
    monkeypatch.setenv("EXEMPT_INSTANCE_IDS", instance_id)

    output = handler.handler({"incident": make_incident(instance_id=instance_id)}, lambda_context)

    assert [s["status"] for s in output["steps"]] == ["skipped"] * 3
    assert attribute(ec2, instance_id, "disableApiTermination") is False


class Recorder:
    """A client that records the keyword arguments of one method and otherwise passes through."""

    def __init__(self, inner: Any, method: str, calls: list[dict[str, Any]]) -> None:
        self._inner, self._method, self._calls = inner, method, calls

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name != self._method:
            return attr

        def call(**kwargs: Any) -> Any:
            self._calls.append(kwargs)
            return attr(**kwargs)

        return call


class Failing:
    """A client on which one method fails with the given EC2 error code."""

    def __init__(self, inner: Any, method: str, code: str) -> None:
        self._inner, self._method, self._code = inner, method, code

    def __getattr__(self, name: str) -> Any:
        if name == self._method:

            def fail(**_: Any) -> Any:
                raise ClientError({"Error": {"Code": self._code, "Message": "not for this instance"}}, name)

            return fail
        return getattr(self._inner, name)
