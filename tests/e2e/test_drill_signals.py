"""Every credential signal (issue 17), end to end: the synthesized state machine, the real
handlers, a simulated account; every assertion on the account reads `observed`."""

from __future__ import annotations

from pathlib import Path

import pytest

from drill.runner import run_event_file, run_sequence

EVENTS = Path(__file__).resolve().parent.parent / "events"
ACCOUNTS = EVENTS / "accounts"
pytestmark = [pytest.mark.drill, pytest.mark.xdist_group("drill-events")]

READS = ("Get", "List", "Describe", "Lookup")


def account_changes(result) -> list[str]:
    """Calls that change the account (the responder's own incident table, secret and topic aside)."""
    return [
        f"{c['service']}:{c['operation']}"
        for c in result["api_calls"]
        if c["service"] not in ("dynamodb", "sns", "secretsmanager") and not c["operation"].startswith(READS)
    ]


def test_console_compromise_changes_nothing_and_fails_with_the_root_account_steps(synthesized) -> None:
    result = run_event_file(
        EVENTS / "crafted" / "health_console_compromise.json",
        synthesized,
        account_state=ACCOUNTS / "example.json",
        after=lambda account, staged: None,
    )
    assert result["outcome"] == "failed", result["reason"]
    assert result["execution"]["status"] == "FAILED", "the alarm on failed executions must fire"
    assert result["incident"]["kind"] == "console-compromise"
    observed = result["observed"]
    # The account file's user keeps its active key, its login profile and its policies.
    assert observed == result["observed_before"]
    assert observed["access_keys"][result["staged"]["AKIAXXXXXXXXXX000001"]] == "Active"
    assert observed["login_profiles"]["test-1"] is True
    assert observed["user_policies"]["test-1"] == ["ReadOnlyAccess", "deploy"]
    assert observed["isolation_groups"] == {} and observed["revoke_cutoffs"] == {}
    assert account_changes(result) == []
    (step,) = [s for s in result["steps"] if s["name"] == "secure-console-credentials"]
    assert step["status"] == "skipped"
    email = next(n for n in result["notifications"] if n["channel"] == "email")
    assert email["subject"].startswith("[FAILED] Console credentials compromised in ")
    for needed in ("Sign in as the root user", "Change the root password", "MFA", "Support case"):
        assert needed in email["text"]


AFFILIATED = EVENTS / "crafted" / "guardduty_exfil_inside_affiliated.json"


def test_affiliated_inside_aws_is_contained_by_default_and_the_report_says_why(drill_runs) -> None:
    result = drill_runs.event(AFFILIATED).result
    assert result["outcome"] == "contained", result["reason"]
    observed = result["observed"]
    assert observed["role_policies"]["web-app-role"] == ["AWSRevokeOlderSessions"]
    assert observed["isolation_groups"]
    email = next(n for n in result["notifications"] if n["channel"] == "email")
    assert "affiliatedInsideAws=contain" in email["text"] and "444455556666" in email["text"]


def test_affiliated_inside_aws_with_notify_changes_nothing_and_fails(synthesized) -> None:
    result = run_event_file(AFFILIATED, synthesized, environment={"AFFILIATED_INSIDE_AWS": "notify"})
    assert result["outcome"] == "failed", result["reason"]
    assert result["reason"].startswith("containment skipped: affiliatedInsideAws=notify")
    assert result["execution"]["status"] == "FAILED"
    observed = result["observed"]
    assert observed["role_policies"]["web-app-role"] == []
    assert observed["isolation_groups"] == {} and observed["images"] == []
    (instance,) = observed["instance_protection"]
    assert observed["instance_protection"][instance]["termination"] is False
    assert account_changes(result) == []
    email = next(n for n in result["notifications"] if n["channel"] == "email")
    assert "affiliatedInsideAws=notify" in email["text"]


SEQUENCES = EVENTS / "crafted"


