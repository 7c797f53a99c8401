"""The two report handlers against moto: SNS topic + Secrets Manager webhook secret, with the
Slack transport replaced by a recorder (report.slack.post_json), as the drill does."""

from __future__ import annotations

import json
import sys
import urllib.error

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from common.aws import client
from report import handler, slack
from report.permissions import GRANTS
from tests.factories import fake_context
from tests.unit.report_cases import CASES

REGION = "us-east-1"
SECRET_NAME = "credential-responder/slack-webhook"
WEBHOOK = "https://hooks.slack.com/services/T0SECRET/B0SECRET/s3cr3tT0k3nV4lu3"


class Recorder:
    def __init__(self, answer=(200, "ok"), error: Exception | None = None):
        self.requests: list[tuple[str, dict]] = []
        self.answer, self.error = answer, error

    def __call__(self, url, payload):
        self.requests.append((url, json.loads(json.dumps(payload))))  # what would go over the wire
        if self.error:
            raise self.error
        return self.answer


@pytest.fixture
def report_env(monkeypatch):
    for key, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SLACK_SECRET_NAME": SECRET_NAME,
    }.items():
        monkeypatch.setenv(key, value)
    client.cache_clear()
    parameters.clear_caches()  # the webhook URL is cached for 300 s per environment
    with mock_aws():
        topic_arn = boto3.client("sns").create_topic(Name="credential-responder-reports")["TopicArn"]
        boto3.client("secretsmanager").create_secret(Name=SECRET_NAME, SecretString=WEBHOOK)
        create_incident_table(boto3.client("dynamodb"), "incidents")
        monkeypatch.setenv("TOPIC_ARN", topic_arn)
        monkeypatch.setenv("INCIDENT_TABLE", "incidents")
        yield topic_arn
    client.cache_clear()
    parameters.clear_caches()


def create_incident_table(dynamodb, name: str) -> None:
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )


class CurrentStdout:
    """Writes to whatever sys.stdout is at the time of writing (capsys swaps it per phase)."""

    def write(self, text):
        return sys.stdout.write(text)

    def flush(self):
        sys.stdout.flush()


@pytest.fixture
def logs(monkeypatch, capsys):
    """Powertools Logger binds sys.stdout when the module is imported; let capsys see its lines."""
    monkeypatch.setattr(handler.logger.registered_handler, "stream", CurrentStdout())
    return capsys


def published(topic_arn):
    return [
        {"subject": subject, "message": message}
        for _id, message, subject, _attrs, _group in sns_backends[DEFAULT_ACCOUNT_ID][REGION]
        .topics[topic_arn]
        .sent_notifications
    ]


def run_both(state, recorder, monkeypatch):
    """What the state machine does: Slack task (ResultPath $.slack, Catch into $.slack), then e-mail."""
    monkeypatch.setattr(slack, "post_json", recorder)
    state = dict(state)
    try:
        state["slack"] = handler.handler_slack(state, fake_context())
    except slack.SlackDeliveryError as exc:
        state["slack"] = {
            "Error": type(exc).__name__,
            "Cause": json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__}),
        }
    return state["slack"], handler.handler_sns(state, fake_context())


def test_email_and_slack_delivered_and_webhook_never_leaks(report_env, monkeypatch, logs, caplog):
    recorder = Recorder()
    state = CASES["exposed_key_partial"]()
    slack_result, report = run_both(state, recorder, monkeypatch)

    incident, verdict, links, execution = handler.prepare(state)
    execution, _ = handler.with_containment_time(execution, verdict)
    expected_payload = handler.render_slack(incident, verdict, links, execution)
    assert recorder.requests == [(WEBHOOK, expected_payload)]
    assert slack_result["status"] == "sent" and slack_result["detail"] == "HTTP 200"

    (mail,) = published(report_env)
    assert mail["subject"] == "[PARTIAL] Exposed access key AKIAIOSFODNN7EXAMPLE of user ci-deployer in 111122223333"
    assert "quarantine-user failed on ci-deployer" in mail["message"]
    assert "slack: sent (HTTP 200)" in mail["message"]

    assert report["outcome"] == "partial"
    assert [n["channel"] for n in report["notifications"]] == ["email", "slack"]
    email = report["notifications"][0]
    assert (email["status"], email["subject"], email["text"]) == ("sent", mail["subject"], mail["message"])
    assert [x["name"] for x in report["steps"]] == [
        "deactivate-access-key",
        "quarantine-user",
        "investigate-cloudtrail",
    ]

    captured = logs.readouterr()
    assert "slack notification" in captured.out  # the handlers do log...
    for text in (captured.out, captured.err, caplog.text, json.dumps(report), json.dumps(slack_result)):
        assert WEBHOOK not in text and "s3cr3tT0k3n" not in text  # ...but never the webhook


