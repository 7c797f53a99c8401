"""The execution's first task and its in-state twin: every key of the event first (the containing calls), then each
owner's quarantine and sessions once (contain_key.handler)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from common.aws import client
from common.steps import StepResult
from contain_key.actions import confirm_inactive
from contain_key.one_key import deactivate, follow_up
from incident.essentials import Essentials

logger = Logger(service="credential-responder", child=True)


def contain_all(essentials: Essentials, context: Any) -> list[dict[str, Any]]:
    """Every key first (the containing calls), then each owner's quarantine and sessions once: one
    cut-off per user, written after all its keys are Inactive."""
    incident = essentials.as_incident()
    iam = client("iam")
    return _then_each_owner(iam, [deactivate(iam, incident, key, context) for key in essentials.affected_keys])


def finish_all(essentials: Essentials, contained: Any, context: Any) -> list[dict[str, Any]]:
    """After the state machine's UpdateAccessKey on each key (`contained`: the user each was set
    Inactive on): read each back, then each owner's quarantine and sessions once, as contain_all."""
    incident = essentials.as_incident()
    iam = client("iam")
    deactivated_on = {
        str(entry.get("access_key_id")): str(entry.get("user_name"))
        for entry in contained or []
        if isinstance(entry, dict) and entry.get("user_name")
    }
    per_key: list[tuple[list[StepResult], str | None]] = []
    for key in essentials.affected_keys:
        owner: str | None = deactivated_on.get(str(key["access_key_id"]))
        if owner is None:
            # Not one the state deactivated (cannot happen while it reads the event as essentials):
            # the whole rule, from the start.
            steps, owner = deactivate(iam, incident, key, context)
        else:
            steps = [confirm_inactive(iam, owner, str(key["access_key_id"]))]
            logger.info("access key contained", extra={"access_key_id": key["access_key_id"], "by": "state machine"})
        per_key.append((steps, owner))
    return _then_each_owner(iam, per_key)


def _then_each_owner(iam: Any, per_key: list[tuple[list[StepResult], str | None]]) -> list[dict[str, Any]]:
    """After every key's deactivation (its steps and owner): each owner's quarantine and sessions once, on its first
    key's steps."""
    owners: dict[str, int] = {}  # owner -> index of its first key
    for index, (_steps, owner) in enumerate(per_key):
        if owner is not None:
            owners.setdefault(owner, index)
    not_before = datetime.now(UTC)
    for owner, index in owners.items():
        per_key[index][0].extend(follow_up(iam, owner, not_before=not_before))
    return [{"steps": steps} for steps, _owner in per_key]
