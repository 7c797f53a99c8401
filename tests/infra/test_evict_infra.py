"""The evict function in the template: IAM writes fenced to what each eviction does, never the responder's own
roles; its switches; and its place after each investigation pass."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.xdist_group("infra")


def _evict_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    resources = template["Resources"]
    (function,) = [
        resource
        for resource in resources.values()
        if resource["Type"] == "AWS::Lambda::Function" and resource["Properties"]["Handler"] == "evict.handler.handler"
    ]
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for resource in resources.values()
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in resource["Properties"].get("Roles", [])
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_the_responders_own_roles_are_denied_every_role_write_by_their_exact_arns(template: dict[str, Any]) -> None:
    statements = _evict_statements(template)
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    # The generic fence (infra/functions.py own_role_writes): exactly the role writes the function holds, on
    # every role of the stack by its exact ARN (a path would let anyone who may create roles hide one under it).
    assert set(deny["Action"]) == {"iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy"}
    roles = [logical_id for logical_id, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"]
    assert sorted(deny["Resource"], key=json.dumps) == sorted(
        ({"Fn::GetAtt": [role, "Arn"]} for role in roles), key=json.dumps
    )
    assert "credential-responder/*" not in json.dumps(statements)
    allowed_role_writes = {
        action
        for s in statements
        if s["Effect"] == "Allow"
        for action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        if action.startswith("iam:") and ("Role" in action and not action.startswith(("iam:Get", "iam:List")))
    }
    assert allowed_role_writes <= set(deny["Action"])


def test_the_eviction_can_delete_and_detach_nothing_but_a_password(template: dict[str, Any]) -> None:
    allowed = {
        action
        for s in _evict_statements(template)
        if s["Effect"] == "Allow"
        for action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert {a for a in allowed if a.split(":")[1].startswith(("Delete", "Detach", "Remove"))} == {
        "iam:DeleteLoginProfile"
    }


def test_no_iam_wildcard_action(template: dict[str, Any]) -> None:
    actions = [
        action
        for s in _evict_statements(template)
        for action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    ]
    assert actions and not [action for action in actions if "*" in action]


def test_evict_runs_after_each_investigation_pass_with_its_switches(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    (function,) = [
        resource
        for resource in resources.values()
        if resource["Type"] == "AWS::Lambda::Function" and resource["Properties"]["Handler"] == "evict.handler.handler"
    ]
    env = function["Properties"]["Environment"]["Variables"]
    for switch in ("EVICT_CREATED_USERS", "REMOVE_LOGIN_PROFILES", "QUARANTINE_CREATED_ROLES", "DRY_RUN"):
        assert env[switch] in ("true", "false")
    (machine,) = [r for r in resources.values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    # Every token stands inside a JSON string (a function ARN, the partition in an integration's ARN).
    definition = json.loads("".join(p if isinstance(p, str) else "TOKEN" for p in parts))

    def states(node: Any) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if isinstance(node, dict):
            found.update(node.get("States") or {})
            for value in node.values():
                found.update(states(value))
        elif isinstance(node, list):
            for value in node:
                found.update(states(value))
        return found

    every = states(definition)
    for suffix in ("OfKey", "OfSession"):
        assert every[f"Investigate{suffix}"]["Next"] == f"Evict{suffix}"
        assert every[f"InvestigateAgain{suffix}"]["Next"] == f"EvictAgain{suffix}"
        assert every[f"Evict{suffix}"]["Parameters"]["pass"] == 1
        assert every[f"EvictAgain{suffix}"]["Parameters"]["pass"] == 2
