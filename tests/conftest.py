"""Fixtures shared by every test module."""

from __future__ import annotations

import pytest

from drill.account import FakeLambdaContext
from tests.factories import fake_context


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return fake_context()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    """A fresh simulated account (moto) with fake credentials; clients cached by handlers reset."""
    from moto import mock_aws

    from common.aws import client
    from drill.moto_quirks import aws_semantics

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    client.cache_clear()
    # moto as AWS behaves where the product meets it (drill/moto_quirks.py), as the drill runs it.
    with mock_aws(), aws_semantics():
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
