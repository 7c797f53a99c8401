"""Lambda: revoke the sessions of the role named by an instance-credential-exfiltration finding.
Two entries, one function:

* the execution's first task (input {"event": <EventBridge event>, "execution_id"}): reads the
  GuardDuty finding's essentials, records the incident, revokes the role's sessions (again, with a
  new cut-off, when the record says GuardDuty's count rose), and only then normalizes the finding in
  full (incident.intake). Output: what Route expects, `results.revoke_sessions` = {"steps": [...]}.
* after Step Functions itself recorded the incident and put the cut-off (infra/intake.py; input
  {"event", "execution_id", "incident_id", "contained": {"role_name", "cutoff"}}): the cut-off read
  back, the instance's current profile noted, then the full normalizer
  (incident.intake.after_containment). Output: as the first task's.
* a task of the regular route (input {"incident": Incident.model_dump(mode="json")}), for what the
  first task leaves to the normalizer (no role named, attack sequences) and for re-containment.
  Output: {"steps": [StepResult]}  (one step, "revoke-role-sessions", containment=True)
* one Map item of ContainRoles / RecontainRoles (input {"incident": ..., "role": NAME}): a role an
  attack sequence named beside its keys, which another response of the incident contained and
  which shows activity since (incident.contain_roles): its sessions revoked again, scoped to the
  role (no instance is this incident's).

Settings: DRY_RUN, REVOKE_SCOPE ("role" | "instance"), RESPONDER_ROLE_ARNS (the responder's own roles, exact ARNs),
        EXEMPT_INSTANCE_IDS (stops a revoke scoped to that instance), AFFILIATED_INSIDE_AWS.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from aws_lambda_powertools import Logger

from common.aws import client, prepare_for_snapshot
from common.cutoff import deny_older_sessions
from common.errors import transient_errors
from common.guards import own_account
from common.settings import dry_run, env_list, env_str
from common.steps import Status, step
from incident.essentials import exfiltration_essentials
from incident.intake import after_containment, first_task
from revoke_sessions.actions import REVOKE, confirm_cutoff, note_current_profile, revoke

logger = Logger(service="credential-responder")
prepare_for_snapshot("iam", "dynamodb")


@transient_errors
@logger.inject_lambda_context(correlation_id_path="incident.incident_id", clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "contained" in event:
        return after_containment(
            event,
            read=lambda raw: exfiltration_essentials(
                raw, affiliated_inside_aws=env_str("AFFILIATED_INSIDE_AWS", "contain")
            ),
            finish=lambda essentials, contained: _confirm(essentials.as_incident(), contained, context),
            results_key="revoke_sessions",
        )
    if "incident" not in event:
        return first_task(
            event,
            read=lambda raw: exfiltration_essentials(
                raw, affiliated_inside_aws=env_str("AFFILIATED_INSIDE_AWS", "contain")
            ),
            contain=lambda essentials: _revoke(essentials.as_incident(), context),
            results_key="revoke_sessions",
        )
    if event.get("role"):
        incident = {**event["incident"], "role_name": event["role"], "instance_id": None, "principal_id": None}
        return _revoke(incident, context, role_scope=True)
    return _revoke(event["incident"], context)


def _by_hand(role: str, where: str) -> str:
    """The IAM console's 'Revoke active sessions' as commands a person runs where the role is: the cut-off is the
    moment they run it (the document is the one actions.revoke_role_sessions writes)."""
    # In double quotes, so that the shell puts the time in: the document's own quotes escaped.
    document = json.dumps(deny_older_sessions("$cutoff"), separators=(",", ":")).replace('"', '\\"')
    return "\n".join(
        [
            where,
            "cutoff=$(date -u +%Y-%m-%dT%H:%M:%SZ)",
            f"aws iam put-role-policy --role-name {shlex.quote(role)} --policy-name AWSRevokeOlderSessions "
            f'--policy-document "{document}"',
        ]
    )


def _revoke(incident: dict[str, Any], context: Any, *, role_scope: bool = False) -> dict[str, Any]:
    account = own_account(context)
    target = incident.get("role_name") or incident.get("instance_id") or "unknown"
    if incident.get("account_conflict"):
        # The event's own account fields disagree: which account the role is in is not known, and
        # the same role name may exist in both; acting on a guess is what must never happen.
        return {
            "steps": [
                step(
                    REVOKE,
                    Status.SKIPPED,
                    target,
                    f"the event's accounts disagree ({incident['account_conflict']}); nothing is changed",
                    containment=True,
                    manual=_by_hand(target, "# find the role's account; then, with that account's credentials:"),
                )
            ]
        }
    if incident["account"] != account:
        # A delegated GuardDuty administrator also receives its members' findings: this
        # deployment's role cannot act in the member account.
        return {
            "steps": [
                step(
                    REVOKE,
                    Status.SKIPPED,
                    target,
                    f"the role is in account {incident['account']}; this responder runs in {account}",
                    containment=True,
                    manual=_by_hand(target, f"# in account {incident['account']}, with its credentials:"),
                )
            ]
        }
    # A role contained again for an attack sequence has no instance of its own: its sessions, whatever
    # revokeScope says.
    scope = "instance" if env_str("REVOKE_SCOPE", "role").lower() == "instance" and not role_scope else "role"
    # Built before the revoke only when the role must be found from the instance: the EC2 client's
    # cold start would otherwise delay the containing call.
    ec2 = None if incident.get("role_name") else client("ec2", incident["region"])
    result = revoke(
        client("iam"),
        ec2,
        incident,
        scope=scope,
        own_role_arns=frozenset(env_list("RESPONDER_ROLE_ARNS")),
        partition=context.invoked_function_arn.split(":")[1],
        dry_run=dry_run("DRY_RUN_REVOKE_SESSIONS"),
    )
    if ec2 is None and incident.get("instance_id") and result["status"] in ("done", "already-done"):
        note_current_profile(
            result, client("ec2", incident["region"]), client("iam"), incident["instance_id"], incident["role_name"]
        )
    logger.info("role sessions", extra={"role": result["target"], "status": result["status"]})
    return {"steps": [result]}


def _confirm(incident: dict[str, Any], contained: Any, context: Any) -> dict[str, Any]:
    """After the state machine's PutRolePolicy (`contained`: {"role_name", "cutoff"}): read back, as
    revoke_role_sessions does after its own, then whether the instance's profile points elsewhere."""
    role_name = contained.get("role_name") if isinstance(contained, dict) else None
    cutoff = contained.get("cutoff") if isinstance(contained, dict) else None
    if not isinstance(role_name, str) or role_name != incident.get("role_name") or not isinstance(cutoff, str):
        # Cannot happen while the state reads the finding as essentials: the whole rule, from the start.
        return _revoke(incident, context)
    iam = client("iam")
    result = confirm_cutoff(iam, role_name, cutoff)
    if incident.get("instance_id") and result["status"] in ("done", "already-done"):
        note_current_profile(result, client("ec2", incident["region"]), iam, incident["instance_id"], role_name)
    logger.info("role sessions", extra={"role": role_name, "status": result["status"], "by": "state machine"})
    return {"steps": [result]}
