"""Lambda: preserve the evidence on the instance named by an instance-credential-exfiltration finding.

Input:  {"incident": Incident.model_dump(mode="json")}  (instance_id, region, account, incident_id,
        finding_id, source are read)
Output: {"steps": [StepResult, StepResult, StepResult]}  (protect-instance, protect-from-autoscaling,
        create-evidence-image; containment=False)
Settings: DRY_RUN.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from common.aws import client
from common.errors import transient_errors
from common.guards import instance_incident, refused_instance_steps
from common.settings import dry_run
from preserve_evidence.actions import (
    AUTOSCALING,
    IMAGE,
    PROTECT,
    create_evidence_image,
    protect_from_autoscaling,
    protect_instance,
)

logger = Logger(service="credential-responder")


@transient_errors
@logger.inject_lambda_context(correlation_id_path="incident.incident_id", clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    incident = instance_incident(event)
    instance_id, region = incident.get("instance_id"), incident["region"]
    by_hand = "protect, detach and image"
    if refused := refused_instance_steps(incident, context, by_hand=by_hand, steps=(PROTECT, AUTOSCALING, IMAGE)):
        return {"steps": refused}
    dry = dry_run("DRY_RUN_PRESERVE_EVIDENCE")
    ec2 = client("ec2", region)
    # Protection first: the image takes minutes, and the instance must survive them.
    steps = [
        protect_instance(ec2, instance_id, region, dry_run=dry),
        protect_from_autoscaling(client("autoscaling", region), instance_id, region, dry_run=dry),
        create_evidence_image(ec2, incident, dry_run=dry),
    ]
    logger.info("evidence", extra={"instance_id": instance_id, "statuses": [s["status"] for s in steps]})
    return {"steps": steps}
