"""The final write of a response: its outcome, steps and messages, on its own entry of the record.

`finish` fills in the response entry the first task claimed (incident.record.response): nothing
of an earlier response is touched, so `responder release` always has every response's undo data.
It is written once per entry: a retried report stores nothing twice. Then the record's `status`
is set from all its responses (record.responses.overall_status), by a second write conditional on
the count of reports it saw (`status_of`), so that of two responses reporting at once the status
written last is the one that saw both.

DynamoDB holds at most 400 KB per item. A response whose steps are larger than INLINE_STEPS_MAX, or
that DynamoDB refuses for the item's size, has its steps written to the evidence bucket
(records/<incident id>/response-<n>.json, SSE-KMS) and the entry holds `steps_uri` and
`steps_count` instead; without a bucket the write fails, and the workflow's RecordNotStored alarm
says so.

`record_release` appends a release as a response of its own (what `responder release` reversed)
and sets the status the same way (`released` when every reversal was made and read back).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from common.aws import error_code
from common.times import iso_now
from record.attributes import to_attribute
from record.item import CHECK_FAILED, entry, expiration, old_item, plain, plain_item, record_key, trim
from record.responses import RELEASED, cutoff_of, legacy_responses, overall_status, responses_of

INLINE_STEPS_MAX = 64 * 1024


def finish(
    dynamodb: Any,
    table: str,
    incident_id: str,
    *,
    response: int | None,
    outcome: str,
    reason: str,
    steps: list[dict[str, Any]],
    notifications: list[dict[str, Any]],
    execution_arn: str = "",
    s3: Callable[[], Any] | None = None,
    bucket: str = "",
    key_arn: str = "",
    now: datetime | None = None,
) -> str:
    """Store what response `response` did (None: an execution that claimed no entry, such as one
    started before entries existed: appended as an entry of its own). `s3` makes the S3 client,
    only when the steps go to the evidence bucket `bucket`. Returns what was stored."""
    moment = iso_now(now)
    fields: dict[str, Any] = {
        "outcome": outcome,
        "reason": reason,
        "reported_at": moment,
        "notifications": [{k: v for k, v in n.items() if k != "text"} for n in notifications],
        "steps": steps,
    }
    if cutoff := cutoff_of(steps, None):
        fields["cutoff"] = cutoff
    stored = "stored"
    if bucket and s3 is not None and len(json.dumps(steps, default=str)) > INLINE_STEPS_MAX:
        fields, stored = _spilled(s3(), bucket, key_arn, incident_id, response, fields)
    try:
        new = _write(dynamodb, table, incident_id, response, fields, execution_arn, moment, now)
    except ClientError as exc:
        if not _too_large(exc) or not bucket or s3 is None or "steps_uri" in fields:
            raise
        fields, stored = _spilled(s3(), bucket, key_arn, incident_id, response, fields)
        new = _write(dynamodb, table, incident_id, response, fields, execution_arn, moment, now)
    if isinstance(new, str):
        return new
    _settle_status(dynamodb, table, incident_id, new)
    return stored


def record_release(
    dynamodb: Any,
    table: str,
    incident_id: str,
    *,
    reversals: list[dict[str, Any]],
    notes: list[str],
    record: dict[str, Any] | None = None,
    by: str = "",
    now: datetime | None = None,
) -> str:
    """Append the release (each reversal's {"what", "status": released|declined|failed, "detail"}) as
    a response. Its outcome: `released` when every reversal was made and read back (the record's
    status becomes `released`: a repeat's activity is then told, not contained again), `partial`
    when some were, `failed` when none was. `record`: the item as read, so that a record written
    before responses existed keeps its response as an entry. Returns the release's outcome."""
    moment = iso_now(now)
    made = [r.get("status") == RELEASED for r in reversals]
    outcome = RELEASED if all(made) else ("partial" if any(made) else "failed")
    release = {
        "kind": "release",
        "started_at": moment,
        "reported_at": moment,
        "execution_arn": by,
        "outcome": outcome,
        "reversals": reversals,
        "notes": notes,
    }
    new = dynamodb.update_item(
        TableName=table,
        Key=record_key(incident_id),
        UpdateExpression="SET responses = list_append(if_not_exists(responses, :legacy), :release), "
        "timeline = list_append(if_not_exists(timeline, :empty), :line), expiration = :expiration ADD reports :one",
        ConditionExpression="attribute_exists(id)",  # never a stray record for a mistyped id
        ExpressionAttributeValues={
            # A record written before responses existed keeps its response as an entry.
            ":legacy": to_attribute(plain(legacy_responses(record)) if record and "responses" not in record else []),
            ":release": to_attribute([plain(release)]),
            ":empty": {"L": []},
            ":line": to_attribute([entry(moment, f"release: {outcome} ({len(reversals)} reversal(s))")]),
            ":expiration": {"N": str(expiration(now))},
            ":one": {"N": "1"},
        },
        ReturnValues="ALL_NEW",
    )["Attributes"]
    _settle_status(dynamodb, table, incident_id, new)
    return outcome


def _write(
    dynamodb: Any,
    table: str,
    incident_id: str,
    response: int | None,
    fields: dict[str, Any],
    execution_arn: str,
    moment: str,
    now: datetime | None,
) -> dict[str, Any] | str:
    """The item as written, or why nothing was."""
    values: dict[str, Any] = {
        ":empty": {"L": []},
        ":expiration": {"N": str(expiration(now))},
        ":one": {"N": "1"},
        ":line": to_attribute([entry(moment, f"reported {_which(response)}: {fields['outcome']}")]),
    }
    names: dict[str, str] = {}
    common = "timeline = list_append(if_not_exists(timeline, :empty), :line), expiration = :expiration ADD reports :one"
    if response is None:
        appended = {"kind": "report", "execution_arn": execution_arn, "started_at": moment, **fields}
        update = f"SET responses = list_append(if_not_exists(responses, :empty), :appended), {common}"
        condition = "attribute_exists(id)"
        values[":appended"] = to_attribute([plain(appended)])
    else:
        at = f"responses[{response}]"
        sets = []
        for number, (name, value) in enumerate(fields.items()):
            # Names through placeholders: DynamoDB reserves hundreds of words.
            sets.append(f"{at}.#f{number} = :f{number}")
            names[f"#f{number}"] = name
            values[f":f{number}"] = to_attribute(plain(value))
        update = f"SET {', '.join(sets)}, {common}"
        condition = f"attribute_exists({at}) AND attribute_not_exists({at}.reported_at)"
    try:
        new = dynamodb.update_item(
            TableName=table,
            Key=record_key(incident_id),
            UpdateExpression=update,
            ConditionExpression=condition,
            **({"ExpressionAttributeNames": names} if names else {}),
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )["Attributes"]
    except ClientError as exc:
        if error_code(exc) != CHECK_FAILED:
            raise
        old = old_item(exc)
        if old is None:
            return f"skipped: no record of incident {incident_id}"
        if response is not None and response < len(responses_of(old)):
            return "stored by an earlier attempt of this report"
        return f"skipped: incident {incident_id} has no response {response}"
    trim(dynamodb, table, incident_id, len(new.get("timeline", {}).get("L", [])))
    return new


def _which(response: int | None) -> str:
    return "an unclaimed response" if response is None else f"response {response}"


def _settle_status(dynamodb: Any, table: str, incident_id: str, attributes: dict[str, Any]) -> None:
    record = plain_item(attributes)
    reports = int(record.get("reports") or 1)
    try:
        dynamodb.update_item(
            TableName=table,
            Key=record_key(incident_id),
            UpdateExpression="SET #status = :status, status_of = :reports",
            ConditionExpression="attribute_not_exists(status_of) OR status_of < :reports",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":status": {"S": overall_status(responses_of(record))},
                ":reports": {"N": str(reports)},
            },
        )
    except ClientError as exc:
        if error_code(exc) != CHECK_FAILED:
            raise  # a later report already set the status from a view that includes this one


def _spilled(
    s3: Any, bucket: str, key_arn: str, incident_id: str, response: int | None, fields: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    key = f"records/{incident_id}/response-{'appended' if response is None else response}.json"
    encryption = {"ServerSideEncryption": "aws:kms", **({"SSEKMSKeyId": key_arn} if key_arn else {})}
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps({"incident_id": incident_id, "response": response, **fields}, default=str).encode(),
        ContentType="application/json",
        **encryption,
    )
    uri = f"s3://{bucket}/{key}"
    kept = {k: v for k, v in fields.items() if k != "steps"}
    return {**kept, "steps_uri": uri, "steps_count": len(fields["steps"])}, f"stored, the steps in {uri}"


def _too_large(exc: ClientError) -> bool:
    message = str(exc.response.get("Error", {}).get("Message", ""))
    return error_code(exc) == "ValidationException" and "size" in message.lower()
