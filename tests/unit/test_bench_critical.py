"""The critical path is read exactly from an execution record (no moto needed)."""

from __future__ import annotations

from bench.critical import critical_path, spread
from drill.account import ApiCall, ExecutionRecord, Invocation

HANDLERS = {"Contain": "contain_key.handler.handler", "Investigate": "investigate.handler.handler"}


def entered(name: str) -> dict:
    return {"stateEnteredEventDetails": {"name": name}}


def scheduled(function: str) -> dict:
    return {"lambdaFunctionScheduledEventDetails": {"resource": f"arn:aws:lambda:us-east-1:1:function:{function}"}}


def record() -> ExecutionRecord:
    history = [
        entered("Intake"),
        entered("KeyIntake"),
        scheduled("Contain"),
        entered("Route"),
        entered("InvestigateOfKey"),
        scheduled("Investigate"),
        entered("Report"),
    ]
    return ExecutionRecord(
        status="SUCCEEDED",
        started=0.0,
        ended=10.0,
        states=[],
        transitions=6,
        history=history,
        invocations=[Invocation("Contain", 1.0, 2.0, {}, {}), Invocation("Investigate", 3.0, 4.0, {}, {})],
        api_calls=[
            ApiCall(1.1, "dynamodb", "PutItem"),
            ApiCall(1.2, "iam", "GetAccessKeyLastUsed"),
            ApiCall(1.3, "iam", "UpdateAccessKey"),
            ApiCall(1.4, "iam", "ListAccessKeys"),
            ApiCall(3.5, "cloudtrail", "LookupEvents"),
        ],
    )


def test_counts_up_to_the_containing_call() -> None:
    path = critical_path(record(), HANDLERS)
    assert path["containing_call"] == "iam UpdateAccessKey"
    assert path["containing_task"] == "KeyIntake"
    assert path["containing_handler"] == "contain_key.handler.handler"
    assert path["transitions"] == 2
    assert path["states"] == ["Intake", "KeyIntake"]
    assert path["invocations"] == 1
    assert [(c["task"], c["call"]) for c in path["calls_before"]] == [
        ("KeyIntake", "dynamodb PutItem"),
        ("KeyIntake", "iam GetAccessKeyLastUsed"),
    ]
    assert path["containing_function_first"] is True


def test_no_containing_call_is_said_so() -> None:
    uncontained = record()
    uncontained.api_calls = [call for call in uncontained.api_calls if call.operation != "UpdateAccessKey"]
    assert critical_path(uncontained, HANDLERS) == {"contained": False}


def test_p95_is_the_nearest_rank() -> None:
    assert spread([float(v) for v in range(1, 21)]) == {"n": 20, "median": 10.5, "p95": 19.0, "min": 1.0, "max": 20.0}


def test_calls_step_functions_makes_are_its_states_and_no_lambda_comes_before() -> None:
    history = [
        entered("Intake"),
        entered("RecordKeyIncident"),
        entered("DeactivateKey"),
        entered("KeyContained"),
        scheduled("Contain"),
        entered("Route"),
    ]
    in_state = ExecutionRecord(
        status="SUCCEEDED",
        started=0.0,
        ended=10.0,
        states=[],
        transitions=5,
        history=history,
        invocations=[Invocation("Contain", 1.5, 2.0, {}, {})],
        api_calls=[
            ApiCall(1.1, "dynamodb", "PutItem", state="RecordKeyIncident"),
            ApiCall(1.3, "iam", "UpdateAccessKey", state="DeactivateKey"),
            ApiCall(1.6, "iam", "ListAccessKeys"),
        ],
    )
    path = critical_path(in_state, HANDLERS)
    assert (path["containing_task"], path["made_by"], path["containing_handler"]) == (
        "DeactivateKey",
        "state machine",
        None,
    )
    assert path["states"] == ["Intake", "RecordKeyIncident", "DeactivateKey"] and path["transitions"] == 3
    assert path["invocations_before"] == 0 and path["api_calls_before"] == 1
    assert [(c["task"], c["call"]) for c in path["calls_before"]] == [("RecordKeyIncident", "dynamodb PutItem")]
