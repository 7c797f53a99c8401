"""An estimate of time to containment in AWS, summed along the measured critical path.

The counts (transitions, invocations, AWS calls before and including the containing call) and the
import-and-clients cost of each handler on the path are measured here; every per-item latency is an
assumption or a documented figure, each with its source. Detection itself (Health, GuardDuty) is
not counted.
"""

from __future__ import annotations

from typing import Any

# (low, high) in ms, each with where it comes from. "assumed" means no measurement of ours backs it.
EVENT_DELIVERY = (
    (100, 1000),
    "assumed: EventBridge delivers AWS service events 'in near real time' "
    "(https://aws.amazon.com/eventbridge/faqs/), its target's StartExecution call included; typically under 1 s. "
    "Not ours: left out of controlled_ms",
)
EXECUTION_START = (
    (10, 50),
    "assumed: from the execution's start to its first state entered (Step Functions' own scheduling, "
    "as one state transition)",
)
PER_TRANSITION = ((10, 50), "assumed: Step Functions Standard overhead per state transition")
INVOKE_OVERHEAD = ((20, 60), "assumed: Step Functions -> Lambda Invoke round trip, per task")
LAMBDA_INIT = (
    (150, 400),
    "assumed: Lambda cold-start overhead before our code runs (micro-VM, python3.12 runtime, Powertools layer mount)",
)
# Used only when handler_work measured nothing (a kind that was not contained).
HANDLER_WORK = ((5, 30), "assumed: the handler's own work besides AWS calls, per invocation")
# IAM's endpoint is in us-east-1 for the aws partition. This was (100, 300) before the critical path
# was reshaped, a wider guess; `sensitivity` in the output shows the estimate with that range too.
IAM_LATENCY = (
    (40, 150),
    "assumed: one IAM call from a function in us-east-1, where IAM's endpoint is (a same-region round trip "
    "plus IAM's own processing); no AWS figure; from another region add its round trip to us-east-1",
)
IAM_LATENCY_WIDE = (100, 300)
API_LATENCY = {
    "iam": IAM_LATENCY,
    "dynamodb": ((5, 20), "assumed: DynamoDB single-item write in the same region"),
    "ec2": ((100, 300), "assumed: EC2 control-plane call"),
}
# Issue "The physical floor": with Step Functions making the dedupe write and the containing call
# itself, nothing but the execution's own transitions and the two calls is left before containment.
TARGETS = {"cold_high": 450, "warm_high": 350}
BY_THE_STATE_MACHINE = (
    "; made by Step Functions itself (an integration Task): the call's own round trip, as from a function, "
    "its scheduling counted in the transitions"
)
SNAPSTART = (
    "SnapStart (setting snapStart) would replace the cold init and the import rows by a snapshot restore; no "
    "restore can be measured here and no public Python restore figure was verified, so no SnapStart figure "
    "is given."
)
DEFAULT_API = ((50, 300), "assumed: other AWS API call")
VCPU_MEMORY_MB = 1769  # "At 1,769 MB, a function has the equivalent of one vCPU" (Lambda memory docs)
SOURCES = {
    "GuardDuty": "https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings_eventbridge.html "
    "(a new finding is sent to EventBridge within 5 minutes; not counted here)",
    "Lambda CPU": "https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html "
    "(CPU in proportion to memory; 1,769 MB = one vCPU)",
    "EventBridge": "https://aws.amazon.com/eventbridge/faqs/ (near-real-time delivery)",
}


