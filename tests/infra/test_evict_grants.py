"""The evict function's role: IAM writes fenced to what each eviction does, never the responder's own roles."""

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


def test_the_responders_own_roles_are_denied_every_role_write(template: dict[str, Any]) -> None:
    statements = _evict_statements(template)
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert {"iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:UpdateAssumeRolePolicy"} <= set(
        deny["Action"]
    )
    assert ":role/credential-responder/*" in json.dumps(deny["Resource"])
    allowed_role_writes = {
        action
        for s in statements
        if s["Effect"] == "Allow"
        for action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        if action.startswith("iam:") and ("Role" in action and not action.startswith(("iam:Get", "iam:List")))
    }
    assert allowed_role_writes <= set(deny["Action"])


def test_no_iam_wildcard_action(template: dict[str, Any]) -> None:
    actions = [
        action
        for s in _evict_statements(template)
        for action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    ]
    assert actions and not [action for action in actions if "*" in action]
