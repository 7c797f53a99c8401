"""Hand-built report inputs (incident dicts shaped like lambdas/incident/model.py, step results
shaped like common/steps.py, states shaped like infra/workflow.py's: `results.contain_keys` a Map
list, `results.revoke_sessions`, the instance tasks and the investigation inside `branches`) and
the helpers the report tests share: a Block Kit validator and golden-file comparison. Not a test
module itself. The golden files are rendered from recorded drill states (tests/golden/record.py),
not from these; the unit tests that vary one detail of a state start from these."""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "golden" / "report"
ACCOUNT = "111122223333"
EXECUTION = {
    "id": f"arn:aws:states:us-east-1:{ACCOUNT}:execution:credential-responder:7bf73129-1428-4cd3-a780-95db273d1602",
    "start_time": "2026-11-20T19:13:07.120Z",
}

EXPOSED_KEY_INCIDENT: dict[str, Any] = {
    "incident_id": f"{ACCOUNT}:health:4d1e2f3a-5b6c-4d7e-8f90-a1b2c3d4e5f6",
    "kind": "exposed-access-key",
    "source": "aws.health",
    "event_type": "AWS_RISK_CREDENTIALS_EXPOSED",
    "event_id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "event_arn": "arn:aws:health:global::event/RISK/AWS_RISK_CREDENTIALS_EXPOSED/AWS_RISK_CREDENTIALS_EXPOSED_4d1e2f3a",
    "account": ACCOUNT,
    "delivered_to": None,
    "account_conflict": None,
    "region": "us-east-1",
    "detected_at": "2026-11-20T19:13:05Z",
    "first_seen": None,
    "affected_keys": [{"access_key_id": "AKIAIOSFODNN7EXAMPLE", "user_name": "ci-deployer"}],
    "access_key_ids": ["AKIAIOSFODNN7EXAMPLE"],
    "user_names": ["ci-deployer"],
    "communication_id": "4d1e2f3a-5b6c-4d7e-8f90-a1b2c3d4e5f6",
    "page": None,
    "total_pages": None,
    "exposed_url": "https://github.com/example-org/deploy-tools/blob/main/settings.py",
    "finding_id": None,
    "severity": None,
    "updated_at": None,
    "last_seen": None,
    "count": None,
    "sample": False,
    "role_name": None,
    "principal_id": None,
    "instance_id": None,
    "instance_profile_arn": None,
    "network_interfaces": [],
    "remote": None,
    "report_only": None,
    "decision": None,
    "unresolved": [],
    "attack_sequence_uid": None,
    "attacker_ips": [],
    "related_finding_ids": [],
    "joined": None,
    "group_instance_ids": [],
    "isolate_group": False,
    "contain_roles": [],
}

EXFIL_INCIDENT: dict[str, Any] = {
    "incident_id": f"{ACCOUNT}:guardduty:60c5c8a1e3b34f0e9d2a7b6c5d4e3f21",
    "kind": "instance-credential-exfiltration",
    "source": "aws.guardduty",
    "event_type": "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
    "event_id": "0f3a9c1e-2b4d-4e6f-8a0b-1c2d3e4f5a6b",
    "event_arn": None,
    "account": ACCOUNT,
    "delivered_to": None,
    "account_conflict": None,
    "region": "eu-west-1",
    "detected_at": "2026-11-21T03:02:44.120Z",
    "first_seen": "2026-11-21T02:56:10.000Z",
    "affected_keys": [{"access_key_id": "ASIAY34FZKBOKMUTVV7A", "user_name": "web-app-role"}],
    "access_key_ids": ["ASIAY34FZKBOKMUTVV7A"],
    "user_names": ["web-app-role"],
    "communication_id": None,
    "page": None,
    "total_pages": None,
    "exposed_url": None,
    "finding_id": "60c5c8a1e3b34f0e9d2a7b6c5d4e3f21",
    "severity": 8.0,
    "updated_at": "2026-11-21T03:02:44.120Z",
    "last_seen": "2026-11-21T03:02:44.120Z",
    "count": 3,
    "sample": False,
    "role_name": "web-app-role",
    "principal_id": "AROAY34FZKBOABCDEFGHI:i-0abcd1234ef567890",
    "instance_id": "i-0abcd1234ef567890",
    "instance_profile_arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/web-app",
    "network_interfaces": [
        {
            "network_interface_id": "eni-0a1b2c3d4e5f60718",
            "vpc_id": "vpc-0fedcba9876543210",
            "subnet_id": "subnet-0123abcd",
            "security_group_ids": ["sg-0aaa1111bbbb2222c", "sg-0ddd3333eeee4444f"],
            "public_ip": "203.0.113.40",
            "private_ip": "10.0.1.25",
        }
    ],
    "remote": {
        "ip": "198.51.100.23",
        "country": "Netherlands",
        "organization": "Example Hosting BV",
        "account_id": None,
        "affiliated": None,
    },
    "report_only": None,
    "decision": None,
    "unresolved": [],
    "attack_sequence_uid": None,
    "attacker_ips": [],
    "related_finding_ids": [],
    "joined": None,
    "group_instance_ids": [],
    "isolate_group": False,
    "contain_roles": [],
}

