"""The incident record: dedupe by conditional put, repeats judged by what they name, every response
appended with its own steps (moto DynamoDB)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from incident.normalize import normalize
from record.finish import finish, record_release
from record.item import ENTRY_MAX, RETENTION_DAYS, TIMELINE_FIRST, TIMELINE_LAST, entry, load
from record.principals import delivery_of
from record.registration import register
from record.repeat import repeat
from record.responses import overall_status, release_steps

EVENTS = Path(__file__).resolve().parent.parent / "events"
T0 = datetime(2026, 11, 20, 3, 5, tzinfo=UTC)
# A float on purpose: DynamoDB refuses floats, so the store must convert them.
REVOKED = {
    "name": "revoke-role-sessions",
    "status": "done",
    "target": "web-app-role",
    "detail": "ok",
    "containment": True,
    "undo": "aws iam delete-role-policy --role-name web-app-role --policy-name AWSRevokeOlderSessions",
    "data": {"cutoff": "2026-11-20T03:05:01Z", "score": 0.5},
}


def finding(count: int = 1, **detail: object) -> dict:
    event = json.loads((EVENTS / "guardduty_exfil_outside_realistic.json").read_text())
    event["detail"]["service"]["count"] = count
    for field, value in detail.items():
        if field in ("eventLastSeen",):
            event["detail"]["service"][field] = value
        elif field == "accessKeyId":
            event["detail"]["resource"]["accessKeyDetails"]["accessKeyId"] = value
        else:
            event["detail"][field] = value
    return normalize(event).incident.model_dump(mode="json")  # type: ignore[union-attr]


INCIDENT_ID = finding()["incident_id"]


def _finish(dynamodb, outcome: str, response: int = 0, steps: list | None = None, now: datetime = T0) -> str:
    return finish(
        dynamodb,
        "incidents",
        INCIDENT_ID,
        response=response,
        outcome=outcome,
        reason="r",
        steps=steps if steps is not None else [],
        notifications=[],
        now=now,
    )


def test_first_delivery_is_recorded_with_its_first_response(dynamodb) -> None:
    registration = register(dynamodb, "incidents", finding(), execution_arn="arn:exec:1", now=T0)
    assert not registration.duplicate and registration.response == 0 and registration.record_id == INCIDENT_ID
    record = load(dynamodb, "incidents", INCIDENT_ID)
    assert record is not None
    assert record["status"] == "responding" and record["sightings"] == 1 and record["execution_arn"] == "arn:exec:1"
    assert int(record["expiration"]) == int(T0.timestamp()) + RETENTION_DAYS * 86400
    (first,) = record["responses"]
    assert first["kind"] == "first" and first["execution_arn"] == "arn:exec:1"
    assert first["principals"] == ["role web-app-role"]
    assert "key ASIA4XKQ2EXAMPLE7Q3Z" in first["names"] and "instance i-0f8e7d6c5b4a39281" in first["names"]
    assert first["activity"] == {
        "count": 1,
        "last_seen": "2026-11-20T03:02:11.000Z",
        "updated_at": "2026-11-20T03:02:11.000Z",
    }


def test_a_copy_is_a_silent_duplicate(dynamodb) -> None:
    register(dynamodb, "incidents", finding(), execution_arn="arn:exec:1", now=T0)
    again = register(dynamodb, "incidents", finding(), execution_arn="arn:exec:2", now=T0)
    assert again.duplicate and not again.changed and again.sightings == 2 and again.response is None
    record = load(dynamodb, "incidents", INCIDENT_ID)
    assert record["sightings"] == 2 and len(record["timeline"]) == 2 and len(record["responses"]) == 1
    assert record["execution_arn"] == "arn:exec:1"  # the response that acted stays the one recorded


def test_a_rising_count_is_contained_again_and_told_once(dynamodb) -> None:
    register(dynamodb, "incidents", finding(1), execution_arn="arn:exec:1", now=T0)
    _finish(dynamodb, "contained")
    rose = register(dynamodb, "incidents", finding(7), execution_arn="arn:exec:2", now=T0)
    assert rose.duplicate and rose.changed and rose.recontain and "from 1 to 7" in rose.reason
    assert [a["principal"] for a in rose.again] == ["role web-app-role"] and rose.response == 1
    same_again = register(dynamodb, "incidents", finding(7), execution_arn="arn:exec:3", now=T0)
    assert same_again.duplicate and not same_again.changed and not same_again.recontain
    assert "still running" in same_again.reason  # the re-containment is running: it reports
    record = load(dynamodb, "incidents", INCIDENT_ID)
    assert record["execution_arn"] == "arn:exec:2"
    assert [r["kind"] for r in record["responses"]] == ["first", "recontain"]
    assert record["responses"][0]["outcome"] == "contained"  # the response that acted keeps its outcome


def test_activity_after_the_cut_off_is_contained_again(dynamodb) -> None:
    """N11: the earlier cut-off is compared with the repeat's activity, not inherited."""
    register(dynamodb, "incidents", finding(), execution_arn="arn:exec:1", now=T0)
    _finish(dynamodb, "contained", steps=[REVOKED])
    before = register(dynamodb, "incidents", finding(eventLastSeen="2026-11-20T03:05:00Z"), execution_arn="e2", now=T0)
    assert before.duplicate and not before.changed  # activity before the cut-off 03:05:01: covered
    later = finding(eventLastSeen="2026-11-20T03:40:00.000Z")
    after = register(dynamodb, "incidents", later, execution_arn="arn:exec:3", now=T0)
    assert after.duplicate and after.recontain
    assert "activity at 2026-11-20T03:40:00Z, after its cut-off at 2026-11-20T03:05:01Z" in after.reason


