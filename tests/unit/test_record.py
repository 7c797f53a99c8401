"""The incident record: dedupe by conditional put, repeats, changes and the outcome (moto DynamoDB)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from incident.normalize import normalize
from record.store import RETENTION_DAYS, TIMELINE_FIRST, TIMELINE_LAST, finish, load, note, register

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
    _finish(dynamodb, "contained")
    rose = register(dynamodb, "incidents", finding(7), execution_arn="arn:exec:2", now=T0)
    assert rose.duplicate and rose.changed and rose.recontain and "from 1 to 7" in rose.reason
    same_again = register(dynamodb, "incidents", finding(7), execution_arn="arn:exec:3", now=T0)
    assert same_again.duplicate and not same_again.changed and not same_again.recontain
    record = load(dynamodb, "incidents", finding()["incident_id"])
    assert record["execution_arn"] == "arn:exec:2" and record["claim"] == "recontain"
    assert record["status"] == "contained"  # the response that acted keeps its outcome


def _finish(dynamodb, outcome: str, now: datetime = T0) -> None:
    finish(
        dynamodb,
        "incidents",
        finding()["incident_id"],
        outcome=outcome,
        reason="r",
        steps=[],
        notifications=[],
        now=now,
    )


def test_a_retry_of_the_first_task_is_the_same_execution(dynamodb) -> None:
    """H1: the first PutItem applied, its reply was lost; the retry must not eat the incident."""
    first = register(dynamodb, "incidents", finding(), execution_arn="arn:exec:1", now=T0)
    retry = register(dynamodb, "incidents", finding(), execution_arn="arn:exec:1", now=T0)
    assert not first.duplicate and not retry.duplicate
    record = load(dynamodb, "incidents", finding()["incident_id"])
    assert record["sightings"] == 1 and len(record["timeline"]) == 1


def test_a_retry_of_a_recontaining_first_task_recontains(dynamodb) -> None:
    register(dynamodb, "incidents", finding(1), execution_arn="arn:exec:1", now=T0)
    _finish(dynamodb, "contained")
    first = register(dynamodb, "incidents", finding(5), execution_arn="arn:exec:2", now=T0)
    retry = register(dynamodb, "incidents", finding(5), execution_arn="arn:exec:2", now=T0)
    assert first.recontain and retry.recontain and retry.reason == first.reason


def test_an_empty_execution_id_is_never_the_same_execution(dynamodb) -> None:
    register(dynamodb, "incidents", finding(), execution_arn="", now=T0)
    assert register(dynamodb, "incidents", finding(), execution_arn="", now=T0).duplicate


@pytest.mark.parametrize("outcome", ["failed", "partial", "surprising"])
def test_a_repeat_after_a_bad_outcome_runs_again(dynamodb, outcome: str) -> None:
    register(dynamodb, "incidents", finding(), execution_arn="arn:exec:1", now=T0)
    _finish(dynamodb, outcome)
    again = register(dynamodb, "incidents", finding(), execution_arn="arn:exec:2", now=T0)
    assert not again.duplicate and "runs again" in again.reason
    record = load(dynamodb, "incidents", finding()["incident_id"])
    assert record["status"] == "responding" and record["execution_arn"] == "arn:exec:2"
    # A third delivery while the re-run is responding is a silent duplicate.
    assert register(dynamodb, "incidents", finding(), execution_arn="arn:exec:3", now=T0).duplicate


def test_a_record_left_responding_past_the_timeout_is_taken_over(dynamodb) -> None:
    register(dynamodb, "incidents", finding(), execution_arn="arn:exec:dead", now=T0)
    soon = register(
        dynamodb,
        "incidents",
        finding(),
        execution_arn="arn:exec:2",
        now=T0 + timedelta(minutes=30),
        stale_after_seconds=3600,
    )
    assert soon.duplicate and "still running" in soon.reason
    late = register(
        dynamodb,
        "incidents",
        finding(),
        execution_arn="arn:exec:3",
        now=T0 + timedelta(minutes=61),
        stale_after_seconds=3600,
    )
    assert not late.duplicate and "arn:exec:dead" in late.reason and "60-minute timeout" in late.reason
    record = load(dynamodb, "incidents", finding()["incident_id"])
    assert record["execution_arn"] == "arn:exec:3" and record["started_at"] == "2026-11-20T04:06:00Z"


def test_only_one_of_two_concurrent_repeats_takes_over(dynamodb) -> None:
    """Both read the record as failed; the second's take-over is conditional on the first holder."""
    from record import store

    register(dynamodb, "incidents", finding(), execution_arn="arn:exec:1", now=T0)
    _finish(dynamodb, "failed")
    old = load(dynamodb, "incidents", finding()["incident_id"])
    winner = register(dynamodb, "incidents", finding(), execution_arn="arn:exec:2", now=T0)
    loser = store._repeat(dynamodb, "incidents", finding(), old, "arn:exec:3", "2026-11-20T03:05:00Z", 1, T0, 3600)
    assert not winner.duplicate
    assert loser.duplicate and "another execution" in loser.reason


