"""What `responder release` makes of a step: a Reversal (made with boto3 with the operator's credentials, read
back), or a note (what it leaves, and why). Each action's package says how its own steps are undone
(`<package>/release.py`, named by its declaration's `undo`); responder/release.py asks them.

Only the step's recorded `data` (the incident record) is read, never a tag on a resource, which whoever holds
the resource may have written. The recorded `undo` strings are never executed.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from common.aws import error_code


class ReleaseError(Exception):
    """A reversal was made but does not read back as expected, or cannot be made."""


@dataclass(frozen=True)
class Reversal:
    step: str
    target: str
    what: str
    run: Callable[[], str]  # makes the change, reads it back, returns what it read; raises on a mismatch


@dataclass
class Undo:
    """What release does for one step: its reversals and notes."""

    reversals: list[Reversal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# The clients of the incident's region (and IAM), by service name, as release made them.
Clients = Mapping[str, Any]


def data(step: Mapping[str, Any]) -> Mapping[str, Any]:
    return step.get("data") or {}


def words(step: Mapping[str, Any]) -> list[str]:
    return shlex.split(step.get("undo") or "")


def argument(step: Mapping[str, Any], flag: str) -> str | None:
    """The value after `flag` in the step's recorded undo command (read, never run)."""
    found = words(step)
    return next((found[i + 1] for i, word in enumerate(found[:-1]) if word == flag), None)


def tolerate_missing(call: Callable[[], Any]) -> None:
    """Already gone is what a reversal wants; the read-back that follows confirms it."""
    try:
        call()
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise


def region_unknown(step: Mapping[str, Any]) -> Undo:
    return Undo(
        notes=[
            f"{step['name']} {step.get('target', '?')}: not reversed, the incident's region is unknown; by hand: "
            f"{step.get('undo')}"
        ]
    )