KEY = "AKIAIOSFODNN7EXAMPLE"


def key_steps(quarantine_failed: bool = False, quarantine_already_done: bool = False) -> list[dict[str, Any]]:
    """What contain_key returns for one key (contain_key/actions.py)."""
    detach = (
        "aws iam detach-user-policy --user-name ci-deployer "
        "--policy-arn arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"
    )
    if quarantine_failed:
        quarantine = {
            "name": "quarantine-user",
            "status": "failed",
            "target": "ci-deployer",
            "detail": "AccessDenied: not authorized to perform iam:AttachUserPolicy",
            "containment": True,
            "manual": "aws iam attach-user-policy --user-name ci-deployer "
            "--policy-arn arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3",
        }
    elif quarantine_already_done:
        # After a Step Functions retry our own attach reads back as already-done; its undo stays.
        quarantine = {
            "name": "quarantine-user",
            "status": "already-done",
            "target": "ci-deployer",
            "detail": "AWSCompromisedKeyQuarantineV3 was already attached",
            "containment": True,
            "undo": detach,
        }
    else:
        quarantine = {
            "name": "quarantine-user",
            "status": "done",
            "target": "ci-deployer",
            "detail": "AWSCompromisedKeyQuarantineV3 attached (read back)",
            "containment": True,
            "undo": detach,
            "data": {"policy_arn": "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"},
        }
    return [
        {
            "name": "deactivate-access-key",
            "status": "done",
            "target": KEY,
            "detail": "key of ci-deployer is Inactive (read back)",
            "containment": True,
            "undo": f"aws iam update-access-key --user-name ci-deployer --access-key-id {KEY} --status Active",
            "data": {"user_name": "ci-deployer"},
        },
        quarantine,
    ]


def exposed_key_state(quarantine_failed: bool = False, quarantine_already_done: bool = False) -> dict[str, Any]:
    return {
        "intake": {
            "status": "accepted",
            "reason": "AWS_RISK_CREDENTIALS_EXPOSED: 1 exposed access key(s)",
            "incident": copy.deepcopy(EXPOSED_KEY_INCIDENT),
        },
        "results": {
            # A Map over the event's keys: one result per key.
            "contain_keys": [{"steps": key_steps(quarantine_failed, quarantine_already_done)}],
            "investigate": {
                "steps": [
                    {
                        "name": "investigate-cloudtrail",
                        "status": "done",
                        "target": KEY,
                        "detail": "pass 1: 12 event(s) in 17 of 17 region(s)",
                        "containment": False,
                    }
                ]
            },
        },
        "failures": {},
        "branches": [],
        "execution": dict(EXECUTION),
    }


