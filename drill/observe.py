"""Read back, from the simulated account, the state the response left behind.

Never copied from what the workflow claims: every value comes from the account's APIs or,
where moto's API misreports (ENI groups, aws-facts §8), from moto's own records.
"""

from __future__ import annotations

import json
import urllib.parse
from datetime import datetime
from typing import Any

from common.times import iso
from drill.account import SimulatedAccount
from drill.staging import Staged

ISOLATION_TAG = "credential-responder:purpose"
REVOKE_POLICY = "AWSRevokeOlderSessions"


def revoke_cutoff(account: SimulatedAccount, role: str) -> str | None:
    """The aws:TokenIssueTime cut-off of the role's revoke policy, as IAM holds it."""
    document = account.client("iam").get_role_policy(RoleName=role, PolicyName=REVOKE_POLICY)["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))
    statements = document.get("Statement") or []
    for statement in statements if isinstance(statements, list) else [statements]:
        value = (statement.get("Condition") or {}).get("DateLessThan", {}).get("aws:TokenIssueTime")
        if value:
            return str(value)
    return None


USER_SESSIONS_POLICY = "AWSRevokeOlderSessions"  # the user's deny of sessions issued before a cut-off


def observe(account: SimulatedAccount, staged: Staged) -> dict[str, Any]:
    iam = account.client("iam")
    observed: dict[str, Any] = {"access_keys": {}, "user_policies": {}, "user_session_denies": {}}
    for user in staged.users:
        try:
            keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
        except iam.exceptions.NoSuchEntityException:
            continue
        for key in keys:
            observed["access_keys"][key["AccessKeyId"]] = key["Status"]
        attached = [p["PolicyName"] for p in iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]]
        inline = iam.list_user_policies(UserName=user)["PolicyNames"]
        observed["user_policies"][user] = attached + inline
        if USER_SESSIONS_POLICY in inline:
            document = iam.get_user_policy(UserName=user, PolicyName=USER_SESSIONS_POLICY)["PolicyDocument"]
            observed["user_session_denies"][user] = [
                {"effect": s.get("Effect"), "action": s.get("Action"), "condition": s.get("Condition")}
                for s in document.get("Statement", [])
            ]
    for key_id in staged.access_key_ids:
        observed["access_keys"].setdefault(key_id, "absent")
    if staged.roles or staged.instances:
        observed.update(_observe_instances(account, staged))
    observed["login_profiles"] = {user: _has_login_profile(iam, user) for user in staged.users}
    for role in staged.created.get("roles", []):
        policies = observed.setdefault("role_policies", {})
        try:
            inline = iam.list_role_policies(RoleName=role)["PolicyNames"]
            attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        except iam.exceptions.NoSuchEntityException:
            continue
        policies[role] = inline + [p["PolicyName"] for p in attached]
    observed["users"] = _users(iam)
    observed["roles"] = _roles(iam)
    return observed


# The drill's own role (every function runs with it in the simulated account): not the account's.
DRILL_ROLES = frozenset({"drill-lambda-role"})


def _document(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = json.loads(urllib.parse.unquote(value))
    return value if isinstance(value, dict) else {}


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(item) for item in value or []]


def summarize(document: Any) -> list[str]:
    """A policy document, one line per statement, as a person reads it: "Deny * on *",
    "Allow iam:CreateUser, iam:CreateAccessKey on *", "Deny * on * if DateLessThan aws:TokenIssueTime=...".
    What an `already in place` must be judged on: the content, not the name."""
    statements = _document(document).get("Statement") or []
    lines = []
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict):
            continue
        actions = _listed(statement.get("Action")) or [f"not {a}" for a in _listed(statement.get("NotAction"))]
        resources = _listed(statement.get("Resource")) or [f"not {r}" for r in _listed(statement.get("NotResource"))]
        line = f"{statement.get('Effect')} {', '.join(actions)} on {', '.join(resources)}"
        conditions = [
            f"{operator} {key}={','.join(_listed(value))}"
            for operator, pairs in (statement.get("Condition") or {}).items()
            for key, value in (pairs or {}).items()
        ]
        if conditions:
            line += " if " + " and ".join(conditions)
        lines.append(line)
    return lines


def trust_principals(document: Any) -> list[str]:
    """Who a trust document lets in: "AWS arn:aws:iam::666666666666:root", "Service ec2.amazonaws.com"."""
    found = set()
    statements = _document(document).get("Statement") or []
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        if principal == "*":
            found.add("*")
        elif isinstance(principal, dict):
            found.update(f"{kind} {value}" for kind, values in principal.items() for value in _listed(values))
    return sorted(found)


