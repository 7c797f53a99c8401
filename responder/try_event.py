"""Try the deployed responder with an event file, in the real account.

EventBridge refuses PutEvents with an `aws.*` source, so a test event cannot travel through the
rules: `try` starts the deployed state machine directly with the event, exactly as the rule would.
The workflow has no per-execution dry-run, so `try` refuses unless every deployed function runs
with DRY_RUN=true and none deactivates backdoor keys (deployed with `-c dryRun=true -c
deactivateBackdoorKeys=false`), or the operator passes --i-understand-this-acts.
The report is the execution output's `report`, or, when the execution ends in a Fail state (a
partial or failed response), the output of the Report task in the execution history.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from responder import stack_outputs

REPORT_STATE = "Report"
FINISHED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


class Refused(Exception):
    """The command will not start an execution; the message says why and what to do."""


class BadEventFile(Refused):
    """The event file cannot be used; the message is one line naming the file and what is wrong."""


EXAMPLE = "tests/events/health_exposed_key_classic.json"


def read_event_file(path: str | Path) -> Any:
    """The file's JSON, or BadEventFile saying in one line why there is none (checked before any AWS call)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadEventFile(f"{path}: no such file (give an event file's path, e.g. {EXAMPLE})") from None
    except IsADirectoryError:
        raise BadEventFile(f"{path}: a directory, not an event file (give one .json file, e.g. {EXAMPLE})") from None
    except PermissionError:
        raise BadEventFile(f"{path}: not readable (permission denied)") from None
    except UnicodeDecodeError:
        raise BadEventFile(f"{path}: not a text file (not UTF-8): an event file is JSON") from None
    except OSError as exc:
        raise BadEventFile(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not text.strip():
        raise BadEventFile(f"{path}: empty; an event file holds one JSON object (an EventBridge event)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadEventFile(f"{path}: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None


def load_event(path: str | Path) -> dict[str, Any]:
    event = read_event_file(path)
    if not isinstance(event, dict):
        raise BadEventFile(f"{path}: not an EventBridge event (a JSON object)")
    # Public GuardDuty samples are often the bare finding: give it the envelope EventBridge adds.
    if "detail" not in event and "type" in event and "service" in event:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "GuardDuty Finding",
            "source": "aws.guardduty",
            "account": event.get("accountId"),
            "time": event.get("updatedAt"),
            "region": event.get("region"),
            "resources": [],
            "detail": event,
        }
    if not {"source", "detail-type", "detail"} <= event.keys():
        raise BadEventFile(f"{path}: not an EventBridge event (needs source, detail-type and detail)")
    return event


def why_it_acts(cloudformation: Any, lambda_client: Any, stack_name: str) -> list[str]:
    """The deployed settings that would change the account; none means a dry run."""
    reasons, dry_run_seen = [], False
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for resource in page["StackResourceSummaries"]:
            if resource["ResourceType"] != "AWS::Lambda::Function":
                continue
            name = resource["PhysicalResourceId"]
            variables = (
                lambda_client.get_function_configuration(FunctionName=name).get("Environment", {}).get("Variables", {})
            )
            if "DRY_RUN" in variables:
                dry_run_seen = True
                if variables["DRY_RUN"].lower() != "true":
                    reasons.append(f"{name} has DRY_RUN={variables['DRY_RUN']}")
    return reasons if dry_run_seen else [f"no function of {stack_name} reads DRY_RUN"]


def start(stepfunctions: Any, state_machine_arn: str, event: dict[str, Any]) -> str:
    name = f"try-{uuid.uuid4().hex[:16]}"  # names are unique per state machine for 90 days
    return str(
        stepfunctions.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(event))[
            "executionArn"
        ]
    )


