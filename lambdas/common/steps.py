"""The result of one response step, as it travels through the state machine to the report.

Every action returns a list of these plain dicts (JSON-serialisable, no pydantic, so the
containment functions do not pay its import cost). The report derives the outcome from them.

    {"name": "deactivate-access-key", "status": "done", "target": "AKIA...",
     "detail": "key is Inactive (read back)", "undo": "aws iam update-access-key ...",
     "manual": null, "containment": true}
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NotRequired, TypedDict


class Status(StrEnum):
    DONE = "done"
    ALREADY_DONE = "already-done"
    SKIPPED = "skipped"
    FAILED = "failed"


class StepResult(TypedDict):
    name: str
    status: str
    target: str
    detail: str
    containment: bool
    undo: NotRequired[str | None]
    manual: NotRequired[str | None]
    data: NotRequired[dict[str, Any]]


def step(
    name: str,
    status: Status,
    target: str,
    detail: str,
    *,
    containment: bool = False,
    undo: str | None = None,
    manual: str | None = None,
    data: dict[str, Any] | None = None,
) -> StepResult:
    """Build a step result. `containment` marks the steps the outcome CONTAINED depends on;
    `undo` is the exact command that reverses a change; `manual` the one that finishes a
    failed or skipped step by hand."""
    result: StepResult = {
        "name": name,
        "status": str(status),
        "target": target,
        "detail": detail,
        "containment": containment,
    }
    if undo:
        result["undo"] = undo
    if manual:
        result["manual"] = manual
    if data:
        result["data"] = data
    return result


def succeeded(result: StepResult) -> bool:
    return result["status"] in (Status.DONE, Status.ALREADY_DONE)


def fold(steps: list[StepResult], where: str, limit: int) -> list[StepResult]:
    """At most `limit` steps, the rest folded into one step per (name, status, containment), so the outcome still
    counts each and names `where` every one is in full (a function's output must stay small: the state's 256 KiB
    holds every task's)."""
    if len(steps) <= limit:
        return steps
    kept = steps[: limit - 1]
    rest: dict[tuple[str, str, bool], list[StepResult]] = {}
    for item in steps[limit - 1 :]:
        rest.setdefault((item["name"], item["status"], item["containment"]), []).append(item)
    folded = [
        step(
            name,
            Status(status),
            f"{len(group)} more",
            f"{len(group)} more {name} step(s) {status}: {', '.join(s['target'] for s in group[:5])}"
            + (", ..." if len(group) > 5 else "")
            + f"; each in full, with its undo, in {where}",
            containment=containment,
            manual=f"every step's command is in {where}" if status in (Status.FAILED, Status.SKIPPED) else None,
        )
        for (name, status, containment), group in rest.items()
    ]
    return [*kept, *folded]
