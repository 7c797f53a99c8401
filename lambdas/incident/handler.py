"""Lambda: the workflow's first task. Normalizes the EventBridge event into an Intake.

Input:  the EventBridge event, as the rule delivers it (or as `StartExecution` is given it).
Output: {"status": "accepted"|"ignored", "reason": str, "incident": Incident | null}
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from common.settings import env_bool
from incident.normalize import normalize

logger = Logger(service="credential-responder")


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
def handler(event: Any, context: Any) -> dict[str, Any]:
    intake = normalize(event, accept_samples=env_bool("ACCEPT_SAMPLE_FINDINGS"))
    if intake.incident:
        logger.append_keys(incident_id=intake.incident.incident_id)
    logger.info("event normalized", extra={"status": intake.status, "reason": intake.reason})
    return intake.model_dump(mode="json")
