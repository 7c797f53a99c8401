"""IAM actions the isolate_instance function calls, and on what. infra grants exactly these."""

GRANTS = (
    {
        "actions": [
            "ec2:DescribeInstances",
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeSecurityGroupRules",
            "ec2:DescribeNetworkInterfaces",
        ],
        "resources": ["*"],
        "why": "read the instance's interfaces, find the groups and their rules, read back; these Describe calls "
        "support no resource-level permissions",
    },
    {
        "actions": ["ec2:CreateSecurityGroup"],
        "resources": [
            "arn:{partition}:ec2:{region}:{account}:security-group/*",
            "arn:{partition}:ec2:{region}:{account}:vpc/*",
        ],
        "why": "the isolation and all-open groups, one of each per VPC of the instance",
    },
    {
        "actions": ["ec2:CreateTags"],
        "resources": ["arn:{partition}:ec2:{region}:{account}:security-group/*"],
        "conditions": {"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}},
        "why": "tag the groups with their purpose at creation (TagSpecifications); never an existing group",
    },
    {
        "actions": ["ec2:CreateTags"],
        "resources": ["arn:{partition}:ec2:{region}:{account}:instance/*"],
        "conditions": {
            "ForAllValues:StringLike": {
                "aws:TagKeys": ["credential-responder:original-sgs", "credential-responder:original-sgs:*"],
            },
        },
        "why": "record the original groups on the instance, in the responder's own tag keys only",
    },
    {
        "actions": [
            "ec2:RevokeSecurityGroupEgress",
            "ec2:RevokeSecurityGroupIngress",
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:AuthorizeSecurityGroupIngress",
        ],
        "resources": [
            "arn:{partition}:ec2:{region}:{account}:security-group/*",
            "arn:{partition}:ec2:{region}:{account}:security-group-rule/*",
        ],
        "why": "strip every rule from the isolation group; open the all-open group",
    },
    {
        "actions": ["ec2:ModifyNetworkInterfaceAttribute"],
        "resources": [
            "arn:{partition}:ec2:{region}:{account}:network-interface/*",
            "arn:{partition}:ec2:{region}:{account}:instance/*",
            "arn:{partition}:ec2:{region}:{account}:security-group/*",
            "arn:{partition}:ec2:{region}:{account}:subnet/*",
        ],
        "why": "replace each interface's groups (all-open, then isolation; or the originals on failure)",
    },
)
