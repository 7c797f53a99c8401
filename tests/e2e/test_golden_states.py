"""The report golden files are rendered from states recorded from real drill executions
(tests/golden/states/); a fresh run of each case must record the same state, or the goldens pin
a workflow that no longer exists. REGENERATE_GOLDEN=1 re-records instead of comparing (then run
UPDATE_GOLDEN=1 on tests/unit/test_report_render.py and review both diffs)."""

from __future__ import annotations

import os

import pytest

from tests.golden import record

pytestmark = [pytest.mark.drill]  # each case names its group (xdist joins a module's group to a test's)


# A fault drill's case is recorded from the run test_faults.py shares, an event's from the event tests'.
CASES = [
    pytest.param(
        case, marks=[pytest.mark.xdist_group("drill-faults" if "fault" in record.CASES[case] else "drill-events")]
    )
    for case in sorted(record.CASES)
]


@pytest.mark.parametrize("case", CASES)
def test_recorded_state_matches_a_fresh_drill_run(drill_runs, case: str) -> None:
    fresh = record.record(case, drill_runs.synthesized, drill_runs)
    if os.environ.get("REGENERATE_GOLDEN") == "1":
        record.write(fresh)
        return
    assert record.path_of(case).exists(), f"no recorded state for {case}: python -m tests.golden.record {case}"
    stored = record.load(case)
    assert fresh["outcome"] == stored["outcome"] == case.split("_")[-1]
    assert record.canonical(fresh["state"]) == record.canonical(stored["state"]), (
        f"a fresh drill run of {case} no longer records tests/golden/states/{case}.json: "
        f"REGENERATE_GOLDEN=1 to re-record, then UPDATE_GOLDEN=1 for the report goldens, and review"
    )


def test_normalizing_is_stable_and_maps_minted_ids_back() -> None:
    from datetime import UTC, datetime

    started = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    state = {
        "a": "key AKIARZPUZDIKGWI7ESEU of forensic-i-6d5e953f66a363e24-20261201T090102Z",
        "b": "sg-b64da222c681f0269 then sg-c64da222c681f0269 at 2026-12-01T09:00:03.123Z, event 2026-11-20T03:02:11Z",
        "c": "arn:aws:states:us-east-1:111122223333:execution:X:drill-1b4e28ba-2fa1-41d2-883f-0016d3cca427",
    }
    staged = {"AKIAEXAMPLEEVENTKEY1": "AKIARZPUZDIKGWI7ESEU", "i-0f8e7d6c5b4a39281": "i-6d5e953f66a363e24"}
    once = record.normalize(state, staged, "AKIAEXAMPLEEVENTKEY1 i-0f8e7d6c5b4a39281", started)
    assert once == {
        "a": "key AKIAEXAMPLEEVENTKEY1 of forensic-i-0f8e7d6c5b4a39281-20300101T000000Z",
        "b": "sg-0d000000000000001 then sg-0d000000000000002 at 2030-01-01T00:00:00.000Z, event 2026-11-20T03:02:11Z",
        "c": "arn:aws:states:us-east-1:111122223333:execution:X:drill-00000000-0000-4000-8000-000000000001",
    }
    assert record.normalize(once, staged, "AKIAEXAMPLEEVENTKEY1 i-0f8e7d6c5b4a39281", started) == once
