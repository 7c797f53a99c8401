"""Slack delivery through an incoming webhook.

The webhook URL is a bearer secret: it lives in Secrets Manager and is read at run time with
Powertools Parameters (cached 300 s per execution environment). It never appears in an
environment value (SLACK_SECRET_NAME holds only the secret's *name*), a log line, an error
message or a return value.

`post_json(url, payload) -> (status, body)` is the transport. It is a module-level function so
that tests and the local drill can replace it (`report.slack.post_json = recorder`) and record
requests instead of sending them. It uses urllib: no new dependency, short timeout.

`deliver()` sorts failures by whether a retry can help:
* retryable (timeout, connection error, HTTP 429 or 5xx): raises SlackDeliveryError, the name
  the state machine retries on;
* permanent (secret unreadable or not an https://hooks.slack.com/ URL, HTTP 4xx such as invalid_payload,
  no_service, channel_is_archived): returns status "failed" with the reason, because retrying
  cannot fix configuration and would only delay the e-mail that follows.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from common.errors import ResponderError
from common.text import cut

TIMEOUT_SECONDS = 5
SECRET_MAX_AGE_SECONDS = 300
# Incoming webhooks live here and nowhere else: anything else in the secret (a typo, or someone
# who could write the secret pointing it at their own server) never receives an incident.
WEBHOOK_HOST = "hooks.slack.com"


class SlackDeliveryError(ResponderError):
    """Slack did not take the message, and trying again may work. Retried by the state machine."""


def post_json(url: str, payload: dict[str, Any]) -> tuple[int, str]:
    """POST JSON; return (HTTP status, first bytes of the body). Network errors raise OSError."""
    # The URL is checked (https://hooks.slack.com/ only) in deliver() before we get here.
    request = urllib.request.Request(  # noqa: S310
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return response.status, response.read(200).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(200).decode(errors="replace")


def deliver(secret_name: str, payload: dict[str, Any]) -> tuple[str, str]:
    """Post the payload to the webhook named by `secret_name`; return (status, detail) with
    status "sent", "skipped" or "failed". Raises SlackDeliveryError when a retry may help."""
    if not secret_name:
        return "skipped", "Slack is not configured (SLACK_SECRET_NAME is empty)"
    try:
        url = parameters.get_secret(secret_name, max_age=SECRET_MAX_AGE_SECONDS)
    except GetParameterError as exc:
        # botocore has already retried throttling; what is left is configuration (missing
        # secret, no permission, KMS), which a Step Functions retry would not fix.
        return "failed", f"cannot read the webhook secret {secret_name}: {_one_line(str(exc))}"
    url = (url.decode() if isinstance(url, bytes) else str(url)).strip()
    if not is_webhook_url(url):
        # Say what is wrong without echoing the value: it is a bearer secret.
        return "failed", f"secret {secret_name} does not hold a Slack webhook URL (https://{WEBHOOK_HOST}/...)"

    try:
        status, body = post_json(url, payload)
    except (OSError, ValueError) as exc:  # URLError, timeouts and resets are OSErrors
        # `from None`: the original exception's text may contain the URL.
        raise SlackDeliveryError(f"Slack webhook unreachable: {_redact(exc, url)}") from None
    body = _one_line(body).replace(url, "<webhook>")
    if 200 <= status < 300:
        return "sent", f"HTTP {status}"
    if status == 429 or status >= 500:
        raise SlackDeliveryError(f"Slack webhook answered HTTP {status}: {body}")
    return "failed", f"Slack rejected the message: HTTP {status}: {body}"


def is_webhook_url(url: str) -> bool:
    """https://hooks.slack.com/<path>, exactly that host: no user info, no other port."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "https"
        and parts.hostname == WEBHOOK_HOST
        and parts.netloc == WEBHOOK_HOST
        and port is None
        and parts.path.startswith("/")
        and len(parts.path) > 1
        and not any(ch.isspace() or not ch.isprintable() for ch in url)
    )


def _one_line(text: str) -> str:
    return cut(" ".join(text.split()), 300)


def _redact(exc: Exception, url: str) -> str:
    return _one_line(f"{type(exc).__name__}: {exc}".replace(url, "<webhook>"))
