"""Every response action is whole: the meta-test of the declarations (lambdas/<package>/action.py,
common.action.Action), the way Cloud Custodian checks each of its actions.

For each declared action, `problems(action)` names every part that is missing or does not hold:

* its package: the declaration lives in its own package, its state and steps are its own (no other action, and
  no core step, has them), it has a manual text for a task that fails whole;
* its place: infra/workflow.py places it exactly once (ON_THE_INSTANCE or AFTER_EVICTION), an instance action
  says how an instance group's members take it;
* its grants: they are its package's permissions.GRANTS, and they cover exactly the AWS calls its code makes
  (the static analysis of test_least_privilege.py, from its handler);
* its settings: each switch's cdk.json key is unique, and the environment it sets is read by the package's code;
* its undo: the module exists, answers each of its steps, and a test runs `responder release` on a drill where
  the action acted and compares what the drill reads back after it (`observed_after`);
* its probes: an action granted an EC2 write that takes DryRun declares a probe, and the probe asks only what
  it is granted;
* what the drill reads back: each field is one drill/observe.py fills;
* its clients, timeout and retry class: a client per AWS service its code calls, a timeout that outlasts a
  botocore call that gives up.

`test_a_declaration_that_misses_a_part_fails` shows each check failing on a declaration that misses that part.
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import botocore.session
import pytest

from common.action import Action, actions
from common.aws import worst_call_seconds
from common.release import Undo
from infra.workflow import AFTER_EVICTION, ON_THE_INSTANCE
from tests.infra.test_least_privilege import code_actions

ROOT = Path(__file__).resolve().parents[2]
LAMBDAS = ROOT / "lambdas"
TESTS = ROOT / "tests"
OBSERVE = ROOT / "drill" / "observe.py"
# The names a test calls to run `responder release` in the drill (drill/faults.py, tests/e2e/test_drill_release.py).
RELEASE_CALLS = {"release_incident", "release_as_the_cli_does", "release_the_incident"}
# An AWS service's client name where it differs from its IAM prefix.
CLIENT_OF = {"elasticloadbalancing": ("elbv2", "elb")}
# Services a function reaches through another's call (SSE-KMS behind S3), not with a client of its own.
NO_CLIENT = {"kms"}


def _package_source(package: str) -> str:
    return "\n".join(path.read_text() for path in sorted((LAMBDAS / package).glob("*.py")))


@cache
def _string_constants(path: Path) -> frozenset[str]:
    tree = ast.parse(path.read_text())
    return frozenset(n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str))


@cache
def _release_tests() -> tuple[tuple[str, frozenset[str]], ...]:
    """(test, the strings it names) for every test function that runs a release and reads the state after it."""
    found = []
    for path in sorted(TESTS.rglob("test_*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test"):
                continue
            names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            strings = {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
            if names & RELEASE_CALLS and "observed_after" in strings:
                found.append((f"{path.relative_to(ROOT)}::{node.name}", frozenset(strings)))
    return tuple(found)


def _dry_run_operations() -> frozenset[str]:
    model = botocore.session.get_session().get_service_model("ec2")
    return frozenset(
        name
        for name in model.operation_names
        if "DryRun" in model.operation_model(name).input_shape.members and not name.startswith(("Describe", "Get"))
    )


def problems(action: Action, declared: tuple[Action, ...] | None = None) -> list[str]:
    declared = actions() if declared is None else declared
    others = [other for other in declared if other.package != action.package]
    found: list[str] = []

    # -- its package --------------------------------------------------------------------------------------------
    if not (LAMBDAS / action.package / "action.py").is_file():
        found.append(f"package: lambdas/{action.package}/action.py does not exist")
    if not action.steps:
        found.append("steps: none declared")
    if shared := {step for other in others for step in other.steps} & set(action.steps):
        found.append(f"steps: {sorted(shared)} are another action's")
    if action.state in {other.state for other in others} or not action.state[:1].isupper():
        found.append(f"state: {action.state!r} is not a task name of its own")
    if not action.manual.strip():
        found.append("manual: no text for a person when its task fails whole")

    # -- its place ----------------------------------------------------------------------------------------------
    places = [*ON_THE_INSTANCE, *AFTER_EVICTION].count(action.package)
    if places != 1:
        found.append(f"place: infra/workflow.py places it {places} times (ON_THE_INSTANCE or AFTER_EVICTION)")
    if action.package in ON_THE_INSTANCE and not (action.group and action.group_state):
        found.append("group: an instance action says how an instance group's members take it (group, group_state)")
    if action.package not in ON_THE_INSTANCE and (action.group or action.group_state):
        found.append("group: only an action on the instance takes an instance group's members")

    # -- its grants cover its calls, and no more -------------------------------------------------------------
    try:
        permissions = importlib.import_module(f"{action.package}.permissions")
    except ModuleNotFoundError:
        permissions = None
    if permissions is None or action.grants is not getattr(permissions, "GRANTS", None):
        found.append(f"grants: not lambdas/{action.package}/permissions.py's GRANTS")
    granted = {name for grant in action.grants for name in grant["actions"]}
    called = code_actions(action.entry_point) if (LAMBDAS / action.package).is_dir() else {}
    if missing := sorted(set(called) - granted):
        found.append(f"grants: its code calls {missing} without a grant")
    if unused := sorted(granted - set(called)):
        found.append(f"grants: {unused} granted but never called")

    # -- its settings -------------------------------------------------------------------------------------------
    source = _package_source(action.package) if (LAMBDAS / action.package).is_dir() else ""
    contexts = {switch.context for other in others for switch in other.switches}
    for switch in action.switches:
        if switch.context in contexts:
            found.append(f"switch: {switch.context} is another action's cdk.json key")
        for env in (switch.env, switch.dry_run_env):
            if env and f'"{env}"' not in source:
                found.append(f"switch: its code never reads {env}")
        if not switch.meaning.strip():
            found.append(f"switch: {switch.context} says nothing of what it does")
    if not action.switches:
        found.append("switch: none (every action can be turned off, or put in dry-run)")

    # -- its undo -----------------------------------------------------------------------------------------------
    try:
        reversals = importlib.import_module(action.undo).reversals
    except (ModuleNotFoundError, AttributeError):
        found.append(f"undo: {action.undo}.reversals does not exist")
    else:
        clients = {name: MagicMock(name=name) for name in {"iam", *action.clients}}
        answers = []
        for name in action.steps:
            step = {"name": name, "status": "done", "target": "t", "detail": "", "containment": False, "data": {}}
            answer = reversals(step, clients)
            if not isinstance(answer, Undo):
                found.append(f"undo: {action.undo} answers step {name} with {answer!r}, not an Undo")
            answers.append(answer)
        if answers and not any(isinstance(a, Undo) and a.reversals for a in answers):
            found.append(f"undo: {action.undo} reverses none of its steps")
    exercised = [test for test, strings in _release_tests() if strings & set(action.observe)]
    if not exercised:
        found.append(
            "undo: no test runs `responder release` where it acted and reads back "
            f"{list(action.observe)} after it (observed_after)"
        )

    # -- its probes ---------------------------------------------------------------------------------------------
    writes = {name.split(":", 1)[1] for name in granted if name.startswith("ec2:")} & _dry_run_operations()
    if writes and not action.probe:
        found.append(f"probe: granted {sorted(writes)}, which EC2 can dry-run, and declares no probe")
    if action.probe:
        try:
            dry_runs = importlib.import_module(action.probe).dry_runs
        except (ModuleNotFoundError, AttributeError):
            found.append(f"probe: {action.probe}.dry_runs does not exist")
        else:
            target = {"instance": "i-0", "eni": "eni-0", "group": "sg-0", "vpc": "vpc-0"}
            asked = {
                "".join(part.capitalize() for part in call["operation"].split("_")) for call in dry_runs(target, "m")
            }
            if ungranted := sorted(asked - {name.split(":", 1)[1] for name in granted if name.startswith("ec2:")}):
                found.append(f"probe: asks {ungranted}, which it is not granted")

    # -- what the drill reads back ---------------------------------------------------------------------------
    if not action.observe:
        found.append("observe: nothing the drill reads back shows its effect")
    if unread := sorted(set(action.observe) - _string_constants(OBSERVE)):
        found.append(f"observe: drill/observe.py fills no field {unread}")

    # -- clients, timeout, retry ------------------------------------------------------------------------------
    services = {name.split(":", 1)[0] for name in called} - NO_CLIENT
    for service in sorted(services):
        if not set(CLIENT_OF.get(service, (service,))) & set(action.clients):
            found.append(f"clients: its code calls {service} and declares no client for it")
    if action.timeout_seconds <= worst_call_seconds():
        found.append(f"timeout: {action.timeout_seconds}s does not outlast one AWS call ({worst_call_seconds()}s)")
    return found


@pytest.mark.parametrize("action", actions(), ids=lambda action: action.package)
def test_every_declared_action_is_whole(action: Action) -> None:
    assert problems(action) == []


def test_every_package_with_a_handler_and_an_undo_is_declared() -> None:
    """A response action is found by its declaration: a package with a release module and no action.py is not."""
    undone = {path.parent.name for path in LAMBDAS.glob("*/release.py")} - {"common"}
    assert undone == {action.package for action in actions()}


def test_the_workflow_places_only_declared_actions() -> None:
    assert set(ON_THE_INSTANCE) | set(AFTER_EVICTION) == {action.package for action in actions()}


def _broken() -> list[tuple[str, Any, str]]:
    one = actions()[0]
    other = actions()[-1]
    probed = next(action for action in actions() if action.probe)
    return [
        ("an EC2 write it may dry-run, and no probe", replace(probed, probe=""), "probe:"),
        ("no manual", replace(one, manual=""), "manual:"),
        ("another action's step", replace(one, steps=(*one.steps, other.steps[0])), "steps:"),
        ("grants that miss a call", replace(one, grants=one.grants[1:]), "grants: its code calls"),
        ("an undo module that does not exist", replace(one, undo=f"{one.package}.no_such_release"), "undo:"),
        ("an undo nothing exercises", replace(one, observe=("nothing_reads_this",)), "undo: no test"),
        (
            "a switch its code never reads",
            replace(one, switches=(replace(one.switches[0], env="NOT_READ"),)),
            "switch:",
        ),
        ("no switch", replace(one, switches=()), "switch:"),
        ("a package the workflow does not place", replace(one, package="not_placed"), "place:"),
        ("no client for a service it calls", replace(one, clients=()), "clients:"),
        ("a timeout shorter than one call", replace(one, timeout_seconds=1), "timeout:"),
    ]


@pytest.mark.parametrize(
    ("what", "broken", "complaint"), _broken(), ids=lambda value: value if isinstance(value, str) else ""
)
def test_a_declaration_that_misses_a_part_fails(what: str, broken: Action, complaint: str) -> None:
    assert any(problem.startswith(complaint) for problem in problems(broken)), (what, problems(broken))
