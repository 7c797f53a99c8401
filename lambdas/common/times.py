"""UTC times as the responder writes them everywhere: ISO-8601 to the second with a Z ("2026-01-01T00:00:00Z"),
which sorts as it reads. Pure, no dependencies: the containing functions import it too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def parse(value: Any) -> datetime | None:
    """A timezone-aware datetime from a datetime (naive means UTC), an ISO-8601 string (with Z, an offset,
    or none), or None when the value is no time."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(value: Any) -> str:
    """`value` as ISO-8601 UTC to the second; a string that is no time is returned as it is (it is data)."""
    moment = parse(value)
    if moment is None:
        return "" if value is None else str(value)
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def iso_now(now: datetime | None = None) -> str:
    """`now` (the current time when None, as the functions take it) as `iso` writes it."""
    return iso(now or datetime.now(UTC))
