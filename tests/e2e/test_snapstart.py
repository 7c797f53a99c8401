"""snapStart: the containing functions on Lambda SnapStart, invoked through an alias; and the
explicit IAM denies that let them write first (exempted principals, the responder's own roles)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from drill.runner import run_event_file
from drill.template import synthesize

pytestmark = [pytest.mark.drill, pytest.mark.xdist_group("drill-events")]

EVENTS = Path(__file__).resolve().parents[1] / "events"
CONTEXT = {"slackWebhookSecretName": "credential-responder/slack-webhook"}
CONTAINING = ("contain_key.handler.handler", "revoke_sessions.handler.handler")


def functions(template: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        resource["Properties"]["Handler"]: (logical_id, resource["Properties"])
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    }


@pytest.fixture(scope="module")
def snap() -> Any:
    return synthesize({**CONTEXT, "snapStart": True})


def test_off_by_default(synthesized) -> None:
    for _handler, (_logical_id, properties) in functions(synthesized.template).items():
        assert "SnapStart" not in properties
    assert not synthesized.resources("AWS::Lambda::Alias")


def test_on_the_containing_functions_only_and_the_workflow_invokes_their_alias(snap) -> None:
    found = functions(snap.template)
    for handler, (_logical_id, properties) in found.items():
        expected = {"ApplyOn": "PublishedVersions"} if handler in CONTAINING else None
        assert properties.get("SnapStart") == expected, handler
    aliases = snap.resources("AWS::Lambda::Alias")
    targets = {alias["Properties"]["FunctionName"]["Ref"] for alias in aliases.values()}
    assert targets == {found[handler][0] for handler in CONTAINING}
    definition = json.dumps(snap.state_machine_definition)
    for alias_id in aliases:
        assert alias_id in definition
    for handler in CONTAINING:  # never the unpublished function itself ($LATEST has no snapshot)
        assert f'"Fn::GetAtt": ["{found[handler][0]}", "Arn"]' not in definition.replace("'", '"')


def test_the_drill_contains_through_the_alias(snap) -> None:
    result = run_event_file(EVENTS / "health_exposed_key_classic.json", snap)
    assert result["outcome"] == "contained", result["reason"]
    assert set(result["observed"]["access_keys"].values()) >= {"Inactive"}


def test_exempted_principals_are_denied_by_iam_to_the_containing_functions() -> None:
    exempt = "arn:aws:iam::123456789012:user/ops/break-glass"
    template = synthesize({**CONTEXT, "exemptPrincipalArns": [exempt]}).template
    roles = {handler: properties["Role"]["Fn::GetAtt"][0] for handler, (_id, properties) in functions(template).items()}
    denies: dict[str, list[dict[str, Any]]] = {}
    for policy in (r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"):
        for role in policy["Properties"]["Roles"]:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                if statement["Effect"] == "Deny":
                    denies.setdefault(role["Ref"], []).append(statement)
    key_denies = denies[roles["contain_key.handler.handler"]]
    user_deny = next(s for s in key_denies if "iam:UpdateAccessKey" in s["Action"])
    assert sorted(user_deny["Resource"]) == sorted(
        [exempt, "arn:aws:iam::123456789012:user/break-glass", "arn:aws:iam::123456789012:user/*/break-glass"]
    )
    assert set(user_deny["Action"]) == {"iam:AttachUserPolicy", "iam:PutUserPolicy", "iam:UpdateAccessKey"}
