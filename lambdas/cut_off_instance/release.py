"""Undo cut_off_instance's steps: the instance profile associated again (with the operator's iam:PassRole), the
instance registered again in the target groups and Classic Load Balancers its step recorded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from common.release import Clients, ReleaseError, Reversal, Undo, data, region_unknown
from cut_off_instance.actions import LOAD_BALANCERS, PROFILE, associated_profiles, target_description


def reversals(step: Mapping[str, Any], clients: Clients) -> Undo:
    if clients.get("ec2") is None:
        return region_unknown(step)
    if step["name"] == PROFILE:
        return Undo(reversals=[_reassociate_profile(clients["ec2"], step)])
    if step["name"] == LOAD_BALANCERS:
        return Undo(reversals=[_reregister(clients.get("elbv2"), clients.get("elb"), step)])
    return Undo()


def _reassociate_profile(ec2: Any, step: Mapping[str, Any]) -> Reversal:
    instance_id, arn = step["target"], data(step).get("instance_profile_arn")

    def run() -> str:
        if not arn:
            raise ReleaseError(f"no instance profile recorded for {instance_id}")
        current = associated_profiles(ec2, instance_id)
        if not current:
            ec2.associate_iam_instance_profile(InstanceId=instance_id, IamInstanceProfile={"Arn": arn})
            current = associated_profiles(ec2, instance_id)
        if not current or current[0]["IamInstanceProfile"]["Arn"] != arn:
            found = current[0]["IamInstanceProfile"]["Arn"] if current else "none"
            raise ReleaseError(f"{instance_id} reads back with instance profile {found}, expected {arn}")
        return f"{instance_id} has instance profile {arn} ({current[0]['State']}, read back)"

    return Reversal(
        step["name"],
        instance_id,
        f"re-associate instance profile {arn} with {instance_id} (needs iam:PassRole on its role)",
        run,
    )


def _reregister(elbv2: Any, elb: Any, step: Mapping[str, Any]) -> Reversal:
    instance_id = step["target"]
    targets = [t for t in data(step).get("target_groups") or [] if isinstance(t, dict) and t.get("target_group_arn")]
    classic = [str(name) for name in data(step).get("classic_load_balancers") or []]

    def run() -> str:
        if elbv2 is None or elb is None:
            raise ReleaseError("no Elastic Load Balancing client for the incident's region")
        done = []
        for target in targets:
            description = target_description(target)
            elbv2.register_targets(TargetGroupArn=target["target_group_arn"], Targets=[description])
            health = elbv2.describe_target_health(TargetGroupArn=target["target_group_arn"], Targets=[description])
            states = [d.get("TargetHealth", {}).get("State") for d in health["TargetHealthDescriptions"]]
            if not states or "draining" in states:
                raise ReleaseError(f"{target['id']} reads back as {states or 'absent'} in {target['target_group_arn']}")
            done.append(f"{target['target_group_arn']} ({', '.join(map(str, states))})")
        for name in classic:
            elb.register_instances_with_load_balancer(LoadBalancerName=name, Instances=[{"InstanceId": instance_id}])
            members = elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"][0]["Instances"]
            if instance_id not in {m["InstanceId"] for m in members}:
                raise ReleaseError(f"{instance_id} does not read back as a member of {name}")
            done.append(name)
        return f"{instance_id} registered again in {', '.join(done)} (read back)"

    where = [f"target group {t['target_group_arn']} as {t.get('id')}:{t.get('port')}" for t in targets] + [
        f"Classic Load Balancer {name}" for name in classic
    ]
    return Reversal(step["name"], instance_id, f"register {instance_id} again in {'; '.join(where)}", run)
