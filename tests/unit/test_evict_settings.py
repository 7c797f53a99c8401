"""The evictions' settings and their place in the outcome: switches validated at synth (the message names the
key), dry-run per action, and the outcome's rule for back doors."""

from __future__ import annotations

from typing import Any

import pytest

from common.steps import Status, step
from infra.config import DRY_RUN_ACTIONS, EVICTION_SWITCHES, ConfigError, ResponderConfig
from report.outcome import Outcome, decide


def config(**context: Any) -> ResponderConfig:
    return ResponderConfig.from_context(context.get)


@pytest.mark.parametrize(
    "key", ["evictCreatedUsers", "removeLoginProfiles", "quarantineCreatedRoles", "quarantineRewrittenTrust",
            "revokeMintedSessions", "deactivateBackdoorKeys"],
)  # fmt: skip
def test_each_eviction_has_a_switch_and_a_dry_run_entry(key: str) -> None:
    assert config(**{key: "false"}) != ResponderConfig()
    assert key in DRY_RUN_ACTIONS and config(dryRunActions=[key]).dry_run_actions == (key,)
    with pytest.raises(ConfigError, match=key):
        config(**{key: "sometimes"})


def test_every_switch_is_an_environment_the_handler_reads() -> None:
    from evict.plan import SWITCHES

    assert set(EVICTION_SWITCHES) == {enabled for enabled, _ in SWITCHES.values()}
    assert {dry for _, dry in SWITCHES.values()} <= set(DRY_RUN_ACTIONS.values())


def key_done() -> dict[str, Any]:
    return step("deactivate-access-key", Status.DONE, "AKIA", "Inactive", containment=True)


def test_a_back_door_left_makes_the_incident_partial_naming_it() -> None:
    left = step("quarantine-created-role", Status.SKIPPED, "evil", "QUARANTINE_CREATED_ROLES is off", containment=True)
    verdict = decide("accepted", "", [key_done(), left])
    assert verdict.outcome is Outcome.PARTIAL and "quarantine-created-role skipped on evil" in verdict.reason


def test_back_doors_evicted_while_the_credential_is_live_is_failed() -> None:
    key = step("deactivate-access-key", Status.FAILED, "AKIA", "AccessDenied", containment=True)
    evicted = step("evict-created-user", Status.DONE, "malicious", "deny-all in place", containment=True)
    verdict = decide("accepted", "", [key, evicted])
    assert verdict.outcome is Outcome.FAILED and verdict.reason.startswith("the credential itself was not contained")


def test_the_owners_changes_reported_do_not_hold_back_contained() -> None:
    owner = step("owner-change", Status.SKIPPED, "ci-role", "owner's: ...")
    assert decide("accepted", "", [key_done(), owner]).outcome is Outcome.CONTAINED
