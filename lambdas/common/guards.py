"""Principals and instances the responder must never act on, decided before any write.

Exemptions are by ARN or instance id from configuration, never by a tag: whoever holds the
stolen credentials may be able to set tags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from common.settings import env_list


@dataclass(frozen=True)
class Refusal:
    detail: str
    manual: str


def principal_guard(principal_arn: str, name: str) -> Refusal | None:
    if name == "root" or principal_arn.endswith(":root"):
        return Refusal(
            "root user's key: the responder never acts on root; a person must",
            "Sign in as root, open Security credentials, deactivate the access key, then enable MFA and delete it",
        )
    if principal_arn in env_list("EXEMPT_PRINCIPAL_ARNS"):
        return Refusal(
            f"{principal_arn} is exempted by configuration (exemptPrincipalArns)",
            "Contain it by hand if the alert is real; exempted principals are only reported",
        )
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
    if incident["account"] != account:
        return Refusal(
            f"the instance is in account {incident['account']}; this responder runs in {account}",
            f"in account {incident['account']}: {by_hand} {instance_id} by hand",
        )
    return instance_guard(instance_id)