def test_logs_carry_the_incident_id_as_correlation_id(report_env, monkeypatch, logs):
    run_both(CASES["exfil_contained"](), Recorder(), monkeypatch)
    lines = [json.loads(line) for line in logs.readouterr().out.splitlines() if line.startswith('{"level"')]
    assert lines and {line.get("correlation_id") for line in lines} == {
        "111122223333:guardduty:60c5c8a1e3b34f0e9d2a7b6c5d4e3f21"
    }


def test_slack_failure_still_sends_email_and_records_the_failure(report_env, monkeypatch, logs, caplog):
    # urllib puts the URL into some error messages: it must not survive into the error.
    recorder = Recorder(error=urllib.error.URLError(f"timed out connecting to {WEBHOOK}"))
    monkeypatch.setattr(slack, "post_json", recorder)
    with pytest.raises(slack.SlackDeliveryError) as raised:
        handler.handler_slack(CASES["exfil_contained"](), fake_context())
    assert WEBHOOK not in str(raised.value) and "<webhook>" in str(raised.value)

    slack_result, report = run_both(CASES["exfil_contained"](), recorder, monkeypatch)
    assert slack_result["Error"] == "SlackDeliveryError"
    (mail,) = published(report_env)
    assert mail["subject"].startswith("[CONTAINED] Stolen instance credentials of role web-app-role")
    assert "slack: failed (SlackDeliveryError: Slack webhook unreachable: URLError:" in mail["message"]
    slack_entry = report["notifications"][1]
    assert slack_entry["channel"] == "slack" and slack_entry["status"] == "failed"
    assert slack_entry["detail"].startswith("SlackDeliveryError: Slack webhook unreachable")
    captured = logs.readouterr()
    assert "slack delivery failed, retryable" in captured.out
    for text in (captured.out, captured.err, caplog.text, json.dumps(report), mail["message"]):
        assert WEBHOOK not in text


@pytest.mark.parametrize("status", [429, 500, 503])
def test_retryable_http_status_raises_for_the_state_machine_retry(report_env, monkeypatch, status):
    monkeypatch.setattr(slack, "post_json", Recorder(answer=(status, "rate_limited")))
    with pytest.raises(slack.SlackDeliveryError, match=f"HTTP {status}"):
        handler.handler_slack(CASES["ignored"](), fake_context())


def test_permanent_rejection_is_recorded_not_retried(report_env, monkeypatch):
    monkeypatch.setattr(slack, "post_json", Recorder(answer=(404, "no_service")))
    result = handler.handler_slack(CASES["duplicate"](), fake_context())
    assert (result["status"], result["detail"]) == ("failed", "Slack rejected the message: HTTP 404: no_service")


def test_empty_secret_name_skips_slack_and_the_email_says_so(report_env, monkeypatch):
    monkeypatch.setenv("SLACK_SECRET_NAME", "")
    recorder = Recorder()
    slack_result, report = run_both(CASES["ignored"](), recorder, monkeypatch)
    assert recorder.requests == []
    assert slack_result["status"] == "skipped"
    assert report["outcome"] == "ignored"
    (mail,) = published(report_env)
    assert "slack: skipped (Slack is not configured (SLACK_SECRET_NAME is empty))" in mail["message"]


def test_missing_secret_is_a_recorded_failure(report_env, monkeypatch):
    monkeypatch.setenv("SLACK_SECRET_NAME", "no-such-secret")
    recorder = Recorder()
    monkeypatch.setattr(slack, "post_json", recorder)
    result = handler.handler_slack(CASES["ignored"](), fake_context())
    assert result["status"] == "failed" and "cannot read the webhook secret no-such-secret" in result["detail"]
    assert recorder.requests == []


def test_secret_that_is_not_an_https_url_is_refused_without_echoing_it(report_env, monkeypatch):
    boto3.client("secretsmanager").put_secret_value(SecretId=SECRET_NAME, SecretString="http://internal/hook?k=SECRET")
    recorder = Recorder()
    monkeypatch.setattr(slack, "post_json", recorder)
    result = handler.handler_slack(CASES["ignored"](), fake_context())
    assert result["status"] == "failed" and "SECRET" not in result["detail"]
    assert recorder.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/services/T/B/SECRET",
        "https://hooks.slack.com.evil.example/services/SECRET",
        "https://user:SECRET@hooks.slack.com/services/T/B/x",
        "https://hooks.slack.com:8443/services/SECRET",
        "https://hooks.slack.com/",
        "https://hooks.slack.com/services/SECRET\nX-Injected: 1",
        "http://hooks.slack.com/services/SECRET",
    ],
)
def test_only_a_hooks_slack_com_url_receives_the_incident(report_env, monkeypatch, url):
    boto3.client("secretsmanager").put_secret_value(SecretId=SECRET_NAME, SecretString=url)
    recorder = Recorder()
    monkeypatch.setattr(slack, "post_json", recorder)
    result = handler.handler_slack(CASES["ignored"](), fake_context())
    assert result["status"] == "failed" and "hooks.slack.com/..." in result["detail"]
    assert "SECRET" not in result["detail"] and "evil" not in result["detail"]
    assert recorder.requests == []


