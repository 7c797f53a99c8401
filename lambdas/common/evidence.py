"""The investigation's evidence object, as the functions that act on its reach read it.

investigate writes investigations/<incident_id>/pass-<n>.json: every event it read and the reach it derived
(reach.graph), each item with its verdict. The eviction and the declared actions that answer a kind of reach item
(common.action.Action.answers) read the same object: what they act on is what the investigation judged, never
something a later call made up.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from common.aws import error_code
from common.errors import UnsupportedEvent
from common.settings import env_str
from incident.model import Incident


def investigation_key(incident_id: str, pass_no: int) -> str:
    return f"investigations/{incident_id}/pass-{pass_no}.json"


def read_investigation(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    document = json.loads(body)
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise ValueError("not an investigation evidence object (no events list)")
    return document


def reach_items(document: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The reach's items, or None when the object holds no reach (an older investigation)."""
    reach = document.get("reach")
    if not isinstance(reach, dict):
        return None
    return [item for item in reach.get("items") or [] if isinstance(item, dict)]


def pass_request(event: Any, function: str) -> tuple[Incident, int]:
    """The input of a function that runs on each pass of the investigation: {"incident": {...}, "pass": 1|2}."""
    if not isinstance(event, dict) or not isinstance(event.get("incident"), dict):
        raise UnsupportedEvent(f'{function} expects {{"incident": {{...}}, "pass": 1|2}}')
    pass_no = event.get("pass", 1)
    if pass_no not in (1, 2):
        raise UnsupportedEvent(f"pass must be 1 or 2, got {pass_no!r}")
    return Incident.model_validate(event["incident"]), pass_no


def keep(s3: Any, key: str, body: dict[str, Any], logger: Any) -> str | None:
    """Write `body` to the evidence bucket (SSE-KMS with the responder's key); its s3:// address, or None when there
    is no bucket or the write failed (logged: the caller's result says where else to look)."""
    bucket = env_str("EVIDENCE_BUCKET")
    if not bucket:
        return None
    encryption = {"ServerSideEncryption": "aws:kms"}
    if kms := env_str("EVIDENCE_KMS_KEY_ARN"):
        encryption["SSEKMSKeyId"] = kms
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(body, default=str).encode(), **encryption)
    except ClientError as exc:
        logger.error("evidence not stored", extra={"error": error_code(exc), "key": key})
        return None
    return f"s3://{bucket}/{key}"
