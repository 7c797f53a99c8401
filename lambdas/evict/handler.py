"""Lambda: evict the back doors the attacker left, after each investigation pass.

Input:  {"incident": <Incident dict>, "pass": 1 | 2}
Output: {"steps": [StepResult, ...], "eviction": {small summary: counts, the rule}}

It reads the investigation's evidence object (investigations/<incident_id>/pass-<n>.json: every event of
the pass, complete and not size-capped), decides attacker or owner for each back-door call
(evict.attribution), and runs one eviction per back door (evict.actions). The output stays small: at most
MAX_STEPS steps per pass; what is over is named in one failed step (the evidence object has it all).

Environment: EVIDENCE_BUCKET; per-action switches EVICT_CREATED_USERS, REMOVE_LOGIN_PROFILES,
QUARANTINE_CREATED_ROLES, QUARANTINE_REWRITTEN_TRUST, DETACH_ATTACKER_POLICIES (default true) and
DEACTIVATE_BACKDOOR_KEYS; DRY_RUN and the per-action DRY_RUN_* (infra.config.DRY_RUN_ACTIONS);
PROTECTED_ROLE_PATH. IAM: permissions.GRANTS (and the explicit Deny on the responder's own roles, infra/functions.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from common import aws
from common.errors import UnsupportedEvent, transient_errors
from common.settings import env_bool, env_str
from common.steps import Status, StepResult, step
from evict import actions
from evict.actions import Switch
from evict.attribution import RULE, Decision, as_dict, calls_of, decide, iso
from evict.plan import Plan, plan
from incident.model import Incident
from investigate.backdoors import deactivate_key

logger = Logger(service="credential-responder")

MAX_STEPS = 25  # per pass: each step is < 2 KB, and the state machine's payload is capped at 256 KB
CLOUDTRAIL_LAG = (
    "CloudTrail delivers events up to ~15 minutes late, so a back door made in the last minutes is not visible "
    "yet: the second look-up, after that lag, acts on what it finds"
)

# action -> (its own switch, its dry-run switch)
SWITCHES = {
    "users": ("EVICT_CREATED_USERS", "DRY_RUN_EVICT_CREATED_USERS"),
    "login_profiles": ("REMOVE_LOGIN_PROFILES", "DRY_RUN_REMOVE_LOGIN_PROFILES"),
    "roles": ("QUARANTINE_CREATED_ROLES", "DRY_RUN_QUARANTINE_CREATED_ROLES"),
    "trust": ("QUARANTINE_REWRITTEN_TRUST", "DRY_RUN_QUARANTINE_REWRITTEN_TRUST"),
    "policies": ("DETACH_ATTACKER_POLICIES", "DRY_RUN_DETACH_ATTACKER_POLICIES"),
}


def switch(action: str) -> Switch:
    enabled, dry_run = SWITCHES[action]
    return Switch(env_bool(enabled, True), env_bool("DRY_RUN") or env_bool(dry_run), enabled)


def evidence_key(incident_id: str, pass_no: int) -> str:
    return f"investigations/{incident_id}/pass-{pass_no}.json"


def read_evidence(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    document = json.loads(body)
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise ValueError("not an investigation evidence object (no events list)")
    return document


def _exposure(document: dict[str, Any], incident: Incident) -> str:
    window = as_dict(document.get("window"))
    moment = window.get("first_sighting") or incident.first_seen or incident.detected_at
    return iso(moment)


def evict(
    incident: Incident,
    pass_no: int,
    document: dict[str, Any],
    *,
    iam: Any,
    config: Any,
    protected_path: str,
    now: datetime | None = None,
) -> tuple[list[StepResult], dict[str, Any]]:
    """The eviction steps for one pass's events (pure apart from the clients)."""
    now = now or datetime.now(UTC)
    exposed_at = _exposure(document, incident)
    decisions = decide(calls_of(document["events"]), exposed_at)
    found = plan(decisions)
    steps: list[StepResult] = []
    pending = _work(found, decisions)
    context = Context(iam, config, protected_path, now)
    for index, (label, run) in enumerate(pending):
        if index >= MAX_STEPS:
            rest = ", ".join(label for label, _ in pending[MAX_STEPS:][:20])
            detail = (
                f"{len(pending) - MAX_STEPS} more back door(s) than one pass acts on, left as they are: {rest}; "
                f"every call is in the evidence object {evidence_key(incident.incident_id, pass_no)}"
            )
            steps.append(step(actions.SUMMARY, Status.FAILED, incident.incident_id, detail, containment=True))
            break
        steps.append(run(context))
    counts = {
        "pass": pass_no,
        "exposed_at": exposed_at,
        "calls": len(decisions),
        "attacker_backdoor_calls": found.attacker_calls,
        "owner_backdoor_calls": len(found.owner),
        "evictions": sum(1 for s in steps if s["name"] in actions.EVICTION_STEPS),
        "rule": RULE,
    }
    detail = (
        f"pass {pass_no}: {len(decisions)} call(s) of the credential; back-door calls: {found.attacker_calls} the "
        f"attacker's, {len(found.owner)} the owner's (exposure {exposed_at}); rule: {RULE}"
    )
    if pass_no == 1:
        detail += f"; {CLOUDTRAIL_LAG}"
    steps.insert(0, step(actions.SUMMARY, Status.DONE, incident.incident_id, detail))
    return steps, counts


