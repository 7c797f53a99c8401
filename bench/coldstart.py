"""Cold-start cost of each handler: import the handler module and build its clients, in a fresh interpreter.

Each sample is a subprocess with fake credentials and no network (creating a boto3 client makes no
call). It times, from inside the interpreter (so interpreter start-up, the same for both, is left
out): "import the handler module + create the clients it uses" (through common.aws.client, as the
handler does) against the floor "import boto3 + create the same clients" (with the same Config).
Each handler sample is paired with a floor sample taken right next to it, so that drift in the
machine's load hits both sides of a ratio alike.

The code is the synthesized Lambda asset (what Lambda gets: no __pycache__), and the subprocess
does not write bytecode: as in Lambda, whose /var/task is read-only, the handler's own modules
are compiled from source at every cold start. Installed packages (boto3, Powertools, pydantic)
use their installed bytecode.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from drill.runner import FIRST_TASKS
from infra.actions import actions

# Which clients each entry point builds. None at import (common.aws.client is lazy and cached);
# all at the first call. Read from the code; tests/unit/test_bench_coldstart.py checks that every
# client a package's code creates is listed for one of its entry points.
CLIENTS: dict[str, tuple[str, ...]] = {
    "incident.handler.handler": ("dynamodb",),
    # The containing functions are the execution's first task: the dedupe write, then IAM.
    "contain_key.handler.handler": ("iam", "dynamodb"),
    "revoke_sessions.handler.handler": ("iam", "dynamodb"),
    # cloudtrail: one client per enabled region in fact; one is measured (the service model loads once).
    "investigate.handler.handler": ("ec2", "s3", "iam", "cloudtrail"),
    "evict.handler.handler": ("s3", "iam", "config"),
    # secretsmanager is built by Powertools Parameters (get_secret), not common.aws.client.
    "report.handler.handler_slack": ("secretsmanager",),
    "report.handler.handler_sns": ("sns", "dynamodb"),
    # Each declared action's, from its declaration (lambdas/<package>/action.py).
    **{action.entry_point: action.clients for action in actions()},
}
# Built only on some paths, so not measured: listed so that the declaration stays complete.
CONDITIONAL_CLIENTS: dict[str, dict[str, str]] = {
    "revoke_sessions.handler.handler": {
        "ec2": "before the revoke only when the finding names no role (the drill's finding names one); "
        "after it, to report an instance profile that now points at another role"
    },
    "report.handler.handler_sns": {
        "stepfunctions": "metrics: time to containment, after the e-mail, when contained",
        "s3": "only when a response's steps outgrow the record's item (record.finish)",
    },
}
# Every cold start on the way to containment: the containing functions are the first Lambda invoked.
CONTAINMENT_HANDLERS = FIRST_TASKS
CRITICAL_PATH_HANDLERS = CONTAINMENT_HANDLERS
TARGET_RATIO = 1.25
# Issue "One cold start": the containing handlers stay within 1.15x the bare boto3 floor.
CONTAINMENT_TARGET_RATIO = 1.15
# The same settings as common.aws.RETRY_CONFIG (a unit test keeps them equal).
FLOOR_CONFIG = {"retries": {"mode": "standard", "total_max_attempts": 3}, "connect_timeout": 3, "read_timeout": 5}

HANDLER_SAMPLE = """\
import time
started = time.perf_counter()
import importlib
getattr(importlib.import_module({module!r}), {attribute!r})
from common.aws import client
for service in {services!r}:
    client(service)
print(time.perf_counter() - started)
"""
FLOOR_SAMPLE = """\
import time
started = time.perf_counter()
import boto3
from botocore.config import Config
config = Config(**{config!r})
for service in {services!r}:
    boto3.client(service, config=config)
print(time.perf_counter() - started)
"""


def environment(code_dir: str | Path) -> dict[str, str]:
    """Fake credentials, no shared config, no metadata endpoint: nothing can reach AWS."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(code_dir),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "POWERTOOLS_SERVICE_NAME": "credential-responder",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }


def handler_script(handler: str) -> str:
    module, attribute = handler.rsplit(".", 1)
    return HANDLER_SAMPLE.format(module=module, attribute=attribute, services=list(CLIENTS.get(handler, ())))


def floor_script(services: tuple[str, ...]) -> str:
    return FLOOR_SAMPLE.format(config=FLOOR_CONFIG, services=list(services))


