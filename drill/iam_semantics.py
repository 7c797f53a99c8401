"""What IAM enforces and moto does not: the drill's stand-in, applied to every call a handler makes.

* Explicit denies in the calling function's own policy (the template's). The containing functions
  rely on them: their first write is made without reading the principal first, and IAM refuses it
  on the responder's own roles and on exempted principals. moto authorizes every call.
* Service-linked roles: IAM refuses to change their policies (UnmodifiableEntity); moto allows it.

Only IAM calls on a named user or role are judged, with the resource ARN IAM would evaluate (the
principal's real path, read from moto's backend, not through the API: that would be recorded).
"""

from __future__ import annotations

import fnmatch
from typing import Any

from botocore.exceptions import ClientError

SERVICE_LINKED_PATH = "/aws-service-role/"
ROLE_WRITES = frozenset(
    {"PutRolePolicy", "DeleteRolePolicy", "AttachRolePolicy", "DetachRolePolicy", "UpdateAssumeRolePolicy"}
)


class IamEnforcement:
    def __init__(self, account_id: str, denies: dict[str, list[dict[str, Any]]]) -> None:
        """`denies`: function name -> its resolved Deny statements."""
        self.account_id = account_id
        self.denies = denies

    def check(self, function: str | None, service: str, operation: str, params: dict[str, Any]) -> Exception | None:
        if service != "iam":
            return None
        arn, path = self._resource(params)
        if arn is None:
            return None
        if operation in ROLE_WRITES and "RoleName" in params and (path or "").startswith(SERVICE_LINKED_PATH):
            return _error(
                "UnmodifiableEntity",
                f"Cannot perform the operation on the protected role '{params['RoleName']}' - "
                "this role is only modifiable by AWS",
                operation,
            )
        action = f"iam:{operation}"
        for statement in self.denies.get(function or "", []):
            if _matches(action, statement.get("Action")) and _matches_resource(arn, statement.get("Resource")):
                return _error(
                    "AccessDenied",
                    f"User is not authorized to perform: {action} on resource: {arn} with an explicit deny "
                    "in an identity-based policy",
                    operation,
                )
        return None

    def _resource(self, params: dict[str, Any]) -> tuple[str | None, str | None]:
        from moto.iam.models import iam_backends

        backend = iam_backends[self.account_id]["global"]
        for kind, key, lookup in (("role", "RoleName", backend.roles), ("user", "UserName", backend.users)):
            name = params.get(key)
            if not isinstance(name, str):
                continue
            principals = lookup.values() if isinstance(lookup, dict) else lookup
            found = next((p for p in principals if getattr(p, "name", None) == name), None)
            path = getattr(found, "path", "/") if found is not None else "/"
            return f"arn:aws:iam::{self.account_id}:{kind}{path}{name}", path if found is not None else None
        return None, None


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value or []]


def _matches(action: str, patterns: Any) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), p.lower().replace("[", "[[]")) for p in _as_list(patterns))


def _matches_resource(arn: str, patterns: Any) -> bool:
    return any(fnmatch.fnmatchcase(arn, p.replace("[", "[[]")) for p in _as_list(patterns))


def _error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)
