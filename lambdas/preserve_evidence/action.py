"""preserve_evidence, as the workflow, the configuration, release, check, the drill and the bench know it."""

from common.action import Action, Switch
from preserve_evidence.permissions import GRANTS

ACTION = Action(
    package="preserve_evidence",
    state="PreserveEvidence",
    steps=("protect-instance", "protect-from-autoscaling", "create-evidence-image"),
    containment=False,
    reach=False,
    grants=GRANTS,
    manual="aws ec2 create-image --region {region} --instance-id {instance} --name forensic-{instance} --no-reboot",
    switches=(
        Switch(
            "preserveEvidence",
            "",
            "preserveEvidence",
            "DRY_RUN_PRESERVE_EVIDENCE",
            "Turns termination protection on, sets shutdown behaviour to `stop`, detaches the instance from its Auto "
            "Scaling group and creates an AMI without reboot",
        ),
    ),
    clients=("ec2", "autoscaling"),
    observe=("images", "instance_protection", "auto_scaling"),
    undo="preserve_evidence.release",
    release_order=30,  # last of the instance's steps: it is never terminable while still detached
    probe="preserve_evidence.probe",
    timeout_seconds=120,  # CreateImage and its waiter
    group="at-once",
    group_state="PreserveGroupInstance",
)