def test_a_stuck_run_that_reports_meanwhile_is_not_taken_over(dynamodb) -> None:
    from record import store

    register(dynamodb, "incidents", finding(), execution_arn="arn:exec:slow", now=T0)
    judged_stuck = load(dynamodb, "incidents", finding()["incident_id"])
    _finish(dynamodb, "contained")  # the slow run reports between the read and the take-over
    late = T0 + timedelta(hours=7)
    repeat = store._repeat(dynamodb, "incidents", finding(), judged_stuck, "arn:exec:2", "x", 1, late, 3600)
    assert repeat.duplicate
    record = load(dynamodb, "incidents", finding()["incident_id"])
    assert record["status"] == "contained" and record["execution_arn"] == "arn:exec:slow"


def test_the_timeline_stays_bounded(dynamodb) -> None:
    incident = finding()
    register(dynamodb, "incidents", incident, execution_arn="arn:exec:1", now=T0)
    _finish(dynamodb, "contained")
    for number in range(TIMELINE_FIRST + TIMELINE_LAST + 25):
        register(dynamodb, "incidents", incident, execution_arn=f"arn:exec:r{number}", now=T0)
    note(dynamodb, "incidents", incident["incident_id"], "x" * 5000, now=T0)
    record = load(dynamodb, "incidents", incident["incident_id"])
    timeline = record["timeline"]
    assert len(timeline) == TIMELINE_FIRST + TIMELINE_LAST
    assert timeline[0]["what"].startswith("received ") and timeline[1]["what"] == "reported: contained"
    assert len(timeline[-1]["what"]) <= 300
    entries = 2 + (TIMELINE_FIRST + TIMELINE_LAST + 25) + 1  # received, reported, the repeats, the note
    assert int(record["timeline_dropped"]) == entries - len(timeline)
    assert int(record["sightings"]) == TIMELINE_FIRST + TIMELINE_LAST + 26


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
    retried = handler({"event": event, "execution_id": "arn:exec:1"}, lambda_context)
    second = handler({"event": event, "execution_id": "arn:exec:2"}, lambda_context)
    assert first["status"] == "accepted" and first["notify"] and not first["recontain"]
    assert retried["status"] == "accepted"
    assert second["status"] == "duplicate" and not second["notify"] and not second["recontain"]


def test_handler_asks_to_recontain_when_the_count_rises(dynamodb, lambda_context, monkeypatch) -> None:
    from incident.handler import handler

    monkeypatch.setenv("INCIDENT_TABLE", "incidents")
    event = json.loads((EVENTS / "guardduty_exfil_outside_realistic.json").read_text())
    handler({"event": event, "execution_id": "arn:exec:1"}, lambda_context)
    _finish(dynamodb, "contained")
    event["detail"]["service"]["count"] = int(event["detail"]["service"]["count"]) + 3
    intake = handler({"event": event, "execution_id": "arn:exec:2"}, lambda_context)
    assert intake["status"] == "duplicate" and intake["notify"] and intake["recontain"]
    assert "still in use" in intake["reason"]


@pytest.mark.parametrize("event", [[1, 2], "just a string", 7, None])
def test_handler_ignores_what_is_not_an_object(dynamodb, lambda_context, monkeypatch, event) -> None:
    from incident.handler import handler

    monkeypatch.setenv("INCIDENT_TABLE", "incidents")
    for call in (event, {"event": event, "execution_id": ["not", "a", "string"]}):
        intake = handler(call, lambda_context)
        assert intake["status"] == "ignored" and "expected a JSON object" in intake["reason"]


def test_handler_contains_even_without_its_table(dynamodb, lambda_context, monkeypatch) -> None:
    from incident.handler import handler

    monkeypatch.setenv("INCIDENT_TABLE", "no-such-table")
    event = json.loads((EVENTS / "guardduty_exfil_outside_realistic.json").read_text())
    intake = handler({"event": event, "execution_id": "arn:exec:1"}, lambda_context)
    assert intake["status"] == "accepted"
    assert "dedupe skipped" in intake["reason"]


def test_handler_without_a_table_setting_says_dedupe_was_skipped(lambda_context, monkeypatch) -> None:
    from incident.handler import handler

    monkeypatch.delenv("INCIDENT_TABLE", raising=False)
    event = json.loads((EVENTS / "guardduty_exfil_outside_realistic.json").read_text())
    intake = handler({"event": event, "execution_id": "arn:exec:1"}, lambda_context)
    assert intake["status"] == "accepted"
    assert intake["reason"].endswith("(INCIDENT_TABLE is not set: no incident record, dedupe skipped)")


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