def sample(script: str, env: dict[str, str], *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *flags, "-c", script], env=env, capture_output=True, text=True, check=True, timeout=120
    )


def measure(handlers: list[str], code_dir: str | Path, rounds: int, seed: int = 0) -> dict[str, Any]:
    """Each round samples every handler once next to its floor (in random order within the pair), so the
    pair sees the same load on the machine; the ratio is the median of the per-pair ratios."""
    env = environment(code_dir)
    times: dict[str, dict[str, list[float]]] = {h: {"handler": [], "floor": [], "ratio": []} for h in handlers}
    order = list(handlers)
    shuffle = random.Random(seed)
    for _ in range(rounds):
        shuffle.shuffle(order)
        for handler in order:
            scripts = {"handler": handler_script(handler), "floor": floor_script(CLIENTS.get(handler, ()))}
            sides = list(scripts)
            shuffle.shuffle(sides)
            took = {side: float(sample(scripts[side], env).stdout.strip()) * 1000 for side in sides}
            for side, ms in took.items():
                times[handler][side].append(ms)
            times[handler]["ratio"].append(took["handler"] / took["floor"])
    result: dict[str, Any] = {}
    for handler in handlers:
        ratio = statistics.median(times[handler]["ratio"])
        result[handler] = {
            "clients": list(CLIENTS.get(handler, ())),
            "conditional_clients": CONDITIONAL_CLIENTS.get(handler, {}),
            "clients_known": handler in CLIENTS,
            "handler_ms": round(statistics.median(times[handler]["handler"]), 1),
            "floor_ms": round(statistics.median(times[handler]["floor"]), 1),
            "ratio": round(ratio, 2),
            "ratio_range": [round(min(times[handler]["ratio"]), 2), round(max(times[handler]["ratio"]), 2)],
            "over_target": ratio > (CONTAINMENT_TARGET_RATIO if handler in CONTAINMENT_HANDLERS else TARGET_RATIO),
            "containment": handler in CONTAINMENT_HANDLERS,
        }
        if handler in CRITICAL_PATH_HANDLERS:
            result[handler]["import_costs"] = import_costs(handler, env)
    return {"rounds": rounds, "target_ratio": TARGET_RATIO, "handlers": result}


_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def instructions(handlers: list[str], code_dir: str | Path) -> dict[str, Any] | None:
    """The same comparison in instructions executed (valgrind's callgrind), which, unlike wall time,
    is the same on every run whatever else the machine is doing: handler and floor each less an
    empty interpreter's start-up, one sample each. None when valgrind is not installed."""
    if shutil.which("valgrind") is None:
        return None
    env = environment(code_dir)

    def count(script: str) -> int:
        ran = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c", script],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        match = _COLLECTED.search(ran.stderr)
        if match is None:
            raise RuntimeError(f"callgrind printed no count: {ran.stderr[-500:]}")
        return int(match.group(1))

    start_up = count("pass")
    floors: dict[tuple[str, ...], int] = {}
    result: dict[str, Any] = {"interpreter_start_up": start_up, "handlers": {}}
    for handler in handlers:
        services = CLIENTS.get(handler, ())
        if services not in floors:
            floors[services] = count(floor_script(services)) - start_up
        own = count(handler_script(handler)) - start_up
        result["handlers"][handler] = {
            "handler": own,
            "floor": floors[services],
            "ratio": round(own / floors[services], 3),
            "over_target": own / floors[services] > CONTAINMENT_TARGET_RATIO,
        }
    return result


_IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def import_costs(handler: str, env: dict[str, str], top: int = 6) -> list[dict[str, Any]]:
    """What the handler imports beyond the floor (python -X importtime, one sample): top packages by self time."""
    own = _self_times(sample(handler_script(handler), env, "-X", "importtime").stderr)
    floor = _self_times(sample(floor_script(CLIENTS.get(handler, ())), env, "-X", "importtime").stderr)
    extra: dict[str, int] = {}
    for module, micros in own.items():
        if module not in floor:
            package = module.split(".")[0]
            extra[package] = extra.get(package, 0) + micros
    ranked = sorted(extra.items(), key=lambda item: item[1], reverse=True)[:top]
    return [{"package": package, "self_ms": round(micros / 1000, 1)} for package, micros in ranked]


def _self_times(stderr: str) -> dict[str, int]:
    times: dict[str, int] = {}
    for line in stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if match:
            times[match.group(4)] = int(match.group(1))
    return times
