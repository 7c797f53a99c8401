"""IAM actions the preserve_evidence function calls, and on what. infra grants exactly these."""

GRANTS = (
    {
        "actions": ["ec2:DescribeInstances", "ec2:DescribeImages", "autoscaling:DescribeAutoScalingInstances"],
        "resources": ["*"],
        "why": "instance state, the incident's existing image (also the image_exists waiter), Auto Scaling "
        "membership; these Describe calls support no resource-level permissions",
    },
    {
        "actions": ["ec2:DescribeInstanceAttribute", "ec2:ModifyInstanceAttribute"],
        "resources": ["arn:{partition}:ec2:{region}:{account}:instance/*"],
        "why": "termination protection and shutdown behaviour 'stop', read back",
    },
    {
        "actions": ["ec2:CreateImage"],
        "resources": ["arn:{partition}:ec2:{region}:{account}:instance/*"],
        "why": "the no-reboot evidence image of the instance (its own statement: the source instance takes no "
        "aws:RequestTag condition)",
    },
    # CreateImage authorizes the new image and its snapshots as resources of their own, and both take
    # aws:RequestTag: the image can only be made with the incident tag that a re-run looks it up by.
    {
        "actions": ["ec2:CreateImage"],
        "resources": ["arn:{partition}:ec2:{region}::image/*", "arn:{partition}:ec2:{region}::snapshot/*"],
        "conditions": {"Null": {"aws:RequestTag/credential-responder:incident-id": "false"}},
        "why": "the evidence image and its snapshots, only when tagged with the incident (image and snapshot ARNs "
        "have no account)",
    },
    {
        "actions": ["ec2:CreateTags"],
        "resources": ["arn:{partition}:ec2:{region}::image/*", "arn:{partition}:ec2:{region}::snapshot/*"],
        "conditions": {
            "StringEquals": {"ec2:CreateAction": "CreateImage"},
            "Null": {"aws:RequestTag/credential-responder:incident-id": "false"},
        },
        "why": "CreateImage's TagSpecifications tag the image and snapshots with the incident; only at creation, "
        "never an existing image",
    },
    {
        "actions": ["autoscaling:DetachInstances"],
        "resources": ["arn:{partition}:autoscaling:{region}:{account}:autoScalingGroup:*:autoScalingGroupName/*"],
        "why": "take the instance out of its group so that health checks and scale-in cannot terminate it",
    },
)

# Each change that takes something away, and how it is undone.
REVERSIBLE = {
    "ec2:ModifyInstanceAttribute": "termination protection and the shutdown behaviour before are recorded; "
    "release sets them back",
    "autoscaling:DetachInstances": "the group and its desired capacity are recorded; release attaches the "
    "instance again",
}
