"""Lambda: contain exposed access keys. Two entries, one function:

* the execution's first task (input {"event": <EventBridge event>, "execution_id"}): reads the AWS
  Health event's essentials, records the incident, deactivates every key, then quarantines each
  owner and revokes its older sessions, and only then normalizes the event in full (incident.intake).
  Output: what Route expects, `results.contain_keys` = [{"steps": [...]}, ...] (one per key).
* after Step Functions itself recorded the incident and deactivated the keys (infra/intake.py; input
  {"event", "execution_id", "incident_id", "contained": [{"access_key_id", "user_name"}, ...]}):
  each key read back, then each owner's quarantine and sessions, then the full normalizer
  (incident.intake.after_containment). Output: as the first task's.
* one Map item of the regular route (input {"incident": {...}, "key": {"access_key_id", "user_name"}}),
  for what the first task leaves to the normalizer (attack sequences, more than ten keys).
  Output: {"steps": [StepResult, ...]}  (deactivate-access-key, quarantine-user, revoke-user-sessions)

The containing call comes first. A user named by the event is tried as it is (no read before the
write): UpdateAccessKey answers NoSuchEntity when that user does not hold the key, and only then
does IAM name the owner (GetAccessKeyLastUsed), as it does when the event names none. Exempted
principals are refused from the configuration (names are unique in an account), and IAM itself
denies this function any write on them and on the responder's own path (infra).
The keys of the first task are contain_key.all_keys'; one key's steps, contain_key.one_key's.
This is the function that makes the containing call, so it imports only what it needs:
boto3, the Powertools Logger and the plain-dict step helpers (no pydantic until after containment).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from common.aws import client, prepare_for_snapshot
from common.errors import transient_errors
from contain_key.all_keys import contain_all, finish_all
from contain_key.one_key import deactivate, follow_up
from incident.essentials import health_essentials
from incident.intake import after_containment, first_task

logger = Logger(service="credential-responder")
prepare_for_snapshot("iam", "dynamodb")


@transient_errors
@logger.inject_lambda_context(correlation_id_path="incident.incident_id", clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "contained" in event:
        return after_containment(
            event,
            read=health_essentials,
            finish=lambda essentials, contained: finish_all(essentials, contained, context),
            results_key="contain_keys",
        )
    if "key" not in event:
        return first_task(
            event,
            read=health_essentials,
            contain=lambda essentials: contain_all(essentials, context),
            results_key="contain_keys",
        )
    incident, key = event["incident"], event["key"]
    iam = client("iam")
    first, owner = deactivate(iam, incident, key, context)
    if owner is None:
        return {"steps": first}
    steps = [*first, *follow_up(iam, owner, not_before=datetime.now(UTC))]
    return {"steps": steps}
