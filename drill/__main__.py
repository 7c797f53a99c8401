"""python -m drill EVENT.json ... [--json] [--sequence] [--include-samples] [--time-scale X] [--burst N]"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The drill deploys with a Slack webhook secret configured, so both channels are exercised.
DRILL_CONTEXT = {"slackWebhookSecretName": "credential-responder/slack-webhook"}
BUNDLED = sorted(str(path) for path in (ROOT / "tests" / "events").glob("*.json"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drill", description=__doc__)
    parser.add_argument("events", nargs="*", help="event files (default: every bundled sample event)")
    parser.add_argument("--json", action="store_true", help="print a JSON array, one object per event")
    parser.add_argument(
        "--sequence",
        action="store_true",
        help="deliver the event files in order to ONE simulated account and deployment (a finding's life)",
    )
    parser.add_argument(
        "--account",
        metavar="STATE.json",
        help="stage this declarative account state before the first event (README: the drill's account file)",
    )
    parser.add_argument("--include-samples", action="store_true", help="act on GuardDuty sample findings")
    parser.add_argument(
        "--cloudtrail",
        metavar="SCENARIO.json",
        help="an account's history (docs/drill.md), or CloudTrail records: staged, and served by LookupEvents",
    )
    parser.add_argument(
        "--fault",
        metavar="SCENARIO",
        action="append",
        help="run a fault drill (repeatable; 'all' for every one); see drill/faults.py",
    )
    parser.add_argument(
        "--burst",
        type=int,
        metavar="N",
        help="N distinct exposed-key incidents at once against one account; see drill/burst.py",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=0.001,
        help="factor applied to Retry intervals and Wait states (default 0.001)",
    )
    args = parser.parse_args(argv)
    missing = [
        path for path in [*args.events, *([args.cloudtrail] if args.cloudtrail else [])] if not Path(path).is_file()
    ]
    if missing:
        parser.error(f"no such file: {', '.join(missing)}")
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    sys.path.insert(0, str(ROOT))
    # moto's Step Functions interpreter logs every caught task failure (the fault drills cause them
    # on purpose) with its internal state; the drill reports each failure itself.
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)

    from drill.history import HistoryError
    from drill.scenario import load_cloudtrail
    from drill.state import AccountStateError, load_account_state

    if args.sequence and not args.events:
        parser.error("--sequence needs the event files to deliver, in order")
    if args.fault:
        from drill.faults import SCENARIOS

        unknown = [name for name in args.fault if name != "all" and name not in SCENARIOS]
        if unknown:
            parser.error(f"unknown fault scenario(s) {unknown}; known: {', '.join(SCENARIOS)}")
    state = None
    if args.account:
        if args.fault or args.burst:
            parser.error("--account stages event files; fault drills and bursts stage their own accounts")
        try:
            state = load_account_state(args.account)
        except AccountStateError as exc:
            parser.error(f"--account {exc}")
    if args.cloudtrail:
        try:
            load_cloudtrail(args.cloudtrail)  # a bad scenario is refused before the synth
        except HistoryError as exc:
            parser.error(f"--cloudtrail {exc}")

    try:
        # Whatever runs (the CDK synth, every handler's Powertools log lines) writes to stderr; stdout carries
        # only the drill's own output, so `--json` is JSON and nothing else.
        with _stdout_to_stderr():
            outcome = _run(args, state)
    except HistoryError as exc:
        parser.error(str(exc))  # it names the scenario file, the entry and the field
    printed, code = outcome
    print(printed)
    return code


def _run(args: argparse.Namespace, state: Any) -> tuple[str, int]:
    from drill.runner import run_event_file
    from drill.template import synthesize

    synthesized = synthesize(DRILL_CONTEXT)
    if args.burst:
        from drill.burst import run_burst

        burst = run_burst(synthesized, args.burst, time_scale=args.time_scale)
        executions = ", ".join(f"{count} {status.lower()}" for status, count in burst["executions"].items())
        return (
            json.dumps(burst, indent=2)
            if args.json
            else f"== burst of {burst['n']}: {burst['contained']} contained exactly once, {burst['lost']} lost, "
            f"{burst['duplicated']} duplicated, {burst['bystanders_touched']} bystander keys touched; "
            f"executions: {executions or 'none'}; {burst['seconds']} s, {burst['per_incident_ms']} ms per incident"
        ), 0 if burst["contained"] == burst["n"] else 1
    if args.fault:
        from drill.faults import SCENARIOS, run_scenario

        names = list(SCENARIOS) if "all" in args.fault else args.fault
        results = [run_scenario(name, synthesized, time_scale=args.time_scale) for name in names]
        return _output(results, args.json), 0 if all(r["outcome"] == r["fault"]["expected"] for r in results) else 1
    if args.sequence:
        from drill.runner import run_sequence

        results = run_sequence(
            args.events,
            synthesized,
            include_samples=args.include_samples,
            time_scale=args.time_scale,
            cloudtrail=args.cloudtrail,
            account_state=state,
        )
        return _output(results, args.json), 0
    results = [
        run_event_file(
            path,
            synthesized,
            include_samples=args.include_samples,
            time_scale=args.time_scale,
            cloudtrail=args.cloudtrail,
            account_state=state,
        )
        for path in (args.events or BUNDLED)
    ]
    return _output(results, args.json), 0


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Both the file descriptor (what a subprocess or a handler holding the original stream writes to) and
    sys.stdout (what print and a logging handler made now write to) point at stderr until the block ends."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _output(results: list[dict[str, Any]], as_json: bool) -> str:
    if as_json:
        return json.dumps(results, indent=2)
    return "\n".join([*(render(result) for result in results), tally(results)])


def render(result: dict[str, Any]) -> str:
    delivery = f"delivery {result['delivery']}, " if "delivery" in result else ""
    lines = [f"== {delivery}{result['event_file']}: {result['outcome'].upper()} — {result['reason']}"]
    if "fault" in result:
        fault = result["fault"]
        lines.insert(0, f"## fault drill {fault['scenario']}: {fault['what']} ({_verdict(result)})")
    incident = result["incident"]
    if incident:
        who = ", ".join(incident.get("owners") or incident["user_names"]) or incident.get("role_name") or "?"
        lines.append(
            f"   {incident['kind']} in {incident['account']}/{incident['region']}: "
            f"keys {', '.join(incident['access_key_ids']) or '-'}; principal {who}; "
            f"instance {incident.get('instance_id') or '-'}"
        )
    for old, new in result["staged"].items():
        lines.append(f"   staged {old} -> {new}")
    for step in result["steps"]:
        lines.append(f"   [{step['status']:>12}] {step['name']} {step['target']}: {step['detail']}")
    lines.append("   observed (read back from the account):")
    lines.extend(_observed_lines(result["observed"], "     "))
    for note in result["notifications"]:
        lines.append(f"   -> {note.get('channel')} ({note.get('status', 'sent')}): {note.get('subject', '')}")
        if note.get("channel") == "email" and note.get("text"):
            lines.extend("      | " + line for line in note["text"].splitlines())
    timings = result["timings_ms"]
    lines.append(
        f"   execution {result['execution']['status']} in {result['execution']['transitions']} states; "
        f"{_containment(timings)}, total {timings['total']} ms"
    )
    return "\n".join(lines)


def _verdict(result: dict[str, Any]) -> str:
    expected = result["fault"]["expected"]
    return "as expected" if expected == result["outcome"] else f"EXPECTED {expected.upper()}"


def _containment(timings: dict[str, Any]) -> str:
    at = timings.get("to_containment")
    return "no containing call" if at is None else f"containment at {at} ms"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "-"
    return str(value)


def _flat(value: Any) -> str | None:
    """One line for a value a person reads at a glance, or None when it needs lines of its own."""
    if isinstance(value, dict):
        if not value:
            return "none"
        if all(not isinstance(item, dict | list) for item in value.values()):
            return ", ".join(f"{key} {_scalar(item)}" for key, item in value.items())
        return None
    if isinstance(value, list):
        if not value:
            return "none"
        if all(not isinstance(item, dict | list) for item in value):
            return ", ".join(_scalar(item) for item in value)
        return None
    return _scalar(value)


def _observed_lines(observed: Any, indent: str) -> list[str]:
    lines: list[str] = []
    empty = []
    if isinstance(observed, list):
        for item in observed:
            flat = _flat(item)
            if flat is None and isinstance(item, dict):
                flat = "; ".join(
                    f"{key} {_flat(value) or json.dumps(value, sort_keys=True)}" for key, value in item.items()
                )
            lines.append(f"{indent}- {flat if flat is not None else json.dumps(item, sort_keys=True)}")
        return lines
    for key, value in observed.items():
        if indent == "     " and value in ({}, [], None):
            empty.append(str(key))
            continue
        flat = _flat(value)
        if flat is not None:
            lines.append(f"{indent}{key}: {flat}")
        else:
            lines.append(f"{indent}{key}:")
            lines.extend(_observed_lines(value, indent + "  "))
    if empty:
        lines.append(f"{indent}(nothing in: {', '.join(empty)})")
    return lines


def tally(results: list[dict[str, Any]]) -> str:
    """One screen: each event or drill, its outcome (and for a fault drill whether as expected), the time
    to containment, and the steps that failed or were skipped. A skipped step that contains nothing (the
    owner's change, reported) is no work left, so it is not listed."""
    rows = []
    for result in results:
        name = result["fault"]["scenario"] if "fault" in result else result["event_file"]
        if "delivery" in result:
            name = f"{result['delivery']}. {name}"
        expected = _verdict(result) if "fault" in result else ""
        at = result["timings_ms"].get("to_containment")
        counts = Counter(
            (step["name"], step["status"])
            for step in result["steps"]
            if step["status"] == "failed" or (step["status"] == "skipped" and step.get("containment", True))
        )
        steps = ", ".join(
            f"{step} {status}" + (f" x{count}" if count > 1 else "") for (step, status), count in counts.items()
        )
        rows.append((name, result["outcome"].upper(), expected, "-" if at is None else f"{at:.0f} ms", steps or "-"))
    width = max([len(row[0]) for row in rows] + [14])
    expected_width = max([len(row[2]) for row in rows] + [8])
    header = f"   {'drill or event':<{width}}  {'outcome':<10}  {'expected':<{expected_width}}  {'contained':>9}  " + (
        "failed or skipped steps"
    )
    lines = [f"== tally: {len(results)} run(s)", header]
    for name, outcome, expected, at, steps in rows:
        line = f"   {name:<{width}}  {outcome:<10}  {expected:<{expected_width}}  {at:>9}  {steps}"
        lines.append(line if len(line) <= 160 else line[:159] + "…")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
