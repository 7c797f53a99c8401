"""IAM actions the cut_off_instance function calls, and on what. infra grants exactly these."""

GRANTS = (
    {
        "actions": [
            "ec2:DescribeInstances",
            "ec2:DescribeIamInstanceProfileAssociations",
            "elasticloadbalancing:DescribeTargetGroups",
            "elasticloadbalancing:DescribeTargetHealth",
            "elasticloadbalancing:DescribeLoadBalancers",
        ],
        "resources": ["*"],
        "why": "the instance's state and addresses, its profile association, the target groups and Classic Load "
        "Balancers it is in, read back; these Describe calls support no resource-level permissions",
    },
    {
        "actions": ["elasticloadbalancing:DeregisterTargets"],
        "resources": ["arn:{partition}:elasticloadbalancing:{region}:{account}:targetgroup/*/*"],
        "why": "take the instance (or its addresses) out of every target group it is registered in",
    },
    {
        "actions": ["elasticloadbalancing:DeregisterInstancesFromLoadBalancer"],
        "resources": ["arn:{partition}:elasticloadbalancing:{region}:{account}:loadbalancer/*"],
        "why": "take the instance out of every Classic Load Balancer it is in (a Classic Load Balancer's ARN is "
        "loadbalancer/<name>)",
    },
    {
        "actions": ["ec2:DisassociateIamInstanceProfile"],
        "resources": ["arn:{partition}:ec2:{region}:{account}:instance/*"],
        "why": "remove the instance profile association, so that the metadata service hands out no new role "
        "credentials on the instance",
    },
)

# Each change that takes something away, and how it is undone: recorded in the step's data for `release`.
REVERSIBLE = {
    "elasticloadbalancing:DeregisterTargets": "the target groups, ports and zones are recorded; release registers "
    "the instance again",
    "elasticloadbalancing:DeregisterInstancesFromLoadBalancer": "the Classic Load Balancers are recorded; release "
    "registers the instance again",
    "ec2:DisassociateIamInstanceProfile": "the instance profile is recorded; release associates it again",
}