def wait(
    stepfunctions: Any,
    execution_arn: str,
    *,
    timeout: float,
    poll: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    deadline = clock() + timeout
    while True:
        execution = stepfunctions.describe_execution(executionArn=execution_arn)
        if execution["status"] in FINISHED or clock() >= deadline:
            return dict(execution)
        sleep(poll)


def report_of(stepfunctions: Any, execution: dict[str, Any]) -> dict[str, Any] | None:
    output = json.loads(execution.get("output") or "null")
    if isinstance(output, dict) and isinstance(output.get("report"), dict):
        return dict(output["report"])
    # A Fail state has no output: the Report task's own output is in the history.
    pages = stepfunctions.get_paginator("get_execution_history").paginate(
        executionArn=execution["executionArn"], reverseOrder=True, includeExecutionData=True
    )
    for page in pages:
        for event in page["events"]:
            details = event.get("stateExitedEventDetails") or {}
            if event["type"] == "TaskStateExited" and details.get("name") == REPORT_STATE:
                report = json.loads(details.get("output") or "{}").get("report")
                return dict(report) if isinstance(report, dict) else None
    return None


def render(execution: dict[str, Any], report: dict[str, Any] | None) -> str:
    lines = [f"execution {execution['executionArn']}: {execution['status']}"]
    if report is None:
        if execution.get("error") or execution.get("cause"):
            lines.append(f"  {execution.get('error')}: {execution.get('cause')}")
        lines.append("  no report (yet): see the execution in the Step Functions console")
        return "\n".join(lines)
    lines.append(f"outcome: {str(report.get('outcome')).upper()} - {report.get('reason')}")
    for step in report.get("steps") or []:
        lines.append(f"  [{step.get('status'):>12}] {step.get('name')} {step.get('target')}: {step.get('detail')}")
        if step.get("undo"):
            lines.append(f"{'':17}undo: {step['undo']}")
        if step.get("manual"):
            lines.append(f"{'':17}by hand: {step['manual']}")
    for note in report.get("notifications") or []:
        lines.append(f"  -> {note.get('channel')}: {note.get('status')} {note.get('detail') or ''}".rstrip())
    return "\n".join(lines)


def try_event(
    event: dict[str, Any] | str | Path,
    *,
    cloudformation: Any,
    lambda_client: Any,
    stepfunctions: Any,
    stack_name: str,
    acts: bool,
    timeout: float,
    out: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    if not isinstance(event, dict):
        event = load_event(event)
    outputs = stack_outputs(cloudformation, stack_name)
    if "StateMachineArn" not in outputs:
        raise Refused(f"stack {stack_name} has no StateMachineArn output: is it the responder's home stack?")
    reasons = why_it_acts(cloudformation, lambda_client, stack_name)
    if not reasons:
        out(f"{stack_name} is deployed with dryRun=true: the response only says what it would do")
    elif not acts:
        raise Refused(
            f"{stack_name} would act on this event for real (keys deactivated, sessions revoked, "
            f"instances isolated): {'; '.join(reasons)}. Deploy with -c dryRun=true -c "
            "deactivateBackdoorKeys=false, or pass --i-understand-this-acts."
        )
    else:
        out(f"{stack_name} ACTS: the response changes the account (--i-understand-this-acts): {'; '.join(reasons)}")
    own_account = outputs["StateMachineArn"].split(":")[4]
    if event.get("account") != own_account:
        out(
            f"note: the event is for account {event.get('account')}, the responder runs in {own_account}: "
            "it will only report (edit the event's account and ids to exercise the actions)"
        )
    execution_arn = start(stepfunctions, outputs["StateMachineArn"], event)
    out(
        f"started {execution_arn}; waiting up to {timeout:.0f} s (the second CloudTrail look-up waits "
        "secondLookupDelayMinutes)"
    )
    execution = wait(stepfunctions, execution_arn, timeout=timeout, sleep=sleep)
    out(render(execution, report_of(stepfunctions, execution) if execution["status"] in FINISHED else None))
    return 0 if execution["status"] == "SUCCEEDED" else 1
