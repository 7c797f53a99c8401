"""AttackSequence:EC2/CompromisedInstanceGroup (issue 17 item 2): the group's instances and shared
role from service.detection.sequence only; the role revoked when a signal is instance-credential
misuse; the instances listed with the commands unless isolateInstanceGroups."""

from __future__ import annotations

import copy
import json
import shlex
from pathlib import Path

import pytest

from incident.model import IntakeStatus, Kind
from incident.normalize import MAX_GROUP_ISOLATION, normalize
from infra.config import ConfigError, ResponderConfig
from infra.detection import GUARDDUTY_PATTERN, own_account
from report.outcome import GROUP_STEP, Outcome, collect_steps, decide

EVENTS = Path(__file__).resolve().parent.parent / "events"
GROUP = "crafted/guardduty_attack_sequence_ec2_instance_group.json"
MEMBERS = ["i-0aa11bb22cc33dd41", "i-0aa11bb22cc33dd42"]


def load(name: str = GROUP) -> dict:
    return json.loads((EVENTS / name).read_text())


def sequence_of(event: dict) -> dict:
    return event["detail"]["service"]["detection"]["sequence"]


def test_the_guardduty_rule_matches_the_instance_group_sequence() -> None:
    # moto's EventBridge matcher (its TestEventPattern API returns no result); the CDK keyword
    # (detail_type) as the rule's JSON spells it.
    from moto.events.models import EventPattern

    pattern = {("detail-type" if k == "detail_type" else k): v for k, v in GUARDDUTY_PATTERN.items()}
    rule = EventPattern.load(json.dumps(own_account(pattern, "123456789012")))
    assert rule.matches_event(load())
    other = load()
    other["detail"]["type"] = "AttackSequence:S3/CompromisedData"
    assert not rule.matches_event(other)


def test_the_group_names_its_instances_and_the_shared_role() -> None:
    intake = normalize(load())
    assert intake.status == IntakeStatus.ACCEPTED, intake.reason
    incident = intake.incident
    assert incident is not None
    assert incident.kind == Kind.INSTANCE_CREDENTIAL_EXFILTRATION
    assert incident.role_name == "web-fleet-role"
    assert incident.group_instance_ids == MEMBERS
    # The revoke is the role's: no single instance is the incident's (revokeScope=instance needs one).
    assert incident.instance_id is None
    assert incident.instance_profile_arn == "arn:aws:iam::123456789012:instance-profile/web-fleet-profile"
    assert incident.isolate_group is False and "isolateInstanceGroups=false" in (incident.decision or "")
    assert incident.related_finding_ids == ["b8c9d0e1f2a30415263748596a7b8c9d", "c9d0e1f2a3b40516273849506b7c8d9e"]


def test_an_auto_scaling_group_names_its_instances_too() -> None:
    event = load()
    sequence = sequence_of(event)
    sequence["resources"] = [
        {
            "uid": "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:1:autoScalingGroupName/web",
            "name": "web",
            "accountId": "123456789012",
            "resourceType": "AUTOSCALING_AUTO_SCALING_GROUP",
            "data": {"autoscalingAutoScalingGroup": {"ec2InstanceUids": ["i-0cc11dd22ee33ff44"]}},
        },
        *sequence["resources"][3:],  # the role's ACCESS_KEY resource
    ]
    incident = normalize(event).incident
    assert incident is not None and incident.group_instance_ids == ["i-0cc11dd22ee33ff44"]


def test_without_credential_misuse_nothing_is_revoked_and_the_group_is_reported() -> None:
    event = load()
    sequence = sequence_of(event)
    sequence["signals"] = [s for s in sequence["signals"] if "InstanceCredentialExfiltration" not in s["name"]]
    incident = normalize(event).incident
    assert incident is not None
    assert incident.kind == Kind.ATTACK_SEQUENCE and incident.role_name is None
    assert incident.report_only and "no instance-credential misuse" in incident.report_only
    verdict = decide("accepted", "", collect_steps({"intake": {"incident": incident.model_dump(mode="json")}}))
    assert verdict.outcome == Outcome.FAILED


def test_misuse_without_a_structured_role_is_a_failed_step_never_a_guess() -> None:
    event = load()
    sequence = sequence_of(event)
    sequence["actors"], sequence["resources"] = [], sequence["resources"][:3]
    incident = normalize(event).incident
    assert incident is not None and incident.role_name is None
    assert any("no assumed role named" in reason for reason in incident.unresolved)


def test_an_instance_in_another_account_is_not_the_groups(aws) -> None:
    event = load()
    sequence_of(event)["resources"][1]["accountId"] = "210987654321"
    sequence_of(event)["resources"][0]["accountId"] = "210987654321"
    incident = normalize(event).incident
    assert incident is not None and incident.group_instance_ids == ["i-0aa11bb22cc33dd42"]
    assert sum("210987654321" in reason for reason in incident.unresolved) == 2


