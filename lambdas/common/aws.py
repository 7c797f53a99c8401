"""AWS clients, created once per execution environment and per region.

They are botocore's own clients (boto3.client returns the same object, built by the same botocore
session): importing boto3 also imports s3transfer and the resource layer, about 60 ms of a cold
start that no function uses, and the containing functions are the first Lambda on the way to
containment (bench section 3 measures both against the bare boto3 floor).

Standard retry mode (botocore backs off with jitter), with timeouts short enough that a call's
worst case fits inside the shortest function timeout (30 s): a hung endpoint then ends in a
botocore error, which the handlers report as TransientError and Step Functions retries with its
own backoff, never in a Lambda timeout halfway through a task. Step Functions retries whatever
is left, so botocore's own attempts stay few.
"""

from __future__ import annotations

import os
import threading
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, overload

import botocore.session
from botocore.config import Config

if TYPE_CHECKING:  # the stubs (types-boto3, dev only) cost nothing at run time
    from types_boto3_autoscaling import AutoScalingClient
    from types_boto3_cloudtrail import CloudTrailClient
    from types_boto3_dynamodb import DynamoDBClient
    from types_boto3_ec2 import EC2Client
    from types_boto3_iam import IAMClient
    from types_boto3_s3 import S3Client
    from types_boto3_secretsmanager import SecretsManagerClient
    from types_boto3_sns import SNSClient
    from types_boto3_stepfunctions import SFNClient
    from types_boto3_sts import STSClient

CONNECT_TIMEOUT_SECONDS = 3
READ_TIMEOUT_SECONDS = 5
MAX_ATTEMPTS = 3
RETRY_CONFIG = Config(
    # total_max_attempts counts the first request; botocore's `max_attempts` counts only the
    # retries (3 there would be 4 attempts, past worst_call_seconds and the 30 s timeout).
    retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
)
# botocore's standard mode waits random(0, 1) x 2^retry seconds before each retry, at most 20 s.
_BACKOFF_CAP_SECONDS = 20


def worst_call_seconds() -> float:
    """The longest one API call can take before botocore gives up: every attempt hangs for the
    connect and the read timeout, and every retry waits the longest backoff."""
    backoff = sum(min(2**retry, _BACKOFF_CAP_SECONDS) for retry in range(MAX_ATTEMPTS - 1))
    return MAX_ATTEMPTS * (CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS) + backoff


# Typed clients for callers: mypy then checks each operation and parameter name.
@overload
def client(service: Literal["iam"], region: str | None = None) -> IAMClient: ...
@overload
def client(service: Literal["ec2"], region: str | None = None) -> EC2Client: ...
@overload
def client(service: Literal["autoscaling"], region: str | None = None) -> AutoScalingClient: ...
@overload
def client(service: Literal["cloudtrail"], region: str | None = None) -> CloudTrailClient: ...
@overload
def client(service: Literal["dynamodb"], region: str | None = None) -> DynamoDBClient: ...
@overload
def client(service: Literal["sns"], region: str | None = None) -> SNSClient: ...
@overload
def client(service: Literal["s3"], region: str | None = None) -> S3Client: ...
@overload
def client(service: Literal["secretsmanager"], region: str | None = None) -> SecretsManagerClient: ...
@overload
def client(service: Literal["sts"], region: str | None = None) -> STSClient: ...
@overload
def client(service: Literal["stepfunctions"], region: str | None = None) -> SFNClient: ...
@overload
def client(service: str, region: str | None = None) -> Any: ...  # a service without stubs here
@cache  # type: ignore[misc]
def client(service: str, region: str | None = None) -> Any:
    """A cached client; `region=None` uses the function's own region (IAM is global)."""
    with _CREATING:
        return _session().create_client(service, region_name=region, config=RETRY_CONFIG)


# botocore's session is not thread-safe to build clients from (using the clients is): a caller that
# fans out to threads gets one session, its models parsed once, instead of a race to build several.
_CREATING = threading.Lock()


@cache
def _session() -> botocore.session.Session:
    """One session per process, as boto3's default session: service models load once."""
    return botocore.session.get_session()


def prepare_for_snapshot(*services: str) -> None:
    """With SnapStart (setting snapStart), Lambda runs the init when it publishes a version and
    resumes every cold start from that snapshot. The clients are built there once, so that botocore's
    service models are parsed into the snapshot; after a restore the clients and the session (with
    the credentials of the init) are dropped, and the first call builds fresh ones on a new session
    that keeps the old one's loader, so the models parsed into the snapshot are not parsed again.
    Without SnapStart this does nothing: clients stay lazy."""
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") != "snap-start":
        return
    for service in services:
        client(service)
    try:
        from snapshot_restore_py import register_after_restore  # bundled in the SnapStart runtimes
    except ImportError:
        return

    register_after_restore(forget_session)


def forget_session(keep_models: bool = True) -> None:
    """Drop every client and the session, so that the next client resolves credentials again;
    `keep_models` hands the old session's loader (its parsed service models) to the new one."""
    loader = _session().get_component("data_loader") if keep_models else None
    client.cache_clear()  # type: ignore[attr-defined]  # functools.cache under the overloads
    _session.cache_clear()
    if loader is not None:
        _session().register_component("data_loader", loader)


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", type(exc).__name__))
