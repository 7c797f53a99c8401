"""The containing handler's own work up to the containing call's return, with AWS answering at once.

The estimate's "handler work" row was an assumption (5-30 ms). This measures it: a fresh
interpreter (as coldstart.py: the synthesized asset, no bytecode written, fake credentials, no
network) imports the handler and builds its clients (that part is section 3's and is not counted
here), then invokes the handler with the bundled event, the function's own environment from the
template and a Lambda-like context. Every request is answered at botocore's `before-send` by a
canned response, so no time goes to the network and no simulator's work is counted; what is
timed is everything else between the handler's entry and the return of the containing call:
reading the event, building the dedupe item, botocore's request building, endpoint resolution,
signing and response parsing, and the Powertools log lines at the function's own log level.
The first invocation in each interpreter is the cold one (botocore's first-call work included);
the next ones, in the same interpreter, are warm.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from bench.coldstart import CLIENTS, environment, sample
from drill.template import Synthesized, resolve

WARM_INVOCATIONS = 5
MARK = "handler-work:"

SAMPLE = """\
import importlib, json, sys, time
from botocore.awsrequest import AWSResponse

MODULE, ATTRIBUTE, SERVICES, CONTAINING = {module!r}, {attribute!r}, {services!r}, {containing!r}
INPUT, ACCOUNT, OWNER, WARM = {task_input!r}, {account!r}, {owner!r}, {warm!r}
IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
RESULTS = {{"GetAccessKeyLastUsed": "<UserName>" + OWNER + "</UserName>"
            "<AccessKeyLastUsed><Region>N/A</Region><ServiceName>N/A</ServiceName></AccessKeyLastUsed>"}}

handler = getattr(importlib.import_module(MODULE), ATTRIBUTE)
from common.aws import _session, client


class Body:
    def __init__(self, content):
        self.content = content

    def stream(self, **kwargs):
        yield self.content


def answer(request, event_name, **kwargs):
    _, service, operation = event_name.split(".")
    if not returned:
        sent.append(service + " " + operation)
    if service == "iam":
        result = RESULTS.get(operation, "")
        body = (f'<{{operation}}Response xmlns="{{IAM_NS}}"><{{operation}}Result>{{result}}</{{operation}}Result>'
                f"<ResponseMetadata><RequestId>bench</RequestId></ResponseMetadata></{{operation}}Response>")
        headers = {{"Content-Type": "text/xml"}}
    else:
        body, headers = "{{}}", {{"Content-Type": "application/x-amz-json-1.0"}}
    return AWSResponse(request.url, 200, headers, Body(body.encode()))


returned, sent = [], []
session = _session()
session.register("before-send", answer)
session.register("after-call." + CONTAINING, lambda **kwargs: returned.append(time.perf_counter()))
for service in SERVICES:
    client(service)


class Context:
    function_name = "bench"
    invoked_function_arn = f"arn:aws:lambda:us-east-1:{{ACCOUNT}}:function:bench"
    memory_limit_in_mb = 1769
    aws_request_id = "bench"
    log_group_name = log_stream_name = "bench"

    def get_remaining_time_in_millis(self):
        return 60_000


def invoke(n):
    returned.clear()
    sent.clear()
    started = time.perf_counter()
    try:
        handler({{**INPUT, "execution_id": INPUT.get("execution_id", "") + f"-{{n}}"}}, Context())
    except Exception:  # what follows the containing call may well fail on canned answers: not timed
        pass
    return {{"ms": (returned[0] - started) * 1000 if returned else None, "calls": list(sent)}}


runs = [invoke(n) for n in range(1 + WARM)]
print("{mark}" + json.dumps(runs))
"""


def function_environment(synthesized: Synthesized, handler: str) -> dict[str, str]:
    """The function's environment as the template sets it; references become their logical ids
    (a table name, a topic ARN: the canned answers do not look at them)."""

    class Echo(dict[Any, str]):
        def __missing__(self, key: Any) -> str:
            return "-".join(key) if isinstance(key, tuple) else str(key)

    (spec,) = [spec for spec in synthesized.functions if spec.handler == handler][:1]
    return {key: str(resolve(value, Echo(), Echo())) for key, value in spec.environment.items()}


def measure(
    synthesized: Synthesized,
    code_dir: str | Path,
    handler: str,
    task_input: dict[str, Any],
    containing_call: str,
    calls_before: list[str],
    samples: int,
) -> dict[str, Any]:
    """`samples` fresh interpreters, each with one cold and WARM_INVOCATIONS warm invocations of
    `handler` on `task_input` (what the drill's execution handed the first task: the staged event).
    Each invocation gets its own execution id, so that none is a retry of another."""
    module, attribute = handler.rsplit(".", 1)
    function_env = function_environment(synthesized, handler)
    # Powertools logs at INFO unless the function says otherwise: its log lines are work too.
    env = {**environment(code_dir), "POWERTOOLS_LOG_LEVEL": "INFO", **function_env}
    service, operation = containing_call.split(" ")
    event = task_input.get("event") or {}
    script = SAMPLE.format(
        module=module,
        attribute=attribute,
        services=list(CLIENTS.get(handler, ())),
        containing=f"{service}.{operation}",
        task_input=task_input,
        account=str(event.get("account", "111122223333")),
        owner="bench-key-owner",
        warm=WARM_INVOCATIONS,
        mark=MARK,
    )
    expected = [*calls_before, containing_call]
    cold: list[float] = []
    warm: list[float] = []
    for _ in range(samples):
        output = sample(script, env).stdout
        line = next((line for line in output.splitlines() if line.startswith(MARK)), None)
        runs = json.loads(line[len(MARK) :]) if line else []
        # The calls up to the containing one must be those the drill recorded on the critical path:
        # otherwise this timed another path (an ignored event, a refusal) and says so.
        if not runs or any(run["ms"] is None or run["calls"] != expected for run in runs):
            raise RuntimeError(f"{handler}: not the critical path {expected}: {runs or output[-2000:]}")
        cold.append(runs[0]["ms"])
        warm.extend(run["ms"] for run in runs[1:])
    return {
        "samples": samples,
        "warm_invocations_per_sample": WARM_INVOCATIONS,
        "cold_ms": _spread(cold),
        "warm_ms": _spread(warm),
    }


def _spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 1),
        "min": round(ordered[0], 1),
        "max": round(ordered[-1], 1),
    }
