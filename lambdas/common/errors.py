"""Named errors a task raises so that Step Functions Retry/Catch can tell them apart.

The Lambda runtime reports an unhandled exception's class name as the error name, so these
names are part of the state machine contract (infra/workflow.py retries TransientError).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


class ResponderError(Exception):
    """Base class: a failure the responders must hear about."""


class TransientError(ResponderError):
    """Worth retrying: throttling, a read-back that has not caught up yet."""


class UnsupportedEvent(ResponderError):
    """The event is not one this responder acts on."""


# Error codes a retry can clear. botocore's standard retry mode already retries these a few
# times inside the call; whatever still fails becomes TransientError so that the state machine
# retries the whole (idempotent) task with backoff and jitter.
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "ProvisionedThroughputExceededException",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


def is_transient(exc: BaseException) -> bool:
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code")) in TRANSIENT_CODES
    return isinstance(exc, ConnectionError | HTTPClientError)


def transient_errors(handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """Outermost decorator of every handler: report transient AWS failures as TransientError."""

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any) -> Any:
        try:
            return handler(event, context)
        except Exception as exc:
            if is_transient(exc):
                raise TransientError(f"{type(exc).__name__}: {exc}") from exc
            raise

    return wrapper
