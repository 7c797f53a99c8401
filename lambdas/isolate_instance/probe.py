"""What `responder check` asks EC2, as DryRun calls, to prove this function may isolate an instance: built from
the account's own instance (`target`: instance, eni, group, vpc ids, read with the operator's credentials)."""

from __future__ import annotations

from typing import Any

from isolate_instance.actions import ORIGINAL_TAG, PURPOSE_TAG


def dry_runs(target: dict[str, str], marker: str) -> list[dict[str, Any]]:
    instance, eni, group, vpc = (target.get(k) for k in ("instance", "eni", "group", "vpc"))
    if not (instance and eni and group and vpc):
        return []
    return [
        {
            "operation": "create_security_group",
            "params": {
                "GroupName": marker,
                "Description": "dry run",
                "VpcId": vpc,
                "TagSpecifications": [
                    {"ResourceType": "security-group", "Tags": [{"Key": PURPOSE_TAG, "Value": "isolation"}]}
                ],
            },
        },
        {"operation": "modify_network_interface_attribute", "params": {"NetworkInterfaceId": eni, "Groups": [group]}},
        {
            "operation": "create_tags",
            "params": {"Resources": [instance], "Tags": [{"Key": ORIGINAL_TAG, "Value": group}]},
        },
    ]
