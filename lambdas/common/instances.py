"""An EC2 instance as the instance actions read it before acting on it.

"Gone" is what EC2 itself says: the instance is shutting down or terminated, or EC2 answers
InvalidInstanceID.NotFound for it. Nothing is left to protect, image, cut off or isolate then.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from common.aws import error_code

GONE_STATES = ("shutting-down", "terminated")


def describe_instance(ec2: Any, instance_id: str) -> dict[str, Any] | None:
    """The instance as DescribeInstances returns it, or None when EC2 no longer knows it."""
    try:
        reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    except ClientError as exc:
        if error_code(exc) == "InvalidInstanceID.NotFound":
            return None
        raise
    instances = [instance for reservation in reservations for instance in reservation["Instances"]]
    return instances[0] if instances else None


def instance_state(ec2: Any, instance_id: str) -> str | None:
    """The instance's state name, or None when EC2 no longer knows it."""
    instance = describe_instance(ec2, instance_id)
    return str(instance["State"]["Name"]) if instance else None
