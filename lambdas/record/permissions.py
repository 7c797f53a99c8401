"""The record package is a library (no handler of its own): the functions that import it declare
its calls in their own permissions. The first task's record (incident.intake / incident.handler:
PutItem/UpdateItem/GetItem, and the table's key behind them) is declared once here, for the three
functions that can be an execution's first task; report declares its own UpdateItem."""

GRANTS: tuple[dict, ...] = ()

FIRST_TASK_RECORD = (
    {
        "actions": ["dynamodb:PutItem", "dynamodb:UpdateItem"],
        "resources": ["{table_arn}"],
        "why": "as the execution's first task: record each incident once (conditional put: the dedupe "
        "write, before any containing call), each repeat's response or sighting, a joined finding's alias",
    },
    {
        "actions": ["dynamodb:GetItem"],
        "resources": ["{table_arn}"],
        "why": "one incident per attack: read the record of a related finding (or the alias of a finding "
        "that joined one) to judge what the later finding brings (record.join)",
    },
)

# Not called by the code: DynamoDB uses the table's customer-managed key on the caller's behalf.
FIRST_TASK_RECORD_KEY = (
    {
        "actions": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
        "resources": ["{key_arn}"],
        "conditions": {"StringLike": {"kms:ViaService": "dynamodb.*.amazonaws.com"}},
        "why": "the incident table is encrypted with the responder's key",
    },
)
