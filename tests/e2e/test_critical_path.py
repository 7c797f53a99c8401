"""One cold start between the event and the containing call (issue "One cold start").

Read from real drill executions: the containing function is the first (and only) Lambda invoked up
to the containing call; before it, only the dedupe write (and IAM's owner look-up when the event
names no user); right after it, the read-back.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.critical import critical_path, run_kind
from drill.runner import run_event_file

pytestmark = [pytest.mark.drill, pytest.mark.xdist_group("drill")]

EVENTS = Path(__file__).resolve().parents[1] / "events"

CASES = [
    # (event, containing function's handler, calls before the containing call, containing call, read-back)
    (
        "health_exposed_key_classic.json",
        "contain_key.handler.handler",
        ["dynamodb PutItem", "iam GetAccessKeyLastUsed"],  # the classic event names no user
        "iam UpdateAccessKey",
        "iam ListAccessKeys",
    ),
    (
        "health_exposed_key_2025_event_metadata.json",
        "contain_key.handler.handler",
        ["dynamodb PutItem"],  # eventMetadata.userName names the owner: tried as it is, no read first
        "iam UpdateAccessKey",
        "iam ListAccessKeys",
    ),
    (
        "guardduty_exfil_outside_realistic.json",
        "revoke_sessions.handler.handler",
        ["dynamodb PutItem"],
        "iam PutRolePolicy",
        "iam GetRolePolicy",
    ),
]


@pytest.mark.parametrize(("event", "handler", "before", "containing", "read_back"), CASES)
def test_the_containing_function_is_the_first_lambda_and_writes_first(
    synthesized, event, handler, before, containing, read_back
) -> None:
    result, record, handlers = run_kind(synthesized, EVENTS / event)
    assert result["outcome"] == "contained", result["reason"]
    path = critical_path(record, handlers)
    assert path["containing_call"] == containing
    assert path["invocations"] == 1, path["invoked"]
    assert path["containing_function_first"] is True
    assert path["containing_handler"] == handler
    assert [call["call"] for call in path["calls_before"]] == before
    # The order on the drill's recorded calls: the dedupe write, the containing call, then its read-back.
    calls = [f"{c['service']} {c['operation']}" for c in result["api_calls"]]
    at = calls.index(containing)
    assert calls[:at] == before
    assert calls[at + 1] == read_back
    # No Lambda before the containing one: the first state that invokes one is the containing task.
    assert result["execution"]["states"][:2] in (["Intake", "KeyIntake"], ["Intake", "SessionIntake"])


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
