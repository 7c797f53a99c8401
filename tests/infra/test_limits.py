"""Limits cannot turn a response into silence (issue 12, item 6; review M9, M10; issue 14, item 8).

* The state machine's timeout follows from the configured delay and the tasks' own timeouts and
  retries: a TIMED_OUT execution cannot be caught and sends no report.
* A botocore call gives up (an error the handlers report as TransientError) before its
  function's timeout, so a hung endpoint is retried, not a Lambda timeout halfway through.
* A function that timed out is retried on the idempotent tasks, never on the report tasks.
* Reserved concurrency for the containment functions is a setting, off by default.
* Every EventBridge rule matches only the deployment's own account.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from common.aws import worst_call_seconds
from infra.actions import actions
from infra.config import ConfigError, ResponderConfig
from infra.intake import IN_STATE_WORST_SECONDS
from infra.workflow import TIMEOUT_ERRORS, state_machine_timeout_seconds, task_worst_seconds

pytestmark = pytest.mark.xdist_group("synth")

CONTAINMENT = {"incident.handler.handler", "contain_key.handler.handler", "revoke_sessions.handler.handler"}
REPORTING = {"report.handler.handler_slack", "report.handler.handler_sns"}
FIELDS = {
    "incident.handler.handler": "normalize",
    "contain_key.handler.handler": "contain_key",
    "revoke_sessions.handler.handler": "revoke_sessions",
    "investigate.handler.handler": "investigate",
    "evict.handler.handler": "evict",
    "report.handler.handler_slack": "notify_slack",
    "report.handler.handler_sns": "report",
    **{action.entry_point: action.package for action in actions()},
}


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        res["Properties"]["Handler"]: res["Properties"]
        for res in template["Resources"].values()
        if res["Type"] == "AWS::Lambda::Function"
    }


def machine(template: dict[str, Any]) -> dict[str, Any]:
    (res,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    return res["Properties"]


def definition(template: dict[str, Any]) -> dict[str, Any]:
    """The ASL with each token replaced by what it names: a function ARN by the function's logical id,
    a Ref (the incident table, the partition in an integration's ARN) by its target."""
    parts = machine(template)["DefinitionString"]["Fn::Join"][1]
    return json.loads(
        "".join(p if isinstance(p, str) else p["Fn::GetAtt"][0] if "Fn::GetAtt" in p else p["Ref"] for p in parts)
    )


def lambda_tasks(asl: dict[str, Any], *, integrations: bool = False) -> dict[str, dict[str, Any]]:
    """The Tasks that invoke a function; with `integrations`, those Step Functions makes a call in
    itself instead (arn:...:states:::service:action, infra/intake.py)."""
    found: dict[str, dict[str, Any]] = {}

    def walk(states: dict[str, Any]) -> None:
        for name, state in states.items():
            if state["Type"] == "Task" and (":states:::" in state["Resource"]) == integrations:
                found[name] = state
            for branch in state.get("Branches", []):
                walk(branch["States"])
            if "ItemProcessor" in state:
                walk(state["ItemProcessor"]["States"])

    walk(asl["States"])
    return found


@pytest.fixture(scope="module")
def large() -> dict[str, Any]:
    from drill.template import synthesize

    return synthesize({"secondLookupDelayMinutes": 120, "reservedConcurrency": 5}).template


def expected_timeout(template: dict[str, Any], delay_minutes: int) -> int:
    timeouts = {FIELDS[handler]: float(props["Timeout"]) for handler, props in functions(template).items()}
    return state_machine_timeout_seconds(timeouts, delay_minutes, actions())


@pytest.mark.parametrize("delay", [15, 120])
def test_the_state_machine_outlasts_its_longest_path(template, large, delay: int) -> None:
    synthesized = template if delay == 15 else large
    seconds = definition(synthesized)["TimeoutSeconds"]
    assert seconds == expected_timeout(synthesized, delay)
    investigate = float(functions(synthesized)["investigate.handler.handler"]["Timeout"])
    # The Wait alone, between two look-ups that may each use every retry: never cut short.
    assert seconds > delay * 60 + 2 * task_worst_seconds(investigate)
    normalize = functions(synthesized)["incident.handler.handler"]
    assert normalize["Environment"]["Variables"]["INCIDENT_STALE_AFTER_SECONDS"] == str(seconds)


def test_a_longer_delay_gives_a_longer_timeout(template, large) -> None:
    assert definition(large)["TimeoutSeconds"] - definition(template)["TimeoutSeconds"] >= 105 * 60


def test_every_call_gives_up_before_its_function_times_out(template) -> None:
    for handler, props in functions(template).items():
        assert worst_call_seconds() < float(props["Timeout"]), handler


def test_timeouts_are_retried_on_idempotent_tasks_only(template) -> None:
    handlers = {
        logical_id: res["Properties"]["Handler"]
        for logical_id, res in template["Resources"].items()
        if res["Type"] == "AWS::Lambda::Function"
    }
    for name, task in lambda_tasks(definition(template)).items():
        retried = {error for retrier in task.get("Retry", []) for error in retrier["ErrorEquals"]}
        handler = handlers[task["Resource"]]
        if handler in REPORTING:
            assert not retried & set(TIMEOUT_ERRORS), name
        else:
            assert set(TIMEOUT_ERRORS) <= retried, name
        assert "TransientError" in retried, name


def test_every_call_step_functions_makes_gives_up_and_hands_over_to_the_containing_function(template) -> None:
    """A hung or failed integration call must neither hold the execution (no timeout is infinite by
    default) nor end it: each has a timeout and hands the raw event to a Lambda first task."""
    asl = definition(template)
    integrations = lambda_tasks(asl, integrations=True)
    assert {"RecordKeyIncident", "DeactivateKey", "RecordSessionIncident", "RevokeRoleSessions"} <= set(integrations)
    for name, task in integrations.items():
        assert task["TimeoutSeconds"] <= IN_STATE_WORST_SECONDS / 3, name
        if name in ("DeactivateNamedKey", "FindKeyOwner", "DeactivateOwnersKey"):
            continue  # inside the DeactivateKeys Map, whose Catch hands over
        (catch,) = task["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"] and catch["Output"] == "{% $states.input %}", name
        assert catch["Next"] in ("KeyIntake", "SessionIntake"), name
    (catch,) = asl["States"]["DeactivateKeys"]["Catch"]
    assert catch["Next"] == "KeyIntake" and catch["ErrorEquals"] == ["States.ALL"]


def test_reserved_concurrency_is_off_by_default_and_only_for_containment(template, large) -> None:
    assert not any("ReservedConcurrentExecutions" in props for props in functions(template).values())
    reserved = {h: p.get("ReservedConcurrentExecutions") for h, p in functions(large).items()}
    assert {h for h, value in reserved.items() if value} == CONTAINMENT
    assert {reserved[h] for h in CONTAINMENT} == {5}


@pytest.mark.parametrize("value", [-1, 1001, "many", True])
def test_reserved_concurrency_is_validated(value: Any) -> None:
    context = {"reservedConcurrency": value}
    with pytest.raises(ConfigError, match="reservedConcurrency"):
        ResponderConfig.from_context(context.get)


def test_every_rule_matches_only_this_account(template) -> None:
    rules = [r for r in template["Resources"].values() if r["Type"] == "AWS::Events::Rule"]
    assert rules
    for rule in rules:
        assert rule["Properties"]["EventPattern"]["account"] == [{"Ref": "AWS::AccountId"}]
