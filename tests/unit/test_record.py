"""The incident record: dedupe by conditional put, repeats, changes and the outcome (moto DynamoDB)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from incident.normalize import normalize
from record.store import RETENTION_DAYS, finish, load, register

EVENTS = Path(__file__).resolve().parent.parent / "events"
T0 = datetime(2026, 11, 20, 3, 5, tzinfo=UTC)
# A float on purpose: DynamoDB refuses floats, so the store must convert them.
REVOKED = {
    "name": "revoke-role-sessions",
    "status": "done",
    "target": "web-app-role",
    "detail": "ok",
    "containment": True,
    "data": {"cutoff": "2026-11-20T03:05:00Z", "score": 0.5},
}


@pytest.fixture
def dynamodb(aws):
    client = boto3.client("dynamodb")
    client.create_table(
        TableName="incidents",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    return client


def finding(count: int = 1) -> dict:
    event = json.loads((EVENTS / "guardduty_exfil_outside_realistic.json").read_text())
    event["detail"]["service"]["count"] = count
    return normalize(event).incident.model_dump(mode="json")  # type: ignore[union-attr]


def test_first_delivery_is_recorded(dynamodb) -> None:
    registration = register(dynamodb, "incidents", finding(), execution_arn="arn:exec:1", now=T0)
    assert not registration.duplicate
    record = load(dynamodb, "incidents", finding()["incident_id"])
    assert record is not None
    assert record["status"] == "responding" and record["sightings"] == 1 and record["execution_arn"] == "arn:exec:1"
    assert int(record["expiration"]) == int(T0.timestamp()) + RETENTION_DAYS * 86400


def test_a_copy_is_a_silent_duplicate(dynamodb) -> None:
    register(dynamodb, "incidents", finding(), execution_arn="arn:exec:1", now=T0)
    again = register(dynamodb, "incidents", finding(), execution_arn="arn:exec:2", now=T0)
    assert again.duplicate and not again.changed and again.sightings == 2
    record = load(dynamodb, "incidents", finding()["incident_id"])
    assert record["sightings"] == 2 and len(record["timeline"]) == 2
    assert record["execution_arn"] == "arn:exec:1"  # the response that acted stays the one recorded


def test_a_rising_count_is_a_change_reported_once(dynamodb) -> None:
    register(dynamodb, "incidents", finding(1), execution_arn="arn:exec:1", now=T0)
    rose = register(dynamodb, "incidents", finding(7), execution_arn="arn:exec:2", now=T0)
    assert rose.duplicate and rose.changed and "from 1 to 7" in rose.reason
    same_again = register(dynamodb, "incidents", finding(7), execution_arn="arn:exec:3", now=T0)
    assert same_again.duplicate and not same_again.changed


def test_the_outcome_is_stored_and_finish_is_idempotent(dynamodb) -> None:
    incident = finding()
    register(dynamodb, "incidents", incident, execution_arn="arn:exec:1", now=T0)
    steps = [REVOKED]
    for _ in range(2):
        finish(
            dynamodb,
            "incidents",
            incident["incident_id"],
            outcome="contained",
            reason="ok",
            steps=steps,
            notifications=[{"channel": "email", "status": "sent", "text": "long body"}],
            now=T0,
        )
    record = load(dynamodb, "incidents", incident["incident_id"])
    assert record["status"] == "contained"
    assert record["steps"][0]["data"]["cutoff"] == "2026-11-20T03:05:00Z"
    assert "text" not in record["notifications"][0]
    assert [entry["what"] for entry in record["timeline"]][-1] == "reported: contained"


def test_handler_marks_the_repeat_and_silences_it(dynamodb, lambda_context, monkeypatch) -> None:
    from incident.handler import handler

    monkeypatch.setenv("INCIDENT_TABLE", "incidents")
    event = json.loads((EVENTS / "guardduty_exfil_outside_realistic.json").read_text())
    first = handler({"event": event, "execution_id": "arn:exec:1"}, lambda_context)
    second = handler({"event": event, "execution_id": "arn:exec:2"}, lambda_context)
    assert first["status"] == "accepted" and first["notify"]
    assert second["status"] == "duplicate" and not second["notify"]


def test_handler_contains_even_without_its_table(dynamodb, lambda_context, monkeypatch) -> None:
    from incident.handler import handler

    monkeypatch.setenv("INCIDENT_TABLE", "no-such-table")
    event = json.loads((EVENTS / "guardduty_exfil_outside_realistic.json").read_text())
    intake = handler({"event": event, "execution_id": "arn:exec:1"}, lambda_context)
    assert intake["status"] == "accepted"
    assert "dedupe skipped" in intake["reason"]


def test_a_repeat_report_only_adds_to_the_timeline(dynamodb) -> None:
    from record.store import note

    incident = finding()
    register(dynamodb, "incidents", incident, execution_arn="arn:exec:1", now=T0)
    steps = [REVOKED]
    finish(
        dynamodb,
        "incidents",
        incident["incident_id"],
        outcome="contained",
        reason="ok",
        steps=steps,
        notifications=[],
        now=T0,
    )
    note(dynamodb, "incidents", incident["incident_id"], "reported again: count rose", now=T0)
    record = load(dynamodb, "incidents", incident["incident_id"])
    assert record["status"] == "contained" and record["steps"][0]["name"] == "revoke-role-sessions"
    assert record["timeline"][-1]["what"] == "reported again: count rose"
