"""docs/benchmarks.md from the bench result (the same figures as bench.json)."""

from __future__ import annotations

from typing import Any

from bench.coldstart import CONTAINMENT_TARGET_RATIO, TARGET_RATIO

TITLES = {
    "exposed-access-key": "Exposed access key",
    "instance-credential-exfiltration": "Stolen instance credentials",
    "exposed-access-key-no-user": "Exposed access key, no user named",
}


def markdown(result: dict[str, Any]) -> str:
    kinds = result["critical"]
    lines = [
        "# Benchmarks: the speed of containment",
        "",
        f"Written by `make bench` ({result['bench_seconds']:.0f} s on {result['machine']}, {result['date']}). "
        "Counts are exact and the same in every run; times are measurements of this machine, under whatever "
        "else it was running. The drill scales every Retry interval and Wait state by "
        f"`--time-scale {result['time_scale']}`, so drill times are not AWS times: section 6 estimates those.",
        "",
        "## Summary",
        "",
        "| | " + " | ".join(TITLES.get(kind, kind) for kind in kinds) + " |",
        "|---|" + "---|" * len(kinds),
    ]

    def row(label: str, cell: Any) -> None:
        lines.append(f"| {label} | " + " | ".join(str(cell(kind, kinds[kind])) for kind in kinds) + " |")

    row(
        "containing call (task)",
        lambda k, v: f"{v['critical_path']['containing_call']} ({v['critical_path']['containing_task']})",
    )
    row("made by", lambda k, v: _made_by(v["critical_path"]))
    row("state transitions up to the containing task", lambda k, v: v["critical_path"]["transitions"])
    row("Lambda invocations before the containing call", lambda k, v: v["critical_path"]["invocations_before"])
    row("AWS calls before the containing call", lambda k, v: v["critical_path"]["api_calls_before"])
    row("drill: to containment, median / p95 (ms)", lambda k, v: _spread(v["to_containment_ms"]))
    row("drill: whole workflow, median / p95 (ms)", lambda k, v: _spread(v["workflow_ms"]))
    row("state transitions per incident (whole workflow)", lambda k, v: v["critical_path"]["workflow_transitions"])
    row(
        "Step Functions + Lambda per 1,000 incidents (USD)",
        lambda k, v: f"{result['cost'][k]['per_1000_incidents_usd']:.3f}",
    )
    row("estimate in AWS, cold / warm (s)", lambda k, v: _estimate(result["estimate"][k]))
    row(
        "of which ours: execution start to the containing call's return, cold / warm (ms)",
        lambda k, v: _controlled(result["estimate"][k]["controlled_ms"]),
    )

    lines += [
        "",
        "## 1. Critical path to containment",
        "",
        "From each run's execution history and the API calls made, in order. A call Step Functions makes itself "
        "(an integration Task) belongs to its state; any other to the task whose invocation was running when it "
        "was made.",
        "",
    ]
    for kind, data in kinds.items():
        path = data["critical_path"]
        lines += [
            f"**{TITLES.get(kind, kind)}** (`{data['event_file']}`): "
            f"{' → '.join(path['states'])}; the containing call {path['containing_call']} is made by "
            f"{_made_by(path)}. Identical path in all {data['runs'] + 1} runs: "
            f"{_yes(data['path_identical_in_all_runs'])}.",
            "",
            "| # | task | AWS call before the containing call | why it is there |",
            "|---|---|---|---|",
        ]
        for index, call in enumerate(path["calls_before"], start=1):
            lines.append(f"| {index} | {call['task']} | {call['call']} | {call['why']} |")
        lines += [
            "",
            f"Whole workflow (first run of the process): {path['workflow_transitions']} transitions, "
            f"{path['workflow_invocations']} invocations, {path['workflow_api_calls']} AWS calls.",
            "",
        ]

    lines += [
        "## 2. Time to containment in the drill",
        "",
        f"{_runs(kinds)} runs per kind, interleaved, after one warm-up run per kind that is not counted. From "
        "the start of the execution to the containing call, and to the end of the execution. Retry/Wait "
        f"times scaled by {result['time_scale']} (the workflow's Wait for CloudTrail, 15 minutes in AWS, "
        "lasts under a second here).",
        "",
        "| kind | to containment median | p95 | min | max | whole workflow median | p95 |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, data in kinds.items():
        c, w = data["to_containment_ms"], data["workflow_ms"]
        lines.append(
            f"| {TITLES.get(kind, kind)} | {c['median']} ms | {c['p95']} ms | {c['min']} ms | {c['max']} ms "
            f"| {w['median']} ms | {w['p95']} ms |"
        )

    cold = result["coldstart"]
    lines += [
        "",
        "## 3. Cold-start cost of each handler",
        "",
        f"{cold['rounds']} rounds; in each, every handler is sampled next to its floor (one fresh interpreter "
        "per sample, handlers in a shuffled order). Times are medians; the ratio is the median of the per-pair "
        "ratios (range in brackets). *Handler*: import the handler module and create the clients it uses "
        "(via `common.aws.client`, which builds botocore's clients directly: no boto3 import); *floor*: import "
        "boto3 and create the same clients with the same Config. "
        f"Target: ratio ≤ {TARGET_RATIO}, ≤ {CONTAINMENT_TARGET_RATIO} for the containing handlers. "
        "No handler creates a client at import: all are created at the first "
        "call. Containment handlers in **bold**.",
        "",
        "| handler | clients | handler (ms) | floor (ms) | ratio | within target |",
        "|---|---|---|---|---|---|",
    ]
    for handler, data in cold["handlers"].items():
        name = f"**{handler}**" if data["containment"] else handler
        clients = ", ".join(data["clients"]) if data["clients_known"] else "**unknown: add to bench/coldstart.py**"
        clients += "".join(f" (+ {service} {why})" for service, why in data["conditional_clients"].items())
        lines.append(
            f"| {name} | {clients} | {data['handler_ms']} | {data['floor_ms']} "
            f"| {data['ratio']} ({data['ratio_range'][0]}-{data['ratio_range'][1]}) "
            f"| {_yes(not data['over_target'])} |"
        )
    counted = cold.get("instructions")
    if counted:
        lines += [
            "",
            "The same comparison in instructions executed (`valgrind --tool=callgrind`, one sample each, an empty "
            f"interpreter's {counted['interpreter_start_up']:,} taken off both sides), which does not vary with "
            "the machine's load:",
            "",
            "| handler | handler (instructions) | floor (instructions) | ratio | within target |",
            "|---|---|---|---|---|",
        ]
        for handler, data in counted["handlers"].items():
            lines.append(
                f"| **{handler}** | {data['handler']:,} | {data['floor']:,} | {data['ratio']} "
                f"| {_yes(not data['over_target'])} |"
            )
    for handler, data in cold["handlers"].items():
        if data.get("import_costs"):
            costs = ", ".join(f"{c['package']} {c['self_ms']} ms" for c in data["import_costs"])
            lines.append(
                f"\nOn the critical path, `{handler}` imports beyond the floor (`python -X importtime`, one "
                f"sample, self time by top-level package): {costs}."
            )

    work = result.get("handler_work") or {}
    if work:
        lines += [
            "",
            "### The containing handler's own work",
            "",
            "From the handler's entry to the containing call's return, with every AWS request answered at once "
            "(a canned response at botocore's `before-send`: no network, no simulator), on the input the drill's "
            "first task received and the calls the drill recorded. *Cold*: the first invocation in a fresh "
            "interpreter, after the imports and clients above; *warm*: the next ones.",
            "",
            "| kind | interpreters | cold median (ms) | cold max | warm median (ms) | warm max |",
            "|---|---|---|---|---|---|",
        ]
        for kind, data in work.items():
            c, w = data["cold_ms"], data["warm_ms"]
            lines.append(
                f"| {TITLES.get(kind, kind)} | {data['samples']} | {c['median']} | {c['max']} "
                f"| {w['median']} | {w['max']} |"
            )

    lines += [
        "",
        "## 4. Burst: many incidents against one account",
        "",
        "`python -m drill --burst N`: N distinct exposed-key incidents (the classic Health event, each with "
        "its own eventArn, communicationId and key, owned by its own user who also holds a bystander key) "
        "started at once against ONE simulated account, then polled. Each key's UpdateAccessKey calls are "
        "counted through a fault hook that injects nothing, and every key is read back at the end. "
        "*Contained*: the key reads back Inactive after exactly one UpdateAccessKey; *lost*: still active "
        "or never updated; *duplicated*: more than one UpdateAccessKey.",
        "",
        "| N | contained | lost | duplicated | bystanders touched | executions | seconds | per incident (ms) "
        "| to containment in the burst, median / p95 (ms) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for burst in result["bursts"]:
        executions = ", ".join(f"{status} {count}" for status, count in burst["executions"].items())
        lines.append(
            f"| {burst['n']} | {burst['contained']} | {burst['lost']} | {burst['duplicated']} "
            f"| {burst['bystanders_touched']} | {executions} | {burst['seconds']} "
            f"| {burst['per_incident_ms']} | {_spread(burst['to_containment_ms'])} |"
        )
    lines += [
        "",
        f"Growth: {result['burst_growth']}. The drill runs every execution in one Python process (moto's "
        "threads share one interpreter lock), so in a burst each incident's containment waits behind the "
        "other incidents' normalization and investigation work; in AWS each Lambda invocation has its own "
        "execution environment, and the limits are Lambda concurrency and IAM's API rate instead.",
    ]

    size = result["size"]
    lines += ["", "## 5. Deployed size and cost", ""]
    for item in size["assets"]:
        lines.append(
            f"- Lambda code asset `{item['folder'][:18]}…`: {item['files']} files, {item['bytes']:,} bytes, "
            f"**{item['zipped_bytes']:,} bytes zipped** (deflate, in memory), shared by all "
            f"{size['functions_sharing']} functions."
        )
    lines += [
        f"- Layers: {size['layers']}.",
        f"- Cost per incident at list prices (us-east-1, no free tier): Step Functions Standard $0.025 per "
        f"1,000 transitions; Lambda arm64 $0.0000133334 per GB-s and $0.20 per 1M requests; each function's "
        f"MemorySize from the template and an **assumed {result['assumed_seconds_per_invocation']} s per "
        "invocation** (in-drill durations include moto and are not Lambda's).",
        "",
        "| kind | transitions | invocations | GB-s | Step Functions | Lambda | total per incident | per 1,000 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind, cost in result["cost"].items():
        lambda_usd = cost["lambda_compute_usd"] + cost["lambda_requests_usd"]
        lines.append(
            f"| {TITLES.get(kind, kind)} | {cost['transitions']} | {cost['invocations']} "
            f"| {cost['gb_seconds']} | ${cost['step_functions_usd']:.6f} | ${lambda_usd:.6f} "
            f"| ${cost['total_usd']:.6f} | ${cost['per_1000_incidents_usd']:.3f} |"
        )
    lines += [
        "",
        "Not counted: CloudWatch Logs (the state machine logs every transition), X-Ray, DynamoDB, S3, "
        "SNS, KMS and Secrets Manager requests.",
    ]

    lines += [
        "",
        "## 6. Estimate of time to containment in AWS",
        "",
        "Summed along the measured critical path: the counts and the import cost of each handler on it are "
        "measured here; every latency marked *assumed* is an assumption, not a measurement. Detection itself "
        "is not counted. *Cold*: the function on the path starts cold; *warm*: it does not. *Ours* "
        "(`controlled_ms`) leaves out the event's delivery by EventBridge, which is not ours: from the "
        "execution's start to the containing call's return.",
        "",
    ]
    for kind, est in result["estimate"].items():
        lines += [
            f"**{TITLES.get(kind, kind)}**: cold {_seconds(est['cold_ms'])} s, warm {_seconds(est['warm_ms'])} s "
            "after the event reaches EventBridge.",
            "",
            "| item | low (ms) | high (ms) | basis |",
            "|---|---|---|---|",
        ]
        for item in est["rows"]:
            lines.append(f"| {item['item']} | {item['low_ms']} | {item['high_ms']} | {item['basis']} |")
        controlled = est["controlled_ms"]
        lines += [
            "",
            f"Ours (execution start to the containing call's return): cold {controlled['cold_low']} to "
            f"{controlled['cold_high']} ms (target high ≤ {est['targets']['cold_high']}), warm "
            f"{controlled['warm_low']} to {controlled['warm_high']} ms (target high ≤ {est['targets']['warm_high']}). "
            f"{est['snapstart']}",
            "",
            f"Sensitivity: {est['sensitivity']}",
            "",
            f"Not counted: {est['not_counted']}.",
            "",
        ]
    lines += ["Sources:", ""] + [f"- {name}: {url}" for name, url in result["sources"].items()]

    lines += ["", "## Method", ""] + [f"- {line}" for line in result["method"]] + [""]
    return "\n".join(lines)


def _yes(value: bool) -> str:
    return "yes" if value else "**no**"


def _spread(spread: dict[str, float] | None) -> str:
    return f"{spread['median']} / {spread['p95']}" if spread else "-"


def _estimate(est: dict[str, Any]) -> str:
    return f"{_seconds(est['cold_ms'])} / {_seconds(est['warm_ms'])}"


def _controlled(controlled: dict[str, Any]) -> str:
    return f"{controlled['cold_low']}-{controlled['cold_high']} / {controlled['warm_low']}-{controlled['warm_high']}"


def _seconds(low_high: dict[str, float]) -> str:
    return f"{low_high['low'] / 1000:.1f} to {low_high['high'] / 1000:.1f}"


def _runs(kinds: dict[str, Any]) -> int:
    return next(iter(kinds.values()))["runs"]


def _made_by(path: dict[str, Any]) -> str:
    if path.get("containing_handler"):
        return f"`{path['containing_handler']}` (the first Lambda invoked: {_yes(path['containing_function_first'])})"
    return f"Step Functions itself ({path.get('containing_task')}, no Lambda before it)"
