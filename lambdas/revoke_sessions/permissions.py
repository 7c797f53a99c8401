"""IAM actions the revoke_sessions function calls, and on what. infra grants exactly these."""

GRANTS = (
    {
        "actions": ["iam:GetRole", "iam:GetRolePolicy", "iam:PutRolePolicy"],
        "resources": ["arn:{partition}:iam::{account}:role/*"],
        "why": "read the role (path, id, tags) and put/read back the inline deny; any role can be stolen",
    },
    {
        "actions": ["iam:GetInstanceProfile"],
        "resources": ["arn:{partition}:iam::{account}:instance-profile/*"],
        "why": "find the role behind the instance's profile when the finding names none",
    },
    {
        "actions": ["ec2:DescribeIamInstanceProfileAssociations"],
        "resources": ["*"],
        "why": "which profile the instance has now; Describe* calls support no resource-level permissions",
    },
    {
        "actions": ["dynamodb:PutItem", "dynamodb:UpdateItem"],
        "resources": ["{table_arn}"],
        "why": "as the execution's first task: record the incident once (conditional put, the dedupe write "
        "before the containing call) and each repeat sighting on its record (incident.intake)",
    },
)

# Not called by the code: DynamoDB uses the table's customer-managed key on the caller's behalf.
INDIRECT_GRANTS = (
    {
        "actions": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
        "resources": ["{key_arn}"],
        "conditions": {"StringLike": {"kms:ViaService": "dynamodb.*.amazonaws.com"}},
        "why": "the incident table is encrypted with the responder's key",
    },
)
