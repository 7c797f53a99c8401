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
    # Rule changes only on the responder's own groups: a group carries its purpose tag from its
    # creation (above). A group named like ours but without the tag (pre-created by someone else)
    # fails closed, and the function cannot open any other group of the account.
    {
        "actions": ["ec2:AuthorizeSecurityGroupEgress", "ec2:AuthorizeSecurityGroupIngress"],
        "resources": ["arn:{partition}:ec2:{region}:{account}:security-group/*"],
        "conditions": {"StringEquals": {"aws:ResourceTag/credential-responder:purpose": "untrack"}},
        "why": "open the all-open group just before the swaps; only a group tagged purpose=untrack",
    },
    {
        "actions": ["ec2:RevokeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress"],
        "resources": ["arn:{partition}:ec2:{region}:{account}:security-group/*"],
        "conditions": {"StringEquals": {"aws:ResourceTag/credential-responder:purpose": ["untrack", "isolation"]}},
        "why": "strip every rule from the isolation group, and from the all-open group right after the swaps; "
        "only groups tagged purpose=isolation or purpose=untrack",
    },
    {
        "actions": [
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:RevokeSecurityGroupIngress",
        ],
        "resources": ["arn:{partition}:ec2:{region}:{account}:security-group-rule/*"],
        "why": "the rules themselves (revoked by rule id); a rule carries no purpose tag, and every such request "
        "also names its group, which the two statements above fence",
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

# Each change that takes something away, and how it is undone.
REVERSIBLE = {
    "ec2:ModifyNetworkInterfaceAttribute": "each interface's groups before the swap are recorded in the step's "
    "data; release puts them back on the instance's own interfaces",
    "ec2:RevokeSecurityGroupEgress": "only on the responder's own groups (the purpose tag condition): the rules it "
    "adds for the swap, never an owner's rules",
    "ec2:RevokeSecurityGroupIngress": "as ec2:RevokeSecurityGroupEgress",
}
