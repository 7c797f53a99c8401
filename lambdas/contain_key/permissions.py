"""IAM actions the contain_key function calls, and on what. infra grants exactly these."""

from record.permissions import FIRST_TASK_RECORD, FIRST_TASK_RECORD_KEY

# The quarantine policy when the deployment names none (quarantinePolicyArn): the attach below is fenced to it.
DEFAULT_QUARANTINE_POLICY = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"

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
    *FIRST_TASK_RECORD,
)

INDIRECT_GRANTS = FIRST_TASK_RECORD_KEY

# What IAM offers no condition for: the risk that stays if this function's code were taken over.
RESIDUAL = {
    "iam:UpdateAccessKey": "can set a key Active again: IAM has no condition on the status; the code only ever "
    "writes Inactive (exempted users and the responder's own are denied it outright)",
    "iam:PutUserPolicy": "can overwrite a user's inline policy: IAM has no condition on the policy name; the code "
    "writes only its cut-off and its quarantine stand-in",
}
