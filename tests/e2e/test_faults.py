"""Every fault drill ends with the outcome a responder should get, and never silently."""

from __future__ import annotations

import pytest

from drill.faults import SCENARIOS

pytestmark = [pytest.mark.drill, pytest.mark.xdist_group("drill-faults")]
CHANGES = ("Update", "Put", "Attach", "Create", "Modify", "Revoke", "Detach", "Delete", "Terminate", "Authorize")
# The drills of account histories run in test_faults_history.py (once each, with the state that proves them).
HISTORIES = {name for name, scenario in SCENARIOS.items() if scenario.cloudtrail or scenario.account}


@pytest.mark.parametrize("name", sorted(set(SCENARIOS) - HISTORIES))
def test_fault_drill(drill_runs, name: str) -> None:
    result = drill_runs.fault(name).result  # the same run tests/e2e/test_messages.py lints
    if name in STATE_CHECKS:
        STATE_CHECKS[name](result)
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


def test_throttling_is_retried_by_the_state_machine(drill_runs) -> None:
    result = drill_runs.fault("iam-throttling").result
    throttled = [c for c in result["api_calls"] if c["operation"] == "UpdateAccessKey" and c["error"]]
    succeeded = [c for c in result["api_calls"] if c["operation"] == "UpdateAccessKey" and not c["error"]]
    assert len(throttled) == 2 and len(succeeded) == 1
    # Step Functions' own UpdateAccessKey is throttled first: the Map hands the raw event to the
    # containing function as the first task, whose own throttled call the state machine retries.
    states = result["execution"]["states"]
    assert states[:3] == ["Intake", "RecordKeysIncident", "DeactivateKeys"]
    assert states.count("KeyIntake") == 1 and "KeyContained" not in states  # retried, entered once


def test_a_duplicate_changes_nothing(drill_runs) -> None:
    result = drill_runs.fault("duplicate").result
    assert result["earlier_deliveries"] == ["contained"]
    changes = [
        c
        for c in result["api_calls"]
        if c["service"] in ("iam", "ec2", "autoscaling") and c["operation"].startswith(CHANGES)
    ]
    assert changes == []
    assert len(result["observed"]["images"]) == 1  # still the one AMI from the first delivery


def test_exempted_and_root_principals_are_left_untouched(drill_runs) -> None:
    for name in ("exempted-principal", "root-key"):
        result = drill_runs.fault(name).result
        assert set(result["observed"]["access_keys"].values()) == {"Active"}
        assert not any(result["observed"]["user_policies"].values())


def test_dry_run_changes_nothing(drill_runs) -> None:
    result = drill_runs.fault("dry-run").result
    observed = result["observed"]
    instance = result["staged"]["i-0f8e7d6c5b4a39281"]
    assert observed["role_policies"]["web-app-role"] == []
    assert observed["images"] == [] and observed["isolation_groups"] == {}
    # Exactly as staged: no protection, the staged shutdown behaviour, the staged group, the group membership.
    assert observed["instance_protection"] == {instance: {"termination": False, "shutdown_behavior": "terminate"}}
    assert observed["instance_network"][instance] == {
        result["staged"]["eni-0a1b2c3d4e5f60001"]: [result["staged"]["sg-0a1b2c3d4e5f60011"]]
    }


def test_several_enis_in_two_vpcs_are_all_isolated(drill_runs) -> None:
    result = drill_runs.fault("several-enis").result
    observed = result["observed"]
    (interfaces,) = observed["instance_network"].values()
    assert len(interfaces) == 3
    assert len(observed["isolation_groups"]) == 2
    for groups in interfaces.values():
        assert len(groups) == 1 and groups[0] in observed["isolation_groups"]


