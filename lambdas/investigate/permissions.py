"""The AWS actions the investigate code calls, and on what: infra grants exactly these (GRANTS), and a
test checks the code calls no other. Placeholders: {partition}, {account}, {evidence_bucket_arn},
{evidence_key_arn}.

INDIRECT_GRANTS are not called by the code but made by AWS with the function's permissions: an SSE-KMS
PutObject has S3 ask KMS for a data key as the caller, so the role needs kms:GenerateDataKey on the
evidence bucket's customer-managed key (EVIDENCE_KMS_KEY_ARN), and a GetObject has S3 ask KMS to decrypt
that data key (kms:Decrypt). The AWS managed key aws/s3 needs no grant.
"""

GRANTS = (
    {
        "actions": ["cloudtrail:LookupEvents"],
        "resources": ["*"],
        "why": "LookupEvents supports no resource-level permissions",
    },
    {
        "actions": ["ec2:DescribeRegions"],
        "resources": ["*"],
        "why": "the account's enabled regions, all of which are searched; no resource-level permissions",
    },
    {
        "actions": ["ec2:DescribeVpcEndpoints"],
        "resources": ["*"],
        "why": "stolen instance credentials: the VPC endpoints of the instance's VPCs are the workload's way "
        "out, not the thief's; no resource-level permissions",
    },
    {
        "actions": ["s3:PutObject", "s3:GetObject"],
        "resources": ["{evidence_bucket_arn}/investigations/*"],
        "why": "store the full event list as evidence: investigations/<incident_id>/pass-<n>.json; pass 2 "
        "reads pass 1's event ids back from it (the state carries only its URI)",
    },
)

INDIRECT_GRANTS = (
    {
        "actions": ["kms:GenerateDataKey", "kms:Decrypt"],
        "resources": ["{evidence_key_arn}"],
        "conditions": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
        "why": "S3 encrypts the evidence object (SSE-KMS) with a data key it requests as this function, and "
        "decrypts it when pass 2 reads pass 1's object",
    },
)
