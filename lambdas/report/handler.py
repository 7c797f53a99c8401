"""The report's two Lambda entry points: Slack first, then the e-mail that closes the incident.

Why two handlers: a Slack post and an SNS publish are not idempotent, and Step Functions retries
a whole task. With one handler, retrying a failed Slack post would send the e-mail again. Split,
each task is retried for its own channel only, and each function gets only its own permission
(sns:Publish or secretsmanager:GetSecretValue, see permissions.py).

Why Slack first: the e-mail is the reliable channel and the record of the incident, so it goes
last and reports the Slack delivery too ("slack: failed (...)" or "skipped: not configured").
A Slack failure cannot stop the e-mail: the Slack task's Catch continues to the e-mail task.

Expected wiring (infra/workflow.py): every path that now goes to "Report" goes to NotifySlack.

    NotifySlack  Task, function handler "report.handler.handler_slack"
                 Payload: {"intake.$": "$.intake", "results.$": "$.results", "failures.$": "$.failures",
                           "branches.$": "$.branches",
                           "execution": {"id.$": "$$.Execution.Id", "start_time.$": "$$.Execution.StartTime"}}
                 ResultPath "$.slack"
                 Retry  [{"ErrorEquals": ["SlackDeliveryError"], "IntervalSeconds": 2, "MaxAttempts": 3,
                          "BackoffRate": 2, "JitterStrategy": "FULL"}]   (+ the usual Lambda.* errors)
                 Catch  [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.slack", "Next": "NotifyEmail"}]
                 Next   NotifyEmail
    NotifyEmail  Task, function handler "report.handler.handler_sns"
                 Payload: the same, plus "slack.$": "$.slack"
                 ResultPath "$.report"
                 Retry  [{"ErrorEquals": ["EmailDeliveryError"], "IntervalSeconds": 2, "MaxAttempts": 3,
                          "BackoffRate": 2, "JitterStrategy": "FULL"}]   (+ the usual Lambda.* errors)
                 Catch  States.ALL -> Fail "ReportFailed";  Next: Choice on $.report.outcome
                 ("partial"/"failed" -> Fail, so the alarm on failed executions fires).

Two functions from this package (same code asset), each granted only its entry in
permissions.GRANTS (the "handler" key says which).

Input (both): {"intake": {"status", "reason", "incident"}, "results": {task: {"steps": [...]}
or [{"steps": [...]}, ...]}, "failures": {task: {"Error", "Cause"}}, "branches": [Parallel
branch outputs, each with its own results/failures] (optional), "execution": {"id",
"start_time"}}; handler_sns also reads "slack": handler_slack's output or the Catch's
{"Error", "Cause"} (absent: reported as "slack: skipped (no Slack task ran)").

handler_slack returns one notification entry:
    {"channel": "slack", "status": "sent"|"skipped"|"failed", "subject", "text", "detail"}
    and raises SlackDeliveryError when a retry may help (timeout, HTTP 429/5xx).
handler_sns publishes the e-mail and returns the report:
    {"outcome": "contained"|"partial"|"failed"|"ignored"|"duplicate", "reason",
     "steps": [StepResult...], "notifications": [email entry, slack entry]}
    and raises EmailDeliveryError when SNS refuses (retried; nothing was sent, so no duplicate).

Environment: TOPIC_ARN, INCIDENT_TABLE, EVIDENCE_BUCKET and EVIDENCE_KMS_KEY_ARN (handler_sns: the
record, and where a response too large for its item keeps its steps); SLACK_SECRET_NAME
(handler_slack; the secret's name only, empty = Slack skipped).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from common.aws import client, error_code
from common.errors import ResponderError, transient_errors
from record.finish import finish
from report import metrics, slack
from report.links import Link, incident_links
from report.outcome import Outcome, Verdict, collect_steps, decide, error_text
from report.render import render_email, render_slack, subject

logger = Logger(service="credential-responder")


class EmailDeliveryError(ResponderError):
    """SNS did not accept the e-mail. Retried by the state machine: nothing was published."""


def prepare(state: dict[str, Any]) -> tuple[dict[str, Any] | None, Verdict, list[Link], dict[str, Any]]:
    """Everything both channels render from; pure and deterministic, so both agree. The incident
    carries `response` (intake.record: where the response is recorded, what a repeat brings)."""
    intake = state.get("intake") or {}
    incident = intake.get("incident")
    execution = state.get("execution") or {}
    record = intake.get("record") if isinstance(intake.get("record"), dict) else None
    verdict = decide(
        str(intake.get("status") or ""),
        str(intake.get("reason") or ""),
        collect_steps(state),
        repeat=str((record or {}).get("summary") or ""),
    )
    incident = with_resolved_principals(incident, verdict.steps)
    if incident and record:
        incident = {**incident, "response": record}
    return incident, verdict, incident_links(incident, verdict.steps, execution.get("id")), execution


def latest_investigation(state: dict[str, Any]) -> dict[str, Any] | None:
    """The CloudTrail summary of the last look-up that ran (the second pass, when it did)."""
    results = dict(state.get("results") or {})
    for branch in state.get("branches") or []:
        if isinstance(branch, dict):
            results.update(branch.get("results") or {})
    for task in ("investigate_again", "investigate"):
        found = (results.get(task) or {}).get("investigation") if isinstance(results.get(task), dict) else None
        if found:
            return dict(found)
    return None


def with_resolved_principals(
    incident: dict[str, Any] | None, steps: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | None:
    """The event may not name the user or role; the steps that resolved them did (data.user_name,
    data.role_name), and the message should say who."""
    if not incident:
        return incident
    resolved = dict(incident)
    users = sorted({s["data"]["user_name"] for s in steps if s.get("data", {}).get("user_name")})
    if users and not incident.get("user_names"):
        resolved["user_names"] = users
    # Each key's owner as its own step resolved it (the next steps' delete-access-key command).
    owners = {s["target"]: s["data"]["user_name"] for s in steps if s.get("data", {}).get("user_name")}
    if incident.get("affected_keys"):
        resolved["affected_keys"] = [
            {**key, "user_name": key.get("user_name") or owners.get(key.get("access_key_id"))}
            for key in incident["affected_keys"]
        ]
    roles = [s["data"]["role_name"] for s in steps if s.get("data", {}).get("role_name")]
    if roles and not incident.get("role_name"):
        resolved["role_name"] = roles[0]
    # IAM named the root user as a key's owner (contain_key: data.owner): whatever name the event gave it, the
    # root user is not an IAM user, and the report gives root's own steps.
    root = sorted(
        {
            str(s["target"])
            for s in steps
            if s.get("name") == "deactivate-access-key" and (s.get("data") or {}).get("owner") == "root"
        }
    )
    if root:
        resolved["root_keys"] = root
        resolved["affected_keys"] = [
            {**key, "user_name": None} if key.get("access_key_id") in root else key
            for key in resolved.get("affected_keys") or []
        ]
        resolved["user_names"] = sorted({k["user_name"] for k in resolved["affected_keys"] if k.get("user_name")})
    return resolved


def with_containment_time(execution: dict[str, Any], verdict: Verdict) -> tuple[dict[str, Any], datetime | None]:
    """The execution with `contained_at` (ISO-8601, from its history: report.metrics.contained_at), or with
    `contained_at_unknown` saying why not; for the outcomes that contained something."""
    if verdict.outcome not in (Outcome.CONTAINED, Outcome.PARTIAL, Outcome.DUPLICATE) or not execution.get("id"):
        return execution, None
    at, why = metrics.contained_at(str(execution["id"]))
    if at is None:
        return {**execution, "contained_at_unknown": why}, None
    # Milliseconds, unlike common.times: the time to containment is measured from it and is often seconds.
    text = at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {**execution, "contained_at": text}, at


@transient_errors
@logger.inject_lambda_context(correlation_id_path="intake.incident.incident_id", clear_state=True)
def handler_slack(event: dict[str, Any], context: Any) -> dict[str, Any]:
    incident, verdict, links, execution = prepare(event)
    execution, _ = with_containment_time(execution, verdict)
    payload = render_slack(incident, verdict, links, execution, investigation=latest_investigation(event))
    try:
        status, detail = slack.deliver(os.environ.get("SLACK_SECRET_NAME", "").strip(), payload)
    except slack.SlackDeliveryError as exc:
        logger.warning("slack delivery failed, retryable", extra={"detail": str(exc)})
        raise
    logger.info("slack notification", extra={"outcome": str(verdict.outcome), "status": status, "detail": detail})
    return {
        "channel": "slack",
        "status": status,
        "subject": subject(incident, verdict),
        "text": payload["text"],
        "detail": detail,
    }


@transient_errors
@logger.inject_lambda_context(correlation_id_path="intake.incident.incident_id", clear_state=True)
def handler_sns(event: dict[str, Any], context: Any) -> dict[str, Any]:
    incident, verdict, links, execution = prepare(event)
    execution, contained = with_containment_time(execution, verdict)
    slack_entry = slack_notification(event.get("slack"))
    email = render_email(
        incident, verdict, links, execution, delivery=[slack_entry], investigation=latest_investigation(event)
    )

    topic_arn = os.environ.get("TOPIC_ARN", "").strip()
    if not topic_arn:
        raise EmailDeliveryError("TOPIC_ARN is not set: the report e-mail cannot be sent")
    try:
        # The topic's own region (from its ARN), wherever this function runs.
        response = client("sns", topic_arn.split(":")[3]).publish(
            TopicArn=topic_arn, Subject=email["subject"], Message=email["text"]
        )
    except (ClientError, BotoCoreError) as exc:
        raise EmailDeliveryError(f"SNS publish to {topic_arn} failed: {error_code(exc)}") from exc

    logger.info("report e-mail published", extra={"outcome": str(verdict.outcome), "slack": slack_entry["status"]})
    email_entry = {
        "channel": "email",
        "status": "sent",
        "subject": email["subject"],
        "text": email["text"],
        "detail": f"SNS message {response['MessageId']}",
    }
    report = {
        "outcome": str(verdict.outcome),
        "reason": verdict.reason,
        "steps": verdict.steps,
        "notifications": [email_entry, slack_entry],
    }
    report["record"] = record_outcome(incident, report, str(execution.get("id") or ""))
    metrics.emit(incident, str(verdict.outcome), verdict.steps, execution.get("id"), contained)
    return report


def record_outcome(incident: dict[str, Any] | None, report: dict[str, Any], execution_arn: str = "") -> str:
    """Store the outcome on the response's own entry of the incident record (nothing of an earlier
    response is touched). After the e-mail and never raising: a retry of this task would send the
    e-mail again, and the e-mail is what responders act on."""
    table = os.environ.get("INCIDENT_TABLE", "").strip()
    if not incident or not table:
        return "skipped: no incident record"
    response = incident.get("response") if isinstance(incident.get("response"), dict) else None
    bucket = os.environ.get("EVIDENCE_BUCKET", "").strip()
    try:
        return finish(
            client("dynamodb"),
            table,
            str(response["incident_id"]) if response else str(incident["incident_id"]),
            # No entry claimed (an execution of an earlier version): the response is appended.
            response=int(response["response"]) if response else None,
            outcome=report["outcome"],
            reason=report["reason"],
            steps=report["steps"],
            notifications=report["notifications"],
            execution_arn=execution_arn,
            s3=lambda: client("s3"),  # made only when the steps outgrow the record's item
            bucket=bucket,
            key_arn=os.environ.get("EVIDENCE_KMS_KEY_ARN", "").strip(),
        )
    except (ClientError, BotoCoreError) as exc:
        logger.error("could not store the outcome on the incident record", extra={"error": error_code(exc)})
        return f"failed: {error_code(exc)}"


def slack_notification(result: dict[str, Any] | None) -> dict[str, Any]:
    """The Slack task's outcome as a notification entry: its own output, or the error the
    state machine caught after the retries ran out."""
    entry = {"channel": "slack", "status": "skipped", "subject": "", "text": "", "detail": "no Slack task ran"}
    if not result:
        return entry
    if "Error" in result:
        return entry | {"status": "failed", "detail": error_text(result)}
    return entry | {key: result[key] for key in entry if key in result}
