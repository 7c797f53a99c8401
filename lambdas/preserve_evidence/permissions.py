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
        "resources": [
            "arn:{partition}:ec2:{region}:{account}:instance/*",
            "arn:{partition}:ec2:{region}::image/*",
            "arn:{partition}:ec2:{region}::snapshot/*",
        ],
        "why": "the no-reboot evidence image of the instance and its snapshots (image and snapshot ARNs have no "
               "account)",
    },
    {
        "actions": ["ec2:CreateTags"],
        "resources": ["arn:{partition}:ec2:{region}::image/*", "arn:{partition}:ec2:{region}::snapshot/*"],
        "why": "CreateImage's TagSpecifications tag the image and snapshots with the incident at creation "
               "(can be narrowed with ec2:CreateAction=CreateImage)",
    },
    {
        "actions": ["autoscaling:DetachInstances"],
        "resources": ["arn:{partition}:autoscaling:{region}:{account}:autoScalingGroup:*:autoScalingGroupName/*"],
        "why": "take the instance out of its group so that health checks and scale-in cannot terminate it",
    },
)
