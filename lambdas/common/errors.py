"""Named errors a task raises so that Step Functions Retry/Catch can tell them apart.

The Lambda runtime reports an unhandled exception's class name as the error name, so these
names are part of the state machine contract (infra/workflow.py retries TransientError).
"""


class ResponderError(Exception):
    """Base class: a failure the responders must hear about."""


class TransientError(ResponderError):
    """Worth retrying: throttling, a read-back that has not caught up yet."""


class UnsupportedEvent(ResponderError):
    """The event is not one this responder acts on."""
