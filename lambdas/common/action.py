"""What a response action declares about itself, in its own package (`<package>/action.py`, `ACTION`), and how
the rest of the project finds them (`actions()`): the stack makes its function, the workflow runs it where
infra/workflow.py places it (the one line an action adds outside its package), the configuration takes its
switches, the report counts its steps, `responder release` undoes them, `responder check` probes it, the drill
reads back its effect, the bench measures its clients. tests/infra/test_actions.py fails when a declaration
misses a part, when its grants do not cover its calls, or when its undo is never exercised.

Pure data: importing a declaration imports nothing of the action's code.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

PACKAGES_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Switch:
    """A setting that turns (part of) the action off: the cdk.json key, the environment its function reads ("" when
    the switch only leaves the task out of the workflow), its dry-run entry (dryRunActions) with the environment that
    carries it, and what it does (docs/operations.md's configuration table prints it)."""

    context: str
    env: str
    dry_run: str
    dry_run_env: str
    meaning: str
    default: bool = True


@dataclass(frozen=True)
class Action:
    package: str
    state: str  # the task's name in the workflow, and its function's construct id
    steps: tuple[str, ...]  # the step names its results carry
    containment: bool  # whether its steps count for the outcome (CONTAINED needs each done)
    reach: bool  # it contains the attacker's reach, not the compromised credential itself
    grants: tuple[dict[str, Any], ...]  # the IAM it needs (its permissions.py): infra grants exactly these
    manual: str  # what a person does when its task fails outright ({instance}, {region}, {user} filled in)
    switches: tuple[Switch, ...]
    clients: tuple[str, ...]  # the AWS clients its entry point builds (the bench measures them)
    observe: tuple[str, ...]  # the fields of the drill's `observed` that show its effect
    undo: str  # the module whose `reversals(step, clients)` undo its steps (`responder release`)
    release_order: int  # when release reverses it, before higher numbers
    probe: str = ""  # the module whose `dry_runs(target, region)` check runs as DryRun calls
    timeout_seconds: int = 30
    memory_mb: int = 256
    retry_timeouts: bool = True  # idempotent: a task that timed out may run again
    group: Literal["", "at-once", "one-by-one"] = ""  # how an instance group's members take it
    group_state: str = ""  # its task's name in the instance group's Map
    uses: tuple[Literal["evidence"], ...] = ()  # shared resources it reads or writes
    answers: tuple[str, ...] = ()  # the kinds of reach item (reach.graph.Kind) it acts on, not the eviction
    handler: str = "handler.handler"

    @property
    def entry_point(self) -> str:
        return f"{self.package}.{self.handler}"


@cache
def actions() -> tuple[Action, ...]:
    """Every declared action, by package name."""
    found = []
    for module in pkgutil.iter_modules([str(PACKAGES_DIR)]):
        if module.ispkg and module.name != "common" and (PACKAGES_DIR / module.name / "action.py").is_file():
            found.append(importlib.import_module(f"{module.name}.action").ACTION)
    return tuple(sorted(found, key=lambda action: action.package))


def by_package(package: str) -> Action:
    found = next((action for action in actions() if action.package == package), None)
    if found is None:
        raise KeyError(f"no action is declared in lambdas/{package}/action.py")
    return found


def by_task(task: str) -> Action | None:
    """The action of a task's results or failures key: its package, `<package>_again` on the second pass."""
    return next((action for action in actions() if task in (action.package, f"{action.package}_again")), None)


def by_step(name: str) -> Action | None:
    return next((action for action in actions() if name in action.steps), None)


def containment_steps() -> frozenset[str]:
    return frozenset(step for action in actions() if action.containment for step in action.steps)


def reach_steps() -> frozenset[str]:
    return frozenset(step for action in actions() if action.reach for step in action.steps)


def answered(kind: str) -> Action | None:
    """The action that acts on this kind of reach item, if one is declared (the eviction then leaves it)."""
    return next((action for action in actions() if kind in action.answers), None)