def test_attack_sequence_naming_a_users_key_contains_that_key(drill_runs) -> None:
    result = drill_runs.event(SEQUENCES / "guardduty_attack_sequence_iam_user_key.json").result
    assert result["outcome"] == "contained", result["reason"]
    assert result["incident"]["kind"] == "exposed-access-key"
    key = result["staged"]["AKIA3UBBJ2K3TLEAKED1"]
    observed = result["observed"]
    assert observed["access_keys"][key] == "Inactive"
    bystanders = [k for k in observed["access_keys"] if k != key]
    assert bystanders and all(observed["access_keys"][k] == "Active" for k in bystanders)
    assert "AWSCompromisedKeyQuarantineV3" in observed["user_policies"]["ci-deployer"]
    assert account_changes(result)[0] == "iam:UpdateAccessKey"


def test_attack_sequence_naming_an_assumed_role_session_revokes_the_role(drill_runs) -> None:
    result = drill_runs.event(SEQUENCES / "guardduty_attack_sequence_iam_assumed_role.json").result
    assert result["outcome"] == "contained", result["reason"]
    observed = result["observed"]
    assert observed["role_policies"]["web-app-role"] == ["AWSRevokeOlderSessions"]
    assert observed["revoke_cutoffs"]["web-app-role"]
    # No instance is named in a structured field: none is touched.
    assert observed["isolation_groups"] == {} and observed["images"] == []
    assert account_changes(result)[0] == "iam:PutRolePolicy"


def test_published_attack_sequence_without_a_principal_changes_nothing_and_fails(drill_runs) -> None:
    result = drill_runs.event(SEQUENCES / "guardduty_attack_sequence_iam_published_no_principal.json").result
    assert result["outcome"] == "failed", result["reason"]
    assert result["execution"]["status"] == "FAILED"
    assert "no principal" in result["reason"]
    assert result["observed"]["access_keys"] == {} and result["observed"]["user_policies"] == {}
    assert account_changes(result) == []
    assert not [c for c in result["api_calls"] if c["service"] in ("iam", "ec2")]
    email = next(n for n in result["notifications"] if n["channel"] == "email")
    assert "GuardDuty console" in email["text"]


def test_an_attack_sequence_covering_a_handled_finding_joins_its_incident(synthesized) -> None:
    """One incident per attack: the instance-credential finding, then the attack sequence built on
    it (signals[].uid = its finding id) that also names a key the attacker made with the role."""
    covers = SEQUENCES / "guardduty_attack_sequence_covers_exfil.json"
    first, sequence, resent = run_sequence(
        [EVENTS / "guardduty_exfil_outside_realistic.json", covers, covers], synthesized
    )
    assert first["outcome"] == "contained", first["reason"]
    assert sequence["outcome"] == "contained", sequence["reason"]
    instance = first["incident"]["instance_id"]
    key = sequence["staged"]["AKIA4XKQ2ATTACKER001"]
    observed = sequence["observed"]
    # The new principal is contained; the role and the instance stay as the first response left them.
    assert observed["access_keys"][key] == "Inactive"
    assert "AWSCompromisedKeyQuarantineV3" in observed["user_policies"]["svc-backup"]
    assert observed["role_policies"]["web-app-role"] == ["AWSRevokeOlderSessions"]
    assert observed["revoke_cutoffs"]["web-app-role"] == first["observed"]["revoke_cutoffs"]["web-app-role"]
    assert len(observed["images"]) == 1
    assert observed["instance_protection"][instance] == {"termination": True, "shutdown_behavior": "stop"}
    assert observed["instance_network"] == first["observed"]["instance_network"]
    assert not [c for c in sequence["api_calls"] if c["service"] == "ec2" and not c["operation"].startswith(READS)]
    # What the first response contained is reported as such, naming it; nothing failed.
    (already,) = [s for s in sequence["steps"] if s["name"] == "already-contained"]
    assert already["status"] == "already-done" and already["target"] == "role web-app-role"
    assert "c2c6f0f0a7d14c1e8d1b3e5f7a9b0c11" in already["detail"]
    assert not [s for s in sequence["steps"] if s["status"] == "failed"]
    # One message, naming the earlier finding; one record, holding both responses.
    email = next(n for n in sequence["notifications"] if n["channel"] == "email")
    assert "Same attack as" in email["text"] and "c2c6f0f0a7d14c1e8d1b3e5f7a9b0c11" in email["text"]
    assert len(sequence["slack_requests"]) == 1
    records = sequence["incident_records"]
    assert list(records) == ["111122223333:guardduty:c2c6f0f0a7d14c1e8d1b3e5f7a9b0c11"]
    (record,) = records.values()
    assert record["status"] == "contained"
    assert record["joined"] == [{"finding_id": "d4e5f6a7b8c90112233445566778899a", "outcome": "contained"}]
    assert record["steps"] > first["incident_records"][next(iter(records))]["steps"]
    # The same sequence again: recorded, no second response, no message, still one record.
    assert resent["outcome"] == "duplicate", resent["reason"]
    assert "already joined" in resent["reason"] and resent["slack_requests"] == []
    assert resent["incident_records"] == records
    assert not [c for c in resent["api_calls"] if c["service"] in ("iam", "ec2")]


