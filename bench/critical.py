"""Critical path to containment and time to containment, from repeated drill runs.

The drill (drill.runner.run_event_file) is run as it is; a setup hook keeps the ExecutionRecord
it produces, whose history, invocations and timed API calls give the path. A call Step Functions
makes itself (an integration Task: infra/intake.py) names its state; any other belongs to the
invocation whose [started, ended] window holds it: up to the containing call the workflow is
sequential (one key, no Parallel yet), so the windows do not overlap there.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

from drill.account import ApiCall, ExecutionRecord, Invocation, SimulatedAccount
from drill.runner import CONTAINING_CALLS, run_event_file
from drill.staging import Staged
from drill.template import Synthesized

EVENTS = Path(__file__).resolve().parent.parent / "tests" / "events"
KINDS = {
    # The format AWS Health sends since 2025: eventMetadata names the key's user.
    "exposed-access-key": EVENTS / "health_exposed_key_2025_event_metadata.json",
    "instance-credential-exfiltration": EVENTS / "guardduty_exfil_outside_realistic.json",
    # The older format names no user: IAM names the owner before the containing call.
    "exposed-access-key-no-user": EVENTS / "health_exposed_key_classic.json",
}
# Why each call made before the containing call is there (read from the code; a call not
# listed here shows up as "(no note)" in the report, so a new one does not go unnoticed).
WHY = {
    ("dynamodb", "PutItem"): "the incident is recorded first (conditional put: the dedupe key), before containing",
    ("iam", "GetAccessKeyLastUsed"): "the event names no user (or one that does not hold the key): IAM names the owner",
    ("iam", "GetUser"): "the owner's ARN as IAM returns it (path, partition), to match exemptions",
    ("iam", "ListAccessKeys"): "reads the key's status first, so a repeat reports already-done",
    ("iam", "GetRole"): "revokeScope=instance: the role's id, for the session's aws:userid",
    ("iam", "GetRolePolicy"): "an existing revocation with a cut-off at or after detection is kept as is",
}


def run_kind(synthesized: Synthesized, path: Path) -> tuple[dict[str, Any], ExecutionRecord, dict[str, str]]:
    """One drill run; returns the drill JSON, the execution record and function -> handler."""
    kept: list[tuple[ExecutionRecord, dict[str, str]]] = []

    def keep_record(account: SimulatedAccount, staged: Staged) -> None:
        run = account.run

        def run_and_keep(event: Any, **kwargs: Any) -> ExecutionRecord:
            record = run(event, **kwargs)
            kept.append((record, {name: f"{module}.{attr}" for name, (module, attr) in account.functions.items()}))
            return record

        account.run = run_and_keep  # type: ignore[method-assign]

    result = run_event_file(path, synthesized, setup=keep_record)
    ((record, handlers),) = kept
    return result, record, handlers


def critical_path(record: ExecutionRecord, handlers: dict[str, str]) -> dict[str, Any]:
    """Transitions, invocations and API calls up to the first containing call, and where each call was made."""
    calls = sorted(record.api_calls, key=lambda call: call.at)
    containing = next((c for c in calls if (c.service, c.operation) in CONTAINING_CALLS), None)
    if containing is None:
        return {"contained": False}
    states = _state_of_function(record.history)
    invocations = sorted(record.invocations, key=lambda inv: inv.started)
    through = [inv for inv in invocations if inv.started <= containing.at]
    task = _task_of(containing, invocations, states)
    entered = [e["stateEnteredEventDetails"]["name"] for e in record.history if "stateEnteredEventDetails" in e]
    transitions = entered.index(task) + 1 if task in entered else None
    return {
        "contained": True,
        "containing_call": f"{containing.service} {containing.operation}",
        "containing_task": task,
        # None when Step Functions made the call itself (an integration Task), with no Lambda before it.
        "containing_handler": handlers.get(through[-1].function) if through and containing.state is None else None,
        "made_by": "state machine" if containing.state is not None else "function",
        "transitions": transitions,
        "states": entered[:transitions] if transitions else [],
        "invocations": len(through),
        # The target (issue "The physical floor"): no Lambda starts before the containing call.
        "invocations_before": len([inv for inv in through if inv.started < containing.at]),
        "invoked": [states.get(inv.function, inv.function) for inv in through],
        "invoked_functions": [inv.function for inv in through],
        "api_calls_before": len([c for c in calls if c.at < containing.at]),
        "calls_before": [
            {
                "task": _task_of(c, invocations, states),
                "call": f"{c.service} {c.operation}",
                "why": WHY.get((c.service, c.operation), "(no note)"),
            }
            for c in calls
            if c.at < containing.at
        ],
        # The target (issue "One cold start"): the containing function is the first Lambda invoked.
        "containing_function_first": len(through) == 1,
        "workflow_transitions": record.transitions,
        "workflow_invocations": len(invocations),
        "workflow_api_calls": len(calls),
        "workflow_functions": [inv.function for inv in invocations],
    }


def _state_of_function(history: list[dict[str, Any]]) -> dict[str, str]:
    """Function name -> the Task state that first invoked it (the state entered just before)."""
    states: dict[str, str] = {}
    last_entered = None
    for event in history:
        if "stateEnteredEventDetails" in event:
            last_entered = event["stateEnteredEventDetails"]["name"]
        details = event.get("lambdaFunctionScheduledEventDetails")
        if details and last_entered:
            states.setdefault(details["resource"].rsplit(":function:", 1)[-1], last_entered)
    return states


def _task_of(call: ApiCall, invocations: list[Invocation], states: dict[str, str]) -> str:
    if call.state is not None:
        return call.state
    owners = {inv.function for inv in invocations if inv.started <= call.at <= inv.ended}
    if len(owners) != 1:
        return "ambiguous" if owners else "outside any task"
    (function,) = owners
    return states.get(function, function)


def measure(synthesized: Synthesized, runs: int, first_inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    """`runs` drill runs per kind, interleaved, after one warm-up run per kind that is not counted.
    `first_inputs` receives, per kind, the input of the first Lambda invoked (the staged event, as
    the containing function got it), for handler_work."""
    samples: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    paths: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for round_no in range(runs + 1):
        for kind, path in KINDS.items():
            result, record, handlers = run_kind(synthesized, path)
            paths[kind].append(critical_path(record, handlers))
            if first_inputs is not None and record.invocations:
                first_inputs[kind] = min(record.invocations, key=lambda inv: inv.started).event
            if round_no:  # round 0 warms up the process (moto, botocore models)
                samples[kind].append({"outcome": result["outcome"], **result["timings_ms"]})
    report: dict[str, Any] = {}
    for kind, path in KINDS.items():
        first = paths[kind][0]
        # Counts are exact: every run must show the same path, or the report says it varied.
        varied = [p for p in paths[kind] if _shape(p) != _shape(first)]
        report[kind] = {
            "event_file": path.name,
            "critical_path": first,
            "path_identical_in_all_runs": not varied,
            "runs": runs,
            "outcomes": sorted({s["outcome"] for s in samples[kind]}),
            "to_containment_ms": spread([s["to_containment"] for s in samples[kind] if s["to_containment"]]),
            "workflow_ms": spread([s["total"] for s in samples[kind]]),
        }
    return report


def _shape(path: dict[str, Any]) -> Any:
    return (
        path.get("containing_task"),
        path.get("transitions"),
        path.get("invocations"),
        [c["call"] for c in path.get("calls_before", [])],
    )


def spread(values: list[float]) -> dict[str, float] | None:
    """Median and p95 (nearest rank) in ms."""
    if not values:
        return None
    ordered = sorted(values)
    p95 = ordered[math.ceil(0.95 * len(ordered)) - 1]
    return {
        "n": len(ordered),
        "median": round(statistics.median(ordered), 1),
        "p95": round(p95, 1),
        "min": round(ordered[0], 1),
        "max": round(ordered[-1], 1),
    }
