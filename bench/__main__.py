"""python -m bench [--runs N] [--rounds N] [--bursts 10,100,500] [--md PATH] [--json PATH]

Measures the speed of containment with the local drill and writes docs/benchmarks.md and bench.json.
With the defaults the whole run takes about 20 minutes on 2 cores, most of it the bursts (see "Method"
in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TIME_SCALE = 0.001  # the drill's default: Retry intervals and Wait states x 0.001


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=8, help="drill runs per incident kind (default 8)")
    parser.add_argument("--rounds", type=int, default=7, help="cold-start rounds (default 7)")
    parser.add_argument("--bursts", default="10,100,500", help="burst sizes, comma-separated (default 10,100,500)")
    parser.add_argument("--md", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--json", default=str(ROOT / "bench.json"))
    args = parser.parse_args(argv)
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    sys.path.insert(0, str(ROOT))

    from bench import coldstart, critical, deploy, estimate, handler_work, render
    from drill.__main__ import DRILL_CONTEXT
    from drill.burst import run_burst
    from drill.template import synthesize

    started = time.perf_counter()
    phases: dict[str, float] = {}

    def phase(name: str, since: float) -> float:
        phases[name] = round(time.perf_counter() - since, 1)
        print(f"bench: {name} done in {phases[name]} s", file=sys.stderr, flush=True)
        return time.perf_counter()

    mark = time.perf_counter()
    synthesized = synthesize(DRILL_CONTEXT)
    mark = phase("synth", mark)
    first_inputs: dict[str, Any] = {}
    kinds = critical.measure(synthesized, args.runs, first_inputs)
    mark = phase("critical path and drill timings", mark)

    size = deploy.asset(synthesized)
    code_dir = Path(synthesized.outdir) / size["assets"][0]["folder"]
    function_handlers = {spec.logical_id[:64]: spec.handler for spec in synthesized.functions}
    cold = coldstart.measure(list(dict.fromkeys(function_handlers.values())), code_dir, args.rounds)
    cold["instructions"] = coldstart.instructions(list(coldstart.CONTAINMENT_HANDLERS), code_dir)
    mark = phase("cold start", mark)
    work = {
        kind: handler_work.measure(
            synthesized,
            code_dir,
            data["critical_path"]["containing_handler"],
            first_inputs[kind],
            data["critical_path"]["containing_call"],
            [call["call"] for call in data["critical_path"]["calls_before"]],
            args.rounds,
        )
        for kind, data in kinds.items()
        # Only a containing call a handler makes has handler work before it (not one Step Functions makes).
        if data["critical_path"].get("contained") and data["critical_path"].get("containing_handler")
    }
    mark = phase("handler work", mark)

    bursts = [run_burst(synthesized, int(n), time_scale=TIME_SCALE) for n in args.bursts.split(",") if n.strip()]
    mark = phase("bursts", mark)

    memory = deploy.memory_by_function(synthesized)
    costs, estimates = {}, {}
    for kind, data in kinds.items():
        path = data["critical_path"]
        costs[kind] = deploy.incident_cost(path["workflow_transitions"], path["workflow_functions"], memory)
        on_path = [
            {
                "handler": function_handlers[name],
                "memory_mb": memory[name],
                "import_ms": cold["handlers"][function_handlers[name]]["handler_ms"],
            }
            for name in path["invoked_functions"]
        ]
        estimates[kind] = estimate.estimate(path, on_path, work.get(kind))

    result: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "time_scale": TIME_SCALE,
        "critical": kinds,
        "coldstart": cold,
        "handler_work": work,
        "bursts": bursts,
        "burst_growth": growth(bursts),
        "size": size,
        "assumed_seconds_per_invocation": deploy.ASSUMED_SECONDS_PER_INVOCATION,
        "cost": costs,
        "estimate": estimates,
        "sources": estimate.SOURCES,
        "method": method(args, kinds, phases),
        "phases_seconds": phases,
    }
    result["bench_seconds"] = round(time.perf_counter() - started, 1)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    Path(args.md).parent.mkdir(parents=True, exist_ok=True)
    Path(args.md).write_text(render.markdown(result))
    print(f"bench: wrote {args.md} and {args.json} in {result['bench_seconds']} s", file=sys.stderr)
    return 0


def growth(bursts: list[dict[str, Any]]) -> str:
    """Linear or better when the time per incident does not rise with N (10 % allowed for noise)."""
    if len(bursts) < 2:
        return "one burst size only"
    first, last = bursts[0], bursts[-1]
    ratio = last["per_incident_ms"] / first["per_incident_ms"]
    verdict = "linear or better" if ratio <= 1.1 else "worse than linear"
    return (
        f"{verdict}: time per incident at N={last['n']} is {ratio:.2f}x that at N={first['n']} "
        f"({last['per_incident_ms']} vs {first['per_incident_ms']} ms)"
    )


def method(args: argparse.Namespace, kinds: dict[str, Any], phases: dict[str, float]) -> list[str]:
    from bench.handler_work import WARM_INVOCATIONS

    budget = (
        f"Repetitions are kept low because the bursts dominate the run on this 2-core machine: they alone took "
        f"{phases.get('bursts', 0):.0f} s of {sum(phases.values()):.0f} s."
    )
    return [
        "The CDK app is synthesized once with the drill's context (a Slack webhook secret configured); every run "
        "executes the synthesized state machine in moto with the real handlers in-process (`drill/`).",
        f"Critical path and drill timings: {args.runs} runs per kind ({', '.join(kinds)}), interleaved, plus one "
        "uncounted warm-up run per kind, each in a fresh simulated account; p95 is the nearest-rank value "
        f"(with {args.runs} runs: value {math.ceil(0.95 * args.runs)} of {args.runs} in order"
        f"{', the maximum' if math.ceil(0.95 * args.runs) == args.runs else ''}).",
        f"Cold start: {args.rounds} rounds, each sampling every handler next to its floor; each sample a fresh "
        "`python -c` with PYTHONPATH = the synthesized Lambda asset (no bytecode written: the handler's own modules "
        "compile from source, as in Lambda), fake credentials, AWS_EC2_METADATA_DISABLED and no shared config, so "
        "nothing reaches AWS; times are taken inside the interpreter, so its start-up is left out of both sides.",
        f"Handler work: {args.rounds} fresh interpreters per kind, each invoking the containing handler once cold "
        f"and {WARM_INVOCATIONS} times warm on the input the drill's first task received, every AWS "
        "request answered at once by a canned response at botocore's before-send (no network, no simulator), "
        "timed from the handler's entry to the containing call's return; the calls made must be the drill's.",
        f"Bursts: {args.bursts} incidents, each size in a fresh simulated account, all executions started at once "
        "and polled every 0.1 s.",
        budget,
        "Timings are wall-clock on a shared machine: other processes add noise, which is why medians are "
        "reported. Nothing here is a timed assertion; `make test` runs only a small burst (N=5) for correctness.",
        "The estimate for AWS (section 6) multiplies the measured counts by latencies that are assumptions unless "
        "a source is given.",
    ]


if __name__ == "__main__":
    raise SystemExit(main())
