"""Every realistic configuration synthesizes clean: cdk-nag (both packs) and cfn-lint, zero open findings.

The suite's shared synth (tests/conftest.py) has no e-mail and one Slack secret; a deployment
almost always has e-mails, often forwarders and switches. Each configuration here is synthesized
once per session (module-scoped, parametrized fixture: 5-10 s each), every stack of it (the home
stack and each forwarder) goes through cfn-lint, and the validation report must show both packs
ran with no violation. tests/infra/test_documented_commands.py runs the README's own deploy
arguments through `make synth`.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.infra.configurations import CONFIGURATIONS, Synth, synth_configuration
from tests.infra.test_cfn_lint import findings
from tests.infra.test_nag import PACKS, plugin_reports, report, violations

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
pytestmark = pytest.mark.xdist_group("synth")


@pytest.fixture(scope="module", params=sorted(CONFIGURATIONS))
def synth(request: pytest.FixtureRequest) -> Synth:
    return synth_configuration(request.param)


def test_cdk_nag_has_no_open_finding(synth: Synth) -> None:
    plugins = plugin_reports(report(synth.outdir))
    open_findings = [finding for pack in PACKS if pack in plugins for finding in violations(plugins[pack])]
    assert not open_findings, "cdk-nag:\n  " + "\n  ".join(open_findings)
    assert set(PACKS) <= set(plugins), f"a pack did not run: {sorted(plugins)}"
    assert synth.error is None, synth.error


def test_cfn_lint_has_no_finding_in_any_stack(synth: Synth) -> None:
    assert synth.templates, f"nothing synthesized in {synth.outdir}: {synth.error}"
    found = [finding for template in synth.templates for finding in findings(template)]
    assert not found, "cfn-lint:\n  " + "\n  ".join(found)


def test_every_email_subscription_redrives_to_the_encrypted_dead_letter_queue_with_an_alarm(synth: Synth) -> None:
    resources = synth.template()["Resources"]
    subscriptions = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::SNS::Subscription"]
    emails = CONFIGURATIONS[synth.name]["notificationEmails"]
    expected = json.loads(emails) if emails.startswith("[") else emails.split(",")
    assert sorted(s["Endpoint"] for s in subscriptions) == sorted(expected)
    queues = {key: r for key, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    for subscription in subscriptions:
        assert subscription["Protocol"] == "email"
        (queue_id,) = {subscription["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]}
        assert queues[queue_id]["Properties"]["KmsMasterKeyId"], "the e-mail dead-letter queue is not encrypted"
    (queue_id,) = {s["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0] for s in subscriptions}
    alarms = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and r["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and r["Properties"]["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    ]
    assert len(alarms) == 1 and alarms[0]["AlarmActions"], "no alarm (with an action) on the e-mail dead letters"
    # SNS may use the key to write into the queue; CDK's queue policy admits only this topic.
    policies = [r for r in resources.values() if r["Type"] == "AWS::SQS::QueuePolicy"]
    assert any(
        {"Ref": queue_id} in p["Properties"]["Queues"]
        and any(
            st["Principal"] == {"Service": "sns.amazonaws.com"} for st in p["Properties"]["PolicyDocument"]["Statement"]
        )
        for p in policies
    )


def test_outputs_give_make_check_and_the_runbook_what_they_read(synth: Synth) -> None:
    home = synth.template()["Outputs"]
    assert {"DeadLetterQueueUrl", "EmailDeadLetterQueueUrl", "CoveredRegions", "PowertoolsLayerParameter"} <= set(home)
    regions = CONFIGURATIONS[synth.name].get("regions", "")
    expected = json.loads(regions) if regions.startswith("[") else [r for r in regions.split(",") if r]
    # CDK folds the join: a literal when every region is known at synth, a bare Ref for one region.
    value = home["CoveredRegions"]["Value"]
    if isinstance(value, str):
        value = {"Fn::Join": [",", value.split(",")]}
    delimiter, (home_region, *others) = value.get("Fn::Join", (",", [value]))
    assert (delimiter, others) == (",", expected)
    assert home_region == CONFIGURATIONS[synth.name].get("homeRegion", {"Ref": "AWS::Region"})
    forwarders = [t for t in synth.templates if "Forwarder" in t.name]
    assert len(forwarders) == len(expected)
    for path in forwarders:
        template = json.loads(path.read_text())
        (queue,) = [key for key, r in template["Resources"].items() if r["Type"] == "AWS::SQS::Queue"]
        assert template["Outputs"]["DeadLetterQueueUrl"]["Value"] == {"Ref": queue}
