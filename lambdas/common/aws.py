"""boto3 clients, created once per execution environment and per region.

Standard retry mode (botocore backs off with jitter), with timeouts short enough that a call's
worst case fits inside the shortest function timeout (30 s): a hung endpoint then ends in a
botocore error, which the handlers report as TransientError and Step Functions retries with its
own backoff, never in a Lambda timeout halfway through a task. Step Functions retries whatever
is left, so botocore's own attempts stay few.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

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


@cache
def client(service: str, region: str | None = None) -> Any:
    """A cached client; `region=None` uses the function's own region (IAM is global)."""
    return boto3.client(service, region_name=region, config=RETRY_CONFIG)


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", type(exc).__name__))
