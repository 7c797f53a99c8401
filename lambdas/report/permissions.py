"""The AWS actions the report code calls, per entry point: infra grants exactly these (GRANTS),
and a test checks the code calls no other. Placeholders: {topic_arn}, {slack_secret_arn},
{key_arn}. The "handler" key names the entry point that needs the grant, so that the two
functions of this package each get only their own. {evidence_bucket_arn}, {evidence_key_arn}: where a
response too large for the record's item keeps its steps.

Slack is reached over HTTPS, not through AWS. The Slack grant is needed only when
SLACK_SECRET_NAME is set; without a secret there is nothing to grant (skip it, do not grant "").

INDIRECT_GRANTS are not called by the code but made by AWS with the function's permissions:
publishing to a topic encrypted with a customer-managed key has SNS ask KMS for a data key as
the publisher. (A secret encrypted with a customer-managed key would need kms:Decrypt likewise;
the default aws/secretsmanager key needs no grant.)
"""

GRANTS = (
    {
        "handler": "report.handler.handler_sns",
        "actions": ["sns:Publish"],
        "resources": ["{topic_arn}"],
        "why": "publish the incident report e-mail to the responders' topic (TOPIC_ARN)",
    },
    {
        "handler": "report.handler.handler_sns",
        "actions": ["dynamodb:UpdateItem"],
        "resources": ["{table_arn}"],
        "why": "store the outcome, steps and notifications on the incident record (INCIDENT_TABLE)",
    },
    {
        "handler": "report.handler.handler_sns",
        "actions": ["s3:PutObject"],
        "resources": ["{evidence_bucket_arn}/records/*"],
        "why": "a response whose steps outgrow the record's 400 KB item keeps them in the evidence bucket "
        "(records/<incident_id>/response-<n>.json), the record pointing at it",
    },
    {
        "handler": "report.handler.handler_slack",
        "actions": ["secretsmanager:GetSecretValue"],
        "resources": ["{slack_secret_arn}"],
        "why": "read the Slack webhook URL at run time; it is a secret and never sits in an env value",
    },
    # -- time to containment (report/metrics.py contained_at), read from this execution's history
    {
        "handler": "report.handler.handler_sns",
        "actions": ["states:GetExecutionHistory"],
        "resources": ["arn:{partition}:states:{region}:{account}:execution:*"],
        "why": "time to containment: when the containing state ended in this execution (the message's first "
        "lines, and metrics); the state machine's name is not known to its own functions",
    },
    {
        "handler": "report.handler.handler_slack",
        "actions": ["states:GetExecutionHistory"],
        "resources": ["arn:{partition}:states:{region}:{account}:execution:*"],
        "why": "time to containment: when the containing state ended in this execution (the message's first "
        "lines); the state machine's name is not known to its own functions",
    },
)

INDIRECT_GRANTS = (
    {
        "handler": "report.handler.handler_sns",
        "actions": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
        "resources": ["{key_arn}"],
        "conditions": {"StringLike": {"kms:ViaService": "dynamodb.*.amazonaws.com"}},
        "why": "the incident table is encrypted with the responder's key",
    },
    {
        "handler": "report.handler.handler_sns",
        "actions": ["kms:GenerateDataKey"],
        "resources": ["{evidence_key_arn}"],
        "conditions": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
        "why": "S3 encrypts a response's steps (SSE-KMS) with a data key it requests as this function",
    },
    {
        "handler": "report.handler.handler_sns",
        "actions": ["kms:GenerateDataKey*", "kms:Decrypt"],
        "resources": ["{key_arn}"],
        "conditions": {"StringLike": {"kms:ViaService": "sns.*.amazonaws.com"}},
        "why": "the report topic is encrypted with the responder's key: SNS requests a data key as the publisher",
    },
)
