"""Times in the drill's scenario and account files: relative to the exposure moment, or absolute."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from drill.cloudtrail_fake import parse_time

RELATIVE = re.compile(r"^(?P<sign>[+-])(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")


def check_time(value: str) -> str:
    """A relative time ("-3d", "+90s", "-1d2h", "+0s") or an absolute ISO-8601 one."""
    match = RELATIVE.match(value)
    if match and any(match.group(unit) for unit in "dhms"):
        return value
    try:
        parse_time(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is neither a time relative to the exposure ('-3d', '-2h', '+90s', '-1d2h30m') "
            "nor an absolute ISO-8601 time"
        ) from None
    return value


def resolve_time(value: str, exposure: datetime) -> datetime:
    match = RELATIVE.match(value)
    if not match:
        return parse_time(value)
    delta = timedelta(
        days=int(match.group("d") or 0),
        hours=int(match.group("h") or 0),
        minutes=int(match.group("m") or 0),
        seconds=int(match.group("s") or 0),
    )
    return exposure + delta if match.group("sign") == "+" else exposure - delta


def exposure_moment(event: Any) -> datetime:
    """When the credential was exposed, as the event says: Health's startTime, a GuardDuty finding's
    service.eventFirstSeen, else the envelope's time (an hour ago when the event gives none)."""
    detail = event.get("detail", {}) if isinstance(event, dict) else {}
    detail = detail if isinstance(detail, dict) else {}
    service = detail.get("service") if isinstance(detail.get("service"), dict) else {}
    envelope = event.get("time") if isinstance(event, dict) else None
    for value in (detail.get("startTime"), service.get("eventFirstSeen"), envelope):
        if not isinstance(value, str):
            continue
        try:
            moment = parsedate_to_datetime(value) if "," in value else parse_time(value)
        except (TypeError, ValueError):
            continue
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime.now(UTC) - timedelta(hours=1)
