"""The state machine's role for the calls Step Functions makes itself (infra/intake.py): exactly those,
and the Denies that stand for the containing functions' guards; and the settings that leave the
decision to the function keep the in-state path out of the definition."""

from __future__ import annotations

import json
from typing import Any

import pytest

from drill.template import Synthesized, synthesize
from tests.conftest import DRILL_CONTEXT

EXEMPT = ["arn:aws:iam::123456789012:user/ci/deployer", "arn:aws:iam::123456789012:role/break-glass"]


def machine_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    (machine,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    role = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in template["Resources"].values()
        if policy["Type"] == "AWS::IAM::Policy" and {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return actions if isinstance(actions, list) else [actions]


def _text(value: Any) -> str:
    return json.dumps(value)


def states(synthesized: Synthesized) -> set[str]:
    parts = synthesized.state_machine_definition["Fn::Join"][1]
    return set(json.loads("".join(p if isinstance(p, str) else "TOKEN" for p in parts))["States"])


@pytest.fixture(scope="module")
def exempting() -> Synthesized:
    return synthesize({**DRILL_CONTEXT, "exemptPrincipalArns": EXEMPT})


def test_the_role_may_make_the_in_state_calls_and_no_other_iam_write(template) -> None:
    allowed = {
        action: statement
        for statement in machine_statements(template)
        if statement["Effect"] == "Allow"
        for action in _actions(statement)
    }
    iam_actions = {action for action in allowed if action.startswith("iam:")}
    assert iam_actions == {"iam:UpdateAccessKey", "iam:GetAccessKeyLastUsed", "iam:PutRolePolicy"}
    assert ":user/*" in _text(allowed["iam:UpdateAccessKey"]["Resource"])
    assert ":role/*" in _text(allowed["iam:PutRolePolicy"]["Resource"])
    assert "StorageIncidents" in _text(allowed["dynamodb:PutItem"]["Resource"])
    key = allowed["kms:GenerateDataKey"]
    assert key["Condition"] == {"StringLike": {"kms:ViaService": "dynamodb.*.amazonaws.com"}}


def test_the_responders_own_roles_are_denied_to_the_state_machine_by_their_exact_arns(template) -> None:
    denies = [s for s in machine_statements(template) if s["Effect"] == "Deny"]
    roles = sorted(logical_id for logical_id, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role")
    (own,) = [
        s for s in denies if isinstance(s["Resource"], list) and any("Fn::GetAtt" in str(r) for r in s["Resource"])
    ]
    assert _actions(own) == ["iam:PutRolePolicy"]
    assert sorted(r["Fn::GetAtt"][0] for r in own["Resource"]) == roles
    assert "/credential-responder/*" not in _text(machine_statements(template))


def test_exempted_principals_are_denied_by_name_at_any_path(exempting: Synthesized) -> None:
    denies = {
        action: _text(statement["Resource"])
        for statement in machine_statements(exempting.template)
        if statement["Effect"] == "Deny"
        for action in _actions(statement)
    }
    for resource in ("user/ci/deployer", "user/deployer", "user/*/deployer"):
        assert resource in denies["iam:UpdateAccessKey"]
    for resource in ("role/break-glass", "role/*/break-glass"):
        assert resource in denies["iam:PutRolePolicy"]
    assert "deployer" not in denies["iam:PutRolePolicy"] and "break-glass" not in denies["iam:UpdateAccessKey"]


@pytest.mark.parametrize(
    ("context", "kept", "left"),
    [
        ({"dryRun": True}, set(), {"RecordKeyIncident", "RecordSessionIncident"}),
        ({"dryRunActions": ["containKey"]}, {"RecordSessionIncident"}, {"RecordKeyIncident"}),
        ({"revokeScope": "instance"}, {"RecordKeyIncident"}, {"RecordSessionIncident"}),
    ],
)
def test_settings_that_ask_the_function_first_leave_the_event_to_it(context, kept, left) -> None:
    found = states(synthesize({**DRILL_CONTEXT, **context}))
    assert kept <= found and not left & found
    assert {"KeyIntake", "SessionIntake", "Normalize"} <= found
