"""IAM actions the revoke_sessions function calls, and on what. infra grants exactly these."""

from record.permissions import FIRST_TASK_RECORD, FIRST_TASK_RECORD_KEY

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
    *FIRST_TASK_RECORD,
)

INDIRECT_GRANTS = FIRST_TASK_RECORD_KEY

# What IAM offers no condition for: the risk that stays if this function's code were taken over.
RESIDUAL = {
    "iam:PutRolePolicy": "can overwrite a role's inline policy: IAM has no condition on the policy name; the code "
    "writes only its session cut-off (the responder's own and exempted roles are denied it outright)",
}
