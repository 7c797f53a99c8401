"""The fault drills of account histories (issues 22, 23, 24): each asserts the outcome its issue expects AND the
state read back from the simulated account that proves it (`observed`, and `observed_before`, read after staging
and before the response).

The drills' staging itself is tested in test_drill_history.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from drill.faults import SCENARIOS, run_scenario

pytestmark = [pytest.mark.drill, pytest.mark.xdist_group("drill-faults")]

DENY_ALL = ["Deny * on *"]
CUTOFF = re.compile(r"^Deny \* on \* if DateLessThan aws:TokenIssueTime=\S+$")
# The owner's CI routine (tests/events/cloudtrail/owner_ci_routine.json) and its last job (owner_history.json).
OWNER_USERS = ("carol.nguyen", "release-bot")
OWNER_ROLES = ("payments-api-task", "reports-lambda", "orders-worker")


@pytest.fixture(scope="module")
def drill(drill_runs):
    """One run per drill (and environment), with the state read back before the response: the session's shared run
    (tests/e2e/conftest.py) when the drill's own environment is kept."""
    runs: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]] = {}

    def run(name: str, **environment: str) -> dict[str, Any]:
        if not environment:
            return drill_runs.fault(name).result
        key = (name, tuple(sorted(environment.items())))
        if key not in runs:
            runs[key] = run_scenario(
                name, drill_runs.synthesized, environment=environment, after=lambda account, staged: None
            )
        return runs[key]

    return run


def exposed_keys(result: dict[str, Any]) -> list[str]:
    return result["incident"]["access_key_ids"]


def user(result: dict[str, Any], name: str, *, before: bool = False) -> dict[str, Any]:
    return result["observed_before" if before else "observed"]["users"][name]


def role(result: dict[str, Any], name: str, *, before: bool = False) -> dict[str, Any]:
    return result["observed_before" if before else "observed"]["roles"][name]


def unchanged(result: dict[str, Any], *, users: tuple[str, ...] = (), roles: tuple[str, ...] = ()) -> None:
    for name in users:
        assert user(result, name) == user(result, name, before=True), f"user {name} was changed"
    for name in roles:
        assert role(result, name) == role(result, name, before=True), f"role {name} was changed"


def denied(principal: dict[str, Any]) -> bool:
    """Contained by content: a deny-all the responder wrote (whatever its name), and no Allow-all left beside it."""
    documents = principal["inline_policies"].values()
    return DENY_ALL in documents and ["Allow * on *"] not in documents


def cut_off(principal: dict[str, Any]) -> bool:
    return any(len(lines) == 1 and CUTOFF.match(lines[0]) for lines in principal["inline_policies"].values())


def keys_inactive(principal: dict[str, Any]) -> bool:
    return bool(principal["access_keys"]) and set(principal["access_keys"].values()) == {"Inactive"}


def reported(result: dict[str, Any], name: str, *words: str) -> bool:
    """A step names this principal, with these words in what it says."""
    return any(
        name in f"{step['target']} {step['detail']}" and all(word in step["detail"].lower() for word in words)
        for step in result["steps"]
    )


def expect(result: dict[str, Any], name: str) -> None:
    assert result["outcome"] == SCENARIOS[name].expected, result["reason"]


HISTORIES = sorted(name for name, scenario in SCENARIOS.items() if scenario.cloudtrail or scenario.account)


@pytest.mark.parametrize("name", HISTORIES)
def test_a_history_drill_is_never_silent(drill, name: str) -> None:
    """Whatever the product makes of it today: both channels told, and a response it calls incomplete fails the
    execution (the alarm). The drills' outcomes are asserted below."""
    result = drill(name)
    assert {n["channel"] for n in result["notifications"]} == {"email", "slack"}
    if result["outcome"] in ("failed", "partial"):
        assert result["execution"]["status"] == "FAILED"
        assert [s for s in result["steps"] if s["status"] in ("failed", "skipped")]


# -- issue 22: the drill replays an account's history ---------------------------------------------------------------


def test_owner_history_leaves_everything_of_the_owners_and_reports_it(drill) -> None:
    result = drill("owner-history")
    expect(result, "owner-history")
    assert all(result["observed"]["access_keys"][key] == "Inactive" for key in exposed_keys(result))
    unchanged(result, users=OWNER_USERS, roles=(*OWNER_ROLES, "payments-api-canary"))
    assert user(result, "carol.nguyen")["login_profile"] is True
    for name in (*OWNER_USERS, *OWNER_ROLES, "payments-api-canary"):
        assert reported(result, name, "owner"), f"{name} is not reported as the owner's"


def test_role_chain_cuts_off_both_sessions_and_the_user_made_through_them(drill) -> None:
    result = drill("role-chain")
    expect(result, "role-chain")
    made = user(result, "svc-metrics-exporter")
    assert keys_inactive(made) and denied(made)
    assert cut_off(role(result, "deploy")) and cut_off(role(result, "org-admin"))


def test_reactivated_key_is_inactive_again(drill) -> None:
    result = drill("reactivated-key")
    expect(result, "reactivated-key")
    old = result["staged"]["AKIAOWNEROLDKEY00001"]
    assert user(result, "ci-deployer", before=True)["access_keys"][old] == "Active", "staged: set Active again"
    assert user(result, "ci-deployer")["access_keys"][old] == "Inactive"
    assert all(result["observed"]["access_keys"][key] == "Inactive" for key in exposed_keys(result))


