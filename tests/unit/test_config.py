"""ResponderConfig: every key parses from cdk.json types and from `-c key=value` strings, and a bad
value fails with a message that names the key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.config import ConfigError, ResponderConfig, partition_of

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"


def config(default_region: str | None = None, **context: Any) -> ResponderConfig:
    return ResponderConfig.from_context(context.get, default_region=default_region)


def test_defaults_match_the_dataclass() -> None:
    assert config() == ResponderConfig()


def test_cdk_json_context_is_valid() -> None:
    context = json.loads(CDK_JSON.read_text())["context"]
    assert config(**context).quarantine_policy_arn.endswith("AWSCompromisedKeyQuarantineV3")


def test_cli_strings_are_parsed() -> None:
    parsed = config(
        dryRun="true",
        baselineDays="14",
        suspicionMarginMinutes="30",
        unknownChanges="report",
        regions='["us-east-1","eu-west-1"]',
        homeRegion="eu-central-1",
        healthBackupRegion="false",
        notificationEmails="a@example.com, b@example.com",
    )
    assert parsed.dry_run is True
    assert (parsed.baseline_days, parsed.suspicion_margin_minutes, parsed.unknown_changes) == (14, 30, "report")
    assert parsed.regions == ("us-east-1", "eu-west-1")
    assert parsed.notification_emails == ("a@example.com", "b@example.com")
    assert config(regions="us-east-1,us-west-2", homeRegion="eu-west-1").regions == ("us-east-1", "us-west-2")


def test_home_region_defaults_to_the_cli_region_and_the_key_wins() -> None:
    assert config(default_region="eu-west-1").home_region == "eu-west-1"
    assert config(default_region="eu-west-1", homeRegion="ap-south-1").home_region == "ap-south-1"
    assert config().home_region is None


@pytest.mark.parametrize(
    ("context", "key"),
    [
        ({"dryRun": "maybe"}, "dryRun"),
        ({"healthBackupRegion": "yes"}, "healthBackupRegion"),
        ({"detachLoadBalancers": "yes"}, "detachLoadBalancers"),
        ({"removeInstanceProfile": 1}, "removeInstanceProfile"),
        ({"baselineDays": "90"}, "baselineDays"),
        ({"suspicionMarginMinutes": "-1"}, "suspicionMarginMinutes"),
        ({"unknownChanges": "delete"}, "unknownChanges"),
        ({"lookbackHours": "24"}, "lookbackHours"),
        ({"detachAttackerPolicies": "true"}, "detachAttackerPolicies"),
        ({"secondLookupDelayMinutes": "x"}, "secondLookupDelayMinutes"),
        ({"logRetentionDays": 5000}, "logRetentionDays"),
        ({"notificationEmails": ["not-an-email"]}, "notificationEmails"),
        ({"slackWebhookSecretName": "https://hooks.slack.com/services/T/B/x"}, "slackWebhookSecretName"),
        ({"quarantinePolicyArn": "AWSCompromisedKeyQuarantineV3"}, "quarantinePolicyArn"),
        ({"revokeScope": "account"}, "revokeScope"),
        ({"exemptPrincipalArns": ["alice"]}, "exemptPrincipalArns"),
        ({"exemptInstanceIds": ["web-1"]}, "exemptInstanceIds"),
        ({"powertoolsVersion": "latest"}, "powertoolsVersion"),
        ({"homeRegion": "mars-1"}, "homeRegion"),
        ({"homeRegion": "eu-west-1", "regions": ["mars-1"]}, "regions"),
        ({"homeRegion": "eu-west-1", "regions": '["us-east-1"'}, "regions"),
        ({"homeRegion": "eu-west-1", "regions": 42}, "regions"),
        ({"homeRegion": "eu-west-1", "regions": {"us-east-1": True}}, "regions"),
        ({"homeRegion": "eu-west-1", "regions": ["us-east-1", "eu-west-1"]}, "regions"),
        ({"homeRegion": "eu-west-1", "regions": ["us-east-1", "us-east-1"]}, "regions"),
        ({"homeRegion": "eu-west-1", "regions": ["cn-north-1"]}, "regions"),
        ({"regions": ["us-east-1"]}, "homeRegion"),
    ],
)
def test_a_bad_value_names_its_key(context: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{key}: "):
        config(**context)


def test_regions_may_be_empty_without_a_home_region() -> None:
    assert config(regions="[]").regions == ()


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("us-east-1", "aws"),
        ("eu-central-2", "aws"),
        ("cn-northwest-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-iso-east-1", "aws-iso"),
        ("us-isob-east-1", "aws-isob"),
    ],
)
def test_partition_of(region: str, partition: str) -> None:
    assert partition_of(region) == partition


def test_dry_run_actions_are_validated_and_named() -> None:
    from infra.config import ConfigError, ResponderConfig

    config = ResponderConfig.from_context({"dryRunActions": '["isolateInstance"]'}.get)
    assert config.dry_run_actions == ("isolateInstance",)
    with pytest.raises(ConfigError, match="dryRunActions: 'isolate'"):
        ResponderConfig.from_context({"dryRunActions": ["isolate"]}.get)