def estimate(
    path: dict[str, Any], handlers_on_path: list[dict[str, Any]], work: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`handlers_on_path`: for each invocation up to the containing one, its measured import cost
    ({"handler", "import_ms", "memory_mb"}). `work`: handler_work's measurement of the containing
    handler (cold and warm), which replaces the assumed handler-work row."""
    rows: list[dict[str, Any]] = []

    def add(item: str, low_high: tuple[float, float], basis: str, count: int = 1, start: str = "both") -> None:
        """`start`: on which start the row counts, "cold", "warm" or "both"."""
        low, high = low_high
        rows.append(
            {
                "item": item if count == 1 else f"{item} x{count}",
                "basis": basis,
                "low_ms": round(low * count),
                "high_ms": round(high * count),
                "start": start,
            }
        )

    add("event delivery (EventBridge)", *EVENT_DELIVERY)
    add("execution start to the first state", *EXECUTION_START)
    add("state transitions before the containing task", *PER_TRANSITION, count=max(path["transitions"] - 1, 0))
    for entry in handlers_on_path:
        add(f"invoke {entry['handler']}", *INVOKE_OVERHEAD)
        add(f"cold init {entry['handler']}", *LAMBDA_INIT, start="cold")
        # Measured here on one core; in Lambda the CPU share is memory/1769 of a vCPU, which makes
        # CPU-bound imports up to that much slower (upper bound, assuming a vCPU ~ this core).
        slow = max(1.0, VCPU_MEMORY_MB / entry["memory_mb"])
        add(
            f"import + clients {entry['handler']}",
            (entry["import_ms"], entry["import_ms"] * slow),
            f"measured here ({entry['import_ms']:.0f} ms); high = x{slow:.1f} for {entry['memory_mb']} MB "
            "(CPU share, documented; assumes one Lambda vCPU is as fast as one core here)",
            start="cold",
        )
        if work is None:
            add(f"handler work {entry['handler']}", *HANDLER_WORK)
        else:
            # Cold: the first invocation's work (botocore's first requests); warm: later ones. The
            # high end of each is the slowest sample, times the CPU share as for the imports.
            cold_work, warm_work = work["cold_ms"], work["warm_ms"]
            add(
                f"handler work {entry['handler']} (cold)",
                (cold_work["median"], cold_work["max"] * slow),
                f"measured here (bench handler_work, median {cold_work['median']} ms, max {cold_work['max']} ms, "
                f"x{slow:.1f} CPU share at the high end): the first invocation, AWS answering at once",
                start="cold",
            )
            add(
                f"handler work {entry['handler']} (warm)",
                (warm_work["median"], warm_work["max"] * slow),
                f"measured here (median {warm_work['median']} ms, max {warm_work['max']} ms): later invocations",
                start="warm",
            )
    calls = [call["call"] for call in path["calls_before"]] + [path["containing_call"]]
    by_the_state_machine = not handlers_on_path
    for call in calls:
        service = call.split(" ", 1)[0]
        low_high, basis = API_LATENCY.get(service, DEFAULT_API)
        add(call, low_high, basis + (BY_THE_STATE_MACHINE if by_the_state_machine else ""))
    cold_rows = [r for r in rows if r["start"] != "warm"]
    cold = (sum(r["low_ms"] for r in cold_rows), sum(r["high_ms"] for r in cold_rows))
    warm_rows = [r for r in rows if r["start"] != "cold"]
    warm = (sum(r["low_ms"] for r in warm_rows), sum(r["high_ms"] for r in warm_rows))
    delivery = rows[0]
    controlled = {
        "cold_low": cold[0] - delivery["low_ms"],
        "cold_high": cold[1] - delivery["high_ms"],
        "warm_low": warm[0] - delivery["low_ms"],
        "warm_high": warm[1] - delivery["high_ms"],
    }
    iam_calls = sum(1 for call in calls if call.startswith("iam "))
    wider = (IAM_LATENCY_WIDE[1] - IAM_LATENCY[0][1]) * iam_calls
    return {
        "rows": rows,
        "cold_ms": {"low": cold[0], "high": cold[1]},
        "warm_ms": {"low": warm[0], "high": warm[1]},
        "controlled_ms": controlled,
        "targets": TARGETS,
        "within_targets": controlled["cold_high"] <= TARGETS["cold_high"]
        and controlled["warm_high"] <= TARGETS["warm_high"],
        "snapstart": SNAPSTART,
        "sensitivity": f"with IAM at the wider {IAM_LATENCY_WIDE[0]}-{IAM_LATENCY_WIDE[1]} ms per call "
        f"({iam_calls} IAM call(s) here), ours would be cold_high {controlled['cold_high'] + wider} ms and "
        f"warm_high {controlled['warm_high'] + wider} ms",
        "not_counted": "detection (Health, GuardDuty: within 5 minutes of the finding, documented); IAM's own "
        "propagation of the change after the call returns (eventually consistent)",
    }
