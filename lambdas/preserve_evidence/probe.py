"""What `responder check` asks EC2, as DryRun calls, to prove this function may preserve evidence: built from
the account's own instance (`target`: instance, eni, group, vpc ids, read with the operator's credentials)."""

from __future__ import annotations

import uuid
from typing import Any


def dry_runs(target: dict[str, str], marker: str) -> list[dict[str, Any]]:
    instance = target.get("instance")
    if not instance:
        return []
    tag = [{"Key": "credential-responder:incident-id", "Value": marker}]
    return [
        {
            "operation": "modify_instance_attribute",
            "params": {"InstanceId": instance, "DisableApiTermination": {"Value": True}},
        },
        {
            "operation": "create_image",
            "params": {
                "InstanceId": instance,
                "Name": f"{marker}-{uuid.uuid4().hex[:8]}",
                "NoReboot": True,
                "TagSpecifications": [{"ResourceType": t, "Tags": tag} for t in ("image", "snapshot")],
            },
        },
    ]
