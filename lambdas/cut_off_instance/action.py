"""cut_off_instance, as the workflow, the configuration, release, check, the drill and the bench know it."""

from common.action import Action, Switch
from cut_off_instance.permissions import GRANTS

ACTION = Action(
    package="cut_off_instance",
    state="CutOffInstance",
    steps=("deregister-from-load-balancers", "remove-instance-profile"),
    containment=False,
    reach=False,
    grants=GRANTS,
    manual=(
        "Deregister the instance from its target groups and Classic Load Balancers, and remove its instance profile "
        "association (aws ec2 describe-iam-instance-profile-associations, then disassociate-iam-instance-profile): "
        "{instance_link}"
    ),
    switches=(
        Switch(
            "detachLoadBalancers",
            "DETACH_LOAD_BALANCERS",
            "detachLoadBalancers",
            "DRY_RUN_LOAD_BALANCERS",
            "After the evidence image, deregisters the instance from every ELB v2 target group and Classic Load "
            "Balancer it is in (recorded; `release` registers it again)",
        ),
        Switch(
            "removeInstanceProfile",
            "REMOVE_INSTANCE_PROFILE",
            "removeInstanceProfile",
            "DRY_RUN_INSTANCE_PROFILE",
            "After the evidence image, removes the instance profile association so the metadata service hands out no "
            "new role credentials (recorded; `release` re-associates it, which needs `iam:PassRole`)",
        ),
    ),
    clients=("ec2", "elbv2", "elb"),
    observe=("load_balancers", "instance_profiles"),
    undo="cut_off_instance.release",
    release_order=20,  # the profile before the load balancers: the instance serves with its credentials
    timeout_seconds=60,
    group="at-once",
    group_state="CutOffGroupInstance",
)
