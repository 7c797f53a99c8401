"""What the attacker left behind, from the decided calls. Pure: no AWS calls.

Only successful calls leave something; a failed attempt is in the investigation's summary and nothing
here. The owner's calls of the same kinds are collected too, to be reported (never acted on).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from evict.attribution import Decision

USER_POLICY_CALLS = ("AttachUserPolicy", "PutUserPolicy")
ROLE_POLICY_CALLS = ("AttachRolePolicy", "PutRolePolicy")
GROUP_POLICY_CALLS = ("AttachGroupPolicy", "PutGroupPolicy")
POLICY_CALLS = USER_POLICY_CALLS + ROLE_POLICY_CALLS + GROUP_POLICY_CALLS
LOGIN_PROFILE_CALLS = ("CreateLoginProfile", "UpdateLoginProfile")
MINTING_CALLS = ("GetFederationToken", "GetSessionToken", "AssumeRole")
# The calls whose result is a way back in (or more rights for one): the only ones decided and reported.
BACKDOOR_CALLS = frozenset(
    (
        "CreateUser",
        "CreateRole",
        "CreateAccessKey",
        "UpdateAssumeRolePolicy",
        *POLICY_CALLS,
        *LOGIN_PROFILE_CALLS,
        *MINTING_CALLS,
    )
)
# AWS attaches its quarantine policy to an exposed user under that user's own identity. Recognised only by
# the exact AWS-managed ARN on AttachUserPolicy: a deny policy AWS owns is no back door, whoever attached it.
_AWS_QUARANTINE = re.compile(r"^arn:aws[\w-]*:iam::aws:policy/AWSCompromisedKeyQuarantine(V\d+)?$")


@dataclass
class Plan:
    created_users: dict[str, Decision] = field(default_factory=dict)
    created_roles: dict[str, Decision] = field(default_factory=dict)
    login_profiles: dict[str, Decision] = field(default_factory=dict)  # user -> the latest attacker change
    trust_rewrites: dict[str, list[Decision]] = field(default_factory=dict)  # role -> rewrites, oldest first
    policies: list[Decision] = field(default_factory=list)
    keys: list[Decision] = field(default_factory=list)  # CreateAccessKey
    minted: list[Decision] = field(default_factory=list)
    owner: list[Decision] = field(default_factory=list)
    attacker_calls: int = 0

    def created_principal(self, decision: Decision) -> str | None:
        """The user or role a policy call targeted, when the attacker created it; None otherwise."""
        request = decision.call.request
        if decision.call.event_name in USER_POLICY_CALLS:
            user = request.get("userName")
            return user if user in self.created_users else None
        if decision.call.event_name in ROLE_POLICY_CALLS:
            role = request.get("roleName")
            return role if role in self.created_roles else None
        return None


def target_user(decision: Decision) -> str | None:
    """The user a call is about: its userName parameter, or (for the key and login calls that omit it)
    the caller itself."""
    call = decision.call
    user = call.request.get("userName")
    if isinstance(user, str) and user:
        return user
    key = call.response.get("accessKey")
    if isinstance(key, dict) and isinstance(key.get("userName"), str):
        return key["userName"]
    return call.caller_user


def is_aws_quarantine(decision: Decision) -> bool:
    call = decision.call
    return call.event_name == "AttachUserPolicy" and bool(_AWS_QUARANTINE.match(str(call.request.get("policyArn"))))


def plan(decisions: list[Decision]) -> Plan:
    result = Plan()
    for decision in decisions:
        call = decision.call
        if call.event_name not in BACKDOOR_CALLS or not call.succeeded or is_aws_quarantine(decision):
            continue
        if not decision.attacker:
            result.owner.append(decision)
            continue
        result.attacker_calls += 1
        name, request = call.event_name, call.request
        if name == "CreateUser" and request.get("userName"):
            result.created_users[str(request["userName"])] = decision
        elif name == "CreateRole" and request.get("roleName"):
            result.created_roles[str(request["roleName"])] = decision
        elif name in LOGIN_PROFILE_CALLS and target_user(decision):
            result.login_profiles[str(target_user(decision))] = decision
        elif name == "UpdateAssumeRolePolicy" and request.get("roleName"):
            result.trust_rewrites.setdefault(str(request["roleName"]), []).append(decision)
        elif name in POLICY_CALLS:
            result.policies.append(decision)
        elif name == "CreateAccessKey":
            result.keys.append(decision)
        elif name in MINTING_CALLS:
            result.minted.append(decision)
    return result