def test_fresh_credentials_of_the_role_are_contained_again(dynamodb) -> None:
    register(dynamodb, "incidents", finding(), execution_arn="arn:exec:1", now=T0)
    _finish(dynamodb, "contained", steps=[REVOKED])
    fresh = register(dynamodb, "incidents", finding(accessKeyId="ASIA4XKQ2EXAMPLE9999"), execution_arn="e2", now=T0)
    assert fresh.recontain and "ASIA4XKQ2EXAMPLE9999" in fresh.reason


def test_a_retry_of_the_first_task_is_the_same_execution(dynamodb) -> None:
    """H1: the first PutItem applied, its reply was lost; the retry must not eat the incident."""
    first = register(dynamodb, "incidents", finding(), execution_arn="arn:exec:1", now=T0)
    retry = register(dynamodb, "incidents", finding(), execution_arn="arn:exec:1", now=T0)
    assert not first.duplicate and not retry.duplicate and retry.response == 0
    record = load(dynamodb, "incidents", INCIDENT_ID)
    assert record["sightings"] == 1 and len(record["timeline"]) == 1


def test_a_retry_of_a_recontaining_first_task_recontains(dynamodb) -> None:
    register(dynamodb, "incidents", finding(1), execution_arn="arn:exec:1", now=T0)
    _finish(dynamodb, "contained")
    first = register(dynamodb, "incidents", finding(5), execution_arn="arn:exec:2", now=T0)
    retry = register(dynamodb, "incidents", finding(5), execution_arn="arn:exec:2", now=T0)
    assert first.recontain and retry.recontain and retry.reason == first.reason
    assert retry.response == first.response == 1 and retry.again == first.again


def test_an_empty_execution_id_is_never_the_same_execution(dynamodb) -> None:
    register(dynamodb, "incidents", finding(), execution_arn="", now=T0)
    assert register(dynamodb, "incidents", finding(), execution_arn="", now=T0).duplicate


@pytest.mark.parametrize("outcome", ["failed", "partial", "surprising"])
def test_a_repeat_after_a_bad_outcome_runs_again(dynamodb, outcome: str) -> None:
    register(dynamodb, "incidents", finding(), execution_arn="arn:exec:1", now=T0)
    _finish(dynamodb, outcome)
    again = register(dynamodb, "incidents", finding(), execution_arn="arn:exec:2", now=T0)
    assert not again.duplicate and "runs again" in again.reason and not again.narrow
    record = load(dynamodb, "incidents", INCIDENT_ID)
    assert record["status"] == "responding" and record["execution_arn"] == "arn:exec:2"
    assert [r["kind"] for r in record["responses"]] == ["first", "rerun"]
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
    record = load(dynamodb, "incidents", INCIDENT_ID)
    assert record["execution_arn"] == "arn:exec:3" and record["responses"][1]["started_at"] == "2026-11-20T04:06:00Z"


def test_only_one_of_two_concurrent_repeats_takes_over(dynamodb) -> None:
    """Both read the record as failed; the second's claim is conditional on the responses it read."""
    register(dynamodb, "incidents", finding(), execution_arn="arn:exec:1", now=T0)
    _finish(dynamodb, "failed")
    old = load(dynamodb, "incidents", INCIDENT_ID)
    winner = register(dynamodb, "incidents", finding(), execution_arn="arn:exec:2", now=T0)
    loser = repeat(
        dynamodb,
        "incidents",
        INCIDENT_ID,
        old,
        delivery_of(finding()),
        execution_arn="e3",
        now=T0,
        stale_after_seconds=3600,
    )
    assert not winner.duplicate
    assert loser.duplicate and "another execution" in loser.reason
    assert len(load(dynamodb, "incidents", INCIDENT_ID)["responses"]) == 2


