"""No Lambda between the event and the containing call (issue "The physical floor").

Read from real drill executions: Step Functions itself makes the dedupe write and the containing
call (infra/intake.py), and no Lambda is invoked before it; before it, only the dedupe write (and
IAM's owner look-up when the event names no user); right after it, the containing function's
read-back. An event the state does not read, and any error of those states, goes to the containing
function as the first task, which makes the calls under every rule of its own.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.critical import critical_path, run_kind
from drill.faults import fail
from drill.runner import run_event_file

pytestmark = [pytest.mark.drill, pytest.mark.xdist_group("drill-events")]

EVENTS = Path(__file__).resolve().parents[1] / "events"

CASES = [
    # (event, states up to the containing task, calls before the containing call, containing call, read-back)
    (
        "health_exposed_key_classic.json",
        ["Intake", "RecordKeysIncident", "DeactivateKeys", "KeyNamesItsUser", "FindKeyOwner", "OwnerIsAUser"],
        ["dynamodb PutItem", "iam GetAccessKeyLastUsed"],  # the classic event names no user
        "iam UpdateAccessKey",
        "iam ListAccessKeys",
    ),
    (
        "health_exposed_key_2025_event_metadata.json",
        ["Intake", "RecordKeyIncident"],
        ["dynamodb PutItem"],  # eventMetadata.userName names the owner: tried as it is, no read first
        "iam UpdateAccessKey",
        "iam ListAccessKeys",
    ),
    (
        "guardduty_exfil_outside_realistic.json",
        ["Intake", "RecordSessionIncident"],
        ["dynamodb PutItem"],
        "iam PutRolePolicy",
        "iam GetRolePolicy",
    ),
]


@pytest.mark.parametrize(("event", "states", "before", "containing", "read_back"), CASES)
def test_step_functions_writes_the_record_and_contains_before_any_lambda(
    synthesized, event, states, before, containing, read_back
) -> None:
    result, record, handlers = run_kind(synthesized, EVENTS / event)
    assert result["outcome"] == "contained", result["reason"]
    path = critical_path(record, handlers)
    assert path["containing_call"] == containing
    assert path["made_by"] == "state machine" and path["containing_handler"] is None
    assert path["invocations_before"] == 0, path["invoked"]
    assert path["states"][: len(states)] == states
    assert [call["call"] for call in path["calls_before"]] == before
    assert path["calls_before"][0]["task"] == states[1]  # the record is written by its own state
    # The order on the drill's recorded calls: the dedupe write, the containing call, then its read-back.
    calls = [f"{c['service']} {c['operation']}" for c in result["api_calls"]]
    at = calls.index(containing)
    assert calls[:at] == before
    assert calls[at + 1] == read_back
    # The read-back is the containing function's, the first Lambda of the execution, after the call.
    containing_at = min(c.at for c in record.api_calls if f"{c.service} {c.operation}" == containing)
    first = min(record.invocations, key=lambda inv: inv.started)
    assert first.started > containing_at
    assert handlers[first.function] in ("contain_key.handler.handler", "revoke_sessions.handler.handler")
    read = next(c for c in record.api_calls if c.at > containing_at)
    assert read.state is None and first.started <= read.at <= first.ended


def test_an_error_of_the_containing_state_goes_to_the_containing_function(synthesized) -> None:
    """IAM throttles the state's UpdateAccessKey: the Lambda first task takes the raw event, finds its
    own execution's record (no second incident), and contains under its own retries."""
    result = run_event_file(
        EVENTS / "health_exposed_key_2025_event_metadata.json",
        synthesized,
        faults=fail("iam", "UpdateAccessKey", "Throttling", times=1)(),
    )
    assert result["outcome"] == "contained", result["reason"]
    states = result["execution"]["states"]
    assert states[:4] == ["Intake", "RecordKeyIncident", "DeactivateKey", "KeyIntake"]
    calls = [(c["service"], c["operation"], c["error"]) for c in result["api_calls"]]
    assert calls[:4] == [
        ("dynamodb", "PutItem", None),
        ("iam", "UpdateAccessKey", "ClientError"),
        ("dynamodb", "PutItem", None),  # the Lambda's register(): its own execution's record, so it responds
        ("iam", "UpdateAccessKey", None),
    ]
    assert result["incident"]["access_key_ids"] and set(result["observed"]["access_keys"].values()) >= {"Inactive"}


def test_an_event_the_first_task_does_not_read_takes_the_regular_route(synthesized, tmp_path) -> None:
    """A GuardDuty finding that names no role: the first task hands it to the normalizer, and the
    regular route resolves the role from the instance and contains it."""
    event = json.loads((EVENTS / "guardduty_exfil_outside_realistic.json").read_text())
    details = event["detail"]["resource"]["accessKeyDetails"]
    details.pop("userName", None)
    details.pop("userType", None)
    path = tmp_path / "no_role.json"
    path.write_text(json.dumps(event))
    result = run_event_file(path, synthesized)
    assert result["outcome"] == "contained", result["reason"]
    states = result["execution"]["states"]
    assert states[:3] == ["Intake", "SessionIntake", "Route"] and "RevokeSessions" in states
    policies = result["observed"]["role_policies"]
    assert list(policies.values()) == [["AWSRevokeOlderSessions"]], policies