def _when(value: Any) -> str | None:
    return iso(value) if isinstance(value, datetime) else None


def _users(iam: Any) -> dict[str, Any]:
    """Every IAM user of the account by its current name: what it holds and what may act as it."""
    users: dict[str, Any] = {}
    for page in iam.get_paginator("list_users").paginate():
        for user in page["Users"]:
            name = user["UserName"]
            inline = {
                policy: summarize(iam.get_user_policy(UserName=name, PolicyName=policy)["PolicyDocument"])
                for policy in iam.list_user_policies(UserName=name)["PolicyNames"]
            }
            users[name] = {
                "id": user["UserId"],
                "created": _when(user.get("CreateDate")),
                "access_keys": {
                    key["AccessKeyId"]: key["Status"]
                    for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
                },
                "attached_policies": sorted(
                    p["PolicyName"] for p in iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]
                ),
                "inline_policies": inline,
                "login_profile": _has_login_profile(iam, name),
                "ssh_public_keys": {
                    key["SSHPublicKeyId"]: key["Status"]
                    for key in iam.list_ssh_public_keys(UserName=name)["SSHPublicKeys"]
                },
                "service_specific_credentials": {
                    c["ServiceSpecificCredentialId"]: {"service": c["ServiceName"], "status": c["Status"]}
                    for c in iam.list_service_specific_credentials(UserName=name)["ServiceSpecificCredentials"]
                },
                "signing_certificates": {
                    c["CertificateId"]: c["Status"]
                    for c in iam.list_signing_certificates(UserName=name)["Certificates"]
                },
            }
    return users


def _roles(iam: Any) -> dict[str, Any]:
    """Every IAM role of the account (the drill's own aside): its policies and whom it trusts."""
    roles: dict[str, Any] = {}
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            name = role["RoleName"]
            if name in DRILL_ROLES:
                continue
            inline = {
                policy: summarize(iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"])
                for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]
            }
            roles[name] = {
                "id": role["RoleId"],
                "created": _when(role.get("CreateDate")),
                "attached_policies": sorted(
                    p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
                ),
                "inline_policies": inline,
                "trust_principals": trust_principals(role.get("AssumeRolePolicyDocument")),
            }
    return roles


def _has_login_profile(iam: Any, user: str) -> bool:
    try:
        iam.get_login_profile(UserName=user)
    except iam.exceptions.NoSuchEntityException:
        return False
    return True


def _observe_instances(account: SimulatedAccount, staged: Staged) -> dict[str, Any]:
    from moto.ec2.models import ec2_backends

    iam = account.client("iam")
    ec2 = account.client("ec2", staged.region)
    result: dict[str, Any] = {
        "role_policies": {},
        "images": [],
        "instance_network": {},
        "isolation_groups": {},
        "instance_protection": {},
        "load_balancers": {},
        "instance_profiles": {},
        "auto_scaling": {},
    }
    result["revoke_cutoffs"] = {}
    for role in staged.roles:
        inline = iam.list_role_policies(RoleName=role)["PolicyNames"]
        attached = [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]]
        result["role_policies"][role] = inline + attached
        if REVOKE_POLICY in inline:
            result["revoke_cutoffs"][role] = revoke_cutoff(account, role)
    backend = ec2_backends[account.account_id][staged.region]
    for image in ec2.describe_images(Owners=["self"])["Images"]:
        tags = {tag["Key"]: tag["Value"] for tag in image.get("Tags", [])}
        source = getattr(backend.amis.get(image["ImageId"]), "instance_id", None)
        result["images"].append({"image_id": image["ImageId"], "instance_id": source, "tags": tags})
    for instance_id in staged.instances:
        reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        instance = reservations[0]["Instances"][0]
        # DescribeNetworkInterfaces in moto reports ENI groups unioned with the instance's;
        # moto's own ENI record holds the set ModifyNetworkInterfaceAttribute really left.
        result["instance_network"][instance_id] = {
            eni["NetworkInterfaceId"]: sorted(group.id for group in backend.enis[eni["NetworkInterfaceId"]]._group_set)
            for eni in instance.get("NetworkInterfaces", [])
        }
        if instance["State"]["Name"] == "terminated":
            continue
        termination = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="disableApiTermination")
        shutdown = ec2.describe_instance_attribute(
            InstanceId=instance_id, Attribute="instanceInitiatedShutdownBehavior"
        )
        result["instance_protection"][instance_id] = {
            "termination": termination["DisableApiTermination"]["Value"],
            "shutdown_behavior": shutdown["InstanceInitiatedShutdownBehavior"]["Value"],
        }
    result["load_balancers"] = _load_balancers(account, staged)
    for instance_id in staged.instances:
        associations = ec2.describe_iam_instance_profile_associations(
            Filters=[{"Name": "instance-id", "Values": [instance_id]}]
        )["IamInstanceProfileAssociations"]
        current = [a for a in associations if a.get("State") in ("associating", "associated")]
        result["instance_profiles"][instance_id] = current[0]["IamInstanceProfile"]["Arn"] if current else None
    if staged.instances:
        autoscaling = account.client("autoscaling", staged.region)
        members = autoscaling.describe_auto_scaling_instances(InstanceIds=staged.instances)["AutoScalingInstances"]
        groups_of = {m["InstanceId"]: m["AutoScalingGroupName"] for m in members}
        result["auto_scaling"] = {instance_id: groups_of.get(instance_id) for instance_id in staged.instances}
    groups = ec2.describe_security_groups(Filters=[{"Name": f"tag:{ISOLATION_TAG}", "Values": ["isolation"]}])
    for group in groups["SecurityGroups"]:
        rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group["GroupId"]]}])
        rules = rules["SecurityGroupRules"]
        result["isolation_groups"][group["GroupId"]] = {
            "ingress": sum(1 for rule in rules if not rule["IsEgress"]),
            "egress": sum(1 for rule in rules if rule["IsEgress"]),
        }
    return result