def exfil_state() -> dict[str, Any]:
    region, instance, role = "eu-west-1", "i-0abcd1234ef567890", "web-app-role"
    revoke = {
        "steps": [
            {
                "name": "revoke-role-sessions",
                "status": "done",
                "target": role,
                "detail": "AWSRevokeOlderSessions denies sessions issued before 2026-11-21T03:02:50Z "
                "(read back; IAM applies it within minutes)",
                "containment": True,
                "undo": f"aws iam delete-role-policy --role-name {role} --policy-name AWSRevokeOlderSessions",
                "data": {"role_name": role, "policy_name": "AWSRevokeOlderSessions", "cutoff": "2026-11-21T03:02:50Z"},
            }
        ]
    }
    preserve = {
        "steps": [
            {
                "name": "protect-instance",
                "status": "done",
                "target": instance,
                "detail": "termination protection on, shutdown behaviour 'stop' (read back)",
                "containment": False,
                "undo": f"aws ec2 modify-instance-attribute --region {region} --instance-id {instance} "
                "--no-disable-api-termination",
            },
            {
                "name": "create-evidence-image",
                "status": "done",
                "target": instance,
                "detail": "AMI ami-0123456789abcdef0 requested without reboot",
                "containment": False,
                "data": {"image_id": "ami-0123456789abcdef0", "region": region},
            },
        ]
    }
    isolate = {
        "steps": [
            {
                "name": "isolate-instance",
                "status": "done",
                "target": instance,
                "detail": "1 interface(s) now have only the isolation group (vpc-0fedcba9876543210: "
                "sg-0iso1234isolate0), 0 inbound/0 outbound rules (read back)",
                "containment": False,
                "undo": f"aws ec2 modify-network-interface-attribute --region {region} "
                "--network-interface-id eni-0a1b2c3d4e5f60718 "
                "--groups sg-0aaa1111bbbb2222c sg-0ddd3333eeee4444f",
                "data": {
                    "original_groups": {"eni-0a1b2c3d4e5f60718": ["sg-0aaa1111bbbb2222c", "sg-0ddd3333eeee4444f"]}
                },
            }
        ]
    }
    intake = {
        "status": "accepted",
        "reason": "GuardDuty instance credential exfiltration",
        "incident": copy.deepcopy(EXFIL_INCIDENT),
    }
    return {
        "intake": intake,
        "results": {"revoke_sessions": revoke},
        "failures": {},
        # The Parallel's output: one copy of the state per branch, each with its own writes.
        "branches": [
            {
                "intake": intake,
                "results": {"revoke_sessions": revoke, "preserve_evidence": preserve, "isolate_instance": isolate},
                "failures": {},
                "branches": [],
            },
            {"intake": intake, "results": {"revoke_sessions": revoke}, "failures": {}, "branches": []},
        ],
        "execution": {
            "id": f"arn:aws:states:eu-west-1:{ACCOUNT}:execution:credential-responder:"
            "0f3a9c1e-2b4d-4e6f-8a0b-1c2d3e4f5a6b",
            "start_time": "2026-11-21T03:02:46.500Z",
        },
    }


def ignored_state() -> dict[str, Any]:
    return {
        "intake": {
            "status": "ignored",
            "reason": "GuardDuty finding type Recon:EC2/PortProbeUnprotectedPort is not one this responder acts on",
            "incident": None,
        },
        "results": {},
        "failures": {},
        "execution": dict(EXECUTION),
    }


def duplicate_state() -> dict[str, Any]:
    return {
        "intake": {
            "status": "duplicate",
            "reason": f"incident {EXPOSED_KEY_INCIDENT['incident_id']} is already being handled (re-delivered event)",
            "incident": copy.deepcopy(EXPOSED_KEY_INCIDENT),
        },
        "results": {},
        "failures": {},
        "execution": dict(EXECUTION),
    }


# Unit-test inputs by name (the golden files use tests/golden/record.py's recorded states).
CASES = {
    "exposed_key_contained": lambda: exposed_key_state(),
    "exposed_key_partial": lambda: exposed_key_state(quarantine_failed=True),
    "exfil_contained": exfil_state,
    "ignored": ignored_state,
    "duplicate": duplicate_state,
}


# -- golden files ---------------------------------------------------------------------------------