def test_a_full_rerun_finds_every_step_done(drill_runs) -> None:
    result = drill_runs.fault("rerun").result
    assert result["earlier_deliveries"] == ["contained"]
    response = [
        s for s in result["steps"] if s["name"] in ("protect-instance", "create-evidence-image", "isolate-instance")
    ]
    assert {s["status"] for s in response} == {"already-done"}
    # The containing call is written first, with nothing read before it: made again, and read back.
    (revoke,) = [s for s in result["steps"] if s["name"] == "revoke-role-sessions"]
    assert revoke["status"] == "done" and "read back" in revoke["detail"]
    assert len(result["observed"]["images"]) == 1
    changes = [
        f"{c['service']} {c['operation']}"
        for c in result["api_calls"]
        if c["service"] in ("iam", "ec2", "autoscaling") and c["operation"].startswith(CHANGES)
    ]
    assert changes == ["iam PutRolePolicy"]


def test_one_action_in_dry_run(drill_runs) -> None:
    result = drill_runs.fault("dry-run-isolation").result
    observed = result["observed"]
    assert observed["role_policies"]["web-app-role"] == ["AWSRevokeOlderSessions"]
    assert len(observed["images"]) == 1
    assert observed["isolation_groups"] == {}
    (isolate,) = [s for s in result["steps"] if s["name"] == "isolate-instance"]
    assert isolate["status"] == "skipped" and isolate["detail"].startswith("dry-run")


def test_an_outcome_the_record_cannot_store_fails_the_execution(drill_runs) -> None:
    result = drill_runs.fault("record-unavailable").result
    assert result["outcome"] == "contained"
    assert result["execution"]["status"] == "FAILED"
    assert result["execution"]["states"][-1] == "RecordNotStored"
    assert len([c for c in result["api_calls"] if c["operation"] == "Publish"]) == 1


# -- what each scenario is about, read back from the simulated account ---------------------------

EXFIL_INSTANCE, EXFIL_ENI, EXFIL_GROUP = "i-0f8e7d6c5b4a39281", "eni-0a1b2c3d4e5f60001", "sg-0a1b2c3d4e5f60011"
FULLY_PROTECTED = {"termination": True, "shutdown_behavior": "stop"}


def _keys(result, event_key: str) -> tuple[str, list[str]]:
    exposed = result["staged"][event_key]
    return exposed, [k for k in result["observed"]["access_keys"] if k != exposed]


def _key_contained(event_key: str, user: str):
    def check(result) -> None:
        exposed, others = _keys(result, event_key)
        keys = result["observed"]["access_keys"]
        assert keys[exposed] == "Inactive"
        assert others and all(keys[k] == "Active" for k in others), "the bystander key must stay active"
        assert "AWSCompromisedKeyQuarantineV3" in result["observed"]["user_policies"][user]

    return check


def _access_denied(result) -> None:
    exposed, _ = _keys(result, "ACCESS_KEY_ID_HERE")
    assert result["observed"]["access_keys"][exposed] == "Inactive"  # still deactivated
    # The quarantine was denied; the user-session deny (PutUserPolicy, not denied) still holds.
    assert result["observed"]["user_policies"]["ci-deployer"] == ["AWSRevokeOlderSessions"]


def _key_gone(user_remains: bool):
    def check(result) -> None:
        exposed, others = _keys(result, "AKIAXXXXXXXXXX")
        keys = result["observed"]["access_keys"]
        assert keys[exposed] == "absent"  # not re-created, not reported as something else
        if user_remains:
            assert [keys[k] for k in others] == ["Active"]
        else:
            assert others == [] and "test-1" not in result["observed"]["user_policies"]

    return check


def _unknown_key(result) -> None:
    exposed, _ = _keys(result, "ACCESS_KEY_ID_HERE")
    assert result["observed"]["access_keys"] == {exposed: "absent"}
    assert result["observed"]["user_policies"] == {}


def _untouched_principal(event_key: str, user: str):
    def check(result) -> None:
        assert result["staged"][event_key] in result["observed"]["access_keys"]
        assert set(result["observed"]["access_keys"].values()) == {"Active"}
        assert result["observed"]["user_policies"][user] == []

    return check


