"""boto3 clients, created once per execution environment and per region.

Standard retry mode (botocore backs off with jitter), with timeouts short enough that a call's
worst case fits inside the shortest function timeout (30 s): a hung endpoint then ends in a
botocore error, which the handlers report as TransientError and Step Functions retries with its
own backoff, never in a Lambda timeout halfway through a task. Step Functions retries whatever
is left, so botocore's own attempts stay few.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
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
    retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
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
    return boto3.client(service, region_name=region, config=RETRY_CONFIG)  # type: ignore[call-overload]


def prepare_for_snapshot(*services: str) -> None:
    """With SnapStart (setting snapStart), Lambda runs the init when it publishes a version and
    resumes every cold start from that snapshot. The clients are built there once, so that botocore's
    service models are parsed into the snapshot; after a restore the clients and the default session
    (with the credentials of the init) are dropped, and the first call builds fresh ones from the
    models already in memory. Without SnapStart this does nothing: clients stay lazy."""
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") != "snap-start":
        return
    for service in services:
        client(service)
    try:
        from snapshot_restore_py import register_after_restore  # bundled in the SnapStart runtimes
    except ImportError:
        return

    def forget_credentials() -> None:
        client.cache_clear()  # type: ignore[attr-defined]  # functools.cache under the overloads
        boto3.DEFAULT_SESSION = None

    register_after_restore(forget_credentials)


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", type(exc).__name__))
