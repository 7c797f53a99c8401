"""Fault drills declared as data (tests/events/drills/*.json, drill.faults.load_drill_file): each bundled file loads
as a scenario of its own name, and a file that cannot be run says which field is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drill.faults import DRILLS, SCENARIOS, DrillFileError, load_drill_file, release_the_incident

GOOD = {"event": "crafted/health_ci_key_exposed.json", "expected": "contained", "what": "a drill"}


def _file(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "my-drill.json"
    path.write_text(json.dumps(content))
    return path


def test_every_bundled_drill_file_is_a_scenario_of_its_name() -> None:
    for path in DRILLS.glob("*.json"):
        assert SCENARIOS[path.stem] == load_drill_file(path)


def test_a_good_file_loads_with_its_release(tmp_path: Path) -> None:
    scenario = load_drill_file(_file(tmp_path, GOOD | {"after": "release", "environment": {"DRY_RUN": "true"}}))
    assert (scenario.name, scenario.expected, scenario.after) == ("my-drill", "contained", release_the_incident)
    assert scenario.environment == {"DRY_RUN": "true"}


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ([GOOD], "a drill file holds"),
        ({k: v for k, v in GOOD.items() if k != "what"}, "a drill file holds"),
        (GOOD | {"setup": "code"}, "a drill file holds"),
        (GOOD | {"event": "no-such-event.json"}, "event"),
        (GOOD | {"cloudtrail": "no-such-history.json"}, "cloudtrail"),
        (GOOD | {"account": "no-such-account.json"}, "account"),
        (GOOD | {"after": "delete-everything"}, "after"),
        (GOOD | {"environment": {"DRY_RUN": True}}, "environment"),
    ],
)
def test_a_file_that_cannot_be_run_names_its_field(tmp_path: Path, content: object, complaint: str) -> None:
    with pytest.raises(DrillFileError, match=complaint) as raised:
        load_drill_file(_file(tmp_path, content))
    assert "my-drill.json" in str(raised.value)


def test_the_drills_isolation_leftovers_are_the_products() -> None:
    """The drill writes what the isolation leaves in AWS's terms (a tag an attacker plants, a dead attempt's groups);
    those terms are the product's."""
    from drill import faults
    from isolate_instance import actions

    assert (faults.UNTRACK_GROUP, faults.PURPOSE_TAG, faults.ORIGINAL_TAG, faults.TAG_VALUE_LIMIT) == (
        actions.UNTRACK_GROUP,
        actions.PURPOSE_TAG,
        actions.ORIGINAL_TAG,
        actions.TAG_VALUE_LIMIT,
    )
    groups = {f"eni-{n:017x}": [f"sg-{n:017x}", f"sg-{n + 1:017x}"] for n in range(12)}
    assert faults.original_groups_tags(groups, "i") == actions.original_groups_tags(groups, "i")
