"""AWS actions the normalize function calls (through record.store), and on what."""

GRANTS = (
    {
        "actions": ["dynamodb:PutItem", "dynamodb:UpdateItem"],
        "resources": ["{table_arn}"],
        "why": "record each incident once (conditional put) and each repeat sighting on its record",
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
