"""A small burst: distinct incidents at once against one simulated account, each contained exactly once."""

from __future__ import annotations

import pytest

from drill.burst import run_burst

pytestmark = [pytest.mark.drill, pytest.mark.xdist_group("drill-events")]


def test_a_burst_contains_every_key_exactly_once(synthesized) -> None:
    result = run_burst(synthesized, 5)
    assert result["contained"] == 5
    assert result["lost"] == 0
    assert result["duplicated"] == 0
    assert result["bystanders_touched"] == 0, "only the exposed keys may change"
    assert result["executions"] == {"SUCCEEDED": 5}
