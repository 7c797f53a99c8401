"""The investigation's evidence object, as the functions that act on its reach read it.

investigate writes investigations/<incident_id>/pass-<n>.json: every event it read and the reach it derived
(reach.graph), each item with its verdict. The eviction and the declared actions that answer a kind of reach item
(common.action.Action.answers) read the same object: what they act on is what the investigation judged, never
something a later call made up.
"""

from __future__ import annotations

import json
from typing import Any


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
