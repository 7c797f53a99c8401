"""One incident per attack: a later finding of an attack already handled joins that incident's
record instead of getting one of its own.

A finding joins when one of its related findings (incident["related_finding_ids"]: an attack
sequence's FINDING signals, or the sequence an ordinary finding names by
associatedAttackSequenceArn) has a record, or joined one. Its finding id goes to the record's
string set `joined_findings`, an alias item `{"id": "incident#<its own id>", "alias_of": <the
record's id>}` lets `responder release` (and a later delivery) find the record from the id its
report prints, and each of its responses is an entry of the record's `responses`, judged like any
repeat (record.judge): what it names that no response contained is contained, what a response
contained is contained again only on activity after that cut-off, and after its own response
failed it runs again, as a record of its own would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from common.aws import error_code
from common.times import iso_now
from record.item import CHECK_FAILED, DEFAULT_STALE_AFTER_SECONDS, expiration, load, record_key
from record.principals import delivery_of
from record.registration import Registration
from record.repeat import repeat
from record.takeover import Also


@dataclass(frozen=True)
class Joined:
    """A finding answered on an earlier incident's record. `joined`: what the report says (the
    fields of incident.model.JoinedIncident); `entry` is its response's index (0 when silent)."""

    registration: Registration
    joined: dict[str, Any]


def join_earlier(
    dynamodb: Any,
    table: str,
    incident: dict[str, Any],
    *,
    execution_arn: str,
    now: datetime | None = None,
    stale_after_seconds: int = DEFAULT_STALE_AFTER_SECONDS,
) -> Joined | None:
    """The record this finding belongs to when it is another incident's (it joined one before, or a
    related finding has a record), judged there; None when it is its own (then: register)."""
    finding_id = str(incident.get("finding_id") or "")
    own_id = str(incident.get("incident_id") or "")
    if not finding_id or not own_id:
        return None
    own = load(dynamodb, table, own_id)
    if own is not None and not own.get("alias_of"):
        return None  # recorded on its own
    candidates = [str(own["alias_of"])] if own is not None else []
    related = incident.get("related_finding_ids") or []
    candidates += [f"{incident['account']}:guardduty:{finding}" for finding in related]
    for candidate in candidates:
        record_id, record = _resolve(dynamodb, table, candidate)
        if record is None or record_id == own_id:
            continue
        joined_before = finding_id in (record.get("joined_findings") or set())
        if not joined_before:
            _alias(dynamodb, table, own_id, record_id, finding_id, now)
        first = record.get("first_received_at") or "?"
        earlier = f"finding {record.get('finding_id')} ({record.get('event_type')}), first received at {first}"
        lead = (
            f"repeat of {incident.get('event_type')} {finding_id}, which already joined the incident of {earlier}"
            if joined_before
            else f"{incident.get('event_type')} {finding_id} is the same attack as {earlier}: joined its incident"
        )
        registration = repeat(
            dynamodb,
            table,
            record_id,
            record,
            delivery_of(incident),
            execution_arn=execution_arn,
            now=now,
            stale_after_seconds=stale_after_seconds,
            also=Also(add="joined_findings :finding_set", values={":finding_set": {"SS": [finding_id]}}),
            silent_lead=lead,
        )
        return Joined(registration=registration, joined=_joined(record, record_id, registration))
    return None


def _resolve(dynamodb: Any, table: str, incident_id: str) -> tuple[str, dict[str, Any] | None]:
    """The record of `incident_id`, following an alias (one level: a record is never an alias)."""
    record = load(dynamodb, table, incident_id)
    if record is not None and record.get("alias_of"):
        target = str(record["alias_of"])
        return target, load(dynamodb, table, target)
    return incident_id, record


def _alias(dynamodb: Any, table: str, own_id: str, record_id: str, finding_id: str, now: datetime | None) -> None:
    """Written before the response is claimed: a retry of this first task finds the finding joined."""
    try:
        dynamodb.put_item(
            TableName=table,
            Item={
                **record_key(own_id),
                "incident_id": {"S": own_id},
                "finding_id": {"S": finding_id},
                "alias_of": {"S": record_id},
                "joined_at": {"S": iso_now(now)},
                "expiration": {"N": str(expiration(now))},
            },
            ConditionExpression="attribute_not_exists(id)",
        )
    except ClientError as exc:
        if error_code(exc) != CHECK_FAILED:
            raise  # an alias or a record of its own already there: neither is overwritten


def _joined(record: dict[str, Any], record_id: str, registration: Registration) -> dict[str, Any]:
    return {
        "incident_id": record_id,
        "finding_id": record.get("finding_id") or None,
        "event_type": record.get("event_type"),
        "status": record.get("status") or None,
        "first_received_at": record.get("first_received_at") or None,
        "already_contained": sorted({str(k["principal"]) for k in registration.known}),
        "entry": registration.response or 0,
    }
