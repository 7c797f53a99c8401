"""One incident per attack (record.store.join_earlier / finish_joined, moto DynamoDB): a later
finding of an attack already handled joins the earlier record instead of becoming a second one."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from incident.normalize import normalize
from record.store import finish, finish_joined, join_earlier, load, register

EVENTS = Path(__file__).resolve().parent.parent / "events"
T0 = datetime(2026, 11, 20, 3, 5, tzinfo=UTC)
REVOKED = {
    "name": "revoke-role-sessions",
    "status": "done",
    "target": "web-app-role",
    "detail": "ok",
    "containment": True,
}
KEY = {
    "name": "deactivate-access-key",
    "status": "done",
    "target": "AKIA4XKQ2ATTACKER001",
    "detail": "ok",
    "containment": True,
}


def incident(name: str) -> dict:
    event = json.loads((EVENTS / name).read_text())
    return normalize(event).incident.model_dump(mode="json")  # type: ignore[union-attr]


EXFIL = "guardduty_exfil_outside_realistic.json"
SEQUENCE = "crafted/guardduty_attack_sequence_covers_exfil.json"


def handled_exfil(dynamodb, status: str = "contained") -> dict:
    first = incident(EXFIL)
    register(dynamodb, "incidents", first, execution_arn="arn:exec:1", now=T0)
    finish(dynamodb, "incidents", first["incident_id"], outcome=status, reason="r", steps=[REVOKED], notifications=[])
    return first


def test_the_sequence_names_the_findings_it_is_built_on() -> None:
    sequence = incident(SEQUENCE)
    assert sequence["related_finding_ids"] == ["c2c6f0f0a7d14c1e8d1b3e5f7a9b0c11"]
    assert incident(EXFIL)["related_finding_ids"] == []


def test_nothing_to_join_when_no_related_finding_was_handled(dynamodb) -> None:
    assert join_earlier(dynamodb, "incidents", incident(SEQUENCE), execution_arn="arn:exec:2") is None
    assert dynamodb.scan(TableName="incidents")["Items"] == []  # the lookup created no stray record


def test_a_sequence_over_a_contained_finding_joins_its_record(dynamodb) -> None:
    first = handled_exfil(dynamodb)
    sequence = incident(SEQUENCE)
    joined = join_earlier(dynamodb, "incidents", sequence, execution_arn="arn:exec:2", now=T0)
    assert joined is not None and not joined.registration.duplicate
    assert joined.joined["incident_id"] == first["incident_id"]
    assert joined.joined["finding_id"] == "c2c6f0f0a7d14c1e8d1b3e5f7a9b0c11"
    assert joined.joined["already_contained"] == ["role web-app-role"]
    # The role the sequence could not act on (keys first) is no failure: it is already contained.
    assert sequence["unresolved"] and joined.unresolved == []
    assert "c2c6f0f0a7d14c1e8d1b3e5f7a9b0c11" in joined.registration.reason
    record = load(dynamodb, "incidents", first["incident_id"])
    assert record["joined_findings"] == {sequence["finding_id"]}
    assert record["sequences"][0]["execution_arn"] == "arn:exec:2"
    assert len(dynamodb.scan(TableName="incidents")["Items"]) == 1

    finish_joined(dynamodb, "incidents", joined.joined, outcome="contained", reason="ok", steps=[KEY], notifications=[])
    record = load(dynamodb, "incidents", first["incident_id"])
    assert [s["name"] for s in record["steps"]] == ["revoke-role-sessions", "deactivate-access-key"]
    assert record["sequences"][0]["outcome"] == "contained" and record["status"] == "contained"
    # A retried report stores nothing twice.
    finish_joined(dynamodb, "incidents", joined.joined, outcome="contained", reason="ok", steps=[KEY], notifications=[])
    assert len(load(dynamodb, "incidents", first["incident_id"])["steps"]) == 2


def test_a_retry_of_the_joining_execution_gets_the_same_answer_and_a_resent_sequence_is_a_duplicate(dynamodb) -> None:
    handled_exfil(dynamodb)
    sequence = incident(SEQUENCE)
    join_earlier(dynamodb, "incidents", sequence, execution_arn="arn:exec:2", now=T0)
    retry = join_earlier(dynamodb, "incidents", sequence, execution_arn="arn:exec:2", now=T0)
    assert retry is not None and not retry.registration.duplicate and retry.joined["entry"] == 0
    resent = join_earlier(dynamodb, "incidents", sequence, execution_arn="arn:exec:3", now=T0)
    assert resent is not None and resent.registration.duplicate
    assert len(load(dynamodb, "incidents", incident(EXFIL)["incident_id"])["sequences"]) == 1


def test_what_a_failed_response_touched_is_not_already_contained(dynamodb) -> None:
    handled_exfil(dynamodb, status="failed")
    joined = join_earlier(dynamodb, "incidents", incident(SEQUENCE), execution_arn="arn:exec:2", now=T0)
    assert joined is not None and joined.joined["already_contained"] == []
    assert len(joined.unresolved) == 1  # the role stays a failed step with the manual route


def test_a_worse_joined_outcome_marks_the_record_for_a_new_response(dynamodb) -> None:
    first = handled_exfil(dynamodb)
    joined = join_earlier(dynamodb, "incidents", incident(SEQUENCE), execution_arn="arn:exec:2", now=T0)
    finish_joined(dynamodb, "incidents", joined.joined, outcome="failed", reason="no", steps=[], notifications=[])
    assert load(dynamodb, "incidents", first["incident_id"])["status"] == "failed"


def test_a_finding_naming_its_attack_sequence_joins_the_sequences_record(dynamodb) -> None:
    sequence = incident(SEQUENCE)
    register(dynamodb, "incidents", sequence, execution_arn="arn:exec:1", now=T0)
    event = json.loads((EVENTS / EXFIL).read_text())
    event["detail"]["associatedAttackSequenceArn"] = sequence["event_arn"]
    later = normalize(event).incident.model_dump(mode="json")  # type: ignore[union-attr]
    assert later["related_finding_ids"] == [sequence["finding_id"]]
    joined = join_earlier(dynamodb, "incidents", later, execution_arn="arn:exec:2", now=T0)
    assert joined is not None and joined.joined["incident_id"] == sequence["incident_id"]
