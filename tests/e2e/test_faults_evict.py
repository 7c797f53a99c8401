"""Fault drills of the eviction (issue 18): what the attacker left is evicted, what the owner made is not,
each asserted on the state read back from the simulated account (`observed`)."""

from __future__ import annotations

import pytest

from drill.faults import run_scenario

pytestmark = [pytest.mark.drill, pytest.mark.xdist_group("drill")]
EVICTION = "CredentialResponderEviction"
REVOKE = "AWSRevokeOlderSessions"


def test_backdoor_eviction_evicts_every_back_door_of_the_trail(synthesized) -> None:
    result = run_scenario("backdoor-eviction", synthesized)
    assert result["outcome"] == "contained", result["reason"]
    observed = result["observed"]
    # the user it created: the deny-all in place, its admin policy gone, every key Inactive
    assert observed["user_policies"]["malicious-iam-user"] == [EVICTION]
    # the role it created and the role whose trust it rewrote: deny-all and sessions revoked, no admin policy
    assert observed["role_policies"]["stratus-red-team-malicious-iam-role"] == [EVICTION, REVOKE]
    assert sorted(observed["role_policies"]["stratus-red-team-backdoor-r-role"]) == sorted([EVICTION, REVOKE])
    # the console passwords it created or changed
    assert observed["login_profiles"]["stratus-red-team-login-profile-user"] is False
    assert observed["login_profiles"]["stratus-red-team-update-login-profile-user"] is False
    # the exposed key and every key the attacker made are Inactive
    inactive = [result["staged"][key] for key in ("AKIAL80DWDVKKM0UXEER", "AKIAXAFZN8JEPF6L682H")]
    assert all(observed["access_keys"][key] == "Inactive" for key in inactive)
    steps = {(s["name"], s["target"]): s for s in result["steps"]}
    trust = steps[("quarantine-rewritten-trust", "stratus-red-team-backdoor-r-role")]
    assert "arn:aws:iam::193672423079:root" in trust["detail"] and "previous trust document unknown" in trust["detail"]
    minted = [s for s in result["steps"] if s["name"] == "minted-session-tokens"]
    assert minted and "revoke-user-sessions" in minted[0]["detail"]
    assert all("attacker's:" in s["detail"] for s in result["steps"] if s["name"] == "evict-created-user")


def test_owner_activity_is_left_untouched_and_reported_as_the_owners(synthesized) -> None:
    result = run_scenario("owner-activity", synthesized)
    assert result["outcome"] == "contained", result["reason"]
    observed = result["observed"]
    assert observed["role_policies"]["ci-deploy-role"] == []
    (bot_key,) = [key for key, _ in _keys_of(result, "release-bot")]
    assert observed["access_keys"][bot_key] == "Active"
    assert observed["user_policies"]["release-bot"] == []
    owner = [s for s in result["steps"] if s["name"] == "owner-change"]
    assert {s["target"] for s in owner} >= {"ci-deploy-role", "release-bot"}
    assert all("owner's:" in s["detail"] and "before the exposure" in s["detail"] for s in owner)
    assert not [s for s in result["steps"] if s["name"] in ("deactivate-backdoor-key", "quarantine-created-role")]


def _keys_of(result: dict, user: str) -> list[tuple[str, str]]:
    note = next(n for n in result["staging_notes"] if user in n and "key" in n)
    key = note.split("key ")[1].split(",")[0]
    return [(key, result["observed"]["access_keys"][key])]
