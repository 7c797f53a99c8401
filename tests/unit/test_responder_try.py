"""`python -m responder try`: the AWS calls are checked against botocore's API models (Stubber), so
the command's requests are the ones the real services accept."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from responder.try_event import Refused, load_event, try_event

EVENTS = Path(__file__).resolve().parent.parent / "events"
STACK = "CredentialResponder"
MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:Workflow"
EXECUTION = "arn:aws:states:eu-west-1:123456789012:execution:Workflow:try-1"
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
REPORT = {
    "outcome": "contained",
    "reason": "every containment step succeeded",
    "steps": [
        {
            "name": "deactivate-access-key",
            "status": "skipped",
            "target": "AKIAEXAMPLE",
            "detail": "dry-run: would set the key of ci-deployer Inactive",
            "manual": "aws iam update-access-key ...",
        }
    ],
    "notifications": [{"channel": "email", "status": "sent", "detail": "SNS message 1"}],
}


def clients() -> dict[str, Any]:
    session = boto3.session.Session(region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    return {name: session.client(name) for name in ("cloudformation", "lambda", "stepfunctions")}


def deployed(stubs: dict[str, Stubber], *, dry_run: str, backdoor_keys: str = "false") -> None:
    stubs["cloudformation"].add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": STACK,
                    "CreationTime": T0,
                    "StackStatus": "UPDATE_COMPLETE",
                    "Outputs": [{"OutputKey": "StateMachineArn", "OutputValue": MACHINE}],
                }
            ]
        },
        {"StackName": STACK},
    )
    stubs["cloudformation"].add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                {
                    "LogicalResourceId": logical,
                    "PhysicalResourceId": physical,
                    "ResourceType": kind,
                    "LastUpdatedTimestamp": T0,
                    "ResourceStatus": "CREATE_COMPLETE",
                }
                for logical, physical, kind in (
                    ("ContainKey", "fn-contain", "AWS::Lambda::Function"),
                    ("Topic", "arn:aws:sns:eu-west-1:123456789012:t", "AWS::SNS::Topic"),
                    ("Investigate", "fn-investigate", "AWS::Lambda::Function"),
                )
            ]
        },
        {"StackName": STACK},
    )
    for function, extra in (("fn-contain", {}), ("fn-investigate", {"DEACTIVATE_BACKDOOR_KEYS": backdoor_keys})):
        stubs["lambda"].add_response(
            "get_function_configuration",
            {"Environment": {"Variables": {"DRY_RUN": dry_run, **extra}}},
            {"FunctionName": function},
        )


def run(
    tmp_path: Path,
    stubs: dict[str, Stubber],
    cl: dict[str, Any],
    *,
    acts: bool = False,
    event: str = "health_exposed_key_classic.json",
) -> tuple[int, list[str]]:
    path = tmp_path / "event.json"
    path.write_text((EVENTS / event).read_text())
    printed: list[str] = []
    for stub in stubs.values():
        stub.activate()
    code = try_event(
        path,
        cloudformation=cl["cloudformation"],
        lambda_client=cl["lambda"],
        stepfunctions=cl["stepfunctions"],
        stack_name=STACK,
        acts=acts,
        timeout=60,
        out=printed.append,
        sleep=lambda _: None,
    )
    for stub in stubs.values():
        stub.assert_no_pending_responses()
    return code, printed


@pytest.fixture
def cl() -> dict[str, Any]:
    return clients()


@pytest.fixture
def stubs(cl: dict[str, Any]) -> dict[str, Stubber]:
    return {name: Stubber(client) for name, client in cl.items()}


@pytest.mark.parametrize(
    ("dry_run", "backdoor_keys", "reason"),
    [
        ("false", "false", "fn-contain has DRY_RUN=false"),
        ("false", "true", "fn-investigate has DRY_RUN=false"),
    ],
)
def test_refuses_a_stack_that_acts(
    tmp_path: Path, stubs: dict[str, Stubber], cl: dict[str, Any], dry_run: str, backdoor_keys: str, reason: str
) -> None:
    deployed(stubs, dry_run=dry_run, backdoor_keys=backdoor_keys)
    with pytest.raises(Refused, match=reason):
        run(tmp_path, stubs, cl)  # no start_execution is stubbed: starting one would fail the test


def test_dry_run_stack_runs_the_event_and_prints_the_report(
    tmp_path: Path, stubs: dict[str, Stubber], cl: dict[str, Any]
) -> None:
    deployed(stubs, dry_run="true")
    event = json.loads((EVENTS / "health_exposed_key_classic.json").read_text())
    sfn = stubs["stepfunctions"]
    sfn.add_response(
        "start_execution",
        {"executionArn": EXECUTION, "startDate": T0},
        {"stateMachineArn": MACHINE, "name": ANY, "input": json.dumps(event)},
    )
    sfn.add_response(
        "describe_execution",
        {"executionArn": EXECUTION, "stateMachineArn": MACHINE, "status": "RUNNING", "startDate": T0},
        {"executionArn": EXECUTION},
    )
    sfn.add_response(
        "describe_execution",
        {
            "executionArn": EXECUTION,
            "stateMachineArn": MACHINE,
            "status": "SUCCEEDED",
            "startDate": T0,
            "output": json.dumps({"report": REPORT}),
        },
        {"executionArn": EXECUTION},
    )
    code, printed = run(tmp_path, stubs, cl)
    assert code == 0
    text = "\n".join(printed)
    assert "deployed with dryRun=true" in text
    assert "note: the event is for account" not in text
    assert "outcome: CONTAINED - every containment step succeeded" in text
    assert "[     skipped] deactivate-access-key AKIAEXAMPLE: dry-run: would set the key" in text
    assert "by hand: aws iam update-access-key ..." in text


def test_acting_needs_the_flag_and_a_failed_execution_reports_from_history(
    tmp_path: Path, stubs: dict[str, Stubber], cl: dict[str, Any]
) -> None:
    deployed(stubs, dry_run="false")
    sfn = stubs["stepfunctions"]
    sfn.add_response(
        "start_execution",
        {"executionArn": EXECUTION, "startDate": T0},
        {"stateMachineArn": MACHINE, "name": ANY, "input": ANY},
    )
    failed = {
        "executionArn": EXECUTION,
        "stateMachineArn": MACHINE,
        "status": "FAILED",
        "startDate": T0,
        "error": "ResponseIncomplete",
    }
    sfn.add_response("describe_execution", failed, {"executionArn": EXECUTION})
    partial = {**REPORT, "outcome": "partial"}
    sfn.add_response(
        "get_execution_history",
        {
            "events": [
                {"timestamp": T0, "type": "FailStateEntered", "id": 9},
                {
                    "timestamp": T0,
                    "type": "TaskStateExited",
                    "id": 8,
                    "stateExitedEventDetails": {
                        "name": "Report",
                        "output": json.dumps({"intake": {}, "report": partial}),
                    },
                },
            ]
        },
        {"executionArn": EXECUTION, "reverseOrder": True, "includeExecutionData": True},
    )
    code, printed = run(tmp_path, stubs, cl, acts=True, event="guardduty_exfil_outside_realistic.json")
    assert code == 1
    assert "ACTS" in printed[0]
    assert "the event is for account 111122223333, the responder runs in 123456789012" in printed[1]
    assert "outcome: PARTIAL" in printed[-1]


def test_a_bare_finding_gets_its_envelope_and_anything_else_is_refused(tmp_path: Path) -> None:
    event = load_event(EVENTS / "guardduty_ignore_canary_body_only.json")
    assert event["source"] == "aws.guardduty" and event["detail-type"] == "GuardDuty Finding"
    assert event["detail"]["type"] and event["region"] == event["detail"]["region"]
    other = tmp_path / "other.json"
    other.write_text('{"hello": "world"}')
    with pytest.raises(Refused, match="not an EventBridge event"):
        load_event(other)
