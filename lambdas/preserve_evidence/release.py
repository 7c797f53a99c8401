"""Undo preserve_evidence's steps: termination protection and the shutdown behaviour as they were, the instance
back in its Auto Scaling group; the evidence image is kept (deleting evidence is a person's decision)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from common.release import Clients, ReleaseError, Reversal, Undo, argument, data, region_unknown, words
from preserve_evidence.actions import AUTOSCALING, IMAGE, PROTECT


def reversals(step: Mapping[str, Any], clients: Clients) -> Undo:
    name = step["name"]
    if name == IMAGE:
        return Undo(
            notes=[
                f"{name} {step['target']}: evidence image {data(step).get('image_id')} kept; delete it by hand when "
                f"it is no longer needed: {step.get('undo')}"
            ]
        )
    if clients.get("ec2") is None:
        return region_unknown(step)
    if name == PROTECT:
        reversal = _unprotect(clients["ec2"], step)
        return Undo(reversals=[reversal] if reversal else [])
    if name == AUTOSCALING:
        return Undo(reversals=[_reattach(clients["autoscaling"], step)])
    return Undo()


def _unprotect(ec2: Any, step: Mapping[str, Any]) -> Reversal | None:
    instance_id = step["target"]
    # Only what the responder changed, as its step data records it (older records: their undo command).
    recorded = data(step)
    if "termination_protection_was_off" in recorded:
        termination_was_off = bool(recorded["termination_protection_was_off"])
        shutdown = recorded.get("shutdown_behavior_before")
    else:
        termination_was_off = "--no-disable-api-termination" in words(step)
        shutdown = argument(step, "--instance-initiated-shutdown-behavior")
    if not termination_was_off and not shutdown:
        return None
    changes = (["turn termination protection off"] if termination_was_off else []) + (
        [f"set shutdown behaviour back to '{shutdown}'"] if shutdown else []
    )

    def run() -> str:
        if termination_was_off:
            ec2.modify_instance_attribute(InstanceId=instance_id, DisableApiTermination={"Value": False})
        if shutdown:
            ec2.modify_instance_attribute(InstanceId=instance_id, InstanceInitiatedShutdownBehavior={"Value": shutdown})
        termination = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="disableApiTermination")
        behaviour = ec2.describe_instance_attribute(
            InstanceId=instance_id, Attribute="instanceInitiatedShutdownBehavior"
        )
        now = (termination["DisableApiTermination"]["Value"], behaviour["InstanceInitiatedShutdownBehavior"]["Value"])
        if (termination_was_off and now[0]) or (shutdown and now[1] != shutdown):
            raise ReleaseError(f"{instance_id} reads back as termination protection={now[0]}, shutdown={now[1]}")
        return f"{instance_id}: termination protection={now[0]}, shutdown behaviour '{now[1]}' (read back)"

    return Reversal(step["name"], instance_id, f"{instance_id}: {' and '.join(changes)}", run)


def _reattach(autoscaling: Any, step: Mapping[str, Any]) -> Reversal:
    instance_id, group = step["target"], data(step).get("auto_scaling_group")

    def run() -> str:
        autoscaling.attach_instances(InstanceIds=[instance_id], AutoScalingGroupName=group)
        found = autoscaling.describe_auto_scaling_instances(InstanceIds=[instance_id])["AutoScalingInstances"]
        if not found or found[0]["AutoScalingGroupName"] != group:
            raise ReleaseError(f"{instance_id} does not read back as a member of {group}")
        return f"{instance_id} is {found[0]['LifecycleState']} in {group} (read back)"

    return Reversal(
        step["name"],
        instance_id,
        f"re-attach {instance_id} to Auto Scaling group {group} (its "
        "desired capacity grows by one: the group launched a replacement when it was detached)",
        run,
    )
