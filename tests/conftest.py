"""Fixtures shared by every test module."""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass
class FakeLambdaContext:
    """What Powertools' inject_lambda_context reads from the Lambda context object."""

    function_name: str = "credential-responder-test"
    memory_limit_in_mb: int = 256
    # moto's default account, so that handlers see the incident as their own account's.
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:credential-responder-test"
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    """A fresh simulated account (moto) with fake credentials; clients cached by handlers reset."""
    from moto import mock_aws

    from common.aws import client

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    client.cache_clear()
    with mock_aws():
        yield
    client.cache_clear()


DRILL_CONTEXT = {"slackWebhookSecretName": "credential-responder/slack-webhook"}


@pytest.fixture(scope="session")
def synthesized():
    """The CDK app synthesized once per test session (5-10 s), as the drill deploys it."""
    import os

    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from drill.template import synthesize

    return synthesize(DRILL_CONTEXT)


@pytest.fixture(scope="session")
def template(synthesized) -> dict:
    return synthesized.template
