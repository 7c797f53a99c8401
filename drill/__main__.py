"""python -m drill [EVENT.json ...] [--full] [--json] [--sequence] [--include-samples] [--time-scale X] [--burst N]

With no event, one event of each kind the responder answers (and a few it ignores), each with the first
lines of its report and what is left for a person, then a tally."""

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
EVENTS = ROOT / "tests" / "events"
BUNDLED = sorted(str(path) for path in EVENTS.glob("*.json"))
# `make drill` with no event: one event of each kind the README lists, then the kinds it ignores, briefly.
SHOWCASE = [
    ("exposed access key", "health_exposed_key_2025_event_metadata.json"),
    ("the root user's access key", "crafted/health_root_key_exposed.json"),
    ("stolen instance credentials", "guardduty_exfil_outside_realistic.json"),
    ("attack sequence", "crafted/guardduty_attack_sequence_iam_user_key.json"),
    ("compromised instance group", "crafted/guardduty_attack_sequence_ec2_instance_group.json"),
    ("console compromise", "crafted/health_console_compromise.json"),
    ("ignored: another Health event", "health_ignore_ec2_retirement_scheduled.json"),
    ("ignored: another finding type", "guardduty_ignore_ec2_backdoor_dns_SAMPLE.json"),
    ("ignored: a sample finding", "guardduty_exfil_outside_SAMPLE_finding.json"),
    ("ignored: an archived finding", "crafted/guardduty_exfil_realistic_archived.json"),
    ("ignored: a malformed event", "health_ignore_malformed_no_entities.json"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drill", description=__doc__)
    parser.add_argument(
        "events", nargs="*", help="event files (default: one of each kind the responder answers, and some it ignores)"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON array, one object per event")
    parser.add_argument(
        "--full", action="store_true", help="every step, the state read back and the whole e-mail of each event"
    )
    parser.add_argument(
        "--sequence",
        action="store_true",
        help="deliver the event files in order to ONE simulated account and deployment (a finding's life)",
    )
    parser.add_argument(
        "--account",
        metavar="STATE.json",
        help="stage this declarative account state before the first event (docs/drill.md: the account file)",
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
        code = 0 if all(r["outcome"] == r["fault"]["expected"] for r in results) else 1
        return _output(results, args.json, args.full), code
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
        return _output(results, args.json, args.full), 0
    showcase = [] if args.events else SHOWCASE
    results = []
    for path in args.events or [str(EVENTS / path) for _, path in SHOWCASE]:
        result = run_event_file(
            path,
            synthesized,
            include_samples=args.include_samples,
            time_scale=args.time_scale,
            cloudtrail=args.cloudtrail,
            account_state=state,
        )
        if showcase:
            result["kind"] = showcase[len(results)][0]
        results.append(result)
    return _output(results, args.json, args.full), 0


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


def _output(results: list[dict[str, Any]], as_json: bool, full: bool = False) -> str:
    if as_json:
        return json.dumps(results, indent=2)
    return "\n".join([*(render(result, full=full) for result in results), tally(results)])


def render(result: dict[str, Any], full: bool = False) -> str:
    """One run as a person reads it: the report's first lines and what is left for a person (the e-mail's own
    words, up to its details); `full`: every step, the state read back and the whole e-mail."""
    delivery = f"delivery {result['delivery']}, " if "delivery" in result else ""
    kind = f"{result['kind']}: " if "kind" in result else ""
    lines = [f"== {delivery}{kind}{result['event_file']}: {result['outcome'].upper()}"]
    if "fault" in result:
        fault = result["fault"]
        lines.insert(0, f"## fault drill {fault['scenario']}: {fault['what']} ({_verdict(result)})")
    email = next((n for n in result["notifications"] if n.get("channel") == "email" and n.get("text")), None)
    if result["outcome"] == "ignored" and not full:
        lines[-1] += f" — {result['reason']}"
        return "\n".join(lines)
    if email is None:
        lines.append(f"   no message (by design for a repeat that brings nothing new): {result['reason']}")
    elif not full:
        head = email["text"].split("\nDETAILS\n", 1)[0].rstrip("\n")
        lines += ["   " + line if line else "" for line in head.splitlines()]
    if full:
        lines += _full(result)
    counts = Counter(step["status"] for step in result["steps"])
    steps = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    timings = result["timings_ms"]
    lines.append(
        f"   steps: {steps or 'none'}; execution {result['execution']['status']} in "
        f"{result['execution']['transitions']} states; {_containment(timings)}, {_ms(timings['total'])} in all"
    )
    return "\n".join(lines)


def _full(result: dict[str, Any]) -> list[str]:
    lines = [f"   reason: {result['reason']}"]
    incident = result["incident"]
    if incident:
        who = ", ".join(incident.get("owners") or incident["user_names"]) or incident.get("role_name") or "?"
        lines.append(
            f"   {incident['kind']} in {incident['account']}/{incident['region']}: "
            f"keys {', '.join(incident['access_key_ids']) or 'none'}; principal {who}; "
            f"instance {incident.get('instance_id') or 'none'}"
        )
    for old, new in result["staged"].items():
        lines.append(f"   staged {old} -> {new}")
    # Each step once: the second CloudTrail pass reports again, word for word, what the first found.
    steps = Counter(
        f"[{step['status']:>12}] {step['name']} {step['target']}: {step['detail']}" for step in result["steps"]
    )
    lines += [f"   {line}" + (f" (x{count}: once per look-up)" if count > 1 else "") for line, count in steps.items()]
    lines.append("   observed (read back from the account):")
    lines.extend(_observed_lines(result["observed"], "     "))
    for note in result["notifications"]:
        lines.append(f"   -> {note.get('channel')} ({note.get('status', 'sent')}): {note.get('subject', '')}")
        if note.get("channel") == "email" and note.get("text"):
            lines.extend("      | " + line for line in note["text"].splitlines())
    return lines


def _ms(value: float) -> str:
    """812 ms, 3.9 s."""
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.1f} s"


def _verdict(result: dict[str, Any]) -> str:
    expected = result["fault"]["expected"]
    return "as expected" if expected == result["outcome"] else f"EXPECTED {expected.upper()}"


def _containment(timings: dict[str, Any]) -> str:
    at = timings.get("to_containment")
    return "no containing call" if at is None else f"containment at {_ms(at)}"


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
        # A record of short lists (a role's policies, its trust): one line, each field named.
        if all(not isinstance(item, dict) and _flat(item) is not None for item in value.values()):
            return "; ".join(f"{key} {_flat(item)}" for key, item in value.items())
        return None
    if isinstance(value, list):
        if not value:
            return "none"
        if all(not isinstance(item, dict | list) for item in value):
            return ", ".join(_scalar(item) for item in value)
        return None
    return _scalar(value)


def _words(value: Any) -> str:
    """A nested value on one line, as words: {"DateLessThan": {"aws:TokenIssueTime": "T"}} reads
    `DateLessThan aws:TokenIssueTime T`."""
    if isinstance(value, dict):
        return ", ".join(f"{key} {_words(item)}" for key, item in value.items()) or "none"
    if isinstance(value, list):
        return ", ".join(_words(item) for item in value) or "none"
    return _scalar(value)


def _record(value: Any) -> str:
    """An entity on one line: a record's fields named, a list's items one after another."""
    if isinstance(value, list):
        return " | ".join(_record(item) if isinstance(item, dict) else _words(item) for item in value) or "none"
    return "; ".join(f"{key} {_flat(item) or _words(item)}" for key, item in value.items()) or "none"


def _observed_lines(observed: Any, indent: str) -> list[str]:
    lines: list[str] = []
    empty = []
    if isinstance(observed, list):
        for item in observed:
            flat = _flat(item)
            if flat is None and isinstance(item, dict):
                flat = "; ".join(f"{key} {_flat(value) or _words(value)}" for key, value in item.items())
            lines.append(f"{indent}- {flat if flat is not None else _words(item)}")
        return lines
    for key, value in observed.items():
        if indent == "     " and value in ({}, [], None):
            empty.append(str(key))
            continue
        flat = _flat(value)
        if flat is not None:
            lines.append(f"{indent}{key}: {flat}")
        elif isinstance(value, dict) and all(isinstance(item, dict | list) for item in value.values()):
            # Users, roles, instances: one line each, every field named on it (two users with the same policy
            # then read as two users, not as one line printed twice).
            lines.append(f"{indent}{key}:")
            lines += [f"{indent}  {name}: {_record(item)}" for name, item in value.items()]
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
