"""Lambda: contain the attacker's reach, after each investigation pass.

Input:  {"incident": <Incident dict>, "pass": 1 | 2}
Output: {"steps": [StepResult, ...], "eviction": {small summary: counts, the evidence object}}

It reads the investigation's evidence object (investigations/<incident_id>/pass-<n>.json), whose "reach"
holds every credential and principal derived from the compromised one, each with its verdict, rule and inputs
(reach.graph), and acts on each (evict.plan, evict.actions). What it overwrote or found (a policy planted under
the responder's name, a rewritten trust document) and every step in full go to the eviction's own evidence
object (evictions/<incident_id>/pass-<n>.json): no document an attacker sized travels in the state. The output
stays small: at most MAX_STEPS steps, the rest folded into one step per (name, status, containment), so the
outcome still counts each.

Environment: EVIDENCE_BUCKET, EVIDENCE_KMS_KEY_ARN; UNKNOWN_CHANGES (hold | report); RESPONDER_ROLE_ARNS (the
stack's own roles, exact ARNs: never written); EXEMPT_PRINCIPAL_ARNS; the per-action switches
(evict.plan.SWITCHES); DRY_RUN. IAM: permissions.GRANTS and the explicit Denies of infra/functions.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from common import aws
from common.errors import transient_errors
from common.evidence import investigation_key as evidence_key
from common.evidence import keep, pass_request
from common.evidence import read_investigation as read_evidence
from common.guards import exempted_by_name
from common.settings import dry_run, env_bool, env_list, env_str
from common.steps import Status, StepResult, fold, step
from evict import actions
from evict.actions import Switch
from evict.plan import HOLD, REPORT, SWITCHES, Context, Settings, plan
from incident.model import Incident

logger = Logger(service="credential-responder")

MAX_STEPS = 25  # per pass, in the state: each step is bounded (actions.MAX_DETAIL), the rest folded
CLOUDTRAIL_LAG = (
    "CloudTrail delivers events up to ~15 minutes late, so a back door made in the last minutes is not visible "
    "yet: the second look-up, after that lag, acts on what it finds"
)


def eviction_key(incident_id: str, pass_no: int) -> str:
    return f"evictions/{incident_id}/pass-{pass_no}.json"


def exempt_seeds(iam: Any, incident: Incident, partition: str) -> dict[str, str]:
    """The incident's own credentials whose principal is exempted, by id, with the exemption."""
    found: dict[str, str] = {}
    for key in incident.affected_keys:
        user = key.user_name
        if not user and key.access_key_id.startswith("AKIA"):
            user = actions.key_user(iam, key.access_key_id)
        refusal = exempted_by_name("user", partition, incident.account, user) if user else None
        if refusal is None and incident.role_name:
            refusal = exempted_by_name("role", partition, incident.account, incident.role_name)
        if refusal is not None:
            found[key.access_key_id] = refusal.detail
    role = incident.role_name
    if role and incident.instance_id and (refusal := exempted_by_name("role", partition, incident.account, role)):
        found[incident.instance_id] = refusal.detail
    return found


def settings_from_env(incident: Incident, iam: Any = None) -> Settings:
    unknown = env_str("UNKNOWN_CHANGES", HOLD).lower()
    partition = env_str("PARTITION", "aws")
    return Settings(
        unknown_changes=unknown if unknown in (HOLD, REPORT) else HOLD,
        switches={
            action: Switch(env_bool(enabled, True), dry_run(dry_run_env), enabled)
            for action, (enabled, dry_run_env) in SWITCHES.items()
        },
        own_role_arns=frozenset(env_list("RESPONDER_ROLE_ARNS")),
        partition=partition,
        account=incident.account,
        exempt_seeds=exempt_seeds(iam, incident, partition) if iam is not None else {},
    )


