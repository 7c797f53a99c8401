"""Policy documents as CloudTrail records them (JSON strings, sometimes URL-encoded): who a trust policy lets
in, and whether a rewrite let anyone new in. Pure. The documents are the caller's data: read, never obeyed."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

_ACCOUNT_IN_ARN = re.compile(r"^arn:[\w-]+:(?:iam|sts)::(\d{12}):")


def document(value: Any) -> dict[str, Any] | None:
    """A policy document from a record's parameter (an object, or JSON, URL-encoded or not)."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str) or not value:
        return None
    for candidate in (value, unquote(value)):
        try:
            parsed = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            return parsed
    return None


def _statements(policy: dict[str, Any] | None) -> list[dict[str, Any]]:
    statements = (policy or {}).get("Statement") or []
    statements = statements if isinstance(statements, list) else [statements]
    return [statement for statement in statements if isinstance(statement, dict)]


def principals(value: Any) -> set[str]:
    """Who a trust policy's Allow statements let in: "AWS arn:aws:iam::111122223333:root",
    "Service ec2.amazonaws.com", "Federated ...", "*"."""
    found: set[str] = set()
    for statement in _statements(document(value)):
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        if principal == "*":
            found.add("*")
        elif isinstance(principal, dict):
            for kind, values in principal.items():
                for item in values if isinstance(values, list) else [values]:
                    found.add("*" if item == "*" else f"{kind} {item}")
    return found


def _account_of(principal: str) -> str | None:
    kind, _, value = principal.partition(" ")
    if kind != "AWS":
        return None
    if value.isdigit() and len(value) == 12:
        return value
    match = _ACCOUNT_IN_ARN.match(value)
    return match.group(1) if match else None


def outside_principals(value: Any, account: str) -> set[str]:
    """The principals a trust policy lets in from outside `account`: another account, anyone ("*"), or a
    federation provider (SAML/OIDC identities are outside the account's own users)."""
    outside = set()
    for principal in principals(value):
        if principal == "*" or principal.startswith("Federated "):
            outside.add(principal)
            continue
        other = _account_of(principal)
        if other and other != account:
            outside.add(principal)
    return outside


def added_principals(before: Any, after: Any) -> set[str]:
    """Who `after` lets in that `before` did not: empty for the same document or a narrowing."""
    return principals(after) - principals(before)
