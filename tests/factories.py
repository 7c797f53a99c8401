"""Incidents as the workflow hands them to the instance actions, validated by the real model."""

from __future__ import annotations

from typing import Any

from drill.account import FakeLambdaContext
from incident.model import Incident

ACCOUNT = "123456789012"  # moto's account, so that handlers see the incident as their own
REGION = "ap-northeast-1"
DETECTED_AT = "2026-11-20T03:02:11.000Z"


def exfiltration_incident(**overrides: Any) -> dict[str, Any]:
    """The fields of tests/events/guardduty_exfil_outside_realistic.json, in moto's account."""
    fields: dict[str, Any] = {
        "incident_id": f"{ACCOUNT}:c2c6f0f0a7d14c1e8d1b3e5f7a9b0c11",
        "kind": "instance-credential-exfiltration",
        "source": "aws.guardduty",
        "event_type": "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
        "event_id": "6f1f6a2e-2f0a-4c55-9a43-7b1d0c9e1a01",
        "account": ACCOUNT,
        "region": REGION,
        "detected_at": DETECTED_AT,
        "finding_id": "c2c6f0f0a7d14c1e8d1b3e5f7a9b0c11",
        "role_name": "web-app-role",
    }
    fields.update(overrides)
    return Incident(**fields).model_dump(mode="json")


def fake_context() -> FakeLambdaContext:
    """The drill's Lambda context, for a function in moto's account with five minutes to run."""
    name = "credential-responder-test"
    return FakeLambdaContext(name, f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}", timeout_seconds=300)
