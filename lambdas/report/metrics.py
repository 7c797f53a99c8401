"""CloudWatch metrics of each response, in Embedded Metric Format (Powertools Metrics: the log line
is the metric, so no PutMetricData call and no grant), emitted by the Report function only, once
the e-mail is out. The dashboard (infra/monitoring.py) graphs them; a team can alarm on them.

Namespace `CredentialResponder`, each with the Powertools `service` dimension:
- `Incidents` (Count), dimensions Kind, Outcome: one per report.
- `TimeToContainment` (Seconds), dimension Kind: from the event's time (when AWS emitted it) to
  the end of the containing task (ContainKeys or RevokeSessions) in this execution's history.
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

from common.aws import client

NAMESPACE = "CredentialResponder"
# The states whose end is containment (infra/workflow.py); a test ties them to the definition.
CONTAINMENT_STATES = ("ContainKeys", "RevokeSessions")
SERVICE = "credential-responder"  # the service dimension the dashboard graphs (POWERTOOLS_SERVICE_NAME)
logger = Logger(service=SERVICE, child=True)
# Metrics (not single_metric, which ignores POWERTOOLS_METRICS_DISABLED): one flush per dimension set.
_metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def emit(
    incident: Mapping[str, Any] | None,
    outcome: str,
    steps: Sequence[Mapping[str, Any]],
    execution_id: str | None,
) -> dict[str, Any]:
    """Emit the response's metrics; returns what was emitted (for the log and the tests)."""
    kind = str((incident or {}).get("kind") or "none")
    emitted: dict[str, Any] = {"kind": kind, "outcome": outcome, "steps": {}}
    _count("Incidents", {"Kind": kind, "Outcome": outcome})
    for (action, status), count in sorted(Counter((str(s["name"]), str(s["status"])) for s in steps).items()):
        _count("Steps", {"Action": action, "Status": status}, count)
        emitted["steps"][f"{action}:{status}"] = count
    if outcome in ("contained", "partial") and incident and execution_id:
        seconds = time_to_containment(str(incident.get("detected_at") or ""), execution_id)
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


def time_to_containment(detected_at: str, execution_id: str) -> float | None:
    """Seconds from the event to the end of the first containment state of the execution."""
    try:
        event_time = _parse(detected_at)
        region = execution_id.split(":")[3]
        history = client("stepfunctions", region).get_execution_history(
            executionArn=execution_id, maxResults=1000, includeExecutionData=False
        )
    except (ClientError, BotoCoreError, ValueError, IndexError) as exc:
        logger.warning("time to containment not measured", extra={"error": str(exc)})
        return None
    for entry in history["events"]:
        details: Mapping[str, Any] = entry.get("stateExitedEventDetails") or {}
        if entry["type"].endswith("StateExited") and details.get("name") in CONTAINMENT_STATES:
            return max(0.0, round((entry["timestamp"] - event_time).total_seconds(), 3))
    return None


def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"event time without a time zone: {value!r}")
    return parsed
