"""The critical path is read exactly from an execution record (no moto needed)."""

from __future__ import annotations

from bench.critical import critical_path, spread
from drill.account import ApiCall, ExecutionRecord, Invocation

HANDLERS = {"Norm": "incident.handler.handler", "Contain": "contain_key.handler.handler"}


def entered(name: str) -> dict:
    return {"stateEnteredEventDetails": {"name": name}}


def scheduled(function: str) -> dict:
    return {"lambdaFunctionScheduledEventDetails": {"resource": f"arn:aws:lambda:us-east-1:1:function:{function}"}}


def record() -> ExecutionRecord:
    history = [
        entered("Normalize"),
        scheduled("Norm"),
        entered("Prepare"),
        entered("Route"),
        entered("ContainKeys"),
        entered("ContainKey"),
        scheduled("Contain"),
        entered("Report"),
    ]
    return ExecutionRecord(
        status="SUCCEEDED",
        started=0.0,
        ended=10.0,
        states=[],
        transitions=6,
        history=history,
        invocations=[Invocation("Norm", 1.0, 2.0, {}, {}), Invocation("Contain", 3.0, 4.0, {}, {})],
        api_calls=[
            ApiCall(1.5, "dynamodb", "PutItem"),
            ApiCall(3.1, "iam", "ListAccessKeys"),
            ApiCall(3.2, "iam", "UpdateAccessKey"),
            ApiCall(3.3, "iam", "ListAccessKeys"),
        ],
    )


def test_counts_up_to_the_containing_call() -> None:
    path = critical_path(record(), HANDLERS)
    assert path["containing_call"] == "iam UpdateAccessKey"
    assert path["containing_task"] == "ContainKey"
    assert path["containing_handler"] == "contain_key.handler.handler"
    assert path["transitions"] == 5
    assert path["states"] == ["Normalize", "Prepare", "Route", "ContainKeys", "ContainKey"]
    assert path["invocations"] == 2
    assert [(c["task"], c["call"]) for c in path["calls_before"]] == [
        ("Normalize", "dynamodb PutItem"),
        ("ContainKey", "iam ListAccessKeys"),
    ]
    assert path["first_task_after_normalization"] is True


def test_no_containing_call_is_said_so() -> None:
    uncontained = record()
    uncontained.api_calls = [call for call in uncontained.api_calls if call.operation != "UpdateAccessKey"]
    assert critical_path(uncontained, HANDLERS) == {"contained": False}


def test_p95_is_the_nearest_rank() -> None:
    assert spread([float(v) for v in range(1, 21)]) == {"n": 20, "median": 10.5, "p95": 19.0, "min": 1.0, "max": 20.0}
