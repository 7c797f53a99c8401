"""Fixtures shared by every test module."""

from __future__ import annotations

import pytest

from drill.account import FakeLambdaContext
from tests.factories import fake_context


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`--dist loadgroup` (make test) sends the tests of one xdist_group to one worker, where they share its
    session's drill runs and synthesized templates. pytest-xdist 3.8 names the group by rewriting `item._nodeid`,
    which pytest 9 no longer reads (a node's id is `item._id`): every group was silently split over both workers.
    This names it as xdist's scheduler expects (`<nodeid>@<group>`)."""
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodeid import NodeId

    for item in items:
        groups = sorted({str(mark.args[0]) for mark in item.iter_markers("xdist_group") if mark.args})
        if groups and "@" not in item.nodeid.rpartition("]")[2]:
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(groups)}")  # type: ignore[attr-defined]


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return fake_context()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    """A fresh simulated account (moto) with fake credentials; clients cached by handlers reset."""
    from moto import mock_aws

    from common.aws import client
    from drill.moto_quirks import aws_semantics
    from drill.speed import once_per_process

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    client.cache_clear()
    # moto as AWS behaves where the product meets it (drill/moto_quirks.py), as the drill runs it, and as fast.
    with mock_aws(), aws_semantics(), once_per_process():
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
