"""One incident per attack (record.join, moto DynamoDB): a later finding of an attack already
handled joins the earlier record instead of becoming a second one, and is judged there like a
record of its own (N9, N11)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

from incident.normalize import normalize
from record.finish import finish
from record.item import load
from record.join import join_earlier
from record.registration import register

EVENTS = Path(__file__).resolve().parent.parent / "events"
# The instance-credential finding is handled at T0, after the covering sequence's last activity
# (eventLastSeen 03:38); the sequence arrives at T1.
T0 = datetime(2026, 11, 20, 3, 39, tzinfo=UTC)
T1 = datetime(2026, 11, 20, 3, 41, tzinfo=UTC)
CUTOFF = "2026-11-20T03:39:01Z"
REVOKED = {
    "name": "revoke-role-sessions",
    "status": "done",
    "target": "web-app-role",
    "detail": "ok",
    "containment": True,
    "data": {"cutoff": CUTOFF},
}
KEY = {
    "name": "deactivate-access-key",
    "status": "done",
    "target": "AKIA4XKQ2ATTACKER001",
    "detail": "ok",
    "containment": True,
}
EXFIL = "guardduty_exfil_outside_realistic.json"
SEQUENCE = "crafted/guardduty_attack_sequence_covers_exfil.json"
EARLIER = "c2c6f0f0a7d14c1e8d1b3e5f7a9b0c11"


def event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def incident(name: str | dict) -> dict:
    raw = event(name) if isinstance(name, str) else name
    return normalize(raw).incident.model_dump(mode="json")  # type: ignore[union-attr]


def handled_exfil(dynamodb, status: str = "contained") -> dict:
    first = incident(EXFIL)
    register(dynamodb, "incidents", first, execution_arn="arn:exec:1", now=T0)
    finish(
        dynamodb,
        "incidents",
        first["incident_id"],
        response=0,
        outcome=status,
        reason="r",
        steps=[REVOKED],
        notifications=[],
        now=T0,
    )
    return first


def join(dynamodb, incident_: dict, execution: str):
    joined = join_earlier(dynamodb, "incidents", incident_, execution_arn=execution, now=T1)
    assert joined is not None
    return joined


def sequence_update(*, new_key: str = "", last_seen: str = "", count: int | None = None) -> dict:
    """The covering sequence as GuardDuty updates it (same finding id)."""
    raw = event(SEQUENCE)
    raw["id"] = "0b7d5f3e-1c2a-4e6b-9d8f-7a6b5c4d3e2f"
    sequence = raw["detail"]["service"]["detection"]["sequence"]
    if new_key:
        actor = copy.deepcopy(sequence["actors"][1])
        actor["id"] = f"USER:AIDA4XKQ2EXAMPLEUSER2:{new_key}"
        actor["user"].update(name="svc-reports", uid="AIDA4XKQ2EXAMPLEUSER2", credentialUid=new_key)
        sequence["actors"].append(actor)
    if last_seen:
        raw["detail"]["service"]["eventLastSeen"] = last_seen
    if count is not None:
        raw["detail"]["service"]["count"] = count
    return incident(raw)


def test_the_sequence_names_the_findings_it_is_built_on() -> None:
    sequence = incident(SEQUENCE)
    assert sequence["related_finding_ids"] == [EARLIER]
    assert incident(EXFIL)["related_finding_ids"] == []


def test_nothing_to_join_when_no_related_finding_was_handled(dynamodb) -> None:
    assert join_earlier(dynamodb, "incidents", incident(SEQUENCE), execution_arn="arn:exec:2") is None
    assert dynamodb.scan(TableName="incidents")["Items"] == []  # the look-up created no stray record


def test_a_sequence_over_a_contained_finding_joins_its_record(dynamodb) -> None:
    first = handled_exfil(dynamodb)
    sequence = incident(SEQUENCE)
    joined = join(dynamodb, sequence, "arn:exec:2")
    registration = joined.registration
    assert not registration.duplicate and registration.narrow and registration.response == 1
    assert registration.new == ("key AKIA4XKQ2ATTACKER001",)
    assert joined.joined["incident_id"] == first["incident_id"] and joined.joined["finding_id"] == EARLIER
    # The role the sequence could not act on (keys first) is no failure: the first response contained
    # it, and the sequence shows no activity after its cut-off.
    assert joined.joined["already_contained"] == ["role web-app-role"]
    assert EARLIER in registration.reason
    record = load(dynamodb, "incidents", first["incident_id"])
    assert record["joined_findings"] == {sequence["finding_id"]}
    assert record["responses"][1]["execution_arn"] == "arn:exec:2"
    assert record["responses"][1]["principals"] == ["key AKIA4XKQ2ATTACKER001"]
    # The id its report prints leads to the record (release, a later delivery).
    assert load(dynamodb, "incidents", sequence["incident_id"])["alias_of"] == first["incident_id"]

    for _ in range(2):  # a retried report stores nothing twice
        finish(dynamodb, "incidents", first["incident_id"], response=1, outcome="contained", reason="ok", steps=[KEY],
               notifications=[])  # fmt: skip
    record = load(dynamodb, "incidents", first["incident_id"])
    assert [[s["name"] for s in r["steps"]] for r in record["responses"]] == [
        ["revoke-role-sessions"],
        ["deactivate-access-key"],
    ]
    assert record["status"] == "contained"


def test_a_retry_of_the_joining_execution_gets_the_same_answer_and_a_resent_sequence_is_silent(dynamodb) -> None:
    handled_exfil(dynamodb)
    sequence = incident(SEQUENCE)
    join(dynamodb, sequence, "arn:exec:2")
    retry = join(dynamodb, sequence, "arn:exec:2")
    assert not retry.registration.duplicate and retry.joined["entry"] == 1
    finish(dynamodb, "incidents", incident(EXFIL)["incident_id"], response=1, outcome="contained", reason="ok",
           steps=[KEY], notifications=[])  # fmt: skip
    resent = join(dynamodb, sequence, "arn:exec:3")
    assert resent.registration.duplicate and not resent.registration.changed
    assert "already joined" in resent.registration.reason
    assert len(load(dynamodb, "incidents", incident(EXFIL)["incident_id"])["responses"]) == 2


def test_what_a_failed_response_touched_is_contained_again(dynamodb) -> None:
    handled_exfil(dynamodb, status="failed")
    joined = join(dynamodb, incident(SEQUENCE), "arn:exec:2")
    assert joined.joined["already_contained"] == []
    assert [a["principal"] for a in joined.registration.again] == ["role web-app-role"]
    assert "ended failed" in joined.registration.again[0]["why"]


def test_activity_after_the_earlier_cut_off_contains_a_deferred_role_again(dynamodb) -> None:
    """N11: the earlier response's `contained` is not inherited when the sequence shows activity
    after its cut-off: the role is revoked again (incident.contain_roles)."""
    handled_exfil(dynamodb)
    joined = join(dynamodb, sequence_update(last_seen="2026-11-20T03:50:00.000Z"), "arn:exec:2")
    assert joined.joined["already_contained"] == []
    (again,) = joined.registration.again
    assert again["principal"] == "role web-app-role" and f"after its cut-off at {CUTOFF}" in again["why"]
    record = load(dynamodb, "incidents", incident(EXFIL)["incident_id"])
    assert record["responses"][1]["principals"] == ["key AKIA4XKQ2ATTACKER001", "role web-app-role"]


def test_a_joined_findings_update_that_adds_a_key_contains_that_key(dynamodb) -> None:
    handled_exfil(dynamodb)
    record_id = incident(EXFIL)["incident_id"]
    join(dynamodb, incident(SEQUENCE), "arn:exec:2")
    finish(dynamodb, "incidents", record_id, response=1, outcome="contained", reason="ok", steps=[KEY],
           notifications=[])  # fmt: skip
    update = join(dynamodb, sequence_update(new_key="AKIA4XKQ2ATTACKER002"), "arn:exec:3")
    registration = update.registration
    assert not registration.duplicate and registration.narrow and registration.response == 2
    assert registration.new == ("key AKIA4XKQ2ATTACKER002",)
    assert {k["principal"] for k in registration.known} == {"role web-app-role", "key AKIA4XKQ2ATTACKER001"}
    assert "AKIA4XKQ2ATTACKER002: named for the first time, contained now" in registration.reason


def test_a_joined_finding_runs_again_after_its_own_response_failed(dynamodb) -> None:
    """N9: a joined entry behaves like a record of its own (M7)."""
    first = handled_exfil(dynamodb)
    sequence = incident(SEQUENCE)
    join(dynamodb, sequence, "arn:exec:2")
    finish(dynamodb, "incidents", first["incident_id"], response=1, outcome="failed", reason="no", steps=[],
           notifications=[])  # fmt: skip
    assert load(dynamodb, "incidents", first["incident_id"])["status"] == "failed"
    # The earlier finding's own response stood: its repeat changes nothing.
    assert register(dynamodb, "incidents", incident(EXFIL), execution_arn="arn:exec:3", now=T0).duplicate
    again = join(dynamodb, sequence, "arn:exec:4")
    assert not again.registration.duplicate and not again.registration.narrow
    assert "its last response ended failed, so the response runs again" in again.registration.reason


def test_a_joined_findings_rising_count_contains_again(dynamodb) -> None:
    first = handled_exfil(dynamodb)
    join(dynamodb, incident(SEQUENCE), "arn:exec:2")
    finish(dynamodb, "incidents", first["incident_id"], response=1, outcome="contained", reason="ok", steps=[KEY],
           notifications=[])  # fmt: skip
    rose = join(dynamodb, sequence_update(count=12), "arn:exec:3")
    assert rose.registration.duplicate and rose.registration.recontain and rose.registration.changed
    assert "from 1 to 12" in rose.registration.reason
    # GuardDuty counts the sequence's activity as a whole: every principal it names is cut off again.
    assert {a["principal"] for a in rose.registration.again} == {"key AKIA4XKQ2ATTACKER001", "role web-app-role"}


def test_a_finding_naming_its_attack_sequence_joins_the_sequences_record(dynamodb) -> None:
    sequence = incident(SEQUENCE)
    register(dynamodb, "incidents", sequence, execution_arn="arn:exec:1", now=T0)
    raw = event(EXFIL)
    raw["detail"]["associatedAttackSequenceArn"] = sequence["event_arn"]
    later = incident(raw)
    assert later["related_finding_ids"] == [sequence["finding_id"]]
    joined = join(dynamodb, later, "arn:exec:2")
    assert joined.joined["incident_id"] == sequence["incident_id"]
    # Its own id is an alias now: a later delivery of it is judged on the sequence's record.
    again = join_earlier(dynamodb, "incidents", later, execution_arn="arn:exec:3", now=T1)
    assert again is not None and again.joined["incident_id"] == sequence["incident_id"]


def test_a_joining_finding_that_brings_nothing_new_is_silent_but_recorded(dynamodb) -> None:
    """The brief's rule: only a repeat that brings nothing new is silent, a first join included."""
    first = handled_exfil(dynamodb)
    raw = event(SEQUENCE)
    sequence = raw["detail"]["service"]["detection"]["sequence"]
    sequence["actors"] = sequence["actors"][:1]  # the role alone, which the first response contained
    sequence["resources"] = sequence["resources"][:1]
    only_the_role = incident(raw)
    joined = join(dynamodb, only_the_role, "arn:exec:2")
    assert joined.registration.duplicate and not joined.registration.changed
    assert "is the same attack as" in joined.registration.reason and "nothing changed" in joined.registration.reason
    record = load(dynamodb, "incidents", first["incident_id"])
    assert record["joined_findings"] == {only_the_role["finding_id"]} and len(record["responses"]) == 1
    assert load(dynamodb, "incidents", only_the_role["incident_id"])["alias_of"] == first["incident_id"]
