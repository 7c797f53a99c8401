"""Reversible by declaration: every grant that can take something away or replace it (on IAM, EC2, load
balancers, Auto Scaling) is fenced by an IAM condition, or its package declares how it is undone (REVERSIBLE)
or the risk IAM cannot fence (RESIDUAL). A grant that is none of these fails, as the last test shows."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
SERVICES = ("iam:", "ec2:", "elasticloadbalancing:", "autoscaling:")
TAKES_AWAY = ("Delete", "Detach", "Disassociate", "Deregister", "Remove", "Revoke", "Terminate", "Disable")
REPLACES = ("Put", "Update", "Modify", "Replace", "Reset", "Set")


def destructive(action: str) -> bool:
    service, _, name = action.partition(":")
    return f"{service}:" in SERVICES and name.startswith((*TAKES_AWAY, *REPLACES))


def unfenced(module: Any, name: str | None = None) -> list[str]:
    """The destructive actions a permissions module grants with no fence it declares."""
    name = name or module.__name__
    declared = {**getattr(module, "REVERSIBLE", {}), **getattr(module, "RESIDUAL", {})}
    problems = []
    for grant in (*module.GRANTS, *getattr(module, "INDIRECT_GRANTS", ())):
        for action in grant["actions"]:
            if not destructive(action) or grant.get("conditions"):
                continue
            if not str(declared.get(action, "")).strip():
                problems.append(f"{name}: {action} takes away or replaces, with no condition, undo or stated risk")
    return problems


PACKAGES = sorted(path.parent.name for path in LAMBDAS.glob("*/permissions.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_every_destructive_grant_is_fenced_or_declared(package: str) -> None:
    assert not unfenced(importlib.import_module(f"{package}.permissions"))


def test_the_eviction_deletes_nothing_but_a_password_and_says_so() -> None:
    from evict import permissions

    granted = {action for grant in permissions.GRANTS for action in grant["actions"]}
    assert {a for a in granted if a.split(":")[1].startswith(TAKES_AWAY)} == {"iam:DeleteLoginProfile"}
    assert "iam:DeleteLoginProfile" in permissions.RESIDUAL


def test_no_function_may_detach_or_delete_a_policy_or_set_anything_active() -> None:
    granted = {
        action
        for package in PACKAGES
        for grant in importlib.import_module(f"{package}.permissions").GRANTS
        for action in grant["actions"]
    }
    assert not granted & {
        "iam:DetachUserPolicy", "iam:DetachRolePolicy", "iam:DeleteUserPolicy", "iam:DeleteRolePolicy",
        "iam:DeleteAccessKey", "iam:DeleteUser", "iam:DeleteRole", "iam:DeletePolicy", "iam:CreatePolicyVersion",
    }  # fmt: skip


def test_the_check_rejects_an_undeclared_destructive_grant() -> None:
    class Probe:
        GRANTS = (
            {"actions": ["iam:DeleteUser", "iam:GetUser"], "resources": ["*"], "why": "x"},
            {
                "actions": ["iam:DetachUserPolicy"],
                "resources": ["*"],
                "conditions": {"ArnEquals": {"iam:PolicyARN": "a"}},
            },
            {"actions": ["ec2:TerminateInstances"], "resources": ["*"], "why": "x"},
        )
        REVERSIBLE = {"ec2:TerminateInstances": ""}  # a declaration that says nothing is no declaration

    assert unfenced(Probe, "probe.permissions") == [
        "probe.permissions: iam:DeleteUser takes away or replaces, with no condition, undo or stated risk",
        "probe.permissions: ec2:TerminateInstances takes away or replaces, with no condition, undo or stated risk",
    ]
