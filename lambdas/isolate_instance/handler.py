"""Lambda: isolate the instance named by an instance-credential-exfiltration finding.

Input:  {"incident": Incident.model_dump(mode="json")}  (instance_id, region, account, incident_id are
        read; the finding's network_interfaces are a snapshot, so the instance is read afresh)
Output: {"steps": [StepResult]}  (one step, "isolate-instance", containment=False, data
        {"incident_id": id, "original_groups": {eni: [sg, ...]}, "isolation_groups": {vpc: sg}}: the record
        `responder release` restores from)
Settings: DRY_RUN.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from common.aws import client
from common.errors import transient_errors
from common.guards import instance_incident, refused_instance_steps
from common.settings import dry_run
from isolate_instance.actions import ISOLATE, isolate_instance

logger = Logger(service="credential-responder")


@transient_errors
@logger.inject_lambda_context(correlation_id_path="incident.incident_id", clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    incident = instance_incident(event)
    instance_id, region = incident.get("instance_id"), incident["region"]
    if refused := refused_instance_steps(incident, context, by_hand="isolate", steps=(ISOLATE,)):
        return {"steps": refused}
    result = isolate_instance(
        client("ec2", region),
        instance_id,
        region,
        incident_id=incident["incident_id"],
        dry_run=dry_run("DRY_RUN_ISOLATE_INSTANCE"),
    )
    logger.info("isolation", extra={"instance_id": instance_id, "status": result["status"]})
    return {"steps": [result]}
