"""Issue 25 items 3 and 4: nothing an attacker can size reaches the state machine's payload, and a busy account's
other principals never count against the look-up budget. Each asserts what Step Functions itself held (the
execution history) or what the simulated account shows afterwards (`observed`), not what the workflow says."""

from __future__ import annotations

import json
from typing import Any

import pytest

from drill.cloudtrail_fake import FakeCloudTrail
from drill.faults import BUSY_EVENTS, LARGEST_ROLES, run_scenario
from tests.e2e.test_faults_investigate import STATE_LIMIT, _sizes

pytestmark = [pytest.mark.drill, pytest.mark.xdist_group("drill-faults")]
# What LookupEvents allows (2 calls a second per account and region) against the Investigate function's budget
# (5 minutes, of which 30 s are kept for the evidence write).
LOOKUP_SECONDS_PER_CALL = 0.5
INVESTIGATE_BUDGET_SECONDS = 270


def test_the_largest_documents_iam_allows_never_reach_the_state(drill_runs) -> None:
    run = drill_runs.fault("evict-largest-state")
    result, records = run.result, [record for _, record in run.executions]

    assert result["outcome"] == "contained", result["reason"]
    (record,) = records
    sizes = _sizes(record.history)
    assert [size for size in sizes if size[0] >= STATE_LIMIT] == []
    # The documents themselves never travel: no state holds a run of the attacker's quotes.
    history = json.dumps(record.history, default=str)
    assert "'" * 200 not in history and "\\u0027" * 200 not in history
    # Each role is held, read back from the account; its policy of the largest size is left (never deleted).
    for index in range(LARGEST_ROLES):
        role = result["observed"]["roles"][f"ops-automation-{index}"]
        assert role["inline_policies"]["CredentialResponderEviction"] == ["Deny * on *"]
        assert "ops" in role["inline_policies"]
    assert {n["channel"] for n in result["notifications"]} == {"email", "slack"}


def test_a_busy_accounts_other_principals_cost_the_look_ups_nothing(drill_runs, monkeypatch) -> None:
    calls: list[dict[str, Any]] = []
    original = FakeCloudTrail.lookup_events

    def lookup_events(self: FakeCloudTrail, **kwargs: Any) -> dict[str, Any]:
        response = original(self, **kwargs)
        calls.append({"attribute": kwargs["LookupAttributes"][0]["AttributeKey"], "events": len(response["Events"])})
        return response

    monkeypatch.setattr(FakeCloudTrail, "lookup_events", lookup_events)
    # A run of its own: the look-ups are counted as they are made.
    result = run_scenario("busy-account", drill_runs.synthesized)

    assert result["outcome"] == "contained", result["reason"]
    assert result["observed"]["users"]["svc-sync"]["access_keys"] and set(
        result["observed"]["users"]["svc-sync"]["access_keys"].values()
    ) == {"Inactive"}
    main = [s for s in result["steps"] if s["name"] == "investigate-cloudtrail"]
    assert main and all(s["status"] == "done" for s in main)
    # Filtered at the source: no look-up by event name (which would read every principal's calls), and what
    # was read is the credentials' own, a handful of events, not the 10,000.
    assert not [c for c in calls if c["attribute"] == "EventName"]
    assert sum(c["events"] for c in calls) < BUSY_EVENTS / 100
    # The calls of one region, paced as LookupEvents allows, fit the function's budget with room to spare.
    per_region = len(calls) / len(result["investigation"]["regions_searched"])
    assert per_region * LOOKUP_SECONDS_PER_CALL < INVESTIGATE_BUDGET_SECONDS / 4
