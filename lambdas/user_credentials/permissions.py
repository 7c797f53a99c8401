"""The AWS actions the user_credentials code calls, and on what: infra grants exactly these (GRANTS), and a test
checks the code calls no other. Nothing deletes a credential or sets one Active: the undo is `responder release`,
with the operator's own credentials. Placeholders: {partition}, {account}, {evidence_bucket_arn},
{evidence_key_arn}.

The exempted principals get an explicit Deny of every write this function holds (infra/functions.py); the code
refuses them too.
"""

GRANTS = (
    {
        "actions": ["s3:GetObject"],
        "resources": ["{evidence_bucket_arn}/investigations/*"],
        "why": "read the investigation's reach of the pass: the users the attacker made and the credentials it "
        "added, each with its verdict",
    },
    {
        "actions": ["s3:PutObject"],
        "resources": ["{evidence_bucket_arn}/user-credentials/*"],
        "why": "keep every step in full (the state carries at most MAX_STEPS): user-credentials/<incident_id>/"
        "pass-<n>.json",
    },
    {
        "actions": [
            "iam:GetAccessKeyLastUsed",
            "iam:ListSSHPublicKeys",
            "iam:UpdateSSHPublicKey",
            "iam:ListServiceSpecificCredentials",
            "iam:UpdateServiceSpecificCredential",
            "iam:ListSigningCertificates",
            "iam:UpdateSigningCertificate",
        ],
        "resources": ["arn:{partition}:iam::{account}:user/*"],
        "why": "the exposed key's user by its name now, and the SSH public keys, service-specific credentials "
        "(CodeCommit, Keyspaces, Bedrock API keys) and signing certificates of each compromised user: listed, set "
        "Inactive, read back; the attacker picks the users",
    },
    {
        "actions": ["iam:ListUsers"],
        "resources": ["*"],
        "why": "find a user the attacker made by its unique id after a rename (a user is gone only when IAM lists "
        "none with that id); ListUsers supports no resource-level permissions",
    },
)

INDIRECT_GRANTS = (
    {
        "actions": ["kms:Decrypt", "kms:GenerateDataKey"],
        "resources": ["{evidence_key_arn}"],
        "conditions": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
        "why": "S3 decrypts the investigation's evidence and encrypts this function's (SSE-KMS) as this function",
    },
)

# What IAM offers no condition for: the risk that stays if this function's code were taken over.
RESIDUAL = {
    "iam:UpdateSSHPublicKey": "can set an SSH public key Active again: IAM has no condition on the status; the code "
    "only ever writes Inactive",
    "iam:UpdateServiceSpecificCredential": "as iam:UpdateSSHPublicKey, on service-specific credentials",
    "iam:UpdateSigningCertificate": "as iam:UpdateSSHPublicKey, on signing certificates",
}
