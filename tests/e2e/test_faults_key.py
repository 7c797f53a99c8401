"""Fault drills of the exposed-key containment: each asserts what the simulated account holds
afterwards (`observed`, read back from it), not what the workflow says it did."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

pytestmark = [pytest.mark.drill, pytest.mark.xdist_group("drill-faults")]


def email_text(result) -> str:
    return next(n for n in result["notifications"] if n["channel"] == "email")["text"]


def test_a_member_accounts_key_is_not_touched_here(drill_runs) -> None:
    result = drill_runs.fault("org-view-member-key").result
    assert result["outcome"] == "failed"
    assert result["incident"]["account"] == "210987654321"
    observed = result["observed"]
    assert set(observed["access_keys"].values()) == {"Active"}
    assert not any(observed["user_policies"].values())
    writes = [
        c for c in result["api_calls"] if c["service"] == "iam" and not c["operation"].startswith(("Get", "List"))
    ]
    assert writes == []
    assert "210987654321" in result["reason"]
    text = email_text(result)
    assert "with credentials for account 210987654321" in text and "update-access-key" in text


def test_the_real_owners_key_is_contained_not_the_named_users(drill_runs) -> None:
    result = drill_runs.fault("wrong-owner").result
    assert result["outcome"] == "contained", result["reason"]
    observed = result["observed"]
    (bobs_key,) = result["incident"]["access_key_ids"]
    assert observed["access_keys"][bobs_key] == "Inactive"
    others = [key for key in observed["access_keys"] if key != bobs_key]
    assert others and {observed["access_keys"][key] for key in others} == {"Active"}  # test-1's keys
    assert observed["user_policies"]["test-1"] == []
    assert set(observed["user_policies"]["bob"]) == {"AWSCompromisedKeyQuarantineV3", "AWSRevokeOlderSessions"}
    (deactivate,) = [s for s in result["steps"] if s["name"] == "deactivate-access-key"]
    assert "the event names test-1, but IAM says the key belongs to bob" in deactivate["detail"]


def test_sessions_minted_from_the_key_are_denied_on_the_user(drill_runs) -> None:
    result = drill_runs.fault("user-sessions").result
    assert result["outcome"] == "contained", result["reason"]
    (note,) = [n for n in result["staging_notes"] if n.startswith("session ")]
    issued = datetime.fromisoformat(re.search(r"issued at (\S+)", note)[1].replace("Z", "+00:00"))  # type: ignore[index]
    (deny,) = result["observed"]["user_session_denies"]["test-1"]
    assert deny["effect"] == "Deny" and deny["action"] == "*"
    cutoff = datetime.fromisoformat(deny["condition"]["DateLessThan"]["aws:TokenIssueTime"].replace("Z", "+00:00"))
    assert cutoff >= issued  # moto evaluates no policy: the deny's condition is what is checked
    # Long-term keys carry no aws:TokenIssueTime: the bystander key is still Active.
    assert "Active" in result["observed"]["access_keys"].values()
    (step,) = [s for s in result["steps"] if s["name"] == "revoke-user-sessions"]
    assert step["status"] == "done"


def test_every_page_of_a_health_event_is_contained(drill_runs) -> None:
    result = drill_runs.fault("health-pages").result
    assert result["earlier_deliveries"] == ["contained"]
    assert result["outcome"] == "contained", result["reason"]
    observed = result["observed"]
    first, second = (n for n in result["staging_notes"] if n.startswith("page 1")).__next__().split("; ")
    keys = [first.split()[-1], second.split()[3]]
    assert [observed["access_keys"][key] for key in keys] == ["Inactive", "Inactive"]
    assert "AWSRevokeOlderSessions" in observed["user_policies"]["deploy-bot"]


def test_forged_names_are_ignored_and_never_posted_raw(drill_runs) -> None:
    result = drill_runs.fault("forged-names").result
    assert result["outcome"] == "ignored"
    assert result["reason"].startswith("invalid-field: detail.eventMetadata.userName")
    assert [c for c in result["api_calls"] if c["service"] == "iam"] == []
    assert set(result["observed"]["access_keys"].values()) == {"Active"}
    posted = json.dumps([request["payload"] for request in result["slack_requests"]])
    assert result["slack_requests"] and "userName" in posted
    text = email_text(result)
    for raw in ("<!channel>", "*bold*", "$(", "| sh"):
        assert raw not in posted, raw
        assert raw not in text, raw
    assert "\\nevil" not in posted and "\n$" not in text