def test_an_instance_uid_that_is_no_instance_id_is_ignored_naming_the_field() -> None:
    event = load()
    sequence_of(event)["resources"][0]["data"]["iamInstanceProfile"]["ec2InstanceUids"][1] = "i-$(reboot)"
    intake = normalize(event)
    assert intake.status == IntakeStatus.IGNORED
    assert "data.iamInstanceProfile.ec2InstanceUids[1]" in intake.reason and "$(" not in intake.reason


def test_isolate_groups_marks_a_small_group_for_isolation_only() -> None:
    incident = normalize(load(), isolate_groups=True).incident
    assert incident is not None and incident.isolate_group is True
    event = load()
    many = [f"i-0aa11bb22cc33{n:04x}" for n in range(MAX_GROUP_ISOLATION + 1)]
    sequence_of(event)["resources"][0]["data"]["iamInstanceProfile"]["ec2InstanceUids"] = many
    large = normalize(event, isolate_groups=True).incident
    assert large is not None and large.isolate_group is False
    assert f"more than {MAX_GROUP_ISOLATION} instances" in (large.decision or "")


def test_off_each_instance_is_a_skipped_containment_step_with_its_commands() -> None:
    incident = normalize(load()).incident.model_dump(mode="json")  # type: ignore[union-attr]
    revoked = {"name": "revoke-role-sessions", "status": "done", "target": "web-fleet-role", "detail": "ok"}
    state = {
        "intake": {"incident": incident},
        "results": {"revoke_sessions": {"steps": [revoked | {"containment": True}]}},
    }
    steps = collect_steps(state)
    group = [s for s in steps if s["name"] == GROUP_STEP]
    assert [s["target"] for s in group] == MEMBERS
    assert all(s["status"] == "skipped" and s["containment"] for s in group)
    manual = group[0]["manual"]
    assert "create-image --instance-id i-0aa11bb22cc33dd41 --no-reboot" in manual
    assert "disassociate-iam-instance-profile" in manual and '--groups "$sg_i_0aa11bb22cc33dd41"' in manual
    for line in manual.splitlines():
        shlex.split(line)  # every line is valid shell
    # The role is revoked, the instances can still get new credentials: partial, never contained.
    assert decide("accepted", "", steps).outcome == Outcome.PARTIAL


def test_on_the_members_steps_come_from_the_group_map() -> None:
    incident = normalize(load(), isolate_groups=True).incident.model_dump(mode="json")  # type: ignore[union-attr]
    isolated = {
        "name": "isolate-instance",
        "status": "done",
        "target": MEMBERS[1],
        "detail": "ok",
        "containment": False,
    }
    state = {
        "intake": {"incident": incident},
        "results": {
            "revoke_sessions": {
                "steps": [
                    {
                        "name": "revoke-role-sessions",
                        "status": "done",
                        "target": "r",
                        "detail": "ok",
                        "containment": True,
                    }
                ]
            },
            "instance_group": [
                {
                    "instance_id": MEMBERS[0],
                    "results": {},
                    "failures": {"isolate_instance": {"Error": "E", "Cause": "c"}},
                },
                {"instance_id": MEMBERS[1], "results": {"isolate_instance": {"steps": [isolated]}}, "failures": {}},
            ],
        },
    }
    steps = collect_steps(state)
    assert not [s for s in steps if s["name"] == GROUP_STEP]
    assert [s["target"] for s in steps if s["name"] == "isolate-instance"] == [MEMBERS[1]]
    (failed,) = [s for s in steps if s["status"] == "failed"]
    assert failed["name"] == "isolate_instance" and MEMBERS[0] in failed["target"] + failed.get("manual", "")
    assert decide("accepted", "", steps).outcome == Outcome.PARTIAL


def test_the_setting_is_validated_naming_the_key() -> None:
    assert ResponderConfig().isolate_groups is False
    assert ResponderConfig.from_context({"isolateInstanceGroups": "true"}.get).isolate_groups is True
    with pytest.raises(ConfigError, match="isolateInstanceGroups"):
        ResponderConfig.from_context({"isolateInstanceGroups": "sometimes"}.get)
    with pytest.raises(ConfigError, match="isolateInstanceGroups"):
        ResponderConfig.from_context({"isolateInstanceGroups": True, "isolateInstances": False}.get).validate()


def test_the_group_summary_names_the_group() -> None:
    from report.render import summary

    incident = normalize(load()).incident.model_dump(mode="json")  # type: ignore[union-attr]
    assert summary(copy.deepcopy(incident)) == "Compromised instance group (2 instances), role web-fleet-role"


def test_the_workflow_and_the_normalizer_agree_on_the_largest_group_isolated() -> None:
    from infra.workflow import GROUP_MAX_MEMBERS

    assert GROUP_MAX_MEMBERS == MAX_GROUP_ISOLATION


@pytest.mark.parametrize("accept", [True, False])
def test_a_sample_group_sequence_is_marked_as_one_like_every_guardduty_sample(accept: bool) -> None:
    event = load()
    event["detail"]["service"].setdefault("additionalInfo", {})["sample"] = True
    intake = normalize(event, accept_samples=accept)
    if accept:
        assert intake.incident is not None and intake.incident.sample is True
    else:
        assert intake.status is IntakeStatus.IGNORED and intake.reason.startswith("sample-finding")