def _load_balancers(account: SimulatedAccount, staged: Staged) -> dict[str, Any]:
    """Per instance: the target groups it is registered in (not draining out of) and its Classic
    Load Balancers, read from Elastic Load Balancing."""
    elbv2 = account.client("elbv2", staged.region)
    elb = account.client("elb", staged.region)
    found: dict[str, Any] = {instance: {"target_groups": [], "classic": []} for instance in staged.instances}
    for group in elbv2.describe_target_groups()["TargetGroups"]:
        health = elbv2.describe_target_health(TargetGroupArn=group["TargetGroupArn"])["TargetHealthDescriptions"]
        for description in health:
            target = description["Target"]["Id"]
            if target in found and description.get("TargetHealth", {}).get("State") != "draining":
                found[target]["target_groups"].append(group["TargetGroupArn"])
    for balancer in elb.describe_load_balancers()["LoadBalancerDescriptions"]:
        for member in balancer.get("Instances", []):
            if member["InstanceId"] in found:
                found[member["InstanceId"]]["classic"].append(balancer["LoadBalancerName"])
    return {instance: {key: sorted(values) for key, values in lists.items()} for instance, lists in found.items()}


def incident_records(account: SimulatedAccount) -> dict[str, Any]:
    """The responder's incident table as DynamoDB holds it (one entry per record: its status, the
    findings that joined it with their responses' outcomes, every response's kind and the steps they
    hold), for a sequence of events: one attack must end as one record. The alias items of joined
    findings are no records: they are listed under the record they name."""
    from record.item import plain_item

    dynamodb = account.client("dynamodb")
    records: dict[str, Any] = {}
    aliases: dict[str, list[str]] = {}
    for table in dynamodb.list_tables()["TableNames"]:
        for raw in dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]:
            item = plain_item(raw)
            if item.get("alias_of"):
                aliases.setdefault(str(item["alias_of"]), []).append(str(item.get("incident_id")))
                continue
            responses = [r for r in item.get("responses") or [] if isinstance(r, dict)]
            records[str(item.get("incident_id", item["id"]))] = {
                "status": item.get("status"),
                "finding_id": item.get("finding_id"),
                "joined": [
                    {"finding_id": r.get("finding_id"), "outcome": r.get("outcome")}
                    for r in responses
                    if r.get("finding_id") not in (None, item.get("finding_id")) and r.get("kind") != "release"
                ],
                "responses": [r.get("kind") for r in responses],
                "steps": sum(len(r.get("steps") or []) for r in responses),
            }
    for record_id, joined_ids in aliases.items():
        if record_id in records:
            records[record_id]["aliases"] = sorted(joined_ids)
    return records
