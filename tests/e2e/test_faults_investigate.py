"""Fault drills of the investigation: the state's size, exemptions, and what a trail can hide or disguise.

Each asserts what the simulated account shows afterwards (`observed`), or for the size drill what Step
Functions itself held (the execution history), not what the workflow says it did."""

from __future__ import annotations

import json
from typing import Any

import pytest

from drill.account import SimulatedAccount
from drill.faults import (
    EXEMPT_CREATED_KEY,
    LARGEST_EVENT_BYTES,
    NOISE_CALLS,
    NOISY_BACKDOOR_KEY,
    THIEF_KEY,
    WORKLOAD_KEY,
)

pytestmark = [pytest.mark.drill, pytest.mark.xdist_group("drill-faults")]
STATE_LIMIT = 262_144  # Step Functions: 256 KiB per state input, output and task result


def _email(result: dict[str, Any]) -> str:
    (email,) = [n for n in result["notifications"] if n["channel"] == "email"]
    return email["text"]


def _sizes(history: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    """(bytes, event type, field) of every input, output and task parameters in the execution history."""
    sizes = []
    for event in history:
        for key, details in event.items():
            if not key.endswith("EventDetails") or not isinstance(details, dict):
                continue
            for field in ("input", "output", "parameters"):
                if isinstance(details.get(field), str):
                    sizes.append((len(details[field].encode()), event["type"], field))
    return sizes


def test_largest_state_stays_under_the_step_functions_limit(drill_runs) -> None:
    run = drill_runs.fault("largest-state")
    result, records = run.result, run.executions

    ((event_bytes, record),) = records
    assert LARGEST_EVENT_BYTES - 1024 < event_bytes <= LARGEST_EVENT_BYTES  # the biggest deliverable event
    sizes = _sizes(record.history)
    # The measurement sees the big event itself (the execution input): it can fail.
    assert max(sizes)[0] >= event_bytes
    over = [size for size in sizes if size[0] >= STATE_LIMIT]
    assert over == [], f"states over 256 KiB (moto does not enforce the limit): {over}"
    # ...and the biggest investigation: every call read, hundreds of persistence calls, a hundred keys
    investigation = result["investigation"]
    assert investigation["events_found"] > 3000
    assert investigation["evidence"]
    inactive = [key for key, status in result["observed"]["access_keys"].items() if status == "Inactive"]
    # Hundreds of back-door users are more than the reach holds (its bound): the first are held, what is left
    # is named, and the outcome says the attack is not wholly contained.
    assert len(inactive) > 10
    assert result["outcome"] == "partial" and "the reach's bound left" in result["reason"], result["reason"]
    assert {n["channel"] for n in result["notifications"]} == {"email", "slack"}


def test_largest_state_on_the_instance_path_with_its_parallel_copies(synthesized, monkeypatch) -> None:
    from drill.faults import EVENTS, _largest_instance_state
    from drill.runner import run_event_file

    records = []
    original = SimulatedAccount.run

    def run(self: SimulatedAccount, event: dict[str, Any], **kwargs: Any) -> Any:
        record = original(self, event, **kwargs)
        records.append((len(json.dumps(event).encode()), record))
        return record

    monkeypatch.setattr(SimulatedAccount, "run", run)
    result = run_event_file(
        EVENTS / "guardduty_exfil_outside_realistic.json",
        synthesized,
        time_scale=0.001,
        setup=_largest_instance_state,
        environment={"LOOKUP_MAX_EVENTS_PER_REGION": "10000"},
    )

    ((event_bytes, record),) = records
    assert event_bytes > LARGEST_EVENT_BYTES - 1024
    sizes = _sizes(record.history)
    assert max(sizes)[0] >= event_bytes
    assert [size for size in sizes if size[0] >= STATE_LIMIT] == []
    assert result["investigation"]["events_found"] > 2500
    assert "EvidenceAndInvestigation" in result["execution"]["states"]
    assert result["outcome"] == "partial" and "the reach's bound left" in result["reason"], result["reason"]
    assert {n["channel"] for n in result["notifications"]} == {"email", "slack"}
    doors = [key for key, status in result["observed"]["access_keys"].items() if status == "Inactive"]
    assert len(doors) > 10  # the first back doors, up to the reach's bound; the rest named in the report


def test_exempt_automation_key_stays_active(drill_runs) -> None:
    result = drill_runs.fault("exempt-automation").result

    created = result["staged"][EXEMPT_CREATED_KEY]
    assert result["observed"]["access_keys"][created] == "Active"
    assert set(result["observed"]["access_keys"].values()) == {"Active"}  # nothing was changed
    assert result["outcome"] == "failed"
    assert "exempted by configuration" in result["reason"]
    reported = [s for s in result["steps"] if s["name"] == "deactivate-backdoor-key"]
    assert reported and all(s["status"] == "skipped" and "exempted" in s["detail"] for s in reported)


def test_quarantine_impostor_is_reported_as_persistence(drill_runs) -> None:
    result = drill_runs.fault("quarantine-impostor").result

    persistence = {
        (c["event_name"], json.dumps(c["created"], sort_keys=True))
        for c in result["investigation"]["persistence_calls"]
    }
    names = {name for name, _ in persistence}
    assert {"PutUserPolicy", "AttachRolePolicy"} <= names
    assert "AttachUserPolicy" not in names  # AWS's real quarantine of the exposed user is not the attacker's
    email = _email(result)
    assert "PERSISTENCE PutUserPolicy" in email and "AWSCompromisedKeyQuarantineV9" in email
    # observed: the exposed key is off, and AWS's quarantine is on its user
    policies = result["observed"]["user_policies"]
    assert "AWSCompromisedKeyQuarantineV3" in policies["test-1"]  # the exposed key's user (the event's)
    # ...and the impostor's user, which the attacker created, is evicted: its "quarantine" is no cover
    assert "CredentialResponderEviction" in policies["backdoor-admin"]


def test_noisy_trail_cannot_hide_the_backdoor_key(drill_runs) -> None:
    result = drill_runs.fault("noisy-trail").result

    assert result["observed"]["access_keys"][result["staged"][NOISY_BACKDOOR_KEY]] == "Inactive"
    (main, *_) = [s for s in result["steps"] if s["name"] == "investigate-cloudtrail"]
    assert main["status"] == "done" and "capped at 1000 events per look-up, newest first" in main["detail"]
    assert "read by name for the rest of the window" in main["detail"]
    assert result["outcome"] == "contained", result["reason"]
    assert result["investigation"]["events_found"] == 1001  # 1000 newest by key + the back door by name
    assert NOISE_CALLS > 1000


def test_workload_key_is_reported_not_deactivated(drill_runs) -> None:
    result = drill_runs.fault("workload-key").result

    # A credential made from the instance after the theft is unknown (the instance may be the attacker's): held
    # on doubt, with the undo that releases it. The thief's, from the finding's remote address, is the attacker's.
    keys = result["observed"]["access_keys"]
    assert keys[result["staged"][WORKLOAD_KEY]] == "Inactive"
    assert keys[result["staged"][THIEF_KEY]] == "Inactive"
    workload = [s for s in result["steps"] if s["target"] == result["staged"][WORKLOAD_KEY]]
    assert workload and "held on doubt" in workload[0]["detail"] and "(instance-creates)" in workload[0]["detail"]
    thief = [s for s in result["steps"] if s["target"] == result["staged"][THIEF_KEY]]
    assert thief and "attacker's (finding-remote)" in thief[0]["detail"]
    assert result["outcome"] == "contained"
