"""common.aws: botocore clients without boto3, and what a SnapStart restore does to them."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

from common import aws

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"


@pytest.fixture
def fresh_clients(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "init-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    aws.forget_session(keep_models=False)
    yield
    aws.forget_session(keep_models=False)


def test_clients_are_cached_and_carry_the_retry_config(fresh_clients):
    iam = aws.client("iam")
    assert aws.client("iam") is iam
    # worst_call_seconds counts MAX_ATTEMPTS attempts in all: the client must make no more.
    assert iam.meta.config.retries["total_max_attempts"] == aws.MAX_ATTEMPTS
    assert iam.meta.config.retries["mode"] == "standard"
    assert aws.client("ec2", "eu-west-1").meta.region_name == "eu-west-1"


def test_the_containing_functions_import_no_boto3():
    """The point of building botocore clients directly: boto3 (and s3transfer) stay out of the cold start."""
    script = (
        "import sys, contain_key.handler, revoke_sessions.handler\n"
        "from common.aws import client\n"
        "client('iam'); client('dynamodb')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'boto3', 's3transfer', 'pydantic'}))\n"
    )
    env = {"PYTHONPATH": str(LAMBDAS), "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_SERVICE_NAME": "t", "PATH": ""}
    loaded = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_after_a_snapstart_restore_clients_take_new_credentials_and_keep_the_models(fresh_clients, monkeypatch):
    registered = []
    restore_hooks = types.SimpleNamespace(register_after_restore=registered.append)
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", restore_hooks)
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")

    aws.prepare_for_snapshot("iam")
    before = aws.client("iam")
    loader = aws._session().get_component("data_loader")
    assert before._request_signer._credentials.access_key == "init-key"
    assert len(registered) == 1

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "restored-key")  # Lambda hands the restored VM new credentials
    registered[0]()

    after = aws.client("iam")
    assert after is not before
    assert after._request_signer._credentials.access_key == "restored-key"
    assert aws._session().get_component("data_loader") is loader


def test_without_snapstart_nothing_is_built_at_init(fresh_clients, monkeypatch):
    monkeypatch.delenv("AWS_LAMBDA_INITIALIZATION_TYPE", raising=False)
    aws.prepare_for_snapshot("iam")
    assert aws.client.cache_info().currsize == 0