def test_the_real_webhook_shape_is_accepted():
    assert slack.is_webhook_url(WEBHOOK)


def test_sns_refusal_raises_email_delivery_error(report_env, monkeypatch):
    monkeypatch.setenv("TOPIC_ARN", report_env.replace("credential-responder-reports", "gone"))
    with pytest.raises(handler.EmailDeliveryError, match="NotFound"):
        handler.handler_sns(CASES["ignored"](), fake_context())


def test_code_calls_exactly_the_granted_actions(report_env, monkeypatch):
    import botocore.client

    calls = set()
    oversized = oversized_response(monkeypatch)  # its record and bucket made before calls are recorded
    original = botocore.client.BaseClient._make_api_call

    def record(self, operation, params):
        calls.add(f"{self.meta.service_model.signing_name}:{operation}")
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    run_both(CASES["exposed_key_contained"](), Recorder(), monkeypatch)
    # A response too large for the record's item: its steps go to the evidence bucket (s3:PutObject).
    run_both(oversized, Recorder(), monkeypatch)
    assert calls == {action for grant in GRANTS for action in grant["actions"]}
    assert {grant["handler"] for grant in GRANTS} == {"report.handler.handler_sns", "report.handler.handler_slack"}


def oversized_response(monkeypatch) -> dict:
    """A contained key whose response (response 0 of its record) has more steps than the record's item
    holds inline: the evidence bucket exists and the Report function is told its name."""
    from record.registration import register

    s3 = boto3.client("s3")
    if REGION == "us-east-1":  # S3 refuses a location constraint for us-east-1
        s3.create_bucket(Bucket="evidence")
    else:
        s3.create_bucket(Bucket="evidence", CreateBucketConfiguration={"LocationConstraint": REGION})
    monkeypatch.setenv("EVIDENCE_BUCKET", "evidence")
    state = CASES["exposed_key_contained"]()
    incident = state["intake"]["incident"]
    register(boto3.client("dynamodb"), "incidents", incident, execution_arn="arn:exec:1")
    state["intake"]["record"] = {"incident_id": incident["incident_id"], "response": 0, "kind": "first"}
    noted = {"name": "evict-backdoors", "status": "done", "containment": False}
    steps = [{**noted, "target": f"pass {i}", "detail": f"call {i}: " + "x " * 400} for i in range(120)]
    state["results"]["evict"] = {"steps": steps}
    return state


def test_a_response_too_large_for_the_record_keeps_its_steps_in_the_evidence_bucket(report_env, monkeypatch):
    from record.item import load
    from record.responses import release_steps

    state = oversized_response(monkeypatch)
    _, report = run_both(state, Recorder(), monkeypatch)
    assert report["record"] == (
        f"stored, the steps in s3://evidence/records/{state['intake']['incident']['incident_id']}/response-0.json"
    )
    record = load(boto3.client("dynamodb"), "incidents", state["intake"]["incident"]["incident_id"])
    (response,) = record["responses"]
    assert "steps" not in response and response["steps_count"] == len(report["steps"])
    assert response["outcome"] == "contained" and record["status"] == "contained"
    # Release reads them back from there: every step, whole.
    assert release_steps(record, boto3.client("s3"))[0]["detail"] == report["steps"][0]["detail"]
    assert sum(1 for s in release_steps(record, boto3.client("s3")) if s["name"] == "evict-backdoors") == 120


def test_the_message_names_the_owner_the_containment_resolved():
    from report.handler import with_resolved_principals

    incident = {"kind": "exposed-access-key", "user_names": [], "access_key_ids": ["AKIAEXAMPLEEXAMPLE01"]}
    steps = [
        {
            "name": "deactivate-access-key",
            "status": "done",
            "target": "AKIAEXAMPLEEXAMPLE01",
            "detail": "",
            "containment": True,
            "data": {"user_name": "ci-deployer"},
        }
    ]
    assert with_resolved_principals(incident, steps)["user_names"] == ["ci-deployer"]
    assert incident["user_names"] == []  # the input is not changed
    named = {**incident, "user_names": ["from-the-event"]}
    assert with_resolved_principals(named, steps)["user_names"] == ["from-the-event"]
