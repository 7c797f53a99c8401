"""docs/operations.md §7.1 lists the states each event enters (the cost in transitions follows from
them): the drill runs each event the table names and enters exactly those states. The order is not
compared: the branches of a Parallel state run side by side, in no fixed order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.infra.test_runbook_figures import section, table_with

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.drill, pytest.mark.xdist_group("drill-events")]


def rows_with_an_event() -> list[tuple[str, list[str]]]:
    found = []
    for event, states, _ in table_with(section("7.1"), "Event")[1:]:
        named = re.search(r"`(tests/events/[^`]+\.json)`", event)
        if named:
            found.append((named.group(1), [state.strip() for state in states.split(",")]))
    return found


def test_the_table_names_an_event_for_each_kind_it_prices() -> None:
    assert len(rows_with_an_event()) >= 3


@pytest.mark.parametrize(("event", "states"), rows_with_an_event())
def test_the_drill_enters_the_states_the_runbook_lists(drill_runs, event: str, states: list[str]) -> None:
    result = drill_runs.event(ROOT / event).result
    assert sorted(result["execution"]["states"]) == sorted(states)
    assert result["execution"]["transitions"] == len(states)
