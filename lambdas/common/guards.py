"""Principals and instances the responder must never act on, decided before any write.

Exemptions are by ARN or instance id from configuration, never by a tag: whoever holds the
stolen credentials may be able to set tags. A principal is matched on the ARN IAM returns for it
(partition, account, path), its name compared without case, as IAM compares names; an exemption
written without a path matches the name at any path, since a name is unique in an account.
The root user is recognised by what IAM returns for it (`<root_account>`, an ARN ending
`:root`), never by a user that merely calls itself root.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from common.settings import env_list
from common.steps import Status, StepResult, step


@dataclass(frozen=True)
class Refusal:
    detail: str
    manual: str


# What IAM calls the account's root user (credential report; GetAccessKeyLastUsed of a root key).
ROOT_USER_NAME = "<root_account>"
_IAM_ARN = re.compile(
    r"^arn:(?P<partition>[\w-]+):iam::(?P<account>\d{12}):(?P<kind>user|role)(?P<path>/(?:.*/)?)(?P<name>[^/]+)$"
)


def is_root(principal_arn: str, name: str) -> bool:
    return name == ROOT_USER_NAME or principal_arn.endswith(":root")


def principal_guard(principal_arn: str, name: str) -> Refusal | None:
    """Why the responder must not act on this principal (root, or exempted), or None.
    `principal_arn` is the ARN IAM returns (GetUser, GetRole), with its path and partition."""
    if is_root(principal_arn, name):
        return Refusal(
            "the root user's key: the responder never acts on the root user; only the root user can deactivate "
            "or delete it, signed in",
            "Sign in as the root user (https://console.aws.amazon.com/, 'Root user'), open 'Security credentials', "
            "deactivate the access key, then delete it; turn on MFA for the root user",
        )
    exemption = matching_exemption(principal_arn, env_list("EXEMPT_PRINCIPAL_ARNS"))
    if exemption:
        return Refusal(
            f"{principal_arn} is exempted by configuration (exemptPrincipalArns: {exemption})",
            "Contain it by hand if the alert is real; exempted principals are only reported",
        )
    return None


def exempted_by_name(kind: str, partition: str, account: str, name: str) -> Refusal | None:
    """The configured exemption of this user or role, known without reading IAM: a name is unique in
    an account whatever its path (and IAM compares names without case), so the name decides. The
    containing functions check this before their first write; IAM's explicit deny backs it (infra)."""
    wanted = f"arn:{partition}:iam::{account}:{kind}/{name}"
    for exemption in env_list("EXEMPT_PRINCIPAL_ARNS"):
        exempt = _IAM_ARN.match(exemption)
        if exempt and matching_exemption(
            wanted, [f"arn:{exempt['partition']}:iam::{exempt['account']}:{exempt['kind']}/{exempt['name']}"]
        ):
            return Refusal(
                f"{kind} {name} is exempted by configuration (exemptPrincipalArns: {exemption})",
                "Contain it by hand if the alert is real; exempted principals are only reported",
            )
    return None


def matching_exemption(principal_arn: str, exemptions: list[str]) -> str | None:
    """The configured exemption that names this principal, if any."""
    principal = _IAM_ARN.match(principal_arn)
    for exemption in exemptions:
        if exemption == principal_arn:
            return exemption
        exempt = _IAM_ARN.match(exemption)
        if not principal or not exempt:
            continue
        if any(principal[part] != exempt[part] for part in ("partition", "account", "kind")):
            continue
        if principal["name"].lower() != exempt["name"].lower():
            continue
        if exempt["path"] in ("/", principal["path"]):
            return exemption
    return None


def instance_guard(instance_id: str) -> Refusal | None:
    if instance_id in env_list("EXEMPT_INSTANCE_IDS"):
        return Refusal(
            f"instance {instance_id} is exempted by configuration (exemptInstanceIds)",
            "Preserve and isolate it by hand if the alert is real",
        )
    return None


def own_account(context: Any) -> str:
    """The account this function runs in, from its ARN (no API call on the critical path)."""
    return str(context.invoked_function_arn.split(":")[4])


def instance_refusal(incident: dict[str, Any], context: Any, by_hand: str) -> Refusal | None:
    """Why an instance step must not act: no instance named, another account's, or exempted."""
    instance_id = incident.get("instance_id")
    account = own_account(context)
    if not instance_id:
        return Refusal("the finding names no instance", "")
    if incident.get("account_conflict"):
        # The event's own account fields disagree: which account it is about is not known.
        return Refusal(
            f"the event's accounts disagree ({incident['account_conflict']}); nothing is changed",
            f"in account {incident['account']}: {by_hand} {instance_id} by hand",
        )
    if incident["account"] != account:
        return Refusal(
            f"the instance is in account {incident['account']}; this responder runs in {account}",
            f"in account {incident['account']}: {by_hand} {instance_id} by hand",
        )
    return instance_guard(instance_id)


def refused_instance_steps(
    incident: dict[str, Any], context: Any, *, by_hand: str, steps: tuple[str, ...]
) -> list[StepResult] | None:
    """An instance task's steps, each skipped with the reason and the route by hand, when
    instance_refusal says it must not act; None when it may."""
    refusal = instance_refusal(incident, context, by_hand)
    if refusal is None:
        return None
    target = incident.get("instance_id") or "unknown"
    return [step(name, Status.SKIPPED, target, refusal.detail, manual=refusal.manual or None) for name in steps]


def instance_incident(event: dict[str, Any]) -> Any:  # the JSON incident, as event["incident"] is
    """The incident as one instance's task sees it. A member of an instance group (the workflow's
    IsolateInstanceGroup Map passes the member's `instance_id` beside the group's incident) is
    that instance's incident; the finding's interfaces are not that instance's, so none are kept."""
    incident = event["incident"]
    member = event.get("instance_id")
    if isinstance(member, str) and member in (incident.get("group_instance_ids") or []):
        return {**incident, "instance_id": member, "network_interfaces": []}
    return incident
