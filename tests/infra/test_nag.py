"""cdk-nag (AwsSolutions and Serverless packs) on the synthesized app: no finding without a written reason.

cdk-nag 3 runs as a CDK validation plugin (app.py: `Validations.of(app).add_plugins(...)`) and CDK
writes `validation-report.json` into the cloud assembly. infra/nag.py writes each acknowledgment
under the pack's namespace, so cdk-nag reports the finding and CDK lists it among the plugin's
`suppressedViolations`, with its reason. So the report shows that both packs ran, and every
finding is either a violation (the test fails) or acknowledged with a reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from infra.nag import acknowledge

pytestmark = pytest.mark.xdist_group("infra")

PACKS = ("AwsSolutions", "Serverless")
ACKNOWLEDGED_RULES = "aws:cdk:acknowledged-rules"
# Acknowledgments that match no finding, each with what to do about it. Only cdk-nag's are checked.
KNOWN_STALE: dict[tuple[str, str], str] = {}


def report(outdir: str | Path) -> dict[str, Any]:
    return json.loads((Path(outdir) / "validation-report.json").read_text())


def plugin_reports(validation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {plugin["pluginName"]: plugin for plugin in validation["pluginReports"]}


def violations(plugin: dict[str, Any]) -> list[str]:
    return [
        f"{violation['ruleName']} at {construct['constructPath']}: {violation['description']}"
        for violation in plugin.get("violations", [])
        for construct in violation["violatingConstructs"]
    ]


def acknowledgments(outdir: str | Path) -> dict[tuple[str, str], str]:
    """(construct path, rule id) -> reason, from the assembly's metadata of every stack."""
    found = {}
    manifest = json.loads((Path(outdir) / "manifest.json").read_text())
    for artifact in manifest["artifacts"].values():
        metadata = dict(artifact.get("metadata", {}))
        if "additionalMetadataFile" in artifact:
            metadata.update(json.loads((Path(outdir) / artifact["additionalMetadataFile"]).read_text()))
        for path, entries in metadata.items():
            for entry in entries:
                if entry["type"] == ACKNOWLEDGED_RULES:
                    found.update({(path.lstrip("/"), rule): reason for rule, reason in entry["data"].items()})
    return found


def test_both_packs_ran_with_no_unacknowledged_finding(synthesized) -> None:
    plugins = plugin_reports(report(synthesized.outdir))
    for pack in PACKS:
        # A pack with nothing to report is left out of the report: its absence means it did not run
        # (or infra/nag.py no longer qualifies acknowledgments, so that they show up here).
        assert pack in plugins, f"no {pack} report in validation-report.json: is the pack registered in app.py?"
        assert not violations(plugins[pack]), f"{pack} findings without an acknowledgment:\n  " + "\n  ".join(
            violations(plugins[pack])
        )
        assert plugins[pack]["conclusion"] == "success"
        assert plugins[pack]["suppressedViolations"], f"{pack}: no acknowledged finding listed"


def test_every_acknowledged_finding_has_a_written_reason(synthesized) -> None:
    plugins = plugin_reports(report(synthesized.outdir))
    unexplained = [
        f"{finding['ruleName']} at {construct['constructPath']}"
        for pack in PACKS
        for finding in plugins[pack]["suppressedViolations"]
        for construct in finding["violatingConstructs"]
        if not (finding.get("reason") or "").strip()
    ]
    assert not unexplained, "acknowledged without a reason:\n  " + "\n  ".join(unexplained)
    # The metadata as written, whichever plugin reads it (CDK's own acknowledgments too).
    empty = [
        f"{rule} at {path}"
        for (path, rule), reason in acknowledgments(synthesized.outdir).items()
        if not str(reason).strip()
    ]
    assert not empty, "acknowledgments with an empty reason:\n  " + "\n  ".join(empty)


def test_no_acknowledgment_outlives_its_finding(synthesized) -> None:
    """An acknowledgment that matches nothing would silently cover a future finding."""
    plugins = plugin_reports(report(synthesized.outdir))
    used = {
        (finding["acknowledgedAt"], finding["acknowledgedId"])
        for pack in PACKS
        for finding in plugins[pack]["suppressedViolations"]
    }
    stale = [
        f"{rule} at {path}"
        for path, rule in acknowledgments(synthesized.outdir)
        if rule.split("::")[0] in PACKS and (path, rule) not in used and (path, rule) not in KNOWN_STALE
    ]
    assert not stale, "acknowledgments that match no finding (remove them):\n  " + "\n  ".join(stale)


def test_an_unacknowledged_finding_fails_and_an_acknowledged_one_is_listed(tmp_path: Path) -> None:
    """The check above can fail: a bare queue breaks AwsSolutions and Serverless rules (a tiny synth)."""
    app = cdk.App(outdir=str(tmp_path))
    queue = sqs.Queue(cdk.Stack(app, "Canary"), "Bare")
    acknowledge(queue.node.default_child, "AwsSolutions-SQS3", "the canary has no dead-letter queue on purpose")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    plugins = plugin_reports(report(tmp_path))
    assert any("AwsSolutions-SQS4" in finding for finding in violations(plugins["AwsSolutions"]))  # no TLS policy
    assert violations(plugins["Serverless"])
    (acknowledged,) = plugins["AwsSolutions"]["suppressedViolations"]
    assert acknowledged["ruleName"] == "AwsSolutions-SQS3"
    assert acknowledged["reason"] == "the canary has no dead-letter queue on purpose"
