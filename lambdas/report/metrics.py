"""CloudWatch metrics of each response, in Embedded Metric Format (Powertools Metrics: the log line
is the metric, so no PutMetricData call and no grant), emitted by the Report function only, once
the e-mail is out. The dashboard (infra/monitoring.py) graphs them; a team can alarm on them.

Namespace `CredentialResponder`, each with the Powertools `service` dimension:
- `Incidents` (Count), dimensions Kind, Outcome: one per report.
- `TimeToContainment` (Seconds), dimension Kind: from the event's time (when AWS emitted it) to
  the end of the state that made the containing call in this execution's history (`contained_at`).
  Only when containment succeeded; a repeat or an ignored event has none.
- `Steps` (Count), dimensions Action, Status: one per step the report received, by status
  (done, already-done, skipped, failed).

Never raises: a metric that cannot be computed is left out and logged; the report matters more.
POWERTOOLS_METRICS_DISABLED=true (the drill) turns the output off.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from common.aws import client, error_code

NAMESPACE = "CredentialResponder"
# The states whose end is containment (infra/intake.py, infra/workflow.py); a test ties them to the definition.
# Before Route: Step Functions' own containing call (DeactivateKey, the DeactivateKeys Map, RevokeRoleSessions),
# or the containing function as the first task (KeyIntake, SessionIntake), which takes over when that call
# fails. After Route: the regular route's ContainKeys Map and RevokeSessions.
CONTAINMENT_STATES = (
    "DeactivateKey",
    "DeactivateKeys",
    "RevokeRoleSessions",
    "KeyIntake",
    "SessionIntake",
    "ContainKeys",
    "RevokeSessions",
)
ROUTE_STATE = "Route"
SERVICE = "credential-responder"  # the service dimension the dashboard graphs (POWERTOOLS_SERVICE_NAME)
logger = Logger(service=SERVICE, child=True)
# Metrics (not single_metric, which ignores POWERTOOLS_METRICS_DISABLED): one flush per dimension set.
_metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def emit(
    incident: Mapping[str, Any] | None,
    outcome: str,
    steps: Sequence[Mapping[str, Any]],
    execution_id: str | None,
    contained: datetime | None = None,
) -> dict[str, Any]:
    """Emit the response's metrics; returns what was emitted (for the log and the tests). `contained`: the
    moment of containment when the caller has read it already (`contained_at`)."""
    kind = str((incident or {}).get("kind") or "none")
    emitted: dict[str, Any] = {"kind": kind, "outcome": outcome, "steps": {}}
    _count("Incidents", {"Kind": kind, "Outcome": outcome})
    for (action, status), count in sorted(Counter((str(s["name"]), str(s["status"])) for s in steps).items()):
        _count("Steps", {"Action": action, "Status": status}, count)
        emitted["steps"][f"{action}:{status}"] = count
    if outcome in ("contained", "partial") and incident and execution_id:
        seconds = time_to_containment(str(incident.get("detected_at") or ""), execution_id, at=contained)
        if seconds is not None:
            _put("TimeToContainment", MetricUnit.Seconds, seconds, {"Kind": kind})
            emitted["time_to_containment"] = seconds
    return emitted


def _count(name: str, dimensions: dict[str, str], value: float = 1) -> None:
    _put(name, MetricUnit.Count, value, dimensions)


def _put(name: str, unit: MetricUnit, value: float, dimensions: dict[str, str]) -> None:
    for key, dimension in dimensions.items():
        _metrics.add_dimension(name=key, value=dimension)
    _metrics.add_metric(name=name, unit=unit, value=value)
    _metrics.flush_metrics()  # prints the EMF line
    _metrics.clear_metrics()  # also when disabled (flush then keeps them): dimensions must not leak


def time_to_containment(detected_at: str, execution_id: str, at: datetime | None = None) -> float | None:
    """Seconds from the event to the end of the containing state of the execution."""
    try:
        event_time = _parse(detected_at)
    except ValueError as exc:
        logger.warning("time to containment not measured", extra={"error": str(exc)})
        return None
    at = at or contained_at(execution_id)[0]
    return None if at is None else max(0.0, round((at - event_time).total_seconds(), 3))


def contained_at(execution_id: str) -> tuple[datetime | None, str]:
    """When the state that made the containing call ended: the last containment state to end before Route
    (Step Functions' own call, or the first task that took over from it), else the first to end after it
    (the regular route). (None, why) when the history cannot be read or holds none."""
    try:
        region = execution_id.split(":")[3]
        history = client("stepfunctions", region).get_execution_history(
            executionArn=execution_id, maxResults=1000, includeExecutionData=False
        )
    except (ClientError, BotoCoreError, ValueError, IndexError) as exc:
        logger.warning("time to containment not measured", extra={"error": str(exc)})
        why = error_code(exc) if isinstance(exc, ClientError | BotoCoreError) else "not an execution ARN"
        return None, f"the execution's history could not be read: {why}"
    before_route: datetime | None = None
    routed = False
    for entry in history["events"]:
        entered: Mapping[str, Any] = entry.get("stateEnteredEventDetails") or {}
        if entry["type"].endswith("StateEntered") and entered.get("name") == ROUTE_STATE:
            if before_route is not None:
                return before_route, ""
            routed = True
        details: Mapping[str, Any] = entry.get("stateExitedEventDetails") or {}
        if entry["type"].endswith("StateExited") and details.get("name") in CONTAINMENT_STATES:
            if routed:
                return entry["timestamp"], ""
            before_route = entry["timestamp"]
    return before_route, "" if before_route else "the execution's history holds no containing state"


def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"event time without a time zone: {value!r}")
    return parsed
