"""isolate_instance, as the workflow, the configuration, release, check, the drill and the bench know it."""

from common.action import Action, Switch
from isolate_instance.permissions import GRANTS

ACTION = Action(
    package="isolate_instance",
    state="IsolateInstance",
    steps=("isolate-instance",),
    containment=False,
    reach=False,
    grants=GRANTS,
    manual=(
        "Replace the instance's security groups with one that has no inbound and no outbound rules; an interface may "
        "have been left on the all-open group credential-responder-untrack (and that group may still have rules): "
        "check both first: {instance_link}"
    ),
    switches=(
        Switch(
            "isolateInstances",
            "",
            "isolateInstance",
            "DRY_RUN_ISOLATE_INSTANCE",
            "Moves every network interface of the instance to a security group that has no rules",
        ),
    ),
    clients=("ec2",),
    observe=("instance_network", "isolation_groups"),
    undo="isolate_instance.release",
    release_order=10,  # network first: the instance passes its health checks when it rejoins its groups
    probe="isolate_instance.probe",
    timeout_seconds=60,
    # The isolation and all-open groups are per VPC and shared: two swaps in one VPC at once race.
    group="one-by-one",
    group_state="IsolateGroupInstance",
)
