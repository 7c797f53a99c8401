"""Preserve the evidence on an instance whose credentials were stolen, before anyone touches it.

Three steps, in this order, each its own StepResult; a failure of one does not stop the next:
1. protect-instance: termination protection on and OS-initiated shutdown set to "stop", so
   neither an API call nor `shutdown` from inside destroys the disks.
2. protect-from-autoscaling: take the instance out of its Auto Scaling group (see below).
3. create-evidence-image: an AMI without reboot (a reboot destroys memory and process evidence),
   tagged with the incident so that a re-run finds it instead of making a second one.
None of them is containment. EC2/Auto Scaling needs: see preserve_evidence.permissions.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from common.aws import error_code
from common.instances import GONE_STATES, instance_state
from common.steps import Status, StepResult, step
from common.times import iso

PROTECT = "protect-instance"
AUTOSCALING = "protect-from-autoscaling"
IMAGE = "create-evidence-image"
TAG = "credential-responder:"
INCIDENT_TAG = TAG + "incident-id"
UNUSABLE_IMAGE_STATES = ("invalid", "deregistered", "failed", "error", "disabled")


def protect_instance(ec2: Any, instance_id: str, region: str, *, dry_run: bool = False) -> StepResult:
    cli = f"aws ec2 modify-instance-attribute --region {shlex.quote(region)} --instance-id {shlex.quote(instance_id)}"
    manual = f"{cli} --disable-api-termination && {cli} --instance-initiated-shutdown-behavior stop"
    try:
        state = instance_state(ec2, instance_id)
        if state is None or state in GONE_STATES:
            return _gone(PROTECT, instance_id, state)
        termination, shutdown = _protection(ec2, instance_id)
        if termination and shutdown == "stop":
            return step(
                PROTECT,
                Status.ALREADY_DONE,
                instance_id,
                "termination protection was already on and shutdown behaviour already 'stop'",
            )
        if dry_run:
            return step(
                PROTECT,
                Status.SKIPPED,
                instance_id,
                "dry-run: would turn termination protection on and set shutdown behaviour to 'stop'",
                manual=manual,
            )
        undo = []
        # What release needs to put back exactly what this step changed, and nothing else.
        changed: dict[str, Any] = {"termination_protection_was_off": not termination, "shutdown_behavior_before": None}
        if not termination:
            ec2.modify_instance_attribute(InstanceId=instance_id, DisableApiTermination={"Value": True})
            undo.append(f"{cli} --no-disable-api-termination")
        if shutdown != "stop":
            ec2.modify_instance_attribute(InstanceId=instance_id, InstanceInitiatedShutdownBehavior={"Value": "stop"})
            undo.append(f"{cli} --instance-initiated-shutdown-behavior {shlex.quote(shutdown)}")
            changed["shutdown_behavior_before"] = shutdown
        termination, shutdown = _protection(ec2, instance_id)
    except ClientError as exc:
        return _failed(PROTECT, instance_id, exc, manual)
    if not (termination and shutdown == "stop"):
        return step(
            PROTECT,
            Status.FAILED,
            instance_id,
            f"reads back as termination protection={termination}, shutdown behaviour={shutdown}",
            manual=manual,
        )
    return step(
        PROTECT,
        Status.DONE,
        instance_id,
        "termination protection on, shutdown behaviour 'stop' (read back)",
        undo=" && ".join(undo),
        data=changed,
    )


# Why detach rather than the alternatives:
# * scale-in protection alone does not stop health-check replacement, and once the instance is
#   isolated its load balancer health check fails and the group terminates it;
# * suspending ReplaceUnhealthy/HealthCheck acts on the whole group, not on this instance;
# * EnterStandby (AWS's runbook) needs the instance InService, and a standby instance is still
#   the group's: an instance refresh with StandbyInstances=Terminate or a force-delete of the
#   group still terminates it.
# A detached instance is out of every Auto Scaling termination path, is deregistered from the
# group's load balancers (it stops serving), and ShouldDecrementDesiredCapacity=False makes the
# group launch a replacement so the service keeps its capacity. It also works from Standby
# (False there can at worst launch one extra instance; True can terminate a healthy one).
# AttachInstances undoes it.
def protect_from_autoscaling(autoscaling: Any, instance_id: str, region: str, *, dry_run: bool = False) -> StepResult:
    def detach_command(group: str) -> str:
        return (
            f"aws autoscaling detach-instances --region {shlex.quote(region)} --auto-scaling-group-name "
            f"{shlex.quote(group)} --instance-ids {shlex.quote(instance_id)} --no-should-decrement-desired-capacity"
        )

    group = "<group>"
    try:
        found = autoscaling.describe_auto_scaling_instances(InstanceIds=[instance_id])["AutoScalingInstances"]
        if not found:
            return step(AUTOSCALING, Status.SKIPPED, instance_id, "not in an Auto Scaling group")
        group, state = found[0]["AutoScalingGroupName"], found[0]["LifecycleState"]
        data = {"auto_scaling_group": group}
        if state in ("Detaching", "Detached"):
            return step(AUTOSCALING, Status.ALREADY_DONE, instance_id, f"already {state} from {group}", data=data)
        if state not in ("InService", "Standby"):
            return step(
                AUTOSCALING,
                Status.FAILED,
                instance_id,
                f"instance is {state} in {group}: only InService or "
                "Standby instances can be detached; the group may terminate it",
                manual=detach_command(group),
                data=data,
            )
        if dry_run:
            return step(
                AUTOSCALING,
                Status.SKIPPED,
                instance_id,
                f"dry-run: would detach it from {group} (the group launches a replacement)",
                manual=detach_command(group),
                data=data,
            )
        autoscaling.detach_instances(
            InstanceIds=[instance_id], AutoScalingGroupName=group, ShouldDecrementDesiredCapacity=False
        )
        after = autoscaling.describe_auto_scaling_instances(InstanceIds=[instance_id])["AutoScalingInstances"]
    except ClientError as exc:
        return _failed(AUTOSCALING, instance_id, exc, detach_command(group))
    if after and after[0]["LifecycleState"] not in ("Detaching", "Detached"):
        return step(
            AUTOSCALING,
            Status.FAILED,
            instance_id,
            f"still {after[0]['LifecycleState']} in {group} after DetachInstances",
            manual=detach_command(group),
            data=data,
        )
    return step(
        AUTOSCALING,
        Status.DONE,
        instance_id,
        f"detached from {group}, which launches a replacement (read back)",
        data=data,
        undo=f"aws autoscaling attach-instances --region {shlex.quote(region)} --auto-scaling-group-name "
        f"{shlex.quote(group)} --instance-ids {shlex.quote(instance_id)}",
    )


def create_evidence_image(
    ec2: Any, incident: Mapping[str, Any], *, dry_run: bool = False, now: datetime | None = None
) -> StepResult:
    instance_id, incident_id, region = incident["instance_id"], incident["incident_id"], incident["region"]
    now = now or datetime.now(UTC)
    # Not common.times.iso: an AMI name may not hold a colon.
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"forensic-{instance_id}-{stamp}"[:128]
    tags = [
        {"Key": key, "Value": str(value)[:256]}
        for key, value in (
            (INCIDENT_TAG, incident_id),
            (TAG + "finding-id", incident.get("finding_id")),
            (TAG + "source", incident.get("source")),
            (TAG + "instance-id", instance_id),
            (TAG + "created-at", iso(now)),
        )
        if value
    ]
    manual = (
        f"aws ec2 create-image --region {shlex.quote(region)} --instance-id {shlex.quote(instance_id)} --name "
        f"{shlex.quote(name)} --no-reboot --tag-specifications "
        + " ".join(
            shlex.quote(f"ResourceType={kind},Tags=[{{Key={INCIDENT_TAG},Value={incident_id}}}]")
            for kind in ("image", "snapshot")
        )
    )
    try:
        existing = [
            image
            for image in ec2.describe_images(
                Owners=["self"],
                Filters=[
                    {"Name": f"tag:{INCIDENT_TAG}", "Values": [incident_id]},
                    {"Name": f"tag:{TAG}instance-id", "Values": [instance_id]},
                ],
            )["Images"]
            if image["State"] not in UNUSABLE_IMAGE_STATES
        ]
        if existing:
            image = existing[0]
            return step(
                IMAGE,
                Status.ALREADY_DONE,
                instance_id,
                f"evidence image {image['ImageId']} already exists ({image['State']})",
                data={"image_id": image["ImageId"]},
            )
        state = instance_state(ec2, instance_id)
        if state is None or state in GONE_STATES:
            return _gone(IMAGE, instance_id, state)
        if dry_run:
            return step(
                IMAGE, Status.SKIPPED, instance_id, f"dry-run: would create image {name} without reboot", manual=manual
            )
        image_id = ec2.create_image(
            InstanceId=instance_id,
            Name=name,
            NoReboot=True,
            Description=f"Forensic image of {instance_id}, credential-responder incident {incident_id}"[:255],
            TagSpecifications=[{"ResourceType": "image", "Tags": tags}, {"ResourceType": "snapshot", "Tags": tags}],
        )["ImageId"]
        # DescribeImages is eventually consistent: a new id can be unknown for a few seconds.
        ec2.get_waiter("image_exists").wait(ImageIds=[image_id], WaiterConfig={"Delay": 2, "MaxAttempts": 10})
        images = ec2.describe_images(ImageIds=[image_id])["Images"]
    except WaiterError:
        return step(
            IMAGE,
            Status.FAILED,
            instance_id,
            f"CreateImage returned {image_id} but it does not read back yet; a re-run finds it by its incident tag",
            data={"image_id": image_id},
            manual=f"aws ec2 describe-images --region {shlex.quote(region)} --image-ids {shlex.quote(image_id)}",
        )
    except ClientError as exc:
        if error_code(exc) == "InvalidInstanceID.NotFound":
            return _gone(IMAGE, instance_id, None)
        return _failed(IMAGE, instance_id, exc, manual)
    if not images or images[0]["State"] in UNUSABLE_IMAGE_STATES:
        return step(
            IMAGE,
            Status.FAILED,
            instance_id,
            f"image {image_id} reads back as {images[0]['State'] if images else 'missing'}",
            manual=manual,
            data={"image_id": image_id},
        )
    return step(
        IMAGE,
        Status.DONE,
        instance_id,
        f"image {image_id} ({name}) is {images[0]['State']}, without reboot "
        "(read back; snapshots complete in the background)",
        data={"image_id": image_id},
        undo=f"aws ec2 deregister-image --region {shlex.quote(region)} --image-id {shlex.quote(image_id)} "
        "--delete-associated-snapshots",
    )


def _protection(ec2: Any, instance_id: str) -> tuple[bool, str]:
    termination = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="disableApiTermination")
    shutdown = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="instanceInitiatedShutdownBehavior")
    return (
        bool(termination["DisableApiTermination"]["Value"]),
        str(shutdown["InstanceInitiatedShutdownBehavior"]["Value"]),
    )


def _gone(name: str, instance_id: str, state: str | None) -> StepResult:
    return step(name, Status.SKIPPED, instance_id, f"instance is gone ({state or 'terminated'})")


def _failed(name: str, instance_id: str, exc: ClientError, manual: str) -> StepResult:
    if error_code(exc) == "InvalidInstanceID.NotFound":
        return _gone(name, instance_id, None)
    message = exc.response.get("Error", {}).get("Message", str(exc))
    return step(name, Status.FAILED, instance_id, f"{error_code(exc)}: {message}", manual=manual)