def _full_exfil_response(images: int = 1, role: str = "web-app-role", revoked: bool = True):
    def check(result) -> None:
        observed = result["observed"]
        instance = result["staged"][EXFIL_INSTANCE]
        assert observed["role_policies"][role] == (["AWSRevokeOlderSessions"] if revoked else [])
        assert observed["instance_protection"][instance] == FULLY_PROTECTED  # staged: off, "terminate"
        assert [image["instance_id"] for image in observed["images"]] == [instance] * images
        assert observed["isolation_groups"] and all(
            rules == {"ingress": 0, "egress": 0} for rules in observed["isolation_groups"].values()
        )
        for groups in observed["instance_network"][instance].values():
            assert len(groups) == 1 and groups[0] in observed["isolation_groups"]
        assert observed["auto_scaling"] == {instance: None}

    return check


def _instance_terminated(result) -> None:
    observed = result["observed"]
    instance = result["staged"][EXFIL_INSTANCE]
    assert observed["role_policies"]["web-app-role"] == ["AWSRevokeOlderSessions"]
    assert observed["images"] == [] and observed["isolation_groups"] == {}
    assert instance not in observed["instance_protection"]  # terminated: nothing to protect
    # The network is as staged: no isolation group was made or put on its ENI.
    assert observed["instance_network"][instance] == {result["staged"][EXFIL_ENI]: [result["staged"][EXFIL_GROUP]]}


def _auto_scaling_group(result) -> None:
    _full_exfil_response()(result)
    assert any("attached to Auto Scaling group web-asg" in note for note in result["staging_notes"])
    (detach,) = [s for s in result["steps"] if s["name"] == "protect-from-autoscaling"]
    assert detach["status"] == "done" and "web-asg" in detach["detail"]


def _dry_run_isolation(result) -> None:
    observed = result["observed"]
    instance = result["staged"][EXFIL_INSTANCE]
    assert observed["instance_protection"][instance] == FULLY_PROTECTED
    assert observed["instance_network"][instance] == {result["staged"][EXFIL_ENI]: [result["staged"][EXFIL_GROUP]]}


def _malformed(result) -> None:
    assert result["observed"]["images"] == [] and result["observed"]["isolation_groups"] == {}
    assert not any(result["observed"]["role_policies"].values())


STATE_CHECKS = {
    "iam-throttling": _key_contained("ACCESS_KEY_ID_HERE", "ci-deployer"),
    "record-unavailable": _key_contained("ACCESS_KEY_ID_HERE", "ci-deployer"),
    "access-denied": _access_denied,
    "key-already-deleted": _key_gone(user_remains=True),
    "user-deleted": _key_gone(user_remains=False),
    "unknown-key": _unknown_key,
    "root-key": _untouched_principal("AKIAROOTEXPOSED00001", "<root_account>"),  # as IAM names root
    "exempted-principal": _untouched_principal("AKIAXXXXXXXXXX", "test-1"),
    "instance-terminated": _instance_terminated,
    "auto-scaling-group": _auto_scaling_group,
    "several-enis": _full_exfil_response(),
    # IAM refuses the revoke on a service-linked role; the instance is still protected and isolated.
    "service-linked-role": _full_exfil_response(role="AWSServiceRoleForECS", revoked=False),
    "duplicate": _full_exfil_response(),
    "still-in-use": _full_exfil_response(),
    "rerun": _full_exfil_response(),
    "dry-run-isolation": _dry_run_isolation,
    "malformed": _malformed,
}


def test_state_checks_name_real_scenarios() -> None:
    # Every scenario of this module has one (dry-run: test_dry_run_changes_nothing); others' areas
    # assert theirs in tests/e2e/test_faults_<area>.py.
    assert set(STATE_CHECKS) <= set(SCENARIOS)