def evict(
    incident: Incident,
    pass_no: int,
    document: dict[str, Any],
    *,
    iam: Any,
    config: Any,
    settings: Settings,
    now: datetime | None = None,
) -> tuple[list[StepResult], dict[str, Any], Context]:
    """Every step of this pass (none folded yet), the counts, and the context (what was replaced)."""
    context = Context(iam, config, now or datetime.now(UTC), settings)
    reach = document.get("reach")
    if not isinstance(reach, dict):
        detail = "the investigation's evidence holds no reach (an older investigation?): nothing evaluated"
        return [step(actions.SUMMARY, Status.FAILED, incident.incident_id, detail, containment=True)], {}, context
    steps = [planned.work(context) for planned in plan(reach, settings)]
    items = [item for item in reach.get("items") or [] if isinstance(item, dict)]
    verdicts = {
        verdict: sum(1 for item in items if item.get("verdict") == verdict)
        for verdict in ("attacker", "unknown", "owner")
    }
    counts = {
        "pass": pass_no,
        "items": len(items),
        **verdicts,
        "unknown_changes": settings.unknown_changes,
        "evictions": sum(1 for s in steps if s["name"] in actions.EVICTION_STEPS and s["status"] == Status.DONE),
        "replaced_documents": len(context.replaced.documents),
        "bound": reach.get("bound"),
        "cut": len(reach.get("cut") or []),
    }
    unknown = (
        f"{verdicts['unknown']} unknown ("
        + ("held on doubt, each with its release command" if settings.unknown_changes == HOLD else "left for a person")
        + ")"
    )
    detail = (
        f"pass {pass_no}: {len(items)} item(s) in the attacker's reach: {verdicts['attacker']} the attacker's, "
        f"{unknown}, {verdicts['owner']} the owner's (reported, never acted on); {reach.get('bound')}"
    )
    if pass_no == 1:
        detail += f"; {CLOUDTRAIL_LAG}"
    summary = [step(actions.SUMMARY, Status.DONE, incident.incident_id, actions.shorten(detail))]
    cut = reach.get("cut") or []
    if cut:
        text = (
            f"the reach's bound left {len(cut)} call(s) unfollowed, not contained: {'; '.join(map(str, cut[:5]))}; "
            f"every call is in the evidence object {evidence_key(incident.incident_id, pass_no)}"
        )
        summary.append(
            step(
                actions.SUMMARY,
                Status.FAILED,
                incident.incident_id,
                actions.shorten(text),
                containment=True,
                manual=f"aws s3 cp s3://EVIDENCE_BUCKET/{evidence_key(incident.incident_id, pass_no)} -  # check each",
            )
        )
    return [*summary, *steps], counts, context


def _store(s3: Any, incident: Incident, pass_no: int, steps: list[StepResult], context: Context) -> str | None:
    body = {
        "incident_id": incident.incident_id,
        "pass": pass_no,
        "steps": steps,
        "replaced": context.replaced.documents,
    }
    return keep(s3, eviction_key(incident.incident_id, pass_no), body, logger)


@transient_errors
@logger.inject_lambda_context(correlation_id_path="incident.incident_id", clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    incident, pass_no = pass_request(event, "evict")
    bucket = env_str("EVIDENCE_BUCKET")
    key = evidence_key(incident.incident_id, pass_no)
    s3 = aws.client("s3")
    try:
        if not bucket:
            raise ValueError("EVIDENCE_BUCKET is not set")
        document = read_evidence(s3, bucket, key)
    except (ClientError, ValueError) as exc:
        code = aws.error_code(exc) if isinstance(exc, ClientError) else str(exc)
        detail = (
            f"the investigation's evidence could not be read (s3://{bucket}/{key}: {code}): the reach not evaluated"
        )
        manual = f"aws s3 cp s3://{bucket}/{key} - # then check each credential it lists by hand"
        return {
            "steps": [
                step(actions.SUMMARY, Status.FAILED, incident.incident_id, detail, containment=True, manual=manual)
            ]
        }
    iam = aws.client("iam")
    steps, counts, run = evict(
        incident, pass_no, document, iam=iam, config=aws.client("config"), settings=settings_from_env(incident, iam)
    )
    uri = _store(s3, incident, pass_no, steps, run)
    logger.info("eviction finished", extra={**counts, "evidence": uri})
    return {
        "steps": fold(steps, uri or "the Evict function's logs", MAX_STEPS),
        "eviction": {**counts, "evidence": uri},
    }
