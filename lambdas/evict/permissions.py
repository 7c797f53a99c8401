"""The AWS actions the evict code calls, and on what: infra grants exactly these (GRANTS), and a test checks
the code calls no other. No iam:*: each eviction has its few actions. Placeholders: {partition}, {account},
{evidence_bucket_arn}, {evidence_key_arn}.

The responder's own roles (path /credential-responder/) can never be written by this function, whatever an
attacker put in CloudTrail: infra/functions.py adds an explicit Deny of every role write it holds on them
(own_role_writes). The code refuses them too (by path); the Deny holds even if that code were wrong.
"""

GRANTS = (
    {
        "actions": ["s3:GetObject"],
        "resources": ["{evidence_bucket_arn}/investigations/*"],
        "why": "read the investigation's full event list of the pass: investigations/<incident_id>/pass-<n>.json",
    },
    {
        "actions": [
            "iam:ListAccessKeys",
            "iam:UpdateAccessKey",
            "iam:GetUserPolicy",
            "iam:PutUserPolicy",
            "iam:DeleteUserPolicy",
            "iam:ListAttachedUserPolicies",
            "iam:DetachUserPolicy",
            "iam:GetLoginProfile",
            "iam:DeleteLoginProfile",
        ],
        "resources": ["arn:{partition}:iam::{account}:user/*"],
        "why": "evict the users the attacker created (keys Inactive, deny-all), remove the console passwords it set, "
        "remove the policies it gave to users it created; the attacker picks the users",
    },
    {
        "actions": [
            "iam:GetRole",
            "iam:GetRolePolicy",
            "iam:PutRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:ListAttachedRolePolicies",
            "iam:DetachRolePolicy",
        ],
        "resources": ["arn:{partition}:iam::{account}:role/*"],
        "why": "quarantine the roles the attacker created or whose trust it rewrote (deny-all, sessions revoked), "
        "remove the policies it gave to roles it created; never the responder's own roles (see the Deny)",
    },
    {
        "actions": ["config:GetResourceConfigHistory"],
        "resources": ["*"],
        "why": "the trust policy a role had before the attacker rewrote it, from AWS Config's history; "
        "GetResourceConfigHistory supports no resource-level permissions",
    },
)

INDIRECT_GRANTS = (
    {
        "actions": ["kms:Decrypt"],
        "resources": ["{evidence_key_arn}"],
        "conditions": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
        "why": "S3 decrypts the evidence object (SSE-KMS) with the evidence key as this function",
    },
)
