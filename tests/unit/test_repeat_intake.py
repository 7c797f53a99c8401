"""A repeat acts on what it brings that is new (incident.repeat, the first task's narrowing), and
says the rest (intake.record): moto DynamoDB, the real first task with a recording containment."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from incident.essentials import health_essentials
from incident.intake import first_task

EVENTS = Path(__file__).resolve().parent.parent / "events"
KEY_1, KEY_2 = "AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPL2"


def health(*keys: str, event_id: str = "e-1") -> dict[str, Any]:
    event = json.loads((EVENTS / "health_exposed_key_2025_event_metadata.json").read_text())
    event["id"] = event_id
    detail = event["detail"]
    detail["affectedEntities"] = [{"entityValue": key} for key in keys]
    detail["affectedAccount"] = detail["eventMetadata"]["accountId"] = event["account"] = "123456789012"
    detail["eventMetadata"].update(publicKey=keys[0], userName="test-1")
    event["resources"] = list(keys)
    return event


def deliver(event: dict[str, Any], execution: str) -> tuple[dict[str, Any], list[list[str]]]:
    contained: list[list[str]] = []

    def contain(essentials: Any) -> dict[str, Any]:
        contained.append([key["access_key_id"] for key in essentials.affected_keys])
        return {"steps": []}

    prepared = first_task(
        {"event": event, "execution_id": execution}, read=health_essentials, contain=contain, results_key="contain_keys"
    )
    return prepared["intake"], contained


@pytest.fixture
def table(dynamodb, monkeypatch) -> None:
    monkeypatch.setenv("INCIDENT_TABLE", "incidents")


def test_a_health_resend_naming_a_new_key_contains_that_key_alone(table, dynamodb) -> None:
    from record.finish import finish

    first, contained = deliver(health(KEY_1), "arn:exec:1")
    assert contained == [[KEY_1]] and first["record"]["response"] == 0
    finish(dynamodb, "incidents", first["incident"]["incident_id"], response=0, outcome="contained", reason="r",
           steps=[], notifications=[])  # fmt: skip
    again, contained = deliver(health(KEY_1, KEY_2, event_id="e-2"), "arn:exec:2")
    assert contained == [[KEY_2]]
    assert again["status"] == "accepted" and again["contained_at_intake"]
    assert [k["access_key_id"] for k in again["incident"]["affected_keys"]] == [KEY_2]
    record = again["record"]
    assert record["response"] == 1 and record["kind"] == "contain" and record["new"] == [f"key {KEY_2}"]
    assert [k["principal"] for k in record["known"]] == [f"key {KEY_1}"]
    assert f"key {KEY_2}: named for the first time" in record["summary"]
    # The same re-send again: nothing new, nothing contained, no message.
    silent, contained = deliver(copy.deepcopy(health(KEY_1, KEY_2, event_id="e-3")), "arn:exec:3")
    assert contained == [] and silent["status"] == "duplicate" and not silent["notify"]
