"""Every region: a forwarder stack per covered region sends its detection events to the home bus.

One synth (module-scoped) with home eu-west-1 and three other regions covers every case: Health
rules where AWS delivers Health events (us-east-1, and us-west-2 as the opted-in backup), GuardDuty
everywhere. Bad configuration is refused before anything is synthesized.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from infra.detection import GUARDDUTY_PATTERN, HEALTH_PATTERN
from infra.forwarder import forwarded_patterns

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
pytestmark = pytest.mark.xdist_group("synth")

HOME = "eu-west-1"
REGIONS = ["us-east-1", "us-west-2", "ap-northeast-1"]
CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"
# What the forwarders must target, as CloudFormation resolves it in the same account.
HOME_BUS = {
    "Fn::Join": [
        "",
        ["arn:", {"Ref": "AWS::Partition"}, f":events:{HOME}:", {"Ref": "AWS::AccountId"}, ":event-bus/default"],
    ]
}


def context(**overrides: Any) -> dict[str, Any]:
    return {**json.loads(CDK_JSON.read_text())["context"], **overrides}


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from app import build_app

    app = build_app(
        context=context(homeRegion=HOME, regions=json.dumps(REGIONS), healthBackupRegion="true"),
        outdir=str(tmp_path_factory.mktemp("regions")),
    )
    return app.synth()  # also runs cdk-nag: an unacknowledged finding raises here


def forwarder(assembly: Any, region: str) -> dict[str, Any]:
    return assembly.get_stack_by_name(f"CredentialResponderForwarder-{region}").template


def of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {key: res for key, res in template["Resources"].items() if res["Type"] == resource_type}


def as_pattern(pattern: dict[str, Any]) -> dict[str, Any]:
    """As the template holds it: this account's events only (issue 14, item 8)."""
    own = {**pattern, "account": [{"Ref": "AWS::AccountId"}]}
    return {key.replace("detail_type", "detail-type"): value for key, value in own.items()}


def test_one_forwarder_stack_per_region_in_its_region(assembly: Any) -> None:
    stacks = {stack.stack_name: stack.environment.region for stack in assembly.stacks}
    assert stacks == {"CredentialResponder": HOME, **{f"CredentialResponderForwarder-{r}": r for r in REGIONS}}
    for region in REGIONS:
        stack = assembly.get_stack_by_name(f"CredentialResponderForwarder-{region}")
        assert "CredentialResponder" in [dep.id for dep in stack.dependencies]


@pytest.mark.parametrize(
    ("region", "kinds"),
    [
        ("us-east-1", {"guardduty", "health"}),
        ("us-west-2", {"guardduty", "health"}),
        ("ap-northeast-1", {"guardduty"}),
    ],
)
def test_rules_forward_to_the_home_bus_with_a_dead_letter_queue(assembly: Any, region: str, kinds: set[str]) -> None:
    template = forwarder(assembly, region)
    rules = of_type(template, "AWS::Events::Rule")
    patterns = {"guardduty": as_pattern(GUARDDUTY_PATTERN), "health": as_pattern(HEALTH_PATTERN)}
    assert sorted(json.dumps(rule["Properties"]["EventPattern"], sort_keys=True) for rule in rules.values()) == sorted(
        json.dumps(patterns[kind], sort_keys=True) for kind in kinds
    )
    (role_id,) = of_type(template, "AWS::IAM::Role")
    (queue_id,) = of_type(template, "AWS::SQS::Queue")
    for rule in rules.values():
        (target,) = rule["Properties"]["Targets"]
        assert target["Arn"] == HOME_BUS
        assert target["RoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
        assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}


def test_health_rule_only_where_aws_delivers_health_events() -> None:
    assert set(forwarded_patterns("us-east-1", health_backup=False)) == {"guardduty", "health"}
    assert set(forwarded_patterns("us-west-2", health_backup=False)) == {"guardduty"}
    assert set(forwarded_patterns("us-west-2", health_backup=True)) == {"guardduty", "health"}
    assert set(forwarded_patterns("eu-west-1", health_backup=True)) == {"guardduty"}


