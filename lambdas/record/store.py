"""The incident record: one DynamoDB item per incident, the dedupe key, every response, the timeline.

This module is the record's public interface; each part of the protocol is a module of its own:
    record.registration  the first task's dedupe write (conditional put) and a repeat's answer
    record.judge         a repeat compared with the record by what it names (pure)
    record.takeover      a repeat's response claimed by a conditional append (one of many acts)
    record.join          one incident per attack: a later finding of a handled attack joins its record
    record.finish        a response's outcome, steps and messages stored on its own entry; a release
    record.responses     the response entries (their shape, the status, the steps release reverses)
    record.item          the item's key, the bounded timeline and the helpers every write shares

Why a conditional put rather than Powertools Idempotency. Idempotency was weighed first, because
its INPROGRESS record with an expiry is exactly the guard a retried first task needs. It does not
fit the rest of what a repeat must decide:
* it replays the first response for a while and then forgets (expiry), while the responder needs
  a permanent record per incident that the report and `responder release` read and append to;
* a repeat must be judged by the *outcome* of the response that acted (failed or partial: run it
  again), which another function (Report) stores; Idempotency only knows "completed";
* a repeat must be judged by *what it names* (a new key in an attack sequence's update, activity
  after the last cut-off) and contain exactly that, not replay "accepted" or nothing.
So the record is built on the primitive Idempotency uses, a conditional write, and keeps its two
safety properties on purpose:
* the idempotency key of a retry is the execution: a write whose stored response was claimed by
  this execution (a Step Functions Retry of the first task, or botocore re-sending a PutItem whose
  reply was lost) is this execution's own, never a duplicate. The stored item comes back with
  the conditional failure itself (ReturnValuesOnConditionCheckFailure=ALL_OLD), no second read;
* "in progress" expires: a response still unreported after the workflow's own timeout
  (STALE_AFTER, set by infra from the state machine's timeout) belongs to an execution that died,
  and a repeat takes the response over.
Taking over is itself a conditional write on the responses the repeat was judged from, so of
several concurrent repeats exactly one acts.

Item: {"id": "incident#<incident_id>", the first delivery's fields (incident_id, kind, account,
region, source, event_type, finding_id, role_name, instance_id, access_key_ids), "status" (from all
responses: responding, contained, partial, failed, released), "sightings", "first_received_at",
"last_received_at", "execution_arn" (the latest response's), "responses": [record.responses],
"joined_findings" (record.join), "reports", "status_of", "timeline": [{"at", "what"}],
"timeline_dropped", "expiration"}. An alias item {"id", "incident_id", "finding_id", "alias_of"}
stands for a finding that joined another incident's record.
"""

from __future__ import annotations

from record.finish import finish, record_release
from record.item import (
    DEFAULT_STALE_AFTER_SECONDS,
    NO_RECORD_NOTE,
    RETENTION_DAYS,
    TIMELINE_FIRST,
    TIMELINE_LAST,
    load,
    record_key,
    stale_after,
)
from record.join import Joined, join_earlier
from record.registration import Registration, register
from record.responses import release_steps, responses_of

__all__ = [
    "DEFAULT_STALE_AFTER_SECONDS",
    "NO_RECORD_NOTE",
    "RETENTION_DAYS",
    "TIMELINE_FIRST",
    "TIMELINE_LAST",
    "Joined",
    "Registration",
    "finish",
    "join_earlier",
    "load",
    "record_key",
    "record_release",
    "register",
    "release_steps",
    "responses_of",
    "stale_after",
]
