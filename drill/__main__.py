"""python -m drill EVENT.json ... [--json] [--sequence] [--include-samples] [--time-scale X] [--burst N]"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
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
        help="serve LookupEvents from these CloudTrail records (moto has no LookupEvents)",
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

    from drill.runner import run_event_file
    from drill.state import AccountStateError, load_account_state
    from drill.template import synthesize

    if args.sequence and not args.events:
        parser.error("--sequence needs the event files to deliver, in order")
    state = None
    if args.account:
        if args.fault or args.burst:
            parser.error("--account stages event files; fault drills and bursts stage their own accounts")
        try:
            state = load_account_state(args.account)
        except AccountStateError as exc:
            parser.error(f"--account {exc}")

    synthesized = synthesize(DRILL_CONTEXT)
    if args.burst:
        from drill.burst import run_burst

        burst = run_burst(synthesized, args.burst, time_scale=args.time_scale)
        print(
            json.dumps(burst, indent=2)
            if args.json
            else f"== burst of {burst['n']}: {burst['contained']} contained exactly once, {burst['lost']} lost, "
            f"{burst['duplicated']} duplicated, {burst['bystanders_touched']} bystander keys touched; "
            f"executions {burst['executions']}; {burst['seconds']} s, {burst['per_incident_ms']} ms per incident"
        )
        return 0 if burst["contained"] == burst["n"] else 1
    if args.fault:
        from drill.faults import SCENARIOS, run_scenario

        names = list(SCENARIOS) if "all" in args.fault else args.fault
        unknown = [name for name in names if name not in SCENARIOS]
        if unknown:
            parser.error(f"unknown fault scenario(s) {unknown}; known: {', '.join(SCENARIOS)}")
        results = [run_scenario(name, synthesized, time_scale=args.time_scale) for name in names]
        _print(results, args.json)
        return 0 if all(r["outcome"] == r["fault"]["expected"] for r in results) else 1
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
        _print(results, args.json)
        return 0
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
    _print(results, args.json)
    return 0


def _print(results: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(results, indent=2))
        return
    for result in results:
        print(render(result))


def render(result: dict[str, Any]) -> str:
    delivery = f"delivery {result['delivery']}, " if "delivery" in result else ""
    lines = [f"== {delivery}{result['event_file']}: {result['outcome'].upper()} — {result['reason']}"]
    if "fault" in result:
        fault = result["fault"]
        verdict = "as expected" if fault["expected"] == result["outcome"] else f"EXPECTED {fault['expected'].upper()}"
        lines.insert(0, f"## fault drill {fault['scenario']}: {fault['what']} ({verdict})")
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
    lines.append("   observed: " + json.dumps(result["observed"], sort_keys=True))
    for note in result["notifications"]:
        lines.append(f"   -> {note.get('channel')} ({note.get('status', 'sent')}): {note.get('subject', '')}")
        if note.get("channel") == "email" and note.get("text"):
            lines.extend("      | " + line for line in note["text"].splitlines())
    timings = result["timings_ms"]
    lines.append(
        f"   execution {result['execution']['status']} in {result['execution']['transitions']} states; "
        f"containment at {timings['to_containment']} ms, total {timings['total']} ms"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
