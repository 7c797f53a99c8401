"""Lambda: the workflow's first task. Normalizes the event and records the incident (dedupe).

Input:  {"event": <the EventBridge event>, "execution_id": <this execution's ARN>}
        (a bare EventBridge event is accepted too, e.g. when invoked by hand)
Output: {"status": "accepted"|"ignored"|"duplicate", "reason": str, "incident": Incident|null, "notify": bool,
         "record": ResponseRef|null, "recontain": bool}
        `recontain` (only with "duplicate"): the repeat shows the credentials still in use (activity
        after the last cut-off, a GuardDuty count that rose, fresh credentials), and the workflow
        cuts them off again before it reports. For a repeat the incident is narrowed to what it
        brings that is new (incident.repeat); `record` says where the response is recorded.
        An input that is not a JSON object (an array or a string started by hand) is "ignored"
        with a reason, never a crash.
Settings: INCIDENT_TABLE, ACCEPT_SAMPLE_FINDINGS, AFFILIATED_INSIDE_AWS (contain|notify), ATTACK_SEQUENCE_MAX_ACTORS,
ISOLATE_INSTANCE_GROUPS,
INCIDENT_STALE_AFTER_SECONDS (set by infra to the state machine's timeout: a record still
`responding` after it belongs to a dead execution).

Dedupe lives here, in the task that already runs before containment, so that containment stays
the first task after normalization. A finding of an attack already handled (an attack sequence over
a recorded finding) joins that incident's record instead of getting its own
(record.join.join_earlier); every repeat is judged by what it names (record.judge). If the
incident table cannot be written (other than throttling, which is retried), the response goes on
without dedupe: every action is idempotent, and containing twice is better than not containing.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from common.aws import client, error_code
from common.errors import is_transient, transient_errors
from common.settings import env_bool, env_str
from incident.model import Intake
from incident.normalize import DEFAULT_ATTACK_SEQUENCE_MAX_ACTORS, normalize
from incident.repeat import apply
from record.item import NO_RECORD_NOTE, stale_after
from record.join import join_earlier
from record.registration import register

logger = Logger(service="credential-responder")


@transient_errors
@logger.inject_lambda_context(correlation_id_path="event.id", clear_state=True)
def handler(event: Any, context: Any) -> dict[str, Any]:
    raw = event.get("event", event) if isinstance(event, dict) else event
    execution_arn = event.get("execution_id", "") if isinstance(event, dict) else ""
    return normalize_and_register(raw, execution_arn if isinstance(execution_arn, str) else "")


def normalize_and_register(raw: Any, execution_arn: str) -> dict[str, Any]:
    """The Intake of `raw`, recorded (dedupe) when it is an incident. Also the containing functions'
    route for an event whose essentials they do not read themselves (incident.intake)."""
    intake = full_intake(raw)
    recontain = False
    table = env_str("INCIDENT_TABLE")
    if intake.incident is not None and not table:
        logger.error("INCIDENT_TABLE is not set; responding without dedupe")
        intake.reason += NO_RECORD_NOTE
    elif intake.incident is not None:
        logger.append_keys(incident_id=intake.incident.incident_id)
        incident = intake.incident.model_dump(mode="json")
        try:
            # One incident per attack: a later finding of an attack already handled joins its record.
            joined = join_earlier(
                client("dynamodb"), table, incident, execution_arn=execution_arn, stale_after_seconds=stale_after()
            )
            registration = (
                joined.registration
                if joined
                else register(
                    client("dynamodb"), table, incident, execution_arn=execution_arn, stale_after_seconds=stale_after()
                )
            )
        except ClientError as exc:
            if is_transient(exc):
                raise
            logger.error("incident record unavailable; responding without dedupe", extra={"error": error_code(exc)})
            intake.reason += f" (incident record unavailable: {error_code(exc)}; dedupe skipped)"
        else:
            recontain = apply(intake, registration, joined.joined if joined else None)
    logger.info("event normalized", extra={"status": intake.status, "reason": intake.reason, "recontain": recontain})
    # contained_at_intake: always said, so that Route's Choice never reads a missing field.
    return {**intake.model_dump(mode="json"), "recontain": recontain, "contained_at_intake": False}


def full_intake(raw: Any) -> Intake:
    return normalize(
        raw,
        accept_samples=env_bool("ACCEPT_SAMPLE_FINDINGS"),
        affiliated_inside_aws=env_str("AFFILIATED_INSIDE_AWS", "contain"),
        attack_sequence_max_actors=_max_actors(),
        isolate_groups=env_bool("ISOLATE_INSTANCE_GROUPS"),
    )


def _max_actors() -> int:
    try:
        actors = int(env_str("ATTACK_SEQUENCE_MAX_ACTORS"))
    except ValueError:
        return DEFAULT_ATTACK_SEQUENCE_MAX_ACTORS
    return actors if actors > 0 else DEFAULT_ATTACK_SEQUENCE_MAX_ACTORS
