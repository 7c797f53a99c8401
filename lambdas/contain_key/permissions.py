"""IAM actions the contain_key function calls, and on what. infra grants exactly these."""

GRANTS = (
    {
        "actions": [
            "iam:GetAccessKeyLastUsed",
            "iam:ListAccessKeys",
            "iam:UpdateAccessKey",
            "iam:ListAttachedUserPolicies",
            "iam:GetUserPolicy",
            "iam:PutUserPolicy",
        ],
        "resources": ["arn:{partition}:iam::{account}:user/*"],
        "why": "name the key's owner when the event names none (or a user not holding it), deactivate the key, "
        "put the deny-only "
        "inline policies (quarantine fallback, older sessions); any user can be the owner. IAM offers no "
        "condition on an inline policy's content, so iam:PutUserPolicy cannot be fenced to the two "
        "deny-only documents the code writes",
    },
    {
        "actions": ["iam:AttachUserPolicy"],
        "resources": ["arn:{partition}:iam::{account}:user/*"],
        # Fenced: without it, code execution in this function could attach AdministratorAccess.
        "conditions": {"ArnEquals": {"iam:PolicyARN": "{quarantine_policy_arn}"}},
        "why": "attach the configured quarantine policy to the key's owner, and no other policy",
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