def test_a_stuck_run_that_reports_meanwhile_is_not_taken_over(dynamodb) -> None:
    register(dynamodb, "incidents", finding(), execution_arn="arn:exec:slow", now=T0)
    judged_stuck = load(dynamodb, "incidents", INCIDENT_ID)
    _finish(dynamodb, "contained", steps=[REVOKED])  # the slow run reports between the read and the take-over
    late = T0 + timedelta(hours=7)
    again = repeat(
        dynamodb, "incidents", INCIDENT_ID, judged_stuck, delivery_of(finding()), execution_arn="e2", now=late,
        stale_after_seconds=3600,
    )  # fmt: skip
    assert again.duplicate and not again.changed
    record = load(dynamodb, "incidents", INCIDENT_ID)
    assert record["status"] == "contained" and record["execution_arn"] == "arn:exec:slow"
    assert len(record["responses"]) == 1


def test_the_timeline_stays_bounded_and_cuts_at_a_word(dynamodb) -> None:
    register(dynamodb, "incidents", finding(), execution_arn="arn:exec:1", now=T0)
    _finish(dynamodb, "contained")
    for number in range(TIMELINE_FIRST + TIMELINE_LAST + 25):
        register(dynamodb, "incidents", finding(), execution_arn=f"arn:exec:r{number}", now=T0)
    record = load(dynamodb, "incidents", INCIDENT_ID)
    timeline = record["timeline"]
    assert len(timeline) == TIMELINE_FIRST + TIMELINE_LAST
    assert timeline[0]["what"].startswith("received ") and timeline[1]["what"] == "reported response 0: contained"
    entries = 2 + (TIMELINE_FIRST + TIMELINE_LAST + 25)  # received, reported, the repeats
    assert int(record["timeline_dropped"]) == entries - len(timeline)
    assert int(record["sightings"]) == TIMELINE_FIRST + TIMELINE_LAST + 26
    long = entry("2026-11-20T03:05:00Z", "word " * 1000)["what"]
    assert len(long) <= ENTRY_MAX and long.endswith("word…")


def test_the_outcome_is_stored_on_its_response_once(dynamodb) -> None:
    register(dynamodb, "incidents", finding(), execution_arn="arn:exec:1", now=T0)
    stored = [
        finish(
            dynamodb,
            "incidents",
            INCIDENT_ID,
            response=0,
            outcome="contained",
            reason="ok",
            steps=[REVOKED],
            notifications=[{"channel": "email", "status": "sent", "text": "long body"}],
            now=T0,
        )
        for _ in range(2)
    ]
    assert stored == ["stored", "stored by an earlier attempt of this report"]
    record = load(dynamodb, "incidents", INCIDENT_ID)
    assert record["status"] == "contained"
    (response,) = record["responses"]
    assert response["steps"][0]["data"] == {"cutoff": "2026-11-20T03:05:01Z", "score": "0.5"}
    assert response["cutoff"] == "2026-11-20T03:05:01Z" and response["outcome"] == "contained"
    assert "text" not in response["notifications"][0]
    assert [entry["what"] for entry in record["timeline"]] == [
        "received UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS "
        "(event 6f1f6a2e-2f0a-4c55-9a43-7b1d0c9e1a01)",
        "reported response 0: contained",
    ]


def test_a_failed_recontainment_keeps_the_first_responses_steps(dynamodb) -> None:
    """N15: every response keeps its own steps; release sees all of them."""
    first_steps = [
        REVOKED,
        {"name": "protect-instance", "status": "done", "target": "i-1", "detail": "ok", "containment": False},
        {"name": "remove-instance-profile", "status": "done", "target": "i-1", "detail": "ok", "containment": False},
        {"name": "isolate-instance", "status": "done", "target": "i-1", "detail": "ok", "containment": False},
    ]
    register(dynamodb, "incidents", finding(1), execution_arn="arn:exec:1", now=T0)
    _finish(dynamodb, "contained", steps=first_steps)
    rose = register(dynamodb, "incidents", finding(9), execution_arn="arn:exec:2", now=T0)
    failed = {**REVOKED, "status": "failed", "detail": "throttled"}
    _finish(dynamodb, "failed", response=rose.response or 0, steps=[failed])
    record = load(dynamodb, "incidents", INCIDENT_ID)
    assert [s["name"] for s in record["responses"][0]["steps"]] == [s["name"] for s in first_steps]
    assert record["responses"][1]["steps"][0]["status"] == "failed"
    assert record["status"] == "failed"
    assert {s["name"] for s in release_steps(record) if s["status"] == "done"} == {s["name"] for s in first_steps}
    # The failed re-containment makes the next repeat run the whole response again (M7).
    assert "runs again" in register(dynamodb, "incidents", finding(9), execution_arn="e3", now=T0).reason


