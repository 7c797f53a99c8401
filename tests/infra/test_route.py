"""Route, as synthesized: a repeat that shows the credentials still in use goes to a containing
state for every kind it can name (review N10: an exposed-key repeat was told "cut off again" while
nothing ran), and a joined sequence's roles are revoked before its keys are contained."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.test_limits import definition

pytestmark = pytest.mark.xdist_group("infra")


def route_for(asl: dict[str, Any], intake: dict[str, Any]) -> str:
    """The state Route sends `intake` to: its choice rules evaluated the way Step Functions does."""

    def value(path: str) -> Any:
        found: Any = {"intake": intake}
        for part in path.removeprefix("$.").split("."):
            if not isinstance(found, dict) or part not in found:
                return KeyError
            found = found[part]
        return found

    def holds(rule: dict[str, Any]) -> bool:
        if "And" in rule:
            return all(holds(r) for r in rule["And"])
        present = value(rule["Variable"]) is not KeyError
        if "IsPresent" in rule:
            return present == rule["IsPresent"]
        if not present:
            return False
        if "IsString" in rule:
            return isinstance(value(rule["Variable"]), str) == rule["IsString"]
        (test,) = [k for k in rule if k not in ("Variable", "Next")]
        assert test in ("StringEquals", "BooleanEquals"), f"a rule this evaluator does not know: {rule}"
        return bool(value(rule["Variable"]) == rule[test])

    route = asl["States"]["Route"]
    return next((rule["Next"] for rule in route["Choices"] if holds(rule)), route["Default"])


def intake(status: str, kind: str, *, recontain: bool = False, roles: bool = False) -> dict[str, Any]:
    return {
        "status": status,
        "notify": True,
        "recontain": recontain,
        "contained_at_intake": False,
        "roles_to_contain": roles,
        "incident": {"kind": kind, "report_only": None},
    }


@pytest.mark.parametrize(
    "case, expected",
    [
        (intake("duplicate", "exposed-access-key", recontain=True), "RecontainKeys"),
        (intake("duplicate", "exposed-access-key", recontain=True, roles=True), "RecontainRoles"),
        (intake("duplicate", "instance-credential-exfiltration", recontain=True), "Recontain"),
        (intake("accepted", "exposed-access-key", roles=True), "ContainRoles"),
        (intake("accepted", "exposed-access-key"), "ContainKeys"),
        (intake("duplicate", "exposed-access-key"), "NotifySlack"),  # told, nothing to contain
    ],
)
def test_a_repeat_that_needs_containment_reaches_a_containing_state(template, case, expected) -> None:
    assert route_for(definition(template), case) == expected


def test_roles_are_revoked_before_the_keys_and_both_paths_report(template) -> None:
    states = definition(template)["States"]
    assert states["RecontainRoles"]["Next"] == "RecontainKeys" and states["RecontainKeys"]["Next"] == "NotifySlack"
    assert states["ContainRoles"]["Next"] == "ContainKeys"
    for name in ("RecontainRoles", "ContainRoles", "RecontainKeys"):
        assert [catch["Next"] for catch in states[name]["Catch"]] in (["NotifySlack"], [states[name]["Next"]])
