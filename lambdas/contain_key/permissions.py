"""IAM actions the contain_key function calls, and on what. infra grants exactly these."""

GRANTS = (
    {
        "actions": [
            "iam:GetAccessKeyLastUsed",
            "iam:ListAccessKeys",
            "iam:UpdateAccessKey",
            "iam:ListAttachedUserPolicies",
            "iam:AttachUserPolicy",
            "iam:GetUserPolicy",
            "iam:PutUserPolicy",
        ],
        "resources": ["arn:{partition}:iam::{account}:user/*"],
        "why": "deactivate the exposed key and quarantine its owner; any user can be the owner",
    },
)
