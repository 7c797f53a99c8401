"""Undo, against the drill's simulated account: after `release`, what the response changed is back."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from drill.faults import release_as_the_cli_does
from drill.runner import run_event_file

EVENTS = Path(__file__).resolve().parent.parent / "events"
pytestmark = [pytest.mark.drill, pytest.mark.xdist_group("drill-events")]


def release_incident(account: Any, staged: Any) -> dict[str, Any]:
    """What `python -m responder release INCIDENT --yes` does, with the simulated account's clients."""
    dynamodb = account.client("dynamodb")
    (item,) = dynamodb.scan(TableName=os.environ["INCIDENT_TABLE"])["Items"]
    return release_as_the_cli_does(account, staged, item["incident_id"]["S"])


def test_release_restores_an_exposed_key_incident(synthesized) -> None:
    result = run_event_file(EVENTS / "health_exposed_key_classic.json", synthesized, after=release_incident)
    assert result["outcome"] == "contained"
    assert result["observed"] != result["observed_before"]
    assert result["observed_after"] == result["observed_before"]
    assert all(status == "released" for _, status in result["after"]["outcomes"])
    assert any(what.startswith("released: ") for what in result["after"]["timeline"])
    # The release is a response of its own, and the record says the incident is released.
    assert result["after"]["responses"] == ["first", "release"] and result["after"]["status"] == "released"


def test_release_restores_an_instance_incident(synthesized) -> None:
    result = run_event_file(
        EVENTS / "crafted" / "guardduty_exfil_three_enis_two_vpcs.json", synthesized, after=release_incident
    )
    assert result["outcome"] == "contained"
    before, after = result["observed_before"], result["observed_after"]
    assert after["role_policies"] == before["role_policies"]
    assert after["instance_network"] == before["instance_network"]
    assert after["instance_protection"] == before["instance_protection"]
    assert after["instance_profiles"] == before["instance_profiles"] and all(before["instance_profiles"].values())
    # The evidence image is kept on purpose (deleting evidence is a person's decision).
    assert len(after["images"]) == 1 and before["images"] == []
    assert all(status == "released" for _, status in result["after"]["outcomes"])
