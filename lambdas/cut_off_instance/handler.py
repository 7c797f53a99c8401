"""Lambda: cut the instance named by an instance-credential-exfiltration finding off from its load
balancers and from new role credentials.

Input:  {"incident": Incident.model_dump(mode="json")}  (instance_id, region, account are read)
Output: {"steps": [StepResult, StepResult]}  (deregister-from-load-balancers, remove-instance-profile;
        containment=False)
Settings: DRY_RUN, DRY_RUN_LOAD_BALANCERS, DRY_RUN_INSTANCE_PROFILE, DETACH_LOAD_BALANCERS,
        REMOVE_INSTANCE_PROFILE (both on unless "false").
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from common.aws import client
from common.errors import transient_errors
from common.guards import instance_incident, refused_instance_steps
from common.settings import dry_run, env_bool
from common.steps import Status, step
from cut_off_instance.actions import LOAD_BALANCERS, PROFILE, deregister_from_load_balancers, remove_instance_profile

logger = Logger(service="credential-responder")


@transient_errors
@logger.inject_lambda_context(correlation_id_path="incident.incident_id", clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    incident = instance_incident(event)
    instance_id, region = incident.get("instance_id"), incident["region"]
    by_hand = "deregister from its load balancers and remove the instance profile of"
    if refused := refused_instance_steps(incident, context, by_hand=by_hand, steps=(LOAD_BALANCERS, PROFILE)):
        return {"steps": refused}
    ec2 = client("ec2", region)
    steps = []
    if env_bool("DETACH_LOAD_BALANCERS", True):
        steps.append(
            deregister_from_load_balancers(
                ec2,
                client("elbv2", region),
                client("elb", region),
                instance_id,
                region,
                dry_run=dry_run("DRY_RUN_LOAD_BALANCERS"),
            )
        )
    else:
        steps.append(step(LOAD_BALANCERS, Status.SKIPPED, instance_id, "off by configuration (detachLoadBalancers)"))
    if env_bool("REMOVE_INSTANCE_PROFILE", True):
        steps.append(remove_instance_profile(ec2, instance_id, region, dry_run=dry_run("DRY_RUN_INSTANCE_PROFILE")))
    else:
        steps.append(step(PROFILE, Status.SKIPPED, instance_id, "off by configuration (removeInstanceProfile)"))
    logger.info("cut off", extra={"instance_id": instance_id, "statuses": [s["status"] for s in steps]})
    return {"steps": steps}
