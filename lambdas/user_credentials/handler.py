"""Lambda: every other long-term credential of a compromised IAM user, set Inactive and read back, after each
eviction pass.

Input:  {"incident": <Incident dict>, "pass": 1 | 2}
Output: {"steps": [StepResult, ...]} (deactivate-user-credential, containment; at most MAX_STEPS, the rest folded
        and every one kept in the evidence bucket: user-credentials/<incident_id>/pass-<n>.json)

Whose credentials:
- the exposed key's user (IAM names it by the key, whatever renames happened): all of them;
- each user the attacker made (the pass's reach, reach.graph "user" items): all of them;
- each credential the reach says the attacker added to a user it did not make ("user-credential" items): that one.
A reach item is acted on by its verdict, as the eviction does (evict.plan): the attacker's; an unknown one with
unknownChanges=hold (held on doubt) or left and reported with unknownChanges=report; the owner's never (the
eviction reports it); one made from an exempted principal's credential reported only.

Environment: EVIDENCE_BUCKET, EVIDENCE_KMS_KEY_ARN; USER_CREDENTIALS (off: each credential reported, not touched);
UNKNOWN_CHANGES; EXEMPT_PRINCIPAL_ARNS; DRY_RUN, DRY_RUN_USER_CREDENTIALS.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from common import aws, settings
from common.errors import transient_errors
from common.evidence import investigation_key, keep, pass_request, reach_items, read_investigation
from common.guards import exempted_by_name, own_account
from common.settings import env_bool, env_str
from common.steps import Status, StepResult, fold, step
from incident.model import Incident
from user_credentials.actions import BY_NAME, STEP, Credential, command, deactivate, every_credential, key_user

logger = Logger(service="credential-responder")

MAX_STEPS = 25
ROOT_USER = "<root_account>"  # what IAM calls the root user (GetAccessKeyLastUsed of a root key)
OFF = "off by configuration (userCredentials=false)"


def exposed_users(iam: Any, incident: Incident) -> list[tuple[str, str, str]]:
    """(user, why, gone) for each exposed key's user, by the name IAM gives it now. `gone` says why the user is gone
    when IAM no longer lists it by that name: IAM knows no such key either, and a renamed user keeps its keys."""
    found: dict[str, tuple[str, str]] = {}
    for key in incident.affected_keys:
        holder, code = key_user(iam, key.access_key_id) if key.access_key_id.startswith("AKIA") else (None, "")
        user = holder or key.user_name
        gone = f"IAM knows no key {key.access_key_id} (NoSuchEntity)" if code == "NoSuchEntity" else ""
        if user and user != ROOT_USER:
            found.setdefault(user, (f"the user of the exposed key {key.access_key_id}", gone))
    return [(user, why, gone) for user, (why, gone) in found.items()]


def _why(item: dict[str, Any], held: bool) -> str:
    text = f"{item.get('label')}: the attacker's reach ({item.get('rule')}: {item.get('evidence')})"
    return f"held on doubt (unknownChanges=hold; release sets it Active again): {text}" if held else text


WholeUser = tuple[str, str, str]  # (user, its unique id when known, why)
OneCredential = tuple[str, str, str, str]  # (user, kind, id, why)


def plan_reach(
    items: list[dict[str, Any]], unknown_changes: str, exempt_seeds: set[str]
) -> tuple[list[WholeUser], list[OneCredential], list[StepResult]]:
    """The users to cover whole and the single credentials, from the reach; and the steps that say why an item is
    not acted on."""
    users: list[WholeUser] = []
    singles: list[OneCredential] = []
    reported: list[StepResult] = []
    for item in items:
        kind = item.get("kind")
        if kind not in ("user", "user-credential") or item.get("verdict") == "owner":
            continue  # the owner's: the eviction reports it, with its evidence
        target = str(item.get("id") if kind == "user-credential" else item.get("user") or item.get("id"))
        if str(item.get("root") or "") in exempt_seeds:
            text = f"{item.get('label')}: made from an exempted principal's credential: reported, not acted on"
            reported.append(step(STEP, Status.SKIPPED, target, text))
            continue
        held = item.get("verdict") == "unknown"
        if held and unknown_changes == "report":
            text = (
                f"{item.get('label')}: unknown ({item.get('rule')}): {item.get('evidence')}; left as it is "
                "(unknownChanges=report): a person decides whose it is"
            )
            reported.append(step(STEP, Status.SKIPPED, target, text, containment=True, manual=_manual(item)))
            continue
        if kind == "user":
            users.append((str(item.get("user") or item.get("id")), str(item.get("user_id") or ""), _why(item, held)))
        else:
            kind_name = str((item.get("details") or {}).get("type") or "")
            singles.append((str(item.get("user") or ""), kind_name, target, _why(item, held)))
    return users, singles, reported


def _manual(item: dict[str, Any]) -> str:
    kind = BY_NAME.get(str((item.get("details") or {}).get("type") or ""))
    if item.get("kind") == "user-credential" and kind:
        return command(kind, str(item.get("user") or "USER"), str(item.get("id")), "Inactive")
    return f"aws iam list-ssh-public-keys --user-name {item.get('user')}  # then each credential: --status Inactive"


def respond(
    iam: Any, incident: Incident, items: list[dict[str, Any]] | None, *, account: str, partition: str
) -> list[StepResult]:
    switched_on = env_bool("USER_CREDENTIALS", True)
    dry_run = settings.dry_run("DRY_RUN_USER_CREDENTIALS")
    unknown_changes = env_str("UNKNOWN_CHANGES", "hold").lower()
    steps: list[StepResult] = []
    if incident.account != account:
        text = f"the credential belongs to account {incident.account}; this responder runs in {account}"
        manual = (
            f"# in account {incident.account}: set the compromised users' SSH keys, service-specific credentials and "
            "signing certificates Inactive"
        )
        return [step(STEP, Status.SKIPPED, incident.account, text, containment=True, manual=manual)]
    exempt_seeds = {
        key.access_key_id
        for key in incident.affected_keys
        if key.user_name and exempted_by_name("user", partition, account, key.user_name)
    }
    exposed = exposed_users(iam, incident)
    gone = {user: said for user, _, said in exposed if said}
    users = [(user, "", why) for user, why, _ in exposed]
    singles: list[OneCredential] = []
    if items is not None:
        reach_users, singles, reported = plan_reach(items, unknown_changes, exempt_seeds)
        users += reach_users
        steps += reported
    seen: set[tuple[str, str]] = set()
    covered: set[str] = set()
    for user, user_id, why in users:
        if user in covered:
            continue
        covered.add(user)
        refusal = exempted_by_name("user", partition, account, user)
        refused = refusal.detail if refusal else (None if switched_on else OFF)

        def act(credential: Credential, why: str, refused: str | None = refused) -> StepResult:
            seen.add((credential.kind.name, credential.id))
            return deactivate(iam, credential, why, dry_run=dry_run, refusal=refused)

        steps += [s for s in every_credential(iam, user, user_id, act, why, gone.get(user, "")) if s is not None]
    for user, kind_name, credential_id, why in singles:
        if user in covered or (kind_name, credential_id) in seen:
            continue
        steps += _single(iam, user, kind_name, credential_id, why, dry_run, switched_on, partition, account)
    return steps


def _single(
    iam: Any, user: str, kind_name: str, credential_id: str, why: str, dry_run: bool, switched_on: bool,
    partition: str, account: str,
) -> list[StepResult]:  # fmt: skip
    """One credential the attacker added to a user it did not make (the user's others are the owner's)."""
    refusal = exempted_by_name("user", partition, account, user)
    refused = refusal.detail if refusal else (None if switched_on else OFF)

    def only_this(credential: Credential, why: str) -> StepResult | None:
        if credential.id != credential_id:
            return None
        return deactivate(iam, credential, why, dry_run=dry_run, refusal=refused)

    found = [s for s in every_credential(iam, user, "", only_this, why) if s is not None]
    if found:
        return found
    text = f"{kind_name or 'credential'} {credential_id} of user {user}: IAM no longer lists it (deleted); {why}"
    return [step(STEP, Status.ALREADY_DONE, credential_id, text, containment=True)]


@transient_errors
@logger.inject_lambda_context(correlation_id_path="incident.incident_id", clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    incident, pass_no = pass_request(event, "user_credentials")
    s3 = aws.client("s3")
    bucket = env_str("EVIDENCE_BUCKET")
    key = investigation_key(incident.incident_id, pass_no)
    steps: list[StepResult] = []
    items: list[dict[str, Any]] | None = None
    try:
        items = reach_items(read_investigation(s3, bucket, key)) if bucket else None
    except (ClientError, ValueError) as exc:
        code = aws.error_code(exc) if isinstance(exc, ClientError) else str(exc)
        text = (
            f"the investigation's reach could not be read (s3://{bucket}/{key}: {code}): only the exposed keys' "
            "users covered"
        )
        manual = f"aws s3 cp s3://{bucket}/{key} -  # then the users it lists by hand"
        steps.append(step(STEP, Status.FAILED, incident.incident_id, text, containment=True, manual=manual))
    partition = context.invoked_function_arn.split(":")[1]
    steps += respond(aws.client("iam"), incident, items, account=own_account(context), partition=partition)
    key = f"user-credentials/{incident.incident_id}/pass-{pass_no}.json"
    body = {"incident_id": incident.incident_id, "pass": pass_no, "steps": steps}
    uri = keep(s3, key, body, logger) if len(steps) > MAX_STEPS else None
    logger.info("user credentials", extra={"pass": pass_no, "statuses": [s["status"] for s in steps], "evidence": uri})
    return {"steps": fold(steps, uri or "the UserCredentials function's logs", MAX_STEPS)}
