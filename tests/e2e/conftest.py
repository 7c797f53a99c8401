"""Drill runs shared by the end-to-end tests of one session: each bundled event, crafted event and fault drill
runs at most once (they are slow), with the state the workflow passed to the e-mail report kept beside the
drill's result, so that a test can render the messages again from exactly what the product received."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

EVENTS = Path(__file__).resolve().parents[1] / "events"


@dataclass
class Run:
    name: str
    result: dict[str, Any]
    # The input of each report.handler.handler_sns invocation of the last delivery (None when no report ran).
    report_inputs: list[Any] = field(default_factory=list)


class DrillRuns:
    def __init__(self, synthesized: Any) -> None:
        self.synthesized = synthesized
        self.runs: dict[str, Run] = {}

    def event(self, path: str | Path) -> Run:
        """A bundled or crafted event (`tests/events/...`), run on its own in a fresh simulated account."""
        from drill.runner import run_event_file

        path = Path(path)
        key = f"event:{path.relative_to(EVENTS) if path.is_absolute() else path}"
        if key not in self.runs:
            inputs: list[Any] = []
            result = run_event_file(EVENTS / path, self.synthesized, on_record=_keep(inputs))
            self.runs[key] = Run(key, result, inputs)
        return self.runs[key]

    def fault(self, name: str) -> Run:
        """A fault drill (drill/faults.py), as `python -m drill --fault NAME` runs it."""
        from drill.faults import run_scenario

        key = f"fault:{name}"
        if key not in self.runs:
            inputs: list[Any] = []
            result = run_scenario(name, self.synthesized, on_record=_keep(inputs))
            self.runs[key] = Run(key, result, inputs)
        return self.runs[key]


def _keep(inputs: list[Any]) -> Any:
    from drill.runner import report_input

    def keep(record: Any, handlers: dict[str, str]) -> None:
        inputs.append(report_input(record, handlers))

    return keep


@pytest.fixture(scope="session")
def drill_runs(synthesized: Any) -> DrillRuns:
    return DrillRuns(synthesized)
