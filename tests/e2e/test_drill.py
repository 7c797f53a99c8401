"""The drill end to end: the synthesized state machine, the real handlers, a simulated account.

Every assertion on the account's state reads `observed`, which the drill reads back from the
simulated account after the run, not from what the workflow reports.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from drill.runner import run_event_file

EVENTS = Path(__file__).resolve().parent.parent / "events"
pytestmark = [pytest.mark.drill, pytest.mark.xdist_group("drill-events")]


def first_change(result) -> str:
    """The first call that changes the account (the responder's own incident table aside)."""
    changes = [
        c["operation"]
        for c in result["api_calls"]
        if c["service"] != "dynamodb" and not c["operation"].startswith(("Get", "List", "Describe", "Lookup"))
    ]
    return changes[0]


def drill(drill_runs, name: str, **kwargs):
    """The event's run: the session's shared one (tests/e2e/conftest.py), or one of its own with other settings."""
    if not kwargs:
        return drill_runs.event(name).result
    return run_event_file(EVENTS / name, drill_runs.synthesized, **kwargs)


def test_classic_exposed_key_is_contained(drill_runs) -> None:
    result = drill(drill_runs, "health_exposed_key_classic.json")
    assert result["outcome"] == "contained"
    (key,) = result["incident"]["access_key_ids"]
    assert result["staged"]["ACCESS_KEY_ID_HERE"] == key
    assert result["observed"]["access_keys"][key] == "Inactive"
    assert "AWSCompromisedKeyQuarantineV3" in result["observed"]["user_policies"]["ci-deployer"]
    # The classic event names no user: the owner is IAM's answer, and the drill says whose key it was.
    assert result["incident"]["user_names"] == [] and result["incident"]["owners"] == ["ci-deployer"]
    others = [k for k, status in result["observed"]["access_keys"].items() if k != key]
    assert others and all(result["observed"]["access_keys"][k] == "Active" for k in others)
    assert result["execution"]["status"] == "SUCCEEDED"
    timings = result["timings_ms"]
    assert timings["to_containment"] is not None and 0 < timings["to_containment"] < timings["total"]
    email = next(n for n in result["notifications"] if n["channel"] == "email")
    assert email["subject"].startswith(f"[CONTAINED] Exposed access key {key} of user ci-deployer in ")
    # The containing call is the first change to the account; before it, only the incident
    # record is written (dedupe must precede any action, or a re-delivery would act again).
    assert first_change(result) == "UpdateAccessKey"
    assert [c["operation"] for c in result["api_calls"]].index("PutItem") == 0


def test_2025_event_names_the_user(drill_runs) -> None:
    result = drill(drill_runs, "health_exposed_key_2025_event_metadata.json")
    assert result["outcome"] == "contained"
    assert result["incident"]["user_names"] == ["test-1"]
    (key,) = result["incident"]["access_key_ids"]
    assert result["observed"]["access_keys"][key] == "Inactive"
    assert result["staged"]["1234567890"] == "123456789012"


@pytest.mark.parametrize(
    "name",
    [
        "health_ignore_ec2_instance_store_degraded.json",
        "health_ignore_malformed_no_entities.json",
        "guardduty_ignore_tor_caller_SAMPLE.json",
        "guardduty_ignore_canary_body_only.json",
    ],
)
def test_ignored_events_change_nothing_and_say_why(drill_runs, name: str) -> None:
    result = drill(drill_runs, name)
    assert result["outcome"] == "ignored"
    assert result["reason"]
    assert result["incident"] is None
    assert not [c for c in result["api_calls"] if c["service"] in ("iam", "ec2")]
    assert result["notifications"], "an ignored event is still reported"


def test_stolen_instance_credentials_are_contained(drill_runs) -> None:
    result = drill(drill_runs, "guardduty_exfil_outside_realistic.json")
    assert result["outcome"] == "contained", result["reason"]
    observed = result["observed"]
    assert observed["role_policies"]["web-app-role"] == ["AWSRevokeOlderSessions"]
    instance = result["incident"]["instance_id"]
    (image,) = observed["images"]
    assert image["instance_id"] == instance
    assert image["tags"]["credential-responder:finding-id"] == "c2c6f0f0a7d14c1e8d1b3e5f7a9b0c11"
    isolation = observed["isolation_groups"]
    assert isolation and all(rules == {"ingress": 0, "egress": 0} for rules in isolation.values())
    for groups in observed["instance_network"][instance].values():
        assert groups and set(groups) <= set(isolation)
    assert observed["instance_protection"][instance] == {"termination": True, "shutdown_behavior": "stop"}
    # Revocation (the containment) comes before any other change.
    assert first_change(result) == "PutRolePolicy"


def test_sample_finding_is_ignored_unless_opted_in(drill_runs) -> None:
    ignored = drill(drill_runs, "guardduty_exfil_outside_SAMPLE_finding.json")
    assert ignored["outcome"] == "ignored" and ignored["reason"].startswith("sample-finding")
    assert "role_policies" not in ignored["observed"]
    contained = drill(drill_runs, "guardduty_exfil_outside_SAMPLE_finding.json", include_samples=True)
    assert contained["outcome"] == "contained", contained["reason"]
    assert any(contained["observed"]["role_policies"].values())


def test_scenario_backdoor_keys_are_found_and_deactivated(drill_runs) -> None:
    # The run the golden case exposed_key_backdoor_contained records too.
    result = drill_runs.event("health_exposed_key_classic.json", "cloudtrail/leaked_user_key_backdoor.json").result
    assert result["outcome"] == "contained"
    backdoor_keys = [result["staged"][k] for k in ("AKIAL80DWDVKKM0UXEER", "AKIAXAFZN8JEPF6L682H")]
    assert all(result["observed"]["access_keys"][k] == "Inactive" for k in backdoor_keys)
    steps = {(s["name"], s["target"]): s["status"] for s in result["steps"]}
    assert all(steps[("deactivate-backdoor-key", k)] in ("done", "already-done") for k in backdoor_keys)
    investigation = result["investigation"]
    assert investigation["passes"] == 2 and investigation["events_found"] > 0
    persistence = {call["event_name"] for call in investigation["persistence_calls"]}
    assert {"CreateUser", "CreateAccessKey"} <= persistence
    assert "us-east-1" in investigation["regions_searched"]
    email = next(n for n in result["notifications"] if n["channel"] == "email")
    assert "PERSISTENCE CreateUser user malicious-iam-user" in email["text"]


def test_slack_webhook_never_leaves_the_secret(drill_runs) -> None:
    result = drill(drill_runs, "health_exposed_key_classic.json")
    (request,) = result["slack_requests"]
    assert request["url_is_the_secret"]
    assert "hooks.slack.com" not in repr({k: v for k, v in result.items() if k != "slack_requests"})


@pytest.mark.parametrize(
    ("name", "count"), [("crafted/health_two_keys_one_user.json", 2), ("crafted/health_twenty_keys.json", 20)]
)
def test_many_keys_in_one_health_event_stage_within_iam_quota_and_are_contained(drill_runs, name, count) -> None:
    result = drill(drill_runs, name)
    assert result["outcome"] == "contained", result["reason"]
    event_keys = [result["staged"][k] for k in result["staged"] if k.startswith("AKIAEXPOSED")]
    assert len(event_keys) == count
    assert sorted(result["incident"]["access_key_ids"]) == sorted(event_keys)
    observed = result["observed"]["access_keys"]
    assert all(observed[k] == "Inactive" for k in event_keys)
    bystanders = [k for k in observed if k not in event_keys]
    assert len(bystanders) == 1 and observed[bystanders[0]] == "Active"
    assert any("bystander" in note for note in result["staging_notes"])
    if count > 2:
        assert any("key-owner" in note for note in result["staging_notes"])


def test_two_keys_of_one_user_stay_on_that_user(drill_runs) -> None:
    result = drill(drill_runs, "crafted/health_two_keys_one_user.json")
    assert result["incident"]["user_names"] == ["deploy-bot"]
    assert "AWSCompromisedKeyQuarantineV3" in result["observed"]["user_policies"]["deploy-bot"]
    assert result["observed"]["user_policies"]["deploy-bot-bystander"] == []


def test_delegated_administrator_envelope_is_kept(drill_runs) -> None:
    result = drill(drill_runs, "crafted/guardduty_exfil_delegated_admin.json")
    # The simulated account is the envelope's (the deployment's); the member account stays named.
    assert result["staged"]["111122223333"] == "111122223333"
    assert "999988887777" not in result["staged"]
    assert result["incident"]["account"] == "111122223333"
    assert any("delegated administrator" in note for note in result["staging_notes"])
    assert result["outcome"] != "contained", "a member's finding cannot be contained from another account"
    assert result["observed"]["role_policies"]["web-app-role"] == []
    assert result["observed"]["isolation_groups"] == {}


def test_placeholder_accounts_map_onto_the_simulated_account(drill_runs) -> None:
    result = drill(drill_runs, "health_exposed_key_2025_event_metadata.json")
    assert result["staged"]["1234567890"] == "123456789012"
    assert result["incident"]["account"] == "123456789012"
