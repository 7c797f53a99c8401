"""boto3 clients, created once per execution environment and per region.

Standard retry mode with more attempts than the default: containment calls must get through
IAM/EC2 throttling (botocore backs off with jitter); Step Functions retries whatever is left.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

RETRY_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, connect_timeout=5, read_timeout=20)


@cache
def client(service: str, region: str | None = None) -> Any:
    """A cached client; `region=None` uses the function's own region (IAM is global)."""
    return boto3.client(service, region_name=region, config=RETRY_CONFIG)


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", type(exc).__name__))
