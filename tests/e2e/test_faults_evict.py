"""Fault drills of the eviction (issue 18): what the attacker left is evicted, what the owner made is not,
each asserted on the state read back from the simulated account (`observed`)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.drill, pytest.mark.xdist_group("drill-faults")]
EVICTION = "CredentialResponderEviction"
REVOKE = "AWSRevokeOlderSessions"


def test_backdoor_eviction_evicts_every_back_door_of_the_trail(drill_runs) -> None:
    result = drill_runs.fault("backdoor-eviction").result
    assert result["outcome"] == "contained", result["reason"]
    observed = result["observed"]
    # the user it created: held whole (the deny-all and its sessions cut off, every key Inactive); its admin
    # policy stays attached: nothing is deleted, and the deny-all wins over it
    assert sorted(observed["user_policies"]["malicious-iam-user"]) == sorted(["AdministratorAccess", EVICTION, REVOKE])
    # the role it created and the role whose trust it rewrote: deny-all and sessions revoked
    assert sorted(observed["role_policies"]["stratus-red-team-malicious-iam-role"]) == sorted(
        [EVICTION, REVOKE, "AdministratorAccess"]
    )
    assert sorted(observed["role_policies"]["stratus-red-team-backdoor-r-role"]) == sorted([EVICTION, REVOKE])
    # a console password it created on a user that had none is removed (the state before the attacker); one it
    # changed is kept, and its user held until a person resets it
    assert observed["login_profiles"]["stratus-red-team-login-profile-user"] is False
    assert observed["login_profiles"]["stratus-red-team-update-login-profile-user"] is True
    assert EVICTION in observed["user_policies"]["stratus-red-team-update-login-profile-user"]
    # the exposed key and every key the attacker made are Inactive
    inactive = [result["staged"][key] for key in ("AKIAL80DWDVKKM0UXEER", "AKIAXAFZN8JEPF6L682H")]
    assert all(observed["access_keys"][key] == "Inactive" for key in inactive)
    steps = {(s["name"], s["target"]): s for s in result["steps"]}
    trust = steps[("quarantine-rewritten-trust", "stratus-red-team-backdoor-r-role")]
    assert "arn:aws:iam::193672423079:root" in trust["detail"] and "the earlier document is unknown" in trust["detail"]
    minted = [s for s in result["steps"] if s["name"] == "revoke-minted-sessions"]
    assert minted and "GetFederationToken" in minted[0]["detail"] and minted[0]["status"] in ("done", "already-done")
    # The public trail holds no call of the key before the exposure: no baseline, so nothing is the owner's or,
    # by its source alone, the attacker's: each is held on doubt, with the undo that releases it.
    held = [s for s in result["steps"] if s["name"] == "evict-created-user"]
    assert held and all("held on doubt" in s["detail"] and "no call before the window" in s["detail"] for s in held)


def test_owner_activity_is_left_untouched_and_reported_as_the_owners(drill_runs) -> None:
    result = drill_runs.fault("owner-activity").result
    assert result["outcome"] == "contained", result["reason"]
    observed = result["observed"]
    assert observed["role_policies"]["ci-deploy-role"] == []
    (bot_key,) = [key for key, _ in _keys_of(result, "release-bot")]
    assert observed["access_keys"][bot_key] == "Active"
    assert observed["user_policies"]["release-bot"] == []
    owner = [s for s in result["steps"] if s["name"] == "owner-change"]
    assert {s["target"] for s in owner} >= {"ci-deploy-role", bot_key}
    assert all("the owner's (before-window)" in s["detail"] for s in owner)
    assert not [s for s in result["steps"] if s["name"] in ("deactivate-backdoor-key", "quarantine-created-role")]


def _keys_of(result: dict, user: str) -> list[tuple[str, str]]:
    note = next(n for n in result["staging_notes"] if user in n and "key" in n)
    key = note.split("key ")[1].split(",")[0]
    return [(key, result["observed"]["access_keys"][key])]
