"""Record the states the report golden files are rendered from, from real drill executions.

    python -m tests.golden.record            # re-record every case into tests/golden/states/
    python -m tests.golden.record CASE ...   # only these

Each case runs the drill (a bundled event, or a fault drill) and keeps the exact state the
workflow passed to the e-mail report (`report.handler.handler_sns`), with what changes from run
to run (ids moto mints, uuids, times of the run) replaced by stable stand-ins: the ids staging
minted go back to the event's own ids, the others become numbered placeholders in order of
appearance. tests/unit/test_report_render.py renders both channels from these states and
compares with tests/golden/report/; tests/e2e/test_golden_states.py fails when a fresh run no
longer records the same state (REGENERATE_GOLDEN=1 re-records instead).
"""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
EVENTS = ROOT / "tests" / "events"
STATES = Path(__file__).resolve().parent / "states"

# Not here: two keys of one user (two parallel Map items race for the user's policies, so which one
# reports already-done changes from run to run; tests/e2e/test_drill.py covers that case).
# name -> how to run it. The last word of the name is the outcome the report must give.
CASES: dict[str, dict[str, str]] = {
    "exposed_key_contained": {"event": "health_exposed_key_classic.json"},
    "exposed_key_partial": {"fault": "access-denied"},
    "exposed_key_backdoor_contained": {
        "event": "health_exposed_key_classic.json",
        "cloudtrail": "cloudtrail/leaked_user_key_backdoor.json",
    },
    "root_key_failed": {"fault": "root-key"},
    "exfil_contained": {"event": "guardduty_exfil_outside_realistic.json"},
    "exfil_auto_scaling_contained": {"fault": "auto-scaling-group"},
    "exfil_service_linked_role_failed": {"fault": "service-linked-role"},
    "exfil_instance_terminated_contained": {"fault": "instance-terminated"},
    "ignored": {"event": "health_ignore_ec2_instance_store_degraded.json"},
    "duplicate": {"fault": "still-in-use"},
}

_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_AWS_ID = re.compile(r"\b(ami|sg|snap|vol|eni|i|subnet|vpc|lt|iip-assoc)-[0-9a-f]{17}\b")
_IAM_ID = re.compile(r"\b(AKIA|AROA|AIDA|AIPA|ASIA)[A-Z0-9]{16}\b")
_TIME = re.compile(r"\b(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?")
_COMPACT_TIME = re.compile(r"\b\d{8}T\d{6}Z\b")
_BASE_TIME = datetime(2030, 1, 1, tzinfo=UTC)


def record(name: str, synthesized: Any, runs: Any = None) -> dict[str, Any]:
    """Run the case's drill (or take the run of the session's shared cache, tests/e2e/conftest.py `drill_runs`) and
    return its normalized report state (not written)."""
    from drill.faults import SCENARIOS

    case = CASES[name]
    if runs is None:
        from tests.e2e.conftest import DrillRuns

        runs = DrillRuns(synthesized)
    if "fault" in case:
        run = runs.fault(case["fault"])
        event_text = SCENARIOS[case["fault"]].path.read_text()
    else:
        run = runs.event(case["event"], case.get("cloudtrail"))
        event_text = (EVENTS / case["event"]).read_text()
        if "cloudtrail" in case:
            event_text += (EVENTS / case["cloudtrail"]).read_text()
    result = run.result
    (state,) = run.report_inputs
    if state is None:
        raise RuntimeError(f"{name}: no report ran ({result['outcome']}: {result['reason']})")
    return {
        "case": name,
        "recorded_from": case,
        "outcome": result["outcome"],
        "state": normalize(state, result["staged"], event_text, run.started),
    }


def normalize(state: Any, staged: dict[str, str], stable_text: str, started: datetime) -> Any:
    text = json.dumps(state, sort_keys=True)
    # Ids staging minted become the event's own again (never account ids: those are not minted).
    for original, minted in sorted(staged.items(), key=lambda item: len(item[1]), reverse=True):
        if minted != original and not minted.isdigit():
            # Minted ids are random, so one inside a name (forensic-i-…-20261201T…) is still that id.
            text = re.sub(rf"(?<![0-9A-Za-z]){re.escape(minted)}(?![0-9A-Za-z])", original, text)
    # A subject shortens a long id with an ellipsis: the minted prefix is as volatile as the id.
    for original, minted in staged.items():
        if minted != original and not minted.isdigit() and len(minted) > 8:
            for cut in range(len(minted) - 1, 3, -1):
                # json.dumps writes the ellipsis as the six characters \u2026.
                text = text.replace(f"{minted[:cut]}\\u2026", f"{original[:cut]}\\u2026")
    stable = set(re.findall(r"[\w-]+", stable_text))
    numbered: dict[str, str] = {}
    counts: dict[str, int] = {}

    def placeholder(value: str, kind: str, make: Any) -> str:
        if value in stable:
            return value
        if value not in numbered:
            counts[kind] = counts.get(kind, 0) + 1
            numbered[value] = make(counts[kind])
        return numbered[value]

    text = _UUID.sub(lambda m: placeholder(m.group(0), "uuid", lambda n: f"00000000-0000-4000-8000-{n:012d}"), text)
    text = _AWS_ID.sub(lambda m: placeholder(m.group(0), m.group(1), lambda n: f"{m.group(1)}-0d{n:015d}"), text)
    text = _IAM_ID.sub(lambda m: placeholder(m.group(0), m.group(1), lambda n: f"{m.group(1)}DRILLMINTED{n:05d}"), text)

    def run_time(match: re.Match[str]) -> str:
        day, clock, fraction, zone = match.groups()
        try:
            moment = datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=UTC)
        except ValueError:
            return match.group(0)
        if moment < started - timedelta(minutes=5):
            return match.group(0)  # the event's own times (and what derives from them) are stable
        # One stand-in for every time of the run: numbering them would depend on which fell in
        # the same second.
        fixed = _BASE_TIME.strftime("%Y-%m-%dT%H:%M:%S")
        return fixed + ("." + "0" * (len(fraction) - 1) if fraction else "") + (zone or "")

    text = _TIME.sub(run_time, text)
    compact = started - timedelta(minutes=5)
    text = _COMPACT_TIME.sub(
        lambda m: "20300101T000000Z" if m.group(0) >= compact.strftime("%Y%m%dT%H%M%SZ") else m.group(0), text
    )
    return json.loads(text)


def canonical(value: Any) -> Any:
    """The state with every list in a stable order: what moto lists in the order of its random
    ids (a user's keys, Map results finishing together) must not make a fresh run differ."""
    if isinstance(value, dict):
        return {key: canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return sorted((canonical(item) for item in value), key=lambda item: json.dumps(item, sort_keys=True))
    return value


def path_of(name: str) -> Path:
    return STATES / f"{name}.json"


def write(recorded: dict[str, Any]) -> Path:
    path = path_of(recorded["case"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def load(name: str) -> dict[str, Any]:
    return json.loads(path_of(name).read_text(encoding="utf-8"))


def main(argv: list[str]) -> int:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    sys.path.insert(0, str(ROOT))
    from drill.__main__ import DRILL_CONTEXT
    from drill.template import synthesize

    names = argv or sorted(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        print(f"unknown case(s) {unknown}; known: {', '.join(sorted(CASES))}", file=sys.stderr)
        return 2
    synthesized = synthesize(DRILL_CONTEXT)
    for name in names:
        print(f"recorded {write(record(name, synthesized)).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