def assert_golden(name: str, actual: str) -> None:
    """Compare with tests/golden/report/<name>; UPDATE_GOLDEN=1 rewrites it instead."""
    path = GOLDEN_DIR / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"missing golden file {path}: run with UPDATE_GOLDEN=1 and review the diff"
    assert actual == path.read_text(encoding="utf-8"), (
        f"{name} differs from its golden file (UPDATE_GOLDEN=1 to accept)"
    )


# -- Block Kit validator --------------------------------------------------------------------------

# No "actions": a URL button still sends an interaction payload and nothing acknowledges it.
ALLOWED_BLOCKS = {"header", "section", "context", "divider"}
_LINK = re.compile(r"<([^<>]*)>")
_GOOD_LINK = re.compile(r"^https://[^\s|<>]+\|[^<>|]+$")


def validate_block_kit(payload: Any) -> list[str]:
    """Every limit the report relies on; returns the violations (empty = valid)."""
    errors: list[str] = []
    if not isinstance(payload, dict):
        return ["payload is not an object"]
    if not isinstance(payload.get("text"), str) or not payload["text"].strip():
        errors.append("top-level text (notification fallback) missing")
    blocks = payload.get("blocks")
    if not isinstance(blocks, list) or not blocks:
        return [*errors, "blocks missing"]
    if len(blocks) > 50:
        errors.append(f"{len(blocks)} blocks > 50")
    block_ids = [b["block_id"] for b in blocks if isinstance(b, dict) and "block_id" in b]
    if len(block_ids) != len(set(block_ids)):
        errors.append("duplicate block_id")
    total = 0
    for i, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        where = f"block {i} ({kind})"
        if kind not in ALLOWED_BLOCKS:
            errors.append(f"{where}: type not allowed")
            continue
        if kind == "header":
            text = block.get("text") or {}
            if text.get("type") != "plain_text":
                errors.append(f"{where}: header text must be plain_text")
            if not 0 < len(text.get("text") or "") <= 150:
                errors.append(f"{where}: header text empty or > 150 chars")
            total += len(text.get("text") or "")
        elif kind == "section":
            text, fields = block.get("text"), block.get("fields")
            if text is None and not fields:
                errors.append(f"{where}: neither text nor fields")
            if text is not None:
                errors += _text_errors(where, text, 3000)
                total += len(text.get("text") or "")
            if fields is not None:
                if len(fields) > 10:
                    errors.append(f"{where}: {len(fields)} fields > 10")
                for field in fields:
                    errors += _text_errors(f"{where} field", field, 2000)
                    total += len(field.get("text") or "")
        elif kind == "context":
            elements = block.get("elements") or []
            if not 0 < len(elements) <= 10:
                errors.append(f"{where}: 1-10 elements required")
            for element in elements:
                errors += _text_errors(f"{where} element", element, 3000)
                total += len(element.get("text") or "")
        elif set(block) - {"type", "block_id"}:
            errors.append(f"{where}: unexpected keys")
    # Slack's undocumented whole-message limit (msg_blocks_too_long) starts near 13k characters.
    if total > 12000:
        errors.append(f"{total} characters of block text > 12000")
    return errors


def _text_errors(where: str, text: Any, limit: int) -> list[str]:
    if not isinstance(text, dict) or text.get("type") not in ("mrkdwn", "plain_text"):
        return [f"{where}: text object must be mrkdwn or plain_text"]
    value = text.get("text")
    if not isinstance(value, str) or not value.strip():
        return [f"{where}: empty text"]
    errors = [f"{where}: {len(value)} chars > {limit}"] if len(value) > limit else []
    if text["type"] == "mrkdwn":
        # Raw < and > are only allowed as <https://...|label> links; everything else is escaped.
        bad = [m for m in _LINK.findall(value) if not _GOOD_LINK.match(m)]
        rest = _LINK.sub("", value)
        if bad or "<" in rest or ">" in rest:
            errors.append(f"{where}: unescaped < or > or malformed link {bad[:1]}")
    return errors


def dumps(payload: Any) -> str:
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
