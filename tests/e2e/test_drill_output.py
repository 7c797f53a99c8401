"""What the drill prints: `--json` is JSON and nothing else, also when the functions log warnings and errors;
the human output reads as a person reads it and ends with a one-screen tally."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.drill]  # each test names its group (xdist joins a module's group to a test's)
ROOT = Path(__file__).resolve().parents[2]


def test_json_is_only_json_when_the_functions_log_warnings_and_errors() -> None:
    """wrong-owner logs a WARNING (the event names another user than the key's owner), record-unavailable an
    ERROR (the incident table refuses the outcome): both used to land on stdout before the document."""
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    done = subprocess.run(
        [sys.executable, "-m", "drill", "--fault", "wrong-owner", "--fault", "record-unavailable", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout)  # the whole of stdout, as `| python -m json.tool` reads it
    assert [r["fault"]["scenario"] for r in results] == ["wrong-owner", "record-unavailable"]
    levels = {json.loads(line)["level"] for line in done.stderr.splitlines() if line.startswith('{"level"')}
    assert {"WARNING", "ERROR"} <= levels, "the functions' log lines go to stderr"


@pytest.fixture(scope="module")
def human(synthesized) -> str:
    """`python -m drill --fault access-denied --fault owner-history --full` as a person reads it (the session's
    synth)."""
    from drill import __main__ as cli
    from drill import template

    patch = pytest.MonkeyPatch()
    patch.setattr(template, "synthesize", lambda context: synthesized)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            code = cli.main(["--fault", "access-denied", "--fault", "owner-history", "--full"])
    finally:
        patch.undo()
    assert code in (0, 1)
    return out.getvalue()


@pytest.mark.xdist_group("drill-events")
def test_the_human_output_ends_with_a_one_screen_tally(human) -> None:
    lines = human.rstrip("\n").splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("== tally: "))
    tally = lines[start:]
    assert tally[0] == "== tally: 2 run(s)"
    assert re.match(r"^ +drill or event +outcome +expected +contained +failed or skipped steps$", tally[1])
    denied, owner = tally[2:]
    assert re.match(r"^ +access-denied +PARTIAL +as expected +\d+ ms +quarantine-user failed", denied)
    assert re.match(r"^ +owner-history +CONTAINED +as expected +\d+ ms +-$", owner)
    assert len(tally) <= 25 and all(len(line) <= 160 for line in tally)


@pytest.mark.xdist_group("drill-events")
def test_the_human_output_has_no_python_reprs_and_reads_observed_line_by_line(human) -> None:
    assert "None ms" not in human and "{'" not in human
    owner_history = human.split("## fault drill owner-history", 1)[1]
    block = owner_history.split("   observed (read back from the account):\n", 1)[1].split("\n   -> ", 1)[0]
    assert not any(line.lstrip().startswith("{") or "': " in line for line in block.splitlines())
    assert re.search(r"^     users:$", block, re.MULTILINE)
    # One line per user, every field named on it: carol.nguyen's console password.
    assert re.search(r"^       carol\.nguyen: .*\blogin_profile yes\b", block, re.MULTILINE)


@pytest.mark.xdist_group("drill-faults")  # a fault drill's run, shared with test_faults.py
def test_no_containing_call_is_said_in_words(drill_runs) -> None:
    from drill.__main__ import render, tally

    result = copy.deepcopy(drill_runs.fault("malformed").result)
    assert result["timings_ms"]["to_containment"] is None
    rendered = render(result, full=True)
    assert "no containing call" in rendered and "None" not in rendered.splitlines()[-1]
    assert render(result).count("\n") == 1 and " IGNORED — malformed-event: " in render(result)  # one line each
    assert re.search(r" malformed +IGNORED +as expected +- +-$", tally([result]))


@pytest.mark.xdist_group("drill-events")
def test_each_event_shows_the_reports_first_lines_and_what_is_left(drill_runs) -> None:
    """`make drill`'s short form: the e-mail up to its details, then one line of steps and timings."""
    from drill.__main__ import render

    result = drill_runs.event("health_exposed_key_2025_event_metadata.json").result
    lines = render(result).splitlines()
    assert lines[0].endswith("health_exposed_key_2025_event_metadata.json: CONTAINED")
    assert [line.split(":", 1)[0].strip() for line in lines[1:6]] == [
        "What happened",
        "Whose",
        "Outcome",
        "Time to containment",
        "Left for a person",
    ]
    assert "   WHAT IS LEFT FOR A PERSON" in lines and "STEPS" not in "\n".join(lines)
    assert re.match(
        r"^   steps: \d+ done; execution SUCCEEDED in \d+ states; "
        r"containment at (\d+ ms|[\d.]+ s), [\d.]+ s in all$",
        lines[-1],
    )
