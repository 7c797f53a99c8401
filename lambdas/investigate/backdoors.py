"""What the reach holds, as a person checks it in the console: each user, role, key and password it found,
with its verdict and a link. Pure. (Containing them is Evict's job: the investigation only reads.)"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from reach.graph import Item, Kind

MAX_LISTED = 20


def console_host(region: str) -> str:
    if region.startswith("us-gov-"):
        return "console.amazonaws-us-gov.com"
    if region.startswith("cn-"):
        return "console.amazonaws.cn"
    return "console.aws.amazon.com"


def _iam_link(host: str, kind: str, name: str, section: str = "") -> str:
    return f"https://{host}/iam/home#/{kind}/details/{quote(name, safe='')}{section}"


_TYPES = {
    Kind.USER: "iam-user",
    Kind.ROLE: "iam-role",
    Kind.ACCESS_KEY: "access-key",
    Kind.LOGIN_PROFILE: "console-password",
    Kind.TRUST: "trust-policy",
    Kind.USER_CREDENTIAL: "user-credential",
    Kind.SESSION: "session",
}


def created_entities(items: list[Item], region: str) -> list[dict[str, Any]]:
    """The reach's items a person may want to open, each with its verdict and a console link."""
    host = console_host(region)
    entities: list[dict[str, Any]] = []
    for item in items:
        kind = _TYPES.get(item.kind)
        if kind is None:
            continue
        entity: dict[str, Any] = {"type": kind, "verdict": str(item.judgement.verdict)}
        if item.kind in (Kind.ROLE, Kind.TRUST):
            entity["name"] = item.role
            entity["console"] = _iam_link(host, "roles", item.role)
        elif item.kind == Kind.USER:
            entity["name"] = item.user
            entity["console"] = _iam_link(host, "users", item.user)
        elif item.kind == Kind.SESSION:
            entity["access_key_id"] = item.id
            entity["role" if item.role else "user"] = item.role or item.user
        else:
            entity["user"] = item.user
            if item.kind in (Kind.ACCESS_KEY, Kind.USER_CREDENTIAL):
                entity["id"] = item.id
            if item.user:
                entity["console"] = _iam_link(host, "users", item.user, "?section=security_credentials")
        entities.append(entity)
    return entities
