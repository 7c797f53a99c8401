"""The AWS actions the evict code calls, and on what: infra grants exactly these (GRANTS), and a test checks
the code calls no other. No iam:*, and nothing that deletes or detaches a policy, deletes a key, user or role,
or sets a key Active: the responder cannot undo its own containment (README, "Reversible by declaration").
Placeholders: {partition}, {account}, {evidence_bucket_arn}, {evidence_key_arn}.

What IAM cannot fence is said where the grant is (RESIDUAL), and the README's permissions table prints it.
The responder's own roles (exact ARNs) and the exempted principals get an explicit Deny of every write this
function holds (infra/functions.py); the code refuses them too.
"""

GRANTS = (
    {
        "actions": ["s3:GetObject"],
        "resources": ["{evidence_bucket_arn}/investigations/*"],
        "why": "read the investigation's evidence of the pass (its reach): investigations/<incident_id>/pass-<n>.json",
    },
    {
        "actions": ["s3:PutObject"],
        "resources": ["{evidence_bucket_arn}/evictions/*"],
        "why": "keep every step in full and every document it overwrote: evictions/<incident_id>/pass-<n>.json",
    },
    {
        "actions": [
            "iam:GetUser",
            "iam:ListAccessKeys",
            "iam:UpdateAccessKey",
            "iam:GetAccessKeyLastUsed",
            "iam:GetUserPolicy",
            "iam:PutUserPolicy",
            "iam:GetLoginProfile",
            "iam:DeleteLoginProfile",
        ],
        "resources": ["arn:{partition}:iam::{account}:user/*"],
        "why": "hold the users in the reach (keys Inactive, deny-all, sessions cut off), end the sessions minted "
        "for users, and remove a console password the attacker created on a user that had none; the attacker "
        "picks the users",
    },
    {
        "actions": ["iam:ListUsers"],
        "resources": ["*"],
        "why": "find a user by its unique id after a rename (a user is gone only when IAM lists none with that id); "
        "ListUsers supports no resource-level permissions",
    },
    {
        "actions": ["iam:GetRole", "iam:GetRolePolicy", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy"],
        "resources": ["arn:{partition}:iam::{account}:role/*"],
        "why": "hold the roles in the reach (deny-all, sessions cut off), end the sessions minted for a role, put "
        "back a trust document AWS Config proves; never the responder's own roles or exempted ones (see the Deny)",
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
        "actions": ["kms:Decrypt", "kms:GenerateDataKey"],
        "resources": ["{evidence_key_arn}"],
        "conditions": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
        "why": "S3 decrypts the investigation's evidence and encrypts the eviction's (SSE-KMS) as this function",
    },
)

# What IAM offers no condition for: the risk that stays if this function's code were taken over.
RESIDUAL = {
    "iam:UpdateAccessKey": "can set a key Active again: IAM has no condition on the status; the code only ever "
    "writes Inactive",
    "iam:PutUserPolicy": "can overwrite an inline policy, the responder's deny-all and cut-off included: IAM has "
    "no condition on the policy name; the code writes only the responder's own documents",
    "iam:PutRolePolicy": "as iam:PutUserPolicy, on roles",
    "iam:UpdateAssumeRolePolicy": "can rewrite a role's trust: the code writes only a document AWS Config recorded "
    "for that role before the attacker's rewrite",
    "iam:DeleteLoginProfile": "can remove any user's console password (it can be reset, not restored): the code "
    "removes only one the attacker created on a user that had none",
}