GROUP = SEQUENCES / "guardduty_attack_sequence_ec2_instance_group.json"


def test_an_instance_group_sequence_revokes_the_shared_role_and_lists_the_instances(drill_runs) -> None:
    result = drill_runs.event(GROUP).result
    assert result["outcome"] == "partial", result["reason"]
    assert result["execution"]["status"] == "FAILED", "instances that can still get credentials: the alarm fires"
    members = [result["staged"]["i-0aa11bb22cc33dd41"], result["staged"]["i-0aa11bb22cc33dd42"]]
    observed = result["observed"]
    assert observed["role_policies"]["web-fleet-role"] == ["AWSRevokeOlderSessions"]
    assert observed["revoke_cutoffs"]["web-fleet-role"]
    # isolateInstanceGroups is off: every instance of the group is as it was.
    assert observed["images"] == [] and observed["isolation_groups"] == {}
    for instance in members:
        assert observed["instance_protection"][instance] == {"termination": False, "shutdown_behavior": "terminate"}
        assert observed["instance_profiles"][instance].endswith(":instance-profile/web-fleet-profile")
    assert not [c for c in result["api_calls"] if c["service"] == "ec2" and not c["operation"].startswith(READS)]
    assert account_changes(result)[0] == "iam:PutRolePolicy"
    group = [s for s in result["steps"] if s["name"] == "isolate-instance-group"]
    assert sorted(s["target"] for s in group) == sorted(members) and {s["status"] for s in group} == {"skipped"}
    email = next(n for n in result["notifications"] if n["channel"] == "email")
    for instance in members:
        assert f"create-image --instance-id {instance} --no-reboot" in email["text"]
    assert "isolateInstanceGroups=false" in email["text"]


def test_an_instance_group_with_isolate_groups_on_images_and_isolates_each_instance(synthesized) -> None:
    result = run_event_file(GROUP, synthesized, environment={"ISOLATE_INSTANCE_GROUPS": "true"})
    assert result["outcome"] == "contained", result["reason"]
    members = [result["staged"]["i-0aa11bb22cc33dd41"], result["staged"]["i-0aa11bb22cc33dd42"]]
    observed = result["observed"]
    assert observed["role_policies"]["web-fleet-role"] == ["AWSRevokeOlderSessions"]
    assert sorted(image["instance_id"] for image in observed["images"]) == sorted(members)
    (isolation,) = observed["isolation_groups"]
    for instance in members:
        assert observed["instance_protection"][instance] == {"termination": True, "shutdown_behavior": "stop"}
        assert observed["instance_profiles"][instance] is None
        assert [groups for groups in observed["instance_network"][instance].values()] == [[isolation]]
    assert not [s for s in result["steps"] if s["name"] == "isolate-instance-group"]
    assert {"PreserveInstanceGroup", "IsolateInstanceGroup"} <= set(result["execution"]["states"])


def test_release_restores_every_instance_of_an_isolated_group(synthesized) -> None:
    from tests.e2e.test_drill_release import release_incident

    result = run_event_file(GROUP, synthesized, environment={"ISOLATE_INSTANCE_GROUPS": "true"}, after=release_incident)
    assert result["outcome"] == "contained", result["reason"]
    before, after = result["observed_before"], result["observed_after"]
    assert after["role_policies"] == before["role_policies"]
    assert after["instance_network"] == before["instance_network"]
    assert after["instance_protection"] == before["instance_protection"]
    assert after["instance_profiles"] == before["instance_profiles"] and all(before["instance_profiles"].values())
    assert all(status == "released" for _, status in result["after"]["outcomes"])
