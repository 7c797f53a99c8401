"""The `user-credentials` fault drill (tests/events/drills/user-credentials.json): the exposed key's user holds a
Bedrock API key, an SSH key and a signing certificate; the attacker made a user with one of each. Every one reads
back Inactive from the simulated account after the response, and Active again after `responder release`."""

from __future__ import annotations

from typing import Any

import pytest

from drill.faults import SCENARIOS, release_the_incident, run_scenario

pytestmark = [pytest.mark.drill, pytest.mark.xdist_group("drill-faults")]

USERS = ("ci-deployer", "bedrock-batch")  # the exposed key's user, and the one the attacker made
KINDS = ("ssh_public_keys", "service_specific_credentials", "signing_certificates")


def _statuses(user: dict[str, Any]) -> dict[str, str]:
    found = {}
    for kind in KINDS:
        for credential_id, value in user[kind].items():
            found[credential_id] = value["status"] if isinstance(value, dict) else value
    return found


def test_every_credential_of_both_users_is_inactive_then_active_after_release(synthesized) -> None:
    result = run_scenario("user-credentials", synthesized, after=release_the_incident)
    assert result["outcome"] == SCENARIOS["user-credentials"].expected, result["reason"]
    for name in USERS:
        before, during = result["observed_before"]["users"][name], result["observed"]["users"][name]
        after = result["observed_after"]["users"][name]
        assert all(len(before[kind]) == 1 for kind in KINDS), (name, before)
        services = [c["service"] for c in during["service_specific_credentials"].values()]
        assert services == ["bedrock.amazonaws.com"], "a Bedrock API key"
        assert set(_statuses(before).values()) == {"Active"}, name
        assert set(_statuses(during).values()) == {"Inactive"}, name
        assert _statuses(after) == dict.fromkeys(_statuses(during), "Active"), name
    done = [s for s in result["steps"] if s["name"] == "deactivate-user-credential" and s["status"] == "done"]
    assert len(done) == 6 and all(s["containment"] for s in done)
    assert result["after"]["status"] == "released"