def test_a_release_is_a_response_and_marks_the_record_released(dynamodb) -> None:
    register(dynamodb, "incidents", finding(), execution_arn="arn:exec:1", now=T0)
    _finish(dynamodb, "contained", steps=[REVOKED])
    record = load(dynamodb, "incidents", INCIDENT_ID)
    reversals = [{"what": "delete AWSRevokeOlderSessions", "status": "released", "detail": "gone (read back)"}]
    assert (
        record_release(dynamodb, "incidents", INCIDENT_ID, reversals=reversals, notes=[], record=record) == "released"
    )
    record = load(dynamodb, "incidents", INCIDENT_ID)
    assert record["status"] == "released" and record["responses"][-1]["kind"] == "release"
    assert release_steps(record) == []  # nothing left to reverse
    # After the release: no activity since is silent; activity since is told, not contained again.
    quiet = register(dynamodb, "incidents", finding(), execution_arn="arn:exec:2", now=T0 + timedelta(hours=1))
    assert quiet.duplicate and not quiet.changed
    active = finding(eventLastSeen=(datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    told = register(dynamodb, "incidents", active, execution_arn="arn:exec:3", now=T0 + timedelta(hours=2))
    assert told.duplicate and told.changed and not told.recontain and "released" in told.reason


def test_the_status_is_the_worst_latest_outcome_of_each_finding() -> None:
    first = {"kind": "first", "incident_id": "a", "outcome": "contained"}
    assert overall_status([first]) == "contained"
    assert overall_status([first, {"kind": "first", "incident_id": "b", "outcome": "failed"}]) == "failed"
    assert overall_status([first, {"kind": "recontain", "incident_id": "a"}]) == "responding"
    assert overall_status([first, {"kind": "recontain", "incident_id": "a", "outcome": "duplicate"}]) == "contained"
    assert overall_status([first, {"kind": "release", "outcome": "released"}]) == "released"
    assert overall_status([first, {"kind": "release", "outcome": "failed"}]) == "contained"


def test_a_record_written_before_responses_existed_is_read_and_kept(dynamodb) -> None:
    """A record of the earlier layout (top-level steps and status) stays releasable and comparable."""
    dynamodb.put_item(
        TableName="incidents",
        Item={
            "id": {"S": f"incident#{INCIDENT_ID}"},
            "incident_id": {"S": INCIDENT_ID},
            "kind": {"S": "instance-credential-exfiltration"},
            "finding_id": {"S": "c2c6f0f0a7d14c1e8d1b3e5f7a9b0c11"},
            "role_name": {"S": "web-app-role"},
            "instance_id": {"S": "i-0f8e7d6c5b4a39281"},
            "access_key_ids": {"L": [{"S": "ASIA4XKQ2EXAMPLE7Q3Z"}]},
            "status": {"S": "contained"},
            "count": {"N": "1"},
            "sightings": {"N": "1"},
            "first_received_at": {"S": "2026-11-20T03:05:00Z"},
            "started_at": {"S": "2026-11-20T03:05:00Z"},
            "execution_arn": {"S": "arn:exec:old"},
            "steps": {"L": [{"M": {"name": {"S": "revoke-role-sessions"}, "status": {"S": "done"},
                                   "target": {"S": "web-app-role"}}}]},
        },
    )  # fmt: skip
    same = register(dynamodb, "incidents", finding(1), execution_arn="arn:exec:2", now=T0)
    assert same.duplicate and not same.changed
    rose = register(dynamodb, "incidents", finding(3), execution_arn="arn:exec:3", now=T0)
    assert rose.recontain and rose.response == 1
    record = load(dynamodb, "incidents", INCIDENT_ID)
    assert [r.get("legacy") for r in record["responses"]] == [True, None]
    assert [s["name"] for s in release_steps(record)] == ["revoke-role-sessions"]


def test_handler_marks_the_repeat_and_silences_it(dynamodb, lambda_context, monkeypatch) -> None:
    from incident.handler import handler

    monkeypatch.setenv("INCIDENT_TABLE", "incidents")
    event = json.loads((EVENTS / "guardduty_exfil_outside_realistic.json").read_text())
    first = handler({"event": event, "execution_id": "arn:exec:1"}, lambda_context)
    retried = handler({"event": event, "execution_id": "arn:exec:1"}, lambda_context)
    second = handler({"event": event, "execution_id": "arn:exec:2"}, lambda_context)
    assert first["status"] == "accepted" and first["notify"] and not first["recontain"]
    assert first["record"] == {**first["record"], "incident_id": INCIDENT_ID, "response": 0, "kind": "first"}
    assert retried["status"] == "accepted"
    assert second["status"] == "duplicate" and not second["notify"] and not second["recontain"]
    assert second["record"] is None


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
    assert intake["record"]["response"] == 1 and intake["record"]["kind"] == "recontain"
    assert [a["principal"] for a in intake["record"]["again"]] == ["role web-app-role"]


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
