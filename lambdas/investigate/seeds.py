"""Where the reach starts, and what the finding itself says about the attacker: from the incident, plus (for
stolen instance credentials) the VPC endpoints of the instance's VPCs, which are the workload's way out."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from common.aws import error_code
from incident.model import Incident, Kind
from reach.graph import Seed
from reach.judge import Signals
from record.principals import delivery_of


def instance_session(incident: Incident) -> str | None:
    if incident.kind != Kind.INSTANCE_CREDENTIAL_EXFILTRATION:
        return None
    session = incident.instance_id or (incident.principal_id or "").rpartition(":")[2]
    return session if session.startswith("i-") else None


def seeds_of(incident: Incident) -> list[Seed]:
    """The credentials the incident names: its access keys (several keys of one user are several seeds),
    and for stolen instance credentials the role session EC2 names after the instance."""
    seeds = [
        Seed(
            "access-key",
            key.access_key_id,
            f"{'exposed key' if key.access_key_id.startswith('AKIA') else 'session key'} {key.access_key_id}"
            + (f" of user {key.user_name}" if key.user_name else ""),
            user=key.user_name or "",
            role=incident.role_name or "",
        )
        for key in incident.affected_keys
    ]
    # Roles an attack sequence names beside its keys (contained by the workflow's ContainRoles): their sessions'
    # work is followed like any other credential's.
    seeds += [
        Seed("role", role, f"role {role}, named by the attack sequence", role=role)
        for role in delivery_of(incident.model_dump(mode="json")).deferred_roles
    ]
    if session := instance_session(incident):
        seeds.append(
            Seed(
                "instance-session",
                session,
                f"role {incident.role_name} session {session}",
                role=incident.role_name or "",
            )
        )
    return seeds


def vpc_endpoints(ec2: Any, incident: Incident) -> tuple[frozenset[str], str | None]:
    """The VPC endpoints in the instance's VPCs: a call through one of them from the instance's VPC is the
    workload's way out, not the thief's. (ids, note when they could not be read)."""
    vpcs = sorted({eni.vpc_id for eni in incident.network_interfaces if eni.vpc_id})
    if not vpcs:
        return frozenset(), None
    try:
        pages = ec2.get_paginator("describe_vpc_endpoints").paginate(Filters=[{"Name": "vpc-id", "Values": vpcs}])
        return frozenset(ep["VpcEndpointId"] for page in pages for ep in page.get("VpcEndpoints", [])), None
    except (ClientError, BotoCoreError) as exc:
        code = error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
        return frozenset(), f"the VPC endpoints of {', '.join(vpcs)} could not be read ({code})"


def signals_of(incident: Incident, endpoints: frozenset[str] = frozenset()) -> Signals:
    remote = incident.remote
    attacker_accounts = (
        frozenset({remote.account_id})
        if remote and remote.account_id and remote.account_id != incident.account
        else frozenset()
    )
    return Signals(
        attacker_ips=frozenset([*([remote.ip] if remote and remote.ip else []), *incident.attacker_ips]),
        attacker_accounts=attacker_accounts,
        own_ips=frozenset(ip for eni in incident.network_interfaces for ip in (eni.private_ip, eni.public_ip) if ip),
        own_endpoints=endpoints,
        instance=instance_session(incident) is not None,
        account=incident.account,
    )
