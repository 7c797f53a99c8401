"""Drill runs shared by the end-to-end tests of one session: each bundled event, crafted event and fault drill
runs at most once (they are slow), with the state the workflow passed to the e-mail report kept beside the
drill's result, so that a test can render the messages again from exactly what the product received."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest

EVENTS = Path(__file__).resolve().parents[1] / "events"


@dataclass
class Run:
    name: str
    result: dict[str, Any]
    # The input of each report.handler.handler_sns invocation of the last delivery (None when no report ran).
    report_inputs: list[Any] = field(default_factory=list)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))  # before the run (golden times count from it)
    # Each execution the run made: (the event's size in bytes, drill.account's record with Step Functions' history).
    executions: list[tuple[int, Any]] = field(default_factory=list)


class DrillRuns:
    def __init__(self, synthesized: Any) -> None:
        self.synthesized = synthesized
        self.runs: dict[str, Run] = {}

    def event(self, path: str | Path, cloudtrail: str | None = None) -> Run:
        """A bundled or crafted event (`tests/events/...`), run on its own in a fresh simulated account, with a
        history (`tests/events/cloudtrail/...`) when one is named."""
        from drill.runner import run_event_file

        path = Path(path)
        key = f"event:{path.relative_to(EVENTS) if path.is_absolute() else path}" + (
            f"+{cloudtrail}" if cloudtrail else ""
        )
        if key not in self.runs:
            inputs: list[Any] = []
            started = datetime.now(UTC)
            history = EVENTS / cloudtrail if cloudtrail else None
            result = run_event_file(EVENTS / path, self.synthesized, cloudtrail=history, on_record=_keep(inputs))
            self.runs[key] = Run(key, result, inputs, started)
        return self.runs[key]

    def fault(self, name: str) -> Run:
        """A fault drill (drill/faults.py), as `python -m drill --fault NAME` runs it."""
        from drill.account import SimulatedAccount
        from drill.faults import SCENARIOS, run_scenario

        key = f"fault:{name}"
        if key not in self.runs:
            inputs: list[Any] = []
            executions: list[tuple[int, Any]] = []
            started = datetime.now(UTC)
            original = SimulatedAccount.run

            def run(account: SimulatedAccount, event: dict[str, Any], **kwargs: Any) -> Any:
                record = original(account, event, **kwargs)
                executions.append((len(json.dumps(event).encode()), record))
                return record

            # The state before the response (`observed_before`) is read only when something follows the response.
            after = SCENARIOS[name].after or (lambda account, staged: None)
            with patch.object(SimulatedAccount, "run", run):
                result = run_scenario(name, self.synthesized, on_record=_keep(inputs), after=after)
            self.runs[key] = Run(key, result, inputs, started, executions)
        return self.runs[key]


def _keep(inputs: list[Any]) -> Any:
    from drill.runner import report_input

    def keep(record: Any, handlers: dict[str, str]) -> None:
        inputs.append(report_input(record, handlers))

    return keep


@pytest.fixture(scope="session")
def drill_runs(synthesized: Any) -> DrillRuns:
    return DrillRuns(synthesized)