@pytest.mark.parametrize("region", REGIONS)
def test_forwarding_role_may_only_put_events_on_the_home_bus(assembly: Any, region: str) -> None:
    template = forwarder(assembly, region)
    ((role_id, role),) = of_type(template, "AWS::IAM::Role").items()
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    (policy,) = of_type(template, "AWS::IAM::Policy").values()
    assert policy["Properties"]["Roles"] == [{"Ref": role_id}]
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {"Action": "events:PutEvents", "Effect": "Allow", "Resource": HOME_BUS}
    ]


@pytest.mark.parametrize("region", REGIONS)
def test_nothing_global_is_named_and_nothing_is_referenced_across_stacks(assembly: Any, region: str) -> None:
    template = forwarder(assembly, region)
    text = json.dumps(template)
    assert "Fn::ImportValue" not in text and "Custom::" not in text
    for resource in template["Resources"].values():
        if resource["Type"].startswith("AWS::IAM::"):
            assert not {"RoleName", "ManagedPolicyName", "InstanceProfileName", "UserName"} & set(
                resource["Properties"]
            ), resource


def test_home_bus_accepts_exactly_the_forwarding_rules(assembly: Any) -> None:
    home = assembly.get_stack_by_name("CredentialResponder").template
    (policy,) = of_type(home, "AWS::Events::EventBusPolicy").values()
    assert policy["Properties"]["EventBusName"] == "default"
    statement = policy["Properties"]["Statement"]
    assert statement["Action"] == "events:PutEvents"
    assert statement["Resource"] == HOME_BUS
    assert statement["Principal"] == {
        "AWS": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"]]}
    }
    expected = []
    for region in REGIONS:
        for rule in of_type(forwarder(assembly, region), "AWS::Events::Rule").values():
            expected.append(
                {
                    "Fn::Join": [
                        "",
                        [
                            "arn:",
                            {"Ref": "AWS::Partition"},
                            f":events:{region}:",
                            {"Ref": "AWS::AccountId"},
                            f":rule/{rule['Properties']['Name']}",
                        ],
                    ]
                }
            )
    assert sorted(map(str, statement["Condition"]["ArnEquals"]["aws:SourceArn"])) == sorted(map(str, expected))


def test_without_regions_only_the_home_stack_is_synthesized(synthesized: Any) -> None:
    manifest = json.loads((Path(synthesized.outdir) / "manifest.json").read_text())
    stacks = [
        name for name, artifact in manifest["artifacts"].items() if artifact["type"] == "aws:cloudformation:stack"
    ]
    assert stacks == ["CredentialResponder"]
    assert not of_type(synthesized.template, "AWS::Events::EventBusPolicy")


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"homeRegion": HOME, "regions": '["mars-1"]'}, "regions"),
        ({"homeRegion": HOME, "regions": json.dumps(["us-east-1", HOME])}, "regions"),
        ({"homeRegion": HOME, "regions": "42"}, "regions"),
        ({"homeRegion": HOME, "regions": '{"us-east-1": true}'}, "regions"),
        ({"homeRegion": "moon-base", "regions": "[]"}, "homeRegion"),
    ],
)
def test_bad_configuration_fails_synth_naming_the_key(overrides: dict[str, Any], key: str) -> None:
    from app import build_app

    with pytest.raises(SystemExit, match=rf"Invalid configuration: {key}: "):
        build_app(context=context(**overrides))


def test_home_without_us_east_1_warns_that_health_events_are_missed() -> None:
    from app import build_app

    app = build_app(context=context(homeRegion=HOME))
    warnings = [
        entry.data
        for entry in app.node.find_child("CredentialResponder").node.metadata
        if entry.type == "aws:cdk:warning"
    ]
    assert any("us-east-1" in str(warning) for warning in warnings)
