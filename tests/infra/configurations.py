"""The realistic configurations every infra check runs on, each synthesized once per test process.

A synth costs 5-10 s: `synth_configuration(name)` caches it, so test_configurations (cdk-nag,
cfn-lint) and test_iam_reference (the Service Authorization Reference) share one synth per
configuration (both modules are in the xdist group "synth", so one worker runs them).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"
EMAILS = ["secops@example.com", "soc-oncall@example.com", "ciso+alerts@example.org"]

# name -> context overrides, as `-c key=value` gives them (strings)
CONFIGURATIONS: dict[str, dict[str, str]] = {
    "emails-no-slack": {"notificationEmails": json.dumps(EMAILS)},
    "one-email-slack": {
        "notificationEmails": json.dumps(EMAILS[:1]),
        "slackWebhookSecretName": "responder/slack",
    },
    # Forwarders: us-east-1 (Health), us-west-2 with the Health backup, and a GuardDuty-only region.
    "forwarders-health-backup": {
        "homeRegion": "eu-west-1",
        "regions": json.dumps(["us-east-1", "us-west-2", "ap-northeast-1"]),
        "healthBackupRegion": "true",
        "notificationEmails": json.dumps(EMAILS[:2]),
        "slackWebhookSecretName": "responder/slack",
    },
    # Home in us-east-1 (Health lands at home), the backup region as the only forwarder.
    "home-us-east-1": {
        "homeRegion": "us-east-1",
        "regions": "us-west-2",
        "healthBackupRegion": "true",
        "notificationEmails": "secops@example.com",
    },
    "dry-run-exemptions-instance-scope": {
        "dryRun": "true",
        "revokeScope": "instance",
        "exemptPrincipalArns": json.dumps(
            ["arn:aws:iam::123456789012:user/ops/breakglass", "arn:aws:iam::123456789012:role/Admin"]
        ),
        "exemptInstanceIds": json.dumps(["i-0123456789abcdef0"]),
        "notificationEmails": json.dumps(EMAILS),
        "slackWebhookSecretName": "responder/slack",
    },
    "per-action-switches": {
        "dryRunActions": json.dumps(["isolateInstance", "deactivateBackdoorKeys"]),
        "quarantineUser": "false",
        "preserveEvidence": "false",
        "isolateInstances": "false",
        "investigate": "false",
        "deactivateBackdoorKeys": "false",
        "notificationEmails": json.dumps(EMAILS[:1]),
    },
}


def context(**overrides: str) -> dict[str, Any]:
    return {**json.loads(CDK_JSON.read_text())["context"], **overrides}


@dataclass(frozen=True)
class Synth:
    name: str
    outdir: Path
    error: Exception | None

    @property
    def templates(self) -> list[Path]:
        return sorted(self.outdir.glob("*.template.json"))

    def template(self, stack: str = "CredentialResponder") -> dict[str, Any]:
        return json.loads((self.outdir / f"{stack}.template.json").read_text())


@cache
def synth_configuration(name: str) -> Synth:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from app import build_app  # deferred: importing CDK starts a node process

    outdir = Path(tempfile.mkdtemp(prefix=f"responder-{name}-"))
    error = None
    try:
        build_app(context=context(**CONFIGURATIONS[name]), outdir=str(outdir)).synth()
    except Exception as exc:  # cdk-nag's ValidationFailed: the validation report says which finding
        error = exc
    return Synth(name, outdir, error)
