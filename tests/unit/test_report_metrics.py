"""The Report function's metrics (EMF): per incident kind and outcome, time to containment, per
action and status; read back from the EMF lines it prints, as CloudWatch would parse them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from common.steps import Status, step
from report import metrics

EXECUTION = "arn:aws:states:eu-west-1:123456789012:execution:Workflow:abc"
INCIDENT = {"kind": "exposed-access-key", "detected_at": "2026-11-30T10:00:00Z", "incident_id": "x"}
STEPS = [
    step("deactivate-access-key", Status.DONE, "AKIA1", "Inactive", containment=True),
    step("deactivate-access-key", Status.ALREADY_DONE, "AKIA2", "Inactive", containment=True),
    step("quarantine-user", Status.FAILED, "alice", "AccessDenied"),
]


class History:
    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events, self.asked = events, []

    def get_execution_history(self, **kwargs: Any) -> dict[str, Any]:
        self.asked.append(kwargs)
        return {"events": self.events}


def exited(name: str, at: datetime, kind: str = "MapStateExited") -> dict[str, Any]:
    return {"type": kind, "timestamp": at, "stateExitedEventDetails": {"name": name}}


def emf(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


@pytest.fixture
def history(monkeypatch: pytest.MonkeyPatch) -> History:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "credential-responder")
    found = History(
        [
            exited("Normalize", datetime(2026, 11, 30, 10, 0, 30, tzinfo=UTC), "TaskStateExited"),
            exited("ContainKeys", datetime(2026, 11, 30, 10, 0, 42, 500000, tzinfo=UTC)),
            exited("Report", datetime(2026, 11, 30, 10, 20, 0, tzinfo=UTC), "TaskStateExited"),
        ]
    )
    monkeypatch.setattr(metrics, "client", lambda service, region=None: found)
    return found


def test_outcome_time_to_containment_and_steps_per_action(history: History, capsys) -> None:
    emitted = metrics.emit(INCIDENT, "partial", STEPS, EXECUTION)
    lines = emf(capsys.readouterr().out)
    by_metric = {}
    for line in lines:
        (definition,) = line["_aws"]["CloudWatchMetrics"]
        assert definition["Namespace"] == "CredentialResponder"
        (name,) = [m["Name"] for m in definition["Metrics"]]
        by_metric.setdefault(name, []).append(({d: line[d] for d in definition["Dimensions"][0]}, line[name]))
    assert by_metric["Incidents"] == [
        ({"Kind": "exposed-access-key", "Outcome": "partial", "service": "credential-responder"}, [1.0])
    ]
    assert sorted((dims["Action"], dims["Status"], value) for dims, value in by_metric["Steps"]) == [
        ("deactivate-access-key", "already-done", [1.0]),
        ("deactivate-access-key", "done", [1.0]),
        ("quarantine-user", "failed", [1.0]),
    ]
    # From the event's time to the end of ContainKeys, not to the report 20 minutes later.
    assert by_metric["TimeToContainment"] == [
        ({"Kind": "exposed-access-key", "service": "credential-responder"}, [42.5])
    ]
    assert emitted["time_to_containment"] == 42.5
    assert history.asked[0]["executionArn"] == EXECUTION


@pytest.mark.parametrize("outcome", ["failed", "ignored", "duplicate"])
def test_no_time_to_containment_without_containment(history: History, capsys, outcome: str) -> None:
    metrics.emit(INCIDENT, outcome, STEPS, EXECUTION)
    names = [line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] for line in emf(capsys.readouterr().out)]
    assert "TimeToContainment" not in names and "Incidents" in names
    assert not history.asked


def test_history_unreadable_leaves_the_metric_out_and_the_rest_in(monkeypatch, capsys) -> None:
    from botocore.exceptions import ClientError

    class Denied:
        def get_execution_history(self, **kwargs: Any) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetExecutionHistory")

    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.setattr(metrics, "client", lambda service, region=None: Denied())
    emitted = metrics.emit(INCIDENT, "contained", STEPS, EXECUTION)
    assert "time_to_containment" not in emitted
    assert len(emf(capsys.readouterr().out)) == 4


def test_disabled_prints_nothing_and_leaks_no_dimension(history: History, monkeypatch, capsys) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    metrics.emit(INCIDENT, "contained", STEPS, EXECUTION)
    assert not emf(capsys.readouterr().out)
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    metrics.emit({"kind": "instance-credential-exfiltration"}, "ignored", [], None)
    (line,) = emf(capsys.readouterr().out)
    assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Kind", "Outcome", "service"]]


def test_the_containment_states_are_the_workflows(template) -> None:
    definition = json.dumps(template)
    for name in metrics.CONTAINMENT_STATES:
        assert f'\\"{name}\\":{{' in definition or f'"{name}":' in definition, name


def entered(name: str, at: datetime) -> dict[str, Any]:
    return {"type": "ChoiceStateEntered", "timestamp": at, "stateEnteredEventDetails": {"name": name}}


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        # Step Functions' own call failed over to the first task: containment ends with the first task.
        (
            [
                exited("DeactivateKey", datetime(2026, 11, 30, 10, 0, 1, tzinfo=UTC), "TaskStateExited"),
                exited("KeyIntake", datetime(2026, 11, 30, 10, 0, 3, tzinfo=UTC), "TaskStateExited"),
                entered("Route", datetime(2026, 11, 30, 10, 0, 4, tzinfo=UTC)),
                exited("ContainKeys", datetime(2026, 11, 30, 10, 0, 9, tzinfo=UTC)),
            ],
            datetime(2026, 11, 30, 10, 0, 3, tzinfo=UTC),
        ),
        # The regular route: nothing contained before Route, ContainKeys after it.
        (
            [
                entered("Route", datetime(2026, 11, 30, 10, 0, 4, tzinfo=UTC)),
                exited("ContainKeys", datetime(2026, 11, 30, 10, 0, 9, tzinfo=UTC)),
                exited("RevokeSessions", datetime(2026, 11, 30, 10, 0, 12, tzinfo=UTC), "TaskStateExited"),
            ],
            datetime(2026, 11, 30, 10, 0, 9, tzinfo=UTC),
        ),
    ],
)
def test_containment_ends_with_the_state_that_made_the_containing_call(monkeypatch, events, expected) -> None:
    monkeypatch.setattr(metrics, "client", lambda service, region=None: History(events))
    assert metrics.contained_at(EXECUTION) == (expected, "")


def test_a_history_without_containment_says_so() -> None:
    at, why = metrics.contained_at("not-an-arn")
    assert at is None and why == "the execution's history could not be read: not an execution ARN"
