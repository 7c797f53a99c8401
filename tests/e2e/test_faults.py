"""Every fault drill ends with the outcome a responder should get, and never silently."""

from __future__ import annotations

import pytest

from drill.faults import SCENARIOS, run_scenario

pytestmark = [pytest.mark.drill, pytest.mark.xdist_group("drill")]
CHANGES = ("Update", "Put", "Attach", "Create", "Modify", "Revoke", "Detach", "Delete", "Terminate", "Authorize")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_fault_drill(synthesized, name: str) -> None:
    result = run_scenario(name, synthesized)
    assert result["outcome"] == SCENARIOS[name].expected, result["reason"]
    silent_by_design = name == "duplicate"  # a repeat in which nothing changed is recorded, not re-sent
    if silent_by_design:
        assert result["notifications"] == []
    else:
        assert {n["channel"] for n in result["notifications"]} == {"email", "slack"}
    if result["outcome"] in ("failed", "partial"):
        assert result["execution"]["status"] == "FAILED", "a failed response must fail the execution (alarm)"
        failed_or_skipped = [s for s in result["steps"] if s["status"] in ("failed", "skipped")]
        assert failed_or_skipped


def test_throttling_is_retried_by_the_state_machine(synthesized) -> None:
    result = run_scenario("iam-throttling", synthesized)
    throttled = [c for c in result["api_calls"] if c["operation"] == "UpdateAccessKey" and c["error"]]
    succeeded = [c for c in result["api_calls"] if c["operation"] == "UpdateAccessKey" and not c["error"]]
    assert len(throttled) == 2 and len(succeeded) == 1
    assert result["execution"]["states"].count("ContainKey") >= 1


def test_a_duplicate_changes_nothing(synthesized) -> None:
    result = run_scenario("duplicate", synthesized)
    assert result["earlier_deliveries"] == ["contained"]
    changes = [
        c
        for c in result["api_calls"]
        if c["service"] in ("iam", "ec2", "autoscaling") and c["operation"].startswith(CHANGES)
    ]
    assert changes == []
    assert len(result["observed"]["images"]) == 1  # still the one AMI from the first delivery


def test_exempted_and_root_principals_are_left_untouched(synthesized) -> None:
    for name in ("exempted-principal", "root-key"):
        result = run_scenario(name, synthesized)
        assert set(result["observed"]["access_keys"].values()) == {"Active"}
        assert not any(result["observed"]["user_policies"].values())


def test_dry_run_changes_nothing(synthesized) -> None:
    result = run_scenario("dry-run", synthesized)
    observed = result["observed"]
    assert observed["role_policies"]["web-app-role"] == []
    assert observed["images"] == [] and observed["isolation_groups"] == {}
    assert all(
        p == {"termination": False, "shutdown_behavior": "stop"} or not p["termination"]
        for p in observed["instance_protection"].values()
    )


def test_several_enis_in_two_vpcs_are_all_isolated(synthesized) -> None:
    result = run_scenario("several-enis", synthesized)
    observed = result["observed"]
    (interfaces,) = observed["instance_network"].values()
    assert len(interfaces) == 3
    assert len(observed["isolation_groups"]) == 2
    for groups in interfaces.values():
        assert len(groups) == 1 and groups[0] in observed["isolation_groups"]


def test_a_full_rerun_finds_every_step_done(synthesized) -> None:
    result = run_scenario("rerun", synthesized)
    assert result["earlier_deliveries"] == ["contained"]
    response = [
        s
        for s in result["steps"]
        if s["name"] in ("revoke-role-sessions", "protect-instance", "create-evidence-image", "isolate-instance")
    ]
    assert {s["status"] for s in response} == {"already-done"}
    assert len(result["observed"]["images"]) == 1
    changes = [
        c
        for c in result["api_calls"]
        if c["service"] in ("iam", "ec2", "autoscaling") and c["operation"].startswith(CHANGES)
    ]
    assert changes == []


def test_one_action_in_dry_run(synthesized) -> None:
    result = run_scenario("dry-run-isolation", synthesized)
    observed = result["observed"]
    assert observed["role_policies"]["web-app-role"] == ["AWSRevokeOlderSessions"]
    assert len(observed["images"]) == 1
    assert observed["isolation_groups"] == {}
    (isolate,) = [s for s in result["steps"] if s["name"] == "isolate-instance"]
    assert isolate["status"] == "skipped" and isolate["detail"].startswith("dry-run")


def test_an_outcome_the_record_cannot_store_fails_the_execution(synthesized) -> None:
    result = run_scenario("record-unavailable", synthesized)
    assert result["outcome"] == "contained"
    assert result["execution"]["status"] == "FAILED"
    assert result["execution"]["states"][-1] == "RecordNotStored"
    assert len([c for c in result["api_calls"] if c["operation"] == "Publish"]) == 1
