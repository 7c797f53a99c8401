"""A burst: N distinct exposed-key incidents through the drill, all against ONE simulated account.

Each incident is the classic Health event (tests/events/health_exposed_key_classic.json) with its
own eventArn, communicationId, EventBridge id and key, owned by its own staged user (who also
holds a bystander key that must stay Active). All executions are started, then polled.

SimulatedAccount.run attributes API calls only while exactly one execution is recorded, so a
burst keeps its own accounting: a fault hook that never injects a fault but counts every
UpdateAccessKey per key, and a read-back of every key's status at the end. "Exactly once"
means: the key reads back Inactive and UpdateAccessKey was called for it once.
"""

from __future__ import annotations

import copy
import json
import math
import statistics
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from drill.account import SimulatedAccount
from drill.runner import _install_recorders
from drill.staging import Staged, _install_aws_managed_quarantine_policies
from drill.template import Synthesized

TEMPLATE = Path(__file__).resolve().parent.parent / "tests" / "events" / "health_exposed_key_classic.json"
POLL_SECONDS = 0.1


def health_event(template: dict[str, Any], index: int, access_key_id: str) -> dict[str, Any]:
    """The template event as a distinct incident: its own ids and its own exposed key."""
    event = copy.deepcopy(template)
    event["id"] = f"burst-{index:05d}-1234-1234-123456789012"
    detail = event["detail"]
    detail["eventArn"] = f"arn:aws:health:us-east-1::event/AWS_RISK_CREDENTIALS_EXPOSED_BURST{index:05d}"
    detail["communicationId"] = f"burst-{index:05d}"
    detail["affectedEntities"] = [{"entityValue": access_key_id}]
    return event


def run_burst(
    synthesized: Synthesized,
    n: int,
    *,
    concurrency: int | None = None,
    time_scale: float = 0.001,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Run n incidents; at most `concurrency` executions at once (None: start them all, then poll)."""
    template = json.loads(TEMPLATE.read_text())
    timeout = timeout if timeout is not None else 120.0 + 2.0 * n
    updates: Counter[str] = Counter()
    first_update: dict[str, float] = {}
    lock = threading.Lock()

    def count_updates(service: str, operation: str, params: dict[str, Any]) -> None:
        if (service, operation) == ("iam", "UpdateAccessKey") and params.get("Status") == "Inactive":
            with lock:
                updates[params["AccessKeyId"]] += 1
                first_update.setdefault(params["AccessKeyId"], time.perf_counter())
        return None  # never a fault: this hook only counts

    with SimulatedAccount(synthesized, time_scale=time_scale) as account:
        _install_aws_managed_quarantine_policies(account)
        _install_recorders(account, Staged(event=None), [])  # the Slack recorder, as the drill has it
        iam, sfn = account.client("iam"), account.client("stepfunctions")
        incidents: list[tuple[str, str, str]] = []  # (user, exposed key, bystander key)
        for index in range(n):
            user = f"burst-user-{index:05d}"
            iam.create_user(UserName=user)
            exposed = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
            bystander = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
            incidents.append((user, exposed, bystander))
        events = [health_event(template, index, exposed) for index, (_, exposed, _) in enumerate(incidents)]
        account.faults.append(count_updates)

        limit = concurrency or n
        pending = list(enumerate(events))
        started = time.perf_counter()
        deadline = time.monotonic() + timeout
        running = 0
        while pending or running:
            while pending and running < limit:
                index, event = pending.pop(0)
                sfn.start_execution(
                    stateMachineArn=account.state_machine_arn, name=f"burst-{index:05d}", input=json.dumps(event)
                )
                running += 1
            if time.monotonic() > deadline:
                raise TimeoutError(f"burst of {n}: {running} execution(s) still running after {timeout:.0f}s")
            time.sleep(POLL_SECONDS)
            running = _count(sfn, account.state_machine_arn, "RUNNING")
        seconds = time.perf_counter() - started

        statuses = Counter(execution["status"] for execution in _executions(sfn, account.state_machine_arn))
        read_back: dict[str, str] = {}
        for user, _, _ in incidents:
            for key in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
                read_back[key["AccessKeyId"]] = key["Status"]

    contained = sum(1 for _, key, _ in incidents if read_back.get(key) == "Inactive" and updates[key] == 1)
    lost = sum(1 for _, key, _ in incidents if read_back.get(key) != "Inactive" or updates[key] == 0)
    duplicated = sum(1 for _, key, _ in incidents if updates[key] > 1)
    bystanders_touched = sum(1 for _, _, key in incidents if read_back.get(key) != "Active" or updates[key])
    to_containment = sorted((first_update[key] - started) * 1000 for _, key, _ in incidents if key in first_update)
    return {
        "n": n,
        "contained": contained,
        "lost": lost,
        "duplicated": duplicated,
        "bystanders_touched": bystanders_touched,
        "executions": dict(sorted(statuses.items())),
        "seconds": round(seconds, 3),
        "per_incident_ms": round(seconds * 1000 / n, 2) if n else None,
        "to_containment_ms": _spread(to_containment),
        "concurrency": concurrency or n,
        "time_scale": time_scale,
    }


def _executions(sfn: Any, arn: str, status: str | None = None) -> list[dict[str, Any]]:
    arguments = {"stateMachineArn": arn, **({"statusFilter": status} if status else {})}
    return [item for page in sfn.get_paginator("list_executions").paginate(**arguments) for item in page["executions"]]


def _count(sfn: Any, arn: str, status: str) -> int:
    # moto's page token names the page's last execution: one that finishes while the pages are read
    # leaves the status-filtered list, and the token is then InvalidToken. The list changed: read it
    # again (listing every execution instead would cost each poll all N of them, slowing the burst).
    for _attempt in range(5):
        try:
            return len(_executions(sfn, arn, status))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "InvalidToken":
                raise
    return len(_executions(sfn, arn, status))


def _spread(values: list[float]) -> dict[str, float] | None:
    """Median, p95 and max, from the burst's start to each key's UpdateAccessKey."""
    if not values:
        return None
    p95 = values[math.ceil(0.95 * len(values)) - 1]  # nearest rank, as in bench/
    return {"median": round(statistics.median(values), 1), "p95": round(p95, 1), "max": round(values[-1], 1)}