@dataclass(frozen=True)
class Context:
    iam: Any
    config: Any
    protected_path: str
    now: datetime


Work = Callable[[Context], StepResult]


def _created_user(user: str, why: str, c: Context) -> StepResult:
    return actions.evict_created_user(c.iam, user, why, switch("users"))


def _login_profile(user: str, why: str, created: bool, c: Context) -> StepResult:
    return actions.remove_login_profile(c.iam, user, why, switch("login_profiles"), created_by_attacker=created)


def _created_role(role: str, decision: Decision, c: Context) -> StepResult:
    trusted = actions.principals(actions.document(decision.call.request.get("assumeRolePolicyDocument")))
    note = f"it trusts {', '.join(sorted(trusted)) or 'nobody readable'}"
    return actions.quarantine_role(
        c.iam, role, actions.QUARANTINE_ROLE, decision.explain(), switch("roles"),
        protected_path=c.protected_path, now=c.now, note=note,
    )  # fmt: skip


def _rewritten_trust(role: str, rewrites: list[Decision], earlier: list[Decision], c: Context) -> StepResult:
    iam = c.iam
    config = c.config

    def from_config() -> tuple[Any, str]:
        try:
            role_id = iam.get_role(RoleName=role)["Role"]["RoleId"]
        except ClientError as exc:
            return None, f"role unreadable ({aws.error_code(exc)})"
        return actions.previous_trust_from_config(config, role_id, rewrites[0].call.time)

    note, data = actions.trust_report(role, rewrites, earlier, from_config)
    return actions.quarantine_role(
        c.iam, role, actions.QUARANTINE_TRUST, rewrites[-1].explain(), switch("trust"),
        protected_path=c.protected_path, now=c.now, note=note, data=data,
    )  # fmt: skip


def _policy(decision: Decision, created: str | None, c: Context) -> StepResult:
    return actions.detach_policy(c.iam, decision, created, decision.explain(), switch("policies"))


def _attacker_key(record: dict[str, Any], decision: Decision, c: Context) -> StepResult:
    """A key made before the exposure, from a source new to the owner: the investigation leaves keys from
    before the exposure alone, so the source rule is applied here."""
    result = deactivate_key(
        c.iam,
        record,
        enabled=env_bool("DEACTIVATE_BACKDOOR_KEYS", True),
        exposed_at=datetime.strptime(decision.exposed_at, actions.TIME_FORMAT).replace(tzinfo=UTC),
        dry_run=env_bool("DRY_RUN") or env_bool("DRY_RUN_BACKDOOR_KEYS"),
    )
    return {**result, "detail": actions.shorten(f"{result['detail']}; {decision.explain()}")}


def _minted(decision: Decision, c: Context) -> StepResult:
    return actions.minted_sessions(decision, decision.explain())


def _owner(decision: Decision, c: Context) -> StepResult:
    return actions.owner_change(decision)


