"""Principals and instances the responder must never act on, decided before any write.

Exemptions are by ARN or instance id from configuration, never by a tag: whoever holds the
stolen credentials may be able to set tags.
"""

from __future__ import annotations

from dataclasses import dataclass

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
        return Refusal(f"{principal_arn} is exempted by configuration (exemptPrincipalArns)",
                       "Contain it by hand if the alert is real; exempted principals are only reported")
    return None


def instance_guard(instance_id: str) -> Refusal | None:
    if instance_id in env_list("EXEMPT_INSTANCE_IDS"):
        return Refusal(f"instance {instance_id} is exempted by configuration (exemptInstanceIds)",
                       "Preserve and isolate it by hand if the alert is real")
    return None
