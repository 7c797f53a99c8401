"""Fault drills of the instance response: load balancers, instance profile, isolation under attack.

Each asserts the simulated account's state (`observed`, read back by the drill) after the run and,
where the scenario is about undo, after `responder release` against the same account."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from drill.faults import SCENARIOS
from drill.runner import run_event_file
from tests.e2e.test_drill_release import release_incident

pytestmark = [pytest.mark.drill, pytest.mark.xdist_group("drill-faults")]


def run(name: str, synthesized: Any, after: Any = None) -> dict[str, Any]:
    scenario = SCENARIOS[name]
    result = run_event_file(
        scenario.path,
        synthesized,
        setup=scenario.setup,
        faults=scenario.faults(),
        environment=scenario.environment,
        after=after,
    )
    assert result["outcome"] == scenario.expected, result["reason"]
    return result


def step(result: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [s for s in result["steps"] if s["name"] == name]
    return found


def test_load_balancer_deregistered_recorded_and_released(synthesized) -> None:
    result = run("load-balancer", synthesized, after=release_incident)
    (instance,) = result["observed"]["load_balancers"]
    before, after = (
        result["observed_before"]["load_balancers"][instance],
        result["observed"]["load_balancers"][instance],
    )
    assert len(before["target_groups"]) == 1 and before["classic"] == ["legacy-web"]
    assert after == {"target_groups": [], "classic": []}
    assert step(result, "deregister-from-load-balancers")["status"] == "done"
    assert result["observed_after"]["load_balancers"] == result["observed_before"]["load_balancers"]
    assert all(status == "released" for _, status in result["after"]["outcomes"]), result["after"]


def test_instance_profile_removed_recorded_and_released(synthesized) -> None:
    result = run("instance-profile", synthesized, after=release_incident)
    (instance, profile) = next(iter(result["observed_before"]["instance_profiles"].items()))
    assert profile and profile.endswith(":instance-profile/web-app-role-profile")
    assert result["observed"]["instance_profiles"] == {instance: None}
    assert step(result, "remove-instance-profile")["status"] == "done"
    assert result["observed_after"]["instance_profiles"] == {instance: profile}
    assert any(what.startswith("re-associate instance profile") for what, _ in result["after"]["outcomes"])


def untrack_state(account: Any, staged: Any) -> dict[str, Any]:
    from isolate_instance.actions import UNTRACK_GROUP

    ec2 = account.client("ec2", staged.region)
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [UNTRACK_GROUP]}])["SecurityGroups"]
    return {
        group["GroupId"]: len(
            ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group["GroupId"]]}])[
                "SecurityGroupRules"
            ]
        )
        for group in groups
    }


def test_untrack_timeout_leaves_no_interface_on_the_all_open_group(synthesized) -> None:
    result = run("untrack-timeout", synthesized, after=untrack_state)
    untrack = result["after"]
    assert untrack and all(rules == 0 for rules in untrack.values()), untrack  # no rules at rest
    (interfaces,) = result["observed"]["instance_network"].values()
    assert len(interfaces) == 3
    for groups in interfaces.values():
        assert not set(groups) & set(untrack)
        assert len(groups) == 1 and groups[0] in result["observed"]["isolation_groups"]
    # The timeout really happened on the second swap, and the task was retried.
    timed_out = [c for c in result["api_calls"] if c["operation"] == "ModifyNetworkInterfaceAttribute" and c["error"]]
    assert [c["error"] for c in timed_out] == ["ReadTimeoutError"]
    modifies = [c for c in result["api_calls"] if c["operation"] == "ModifyNetworkInterfaceAttribute"]
    failed_at = modifies.index(timed_out[0])
    assert len(modifies) - failed_at >= 4  # the put-back, then the retry's two swaps
    # The interface found on the all-open group was the first thing fixed, with the recorded originals kept.
    before = result["observed_before"]["instance_network"]
    assert any(set(groups) & set(untrack) for groups in next(iter(before.values())).values())


def test_tag_tampered_release_restores_the_recorded_groups(synthesized) -> None:
    result = run("tag-tampered", synthesized, after=release_incident)
    before, after = result["observed_before"]["instance_network"], result["observed_after"]["instance_network"]
    assert after == before  # the instance's own interface is back on its real groups
    assert len(before) == 1
    assert "attacker-eni" in result["staged"]
    for what, status in result["after"]["outcomes"]:
        assert status == "released", what
        assert "curl" not in what and result["staged"]["attacker-eni"] not in what
    # Nothing of the payload reaches a message; every command there splits into plain words.
    for notification in result["notifications"]:
        assert "curl" not in notification["text"]
    detail = step(result, "isolate-instance")["detail"]
    assert "does not end connections already tracked" in detail
    for line in (n["text"] for n in result["notifications"] if n["channel"] == "email"):
        for command in [part for part in line.splitlines() if "modify-network-interface-attribute" in part]:
            shlex.split(command.strip())
