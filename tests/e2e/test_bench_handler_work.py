"""bench.handler_work times the containing handler on the drill's own critical path, or refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import deploy, handler_work
from bench.critical import critical_path, run_kind

pytestmark = [pytest.mark.drill, pytest.mark.xdist_group("drill-events")]

EVENT = Path(__file__).resolve().parents[1] / "events" / "health_exposed_key_2025_event_metadata.json"


@pytest.fixture(scope="module")
def drill_path(synthesized, tmp_path_factory):
    # The containing function as the first task: an event whose id Step Functions' own reading
    # leaves to it (infra/intake.py reads plain ids only), so the handler makes the containing call.
    event = json.loads(EVENT.read_text())
    event["id"] = "an id with spaces"
    path = tmp_path_factory.mktemp("handler-work") / EVENT.name
    path.write_text(json.dumps(event))
    _, record, handlers = run_kind(synthesized, path)
    first_input = min(record.invocations, key=lambda inv: inv.started).event
    code_dir = Path(synthesized.outdir) / deploy.asset(synthesized)["assets"][0]["folder"]
    return critical_path(record, handlers), first_input, code_dir


def test_times_the_handler_on_the_calls_the_drill_recorded(synthesized, drill_path):
    path, first_input, code_dir = drill_path
    calls_before = [call["call"] for call in path["calls_before"]]
    measured = handler_work.measure(
        synthesized, code_dir, path["containing_handler"], first_input, path["containing_call"], calls_before, 1
    )
    assert measured["cold_ms"]["median"] > 0
    assert measured["warm_ms"]["max"] >= measured["warm_ms"]["min"] > 0


def test_refuses_to_time_another_path(synthesized, drill_path):
    path, first_input, code_dir = drill_path
    with pytest.raises(RuntimeError, match="not the critical path"):
        handler_work.measure(
            synthesized,
            code_dir,
            path["containing_handler"],
            first_input,
            path["containing_call"],
            ["dynamodb PutItem", "iam GetAccessKeyLastUsed"],  # this event names its user: no look-up is made
            1,
        )


def test_an_event_that_is_not_contained_is_not_timed(synthesized, drill_path):
    path, first_input, code_dir = drill_path
    unreadable = {**first_input, "event": {**first_input["event"], "detail": {}}}
    with pytest.raises(RuntimeError, match="not the critical path"):
        handler_work.measure(
            synthesized,
            code_dir,
            path["containing_handler"],
            unreadable,
            path["containing_call"],
            ["dynamodb PutItem"],
            1,
        )