def test_renamed_backdoor_is_found_by_its_id_and_cut_off(drill) -> None:
    result = drill("renamed-backdoor")
    expect(result, "renamed-backdoor")
    users = result["observed"]["users"]
    assert "backup-svc" not in users, "staged: renamed"
    renamed = users["AWSServiceRoleSupportSync"]
    assert renamed["id"] == result["staged"]["user:backup-svc"]
    assert keys_inactive(renamed) and denied(renamed)


def test_second_key_of_the_sequence_is_inactive_too(drill) -> None:
    result = drill("second-key")
    expect(result, "second-key")
    first, second = (result["staged"][key] for key in ("AKIA3UBBJ2K3TLEAKED1", "AKIA3UBBJ2K3TLEAKED2"))
    keys = user(result, "ci-deployer")["access_keys"]
    assert keys[first] == keys[second] == "Inactive"
    assert keys_inactive(user(result, "ops-backup")) and denied(user(result, "ops-backup"))


# -- issue 23: whose work --------------------------------------------------------------------------------------------

OWNER_AFTER = {"users": ("dave.kim",), "roles": ("payments-api-v2-task",)}


def test_owner_ci_runner_with_report_leaves_the_owners_changes_and_names_them(drill) -> None:
    result = drill("owner-ci-runner")
    names = (*OWNER_AFTER["users"], *OWNER_AFTER["roles"], "orders-worker")
    owners = all(reported(result, name, "owner") for name in names)
    assert result["outcome"] == "partial" or (result["outcome"] == "contained" and owners), result["reason"]
    unchanged(result, users=(*OWNER_USERS, *OWNER_AFTER["users"]), roles=(*OWNER_ROLES, *OWNER_AFTER["roles"]))
    assert user(result, "dave.kim")["login_profile"] is True and user(result, "carol.nguyen")["login_profile"] is True
    for name in names:
        assert reported(result, name), f"{name} is not named in the report"


def test_owner_ci_runner_with_hold_holds_the_owners_changes_with_their_release_commands(drill) -> None:
    result = drill("owner-ci-runner", UNKNOWN_CHANGES="hold")
    assert result["outcome"] == "contained", result["reason"]
    assert user(result, "dave.kim")["login_profile"] is True and user(result, "carol.nguyen")["login_profile"] is True
    assert denied(user(result, "dave.kim")) and denied(role(result, "payments-api-v2-task"))
    for name in (*OWNER_AFTER["users"], *OWNER_AFTER["roles"]):
        assert reported(result, name, "held on doubt", "release"), f"{name} is not held with its release command"


def test_instance_workload_contains_the_thief_and_not_the_workload(drill) -> None:
    result = drill("instance-workload")
    expect(result, "instance-workload")
    thief = user(result, "ec2-support")
    assert keys_inactive(thief) and denied(thief)
    assert denied(role(result, "ec2-support-role")) and cut_off(role(result, "ec2-support-role"))
    assert cut_off(role(result, "web-app-role"))
    unchanged(result, roles=tuple(f"lambda-exec-release-{n}" for n in (40, 41, 42, 43)))


def test_pre_detection_attacker_is_judged_the_attackers_and_contained(drill) -> None:
    result = drill("pre-detection-attacker")
    expect(result, "pre-detection-attacker")
    made = user(result, "support-admin")
    assert keys_inactive(made) and denied(made)
    unchanged(result, users=OWNER_USERS, roles=OWNER_ROLES)


# -- issue 24: never harm the owner, never undo ourselves -------------------------------------------------------------


def test_planted_policy_names_are_overwritten_by_content(drill) -> None:
    result = drill("planted-policy-names")
    expect(result, "planted-policy-names")
    owner = user(result, "ci-deployer")
    assert ["Allow * on *"] not in owner["inline_policies"].values()
    made = user(result, "cloud-ops")
    assert keys_inactive(made)
    assert made["inline_policies"].get("CredentialResponderEviction") == DENY_ALL
    assert made["inline_policies"].get("AWSRevokeOlderSessions", ["Deny"])[0].startswith("Deny")
    made_role = role(result, "cloud-ops-role")
    assert made_role["inline_policies"].get("CredentialResponderEviction") == DENY_ALL
    assert CUTOFF.match(made_role["inline_policies"].get("AWSRevokeOlderSessions", [""])[0])


def test_exempt_role_trust_leaves_the_break_glass_role_and_reports_it(drill) -> None:
    result = drill("exempt-role-trust")
    expect(result, "exempt-role-trust")
    assert "AWS arn:aws:iam::666666666666:root" in role(result, "break-glass", before=True)["trust_principals"]
    unchanged(result, roles=("break-glass",))
    assert reported(result, "break-glass")


def test_noop_trust_rewrite_is_reported_and_not_acted_on(drill) -> None:
    result = drill("noop-trust-rewrite")
    expect(result, "noop-trust-rewrite")
    unchanged(result, roles=("payments-prod",))
    assert reported(result, "payments-prod")
