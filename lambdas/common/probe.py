"""The `{"check": true}` probe: proves, as a function's own role and with its code and layer, that
the handler imports and that each EC2 mutation it makes is allowed, while changing nothing.

`python -m responder check` runs this entry point in a short-lived twin of each deployed function
(same code, layer, runtime, role and log group; deleted right after), because a deployed function
has one handler and the real handlers act on whatever they are given. EC2 calls carry
`DryRun=True`: EC2 answers `DryRunOperation` when the request would have been allowed,
`UnauthorizedOperation` when it is denied, and makes no change either way.

Event: {"check": true, "handler": "contain_key.handler.handler",
        "ec2": [{"operation": "create_tags", "region": "eu-west-1", "params": {...}}, ...]}
"""

from __future__ import annotations

import importlib
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

ALLOWED = "allowed"
DENIED = "denied"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("check") is not True:
        raise ValueError('the probe answers only {"check": true} events')
    result: dict[str, Any] = {"check": True, "handler": event.get("handler"), "imported": False, "ec2": []}
    try:
        module_name, attribute = str(event["handler"]).rsplit(".", 1)
        result["imported"] = callable(getattr(importlib.import_module(module_name), attribute))
    except Exception as exc:  # noqa: BLE001 (any import failure is what the check reports)
        result["import_error"] = f"{type(exc).__name__}: {exc}"
    for call in event.get("ec2", []):
        result["ec2"].append(dry_run(call))
    return result


def dry_run(call: dict[str, Any]) -> dict[str, Any]:
    """One EC2 call with DryRun=True; never changes anything."""
    operation = str(call["operation"])
    answer = {"operation": operation, "region": call.get("region")}
    try:
        ec2 = boto3.client("ec2", region_name=call.get("region"))
        getattr(ec2, operation)(DryRun=True, **call.get("params", {}))
        # Without an error, EC2 did not treat the call as a dry run: report it, loudly.
        return {**answer, "decision": "error", "detail": "EC2 returned no DryRunOperation"}
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "DryRunOperation":
            return {**answer, "decision": ALLOWED}
        if code in ("UnauthorizedOperation", "AccessDenied", "AccessDeniedException"):
            return {**answer, "decision": DENIED, "detail": str(exc)}
        return {**answer, "decision": "error", "detail": f"{code}: {exc}"}
    except BotoCoreError as exc:
        return {**answer, "decision": "error", "detail": str(exc)}
