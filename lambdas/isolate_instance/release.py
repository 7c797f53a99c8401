"""Undo isolate_instance's step: the security groups recorded in the step's data put back on the instance's own
interfaces (never an interface that is not the instance's, whatever the record says)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from common.release import Clients, ReleaseError, Reversal, Undo, data, region_unknown
from isolate_instance.actions import GROUP_ID, ISOLATE, ORIGINAL_TAG


def reversals(step: Mapping[str, Any], clients: Clients) -> Undo:
    if clients.get("ec2") is None:
        return region_unknown(step)
    if step["name"] == ISOLATE:
        return Undo(reversals=[_restore_groups(clients["ec2"], step)])
    return Undo()


def _restore_groups(ec2: Any, step: Mapping[str, Any]) -> Reversal:
    """The groups recorded in the step's data (the incident record), onto the instance's own interfaces.

    The prompt names exactly what `run` applies: the same dictionary. An interface that is no longer
    attached to the instance, or a group id that is not one, is left out, and the prompt says so."""
    instance_id = step["target"]
    recorded = data(step).get("original_groups") or {}
    restore: dict[str, list[str]] = {}
    refused: list[str] = []
    for eni, groups in sorted(recorded.items()) if isinstance(recorded, dict) else []:
        valid = [g for g in groups if isinstance(g, str) and GROUP_ID.fullmatch(g)] if isinstance(groups, list) else []
        if valid and len(valid) == len(groups):
            restore[str(eni)] = valid
        else:
            refused.append(f"{eni} (no valid original groups recorded)")

    def run() -> str:
        reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        instance = reservations[0]["Instances"][0] if reservations and reservations[0]["Instances"] else {}
        attached = {eni["NetworkInterfaceId"] for eni in instance.get("NetworkInterfaces", [])}
        foreign = sorted(set(restore) - attached)
        if foreign:
            # Never change an interface that is not this instance's, whatever the record says.
            raise ReleaseError(f"{', '.join(foreign)} not attached to {instance_id} now; nothing changed")
        if not restore:
            raise ReleaseError(f"no original security groups recorded for {instance_id}")
        for eni, groups in sorted(restore.items()):
            ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Groups=groups)
        interfaces = ec2.describe_network_interfaces(NetworkInterfaceIds=sorted(restore))["NetworkInterfaces"]
        now = {i["NetworkInterfaceId"]: sorted(g["GroupId"] for g in i["Groups"]) for i in interfaces}
        wrong = [eni for eni, groups in restore.items() if now.get(eni) != sorted(groups)]
        if wrong:
            raise ReleaseError("read back: " + "; ".join(f"{eni} has {now.get(eni)}" for eni in wrong))
        # The instance's copy of the record goes too: a later incident records the groups of that day.
        tags = [tag["Key"] for tag in instance.get("Tags", []) if tag["Key"].startswith(ORIGINAL_TAG)]
        if tags:
            ec2.delete_tags(Resources=[instance_id], Tags=[{"Key": key} for key in tags])
        return "; ".join(f"{eni}: {', '.join(groups)}" for eni, groups in sorted(now.items())) + " (read back)"

    described = "; ".join(f"{eni} -> {', '.join(groups)}" for eni, groups in sorted(restore.items()))
    left_out = f"; left as they are: {', '.join(refused)}" if refused else ""
    return Reversal(
        step["name"],
        instance_id,
        f"restore the security groups of {instance_id}'s own interfaces: {described or 'none recorded'}{left_out}",
        run,
    )