def _earlier_trust(decisions: list[Decision], role: str, before: str) -> list[Decision]:
    """The role's trust documents before `before`, whoever set them (CreateRole, UpdateAssumeRolePolicy)."""
    return [
        d
        for d in decisions
        if d.call.succeeded
        and d.call.request.get("roleName") == role
        and d.call.event_name in ("CreateRole", "UpdateAssumeRolePolicy")
        and d.call.time < before
    ]


def _work(found: Plan, decisions: list[Decision]) -> list[tuple[str, Work]]:
    """Each eviction as (label, work), in the order they are acted on: identities first, then rights."""
    work: list[tuple[str, Work]] = []
    for user, decision in found.created_users.items():
        work.append((f"user {user}", partial(_created_user, user, decision.explain())))
        login = found.login_profiles.get(user, decision)
        work.append((f"console password of {user}", partial(_login_profile, user, login.explain(), True)))
    for user, decision in found.login_profiles.items():
        if user not in found.created_users:
            work.append((f"console password of {user}", partial(_login_profile, user, decision.explain(), False)))
    for role, decision in found.created_roles.items():
        work.append((f"role {role}", partial(_created_role, role, decision)))
    for role, rewrites in found.trust_rewrites.items():
        if role in found.created_roles:
            continue  # quarantined as a created role: its trust is the attacker's from the start
        earlier = _earlier_trust(decisions, role, rewrites[0].call.time)
        work.append((f"trust policy of role {role}", partial(_rewritten_trust, role, rewrites, earlier)))
    for decision in found.policies:
        request = decision.call.request
        label = f"{decision.call.event_name} {request.get('policyArn') or request.get('policyName')}"
        work.append((label, partial(_policy, decision, found.created_principal(decision))))
    for decision in found.keys:
        response = decision.call.response
        key = as_dict(response.get("accessKey"))
        user = str(key.get("userName") or decision.call.request.get("userName") or decision.call.caller_user or "")
        if decision.after_exposure or not key.get("accessKeyId") or not user:
            continue  # after the exposure: the investigation deactivates it (step deactivate-backdoor-key)
        record = {
            "access_key_id": key["accessKeyId"],
            "user": user,
            "caller_key": decision.call.caller_key,
            "time": decision.call.time,
        }
        work.append((f"access key {key['accessKeyId']}", partial(_attacker_key, record, decision)))
    for decision in found.minted:
        work.append((f"{decision.call.event_name} session", partial(_minted, decision)))
    for decision in found.owner:
        work.append((f"owner's {decision.call.event_name}", partial(_owner, decision)))
    return work


def _request(event: Any) -> tuple[Incident, int]:
    if not isinstance(event, dict) or not isinstance(event.get("incident"), dict):
        raise UnsupportedEvent('evict expects {"incident": {...}, "pass": 1|2}')
    pass_no = event.get("pass", 1)
    if pass_no not in (1, 2):
        raise UnsupportedEvent(f"pass must be 1 or 2, got {pass_no!r}")
    return Incident.model_validate(event["incident"]), pass_no


@transient_errors
@logger.inject_lambda_context(correlation_id_path="incident.incident_id", clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    incident, pass_no = _request(event)
    bucket = env_str("EVIDENCE_BUCKET")
    key = evidence_key(incident.incident_id, pass_no)
    try:
        if not bucket:
            raise ValueError("EVIDENCE_BUCKET is not set")
        document = read_evidence(aws.client("s3"), bucket, key)
    except (ClientError, ValueError) as exc:
        code = aws.error_code(exc) if isinstance(exc, ClientError) else str(exc)
        detail = f"the investigation's events could not be read (s3://{bucket}/{key}: {code}): back doors not evaluated"
        manual = f"aws s3 cp s3://{bucket}/{key} - # then check each persistence call by hand"
        return {"steps": [step(actions.SUMMARY, Status.FAILED, incident.incident_id, detail, manual=manual)]}
    steps, counts = evict(
        incident,
        pass_no,
        document,
        iam=aws.client("iam"),
        config=aws.client("config"),
        protected_path=env_str("PROTECTED_ROLE_PATH", "/credential-responder/"),
    )
    logger.info("eviction finished", extra=counts)
    return {"steps": steps, "eviction": counts}
