"""The first task of an execution, run by the containing functions themselves (contain_key for AWS
Health, revoke_sessions for GuardDuty's instance-credential findings): one cold start between the
event and the containing call.

    read the essentials (incident.essentials, no pydantic)
      -> record the incident: the dedupe write, the only call before the containing one
      -> contain (the function's own action), unless the record says a repeat changes nothing
      -> only then the full normalizer (pydantic, imported here and not before), every other field
    output: what Normalize and Prepare would hand to Route, with `results` already holding the
    containment and `intake.contained_at_intake` telling Route to go on after containment.

An event whose essentials the function does not read (anything but the common cases, see
incident.essentials) gets exactly Normalize's treatment instead, and Route sends it along the
regular route, ignored events included, with their named reason.

`after_containment`: the same function after Step Functions itself recorded the incident and made
the containing call (infra/intake.py). Its input names what the state did ({"event", "execution_id",
"incident_id", "contained"}); it reads back and finishes containment (`finish`), then normalizes the
event in full, as the first task does after its own containing call.

Nothing here imports pydantic at module level: this is on the critical path (bench section 3).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from common.aws import client, error_code
from common.errors import is_transient
from common.settings import env_str
from incident.essentials import Essentials
from record.item import NO_RECORD_NOTE, stale_after
from record.registration import Registration, register

logger = Logger(service="credential-responder")

# Keys one first task contains itself, one after another. More go along the regular route, where a
# Map contains ten at a time: a long list must never run one invocation into its timeout.
MAX_KEYS_AT_INTAKE = 10

Contain = Callable[[Essentials], Any]
Finish = Callable[[Essentials, Any], Any]


def first_task(
    event: Any,
    *,
    read: Callable[[Any], Essentials | None],
    contain: Contain,
    results_key: str,
) -> dict[str, Any]:
    raw = event.get("event") if isinstance(event, dict) else None
    execution_arn = event.get("execution_id", "") if isinstance(event, dict) else ""
    execution_arn = execution_arn if isinstance(execution_arn, str) else ""
    essentials = read(raw)
    if essentials is None or len(essentials.affected_keys) > MAX_KEYS_AT_INTAKE:
        from incident.handler import normalize_and_register

        return _prepared(normalize_and_register(raw, execution_arn), {})
    logger.append_keys(incident_id=essentials.incident_id)
    registration, note = _register(essentials, execution_arn)
    results: dict[str, Any] = {}
    contained = registration is None or not registration.duplicate or registration.recontain
    if contained:
        results[results_key] = contain(_narrowed(essentials, registration))
    intake = _after_containment(raw, essentials, registration, note)
    intake["contained_at_intake"] = contained
    logger.info(
        "first task",
        extra={"status": intake["status"], "reason": intake["reason"], "contained_at_intake": contained},
    )
    return _prepared(intake, results)


def after_containment(
    event: dict[str, Any],
    *,
    read: Callable[[Any], Essentials | None],
    finish: Finish,
    results_key: str,
) -> dict[str, Any]:
    """The record was written and the containing call made by the state machine: finish containment
    (`finish(essentials, contained)`: read back, what follows the call), then the full normalizer."""
    raw = event.get("event")
    execution_arn = str(event.get("execution_id") or "")
    essentials = read(raw)
    if essentials is None or essentials.incident_id != event.get("incident_id"):
        # tests/infra/test_intake_reading.py pins the state's reading to incident.essentials; if they
        # ever disagree, the regular route decides, from Normalize's reading and record.
        from incident.handler import normalize_and_register

        logger.error(
            "the state machine read the event otherwise than incident.essentials",
            extra={"state": event.get("incident_id"), "essentials": essentials.incident_id if essentials else None},
        )
        return _prepared(normalize_and_register(raw, execution_arn), {})
    logger.append_keys(incident_id=essentials.incident_id)
    results = {results_key: finish(essentials, event.get("contained"))}
    # The state's own write: a new record of this execution, as register() returns it (its first response,
    # which the report fills in).
    registration = Registration(
        duplicate=False,
        changed=False,
        sightings=1,
        first_received_at="",
        record_id=essentials.incident_id,
        response=0,
        kind="first",
    )
    intake = _after_containment(raw, essentials, registration, "")
    intake["contained_at_intake"] = True
    logger.info("contained by the state machine", extra={"status": intake["status"], "reason": intake["reason"]})
    return _prepared(intake, results)


def _register(essentials: Essentials, execution_arn: str) -> tuple[Registration | None, str]:
    """The dedupe write. None when the table cannot be written (other than throttling, which is
    retried): the response goes on without dedupe, since containing twice beats not containing."""
    table = env_str("INCIDENT_TABLE")
    if not table:
        logger.error("INCIDENT_TABLE is not set; responding without dedupe")
        return None, NO_RECORD_NOTE
    try:
        return register(
            client("dynamodb"),
            table,
            essentials.as_incident(),
            execution_arn=execution_arn,
            stale_after_seconds=stale_after(),
        ), ""
    except ClientError as exc:
        if is_transient(exc):
            raise
        logger.error("incident record unavailable; responding without dedupe", extra={"error": error_code(exc)})
        return None, f" (incident record unavailable: {error_code(exc)}; dedupe skipped)"


def _after_containment(
    raw: Any, essentials: Essentials, registration: Registration | None, note: str
) -> dict[str, Any]:
    """The full normalizer's Intake, read after containment, with the record's verdict."""
    from incident.handler import full_intake
    from incident.model import Incident, IntakeStatus

    intake = full_intake(raw)
    if intake.incident is None or intake.incident.incident_id != essentials.incident_id:
        # Cannot happen while both read the event by incident.essentials' rules; if it does, the
        # containment stands and the report says what the normalizer made of the event.
        logger.error(
            "the full normalizer disagrees with the first read of the event",
            extra={"status": intake.status, "reason": intake.reason},
        )
        fields = {k: v for k, v in essentials.as_incident().items() if k not in ("access_key_ids", "user_names")}
        intake.incident = Incident.model_validate(fields)
        intake.reason = (
            f"contained from the event's essentials; the full normalizer said: {intake.status}: {intake.reason}"
        )
        intake.status = IntakeStatus.ACCEPTED
    from incident.repeat import apply

    recontain = apply(intake, registration)
    intake.reason += note
    return {**intake.model_dump(mode="json"), "recontain": recontain}


def _narrowed(essentials: Essentials, registration: Registration | None) -> Essentials:
    """A repeat contains what it brings that is new (its keys; an instance role is revoked again
    whole): the same narrowing incident.repeat applies to the full incident afterwards."""
    if registration is None or not registration.narrow or essentials.kind != "exposed-access-key":
        return essentials
    fresh = set(registration.new) | {str(item["principal"]) for item in registration.again}
    keys = [key for key in essentials.affected_keys if f"key {key['access_key_id']}" in fresh]
    return dataclasses.replace(essentials, affected_keys=keys)


def _prepared(intake: dict[str, Any], results: dict[str, Any]) -> dict[str, Any]:
    """What the Prepare state makes of Normalize's output: later states work from this only."""
    return {"intake": intake, "results": results, "failures": {}, "branches": []}
