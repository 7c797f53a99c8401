"""Settings a deployer gets wrong, refused at synth with a message naming the key (no synth needed).

Also the supported partitions: cdk.json targets the commercial partition only, and a home region
elsewhere is refused rather than half-supported (README "Supported partitions").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.config import SUPPORTED_PARTITIONS, ConfigError, ResponderConfig

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"
WEBHOOK = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"


def config(default_region: str | None = None, **context: Any) -> ResponderConfig:
    return ResponderConfig.from_context(context.get, default_region=default_region)


@pytest.mark.parametrize(
    "value", [WEBHOOK, "hooks.slack.com/services/T0000/B0000/XXXX", "http://hooks.slack.com/x", "slack webhook!"]
)
def test_the_slack_setting_never_echoes_its_value(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^slackWebhookSecretName: ") as raised:
        config(slackWebhookSecretName=value)
    assert value not in str(raised.value)
    assert "XXXX" not in str(raised.value) and "T0000" not in str(raised.value)


def test_a_url_gets_the_never_the_url_message() -> None:
    with pytest.raises(ConfigError, match="never the URL"):
        config(slackWebhookSecretName=WEBHOOK)


def test_home_region_is_required_with_regions_even_when_the_cli_has_one() -> None:
    with pytest.raises(ConfigError, match=r"^homeRegion: required when regions is set"):
        config(default_region="eu-west-1", regions="us-east-1")
    assert config(default_region="eu-west-1").home_region == "eu-west-1"  # no forwarders: the CLI's region


@pytest.mark.parametrize(
    ("home", "regions"), [("eu-west-1", "us-east-1"), ("eu-west-1", ""), ("us-east-1", "eu-central-1")]
)
def test_health_backup_region_without_us_west_2_is_refused(home: str, regions: str) -> None:
    with pytest.raises(ConfigError, match=r"^healthBackupRegion: .*us-west-2"):
        config(homeRegion=home, regions=regions, healthBackupRegion="true")


@pytest.mark.parametrize(("home", "regions"), [("eu-west-1", "us-east-1,us-west-2"), ("us-west-2", "us-east-1")])
def test_health_backup_region_with_us_west_2_covered(home: str, regions: str) -> None:
    assert config(homeRegion=home, regions=regions, healthBackupRegion="true").health_backup_region


def test_cdk_targets_only_the_supported_partitions() -> None:
    context = json.loads(CDK_JSON.read_text())["context"]
    assert context["@aws-cdk/core:target-partitions"] == list(SUPPORTED_PARTITIONS) == ["aws"]


@pytest.mark.parametrize(("region", "partition"), [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")])
def test_a_home_region_in_another_partition_is_refused(region: str, partition: str) -> None:
    with pytest.raises(ConfigError, match=rf"^homeRegion: {region} is in the {partition} partition"):
        config(homeRegion=region)
    with pytest.raises(ConfigError, match=r"^homeRegion: "):
        config(default_region=region)  # nor through the CLI's region
