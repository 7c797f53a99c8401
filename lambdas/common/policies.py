"""Inline policies read back by content: the cut-offs, the quarantine stand-in, the eviction's deny.

One reader for users and one for roles, each a single IAM call, so that a function that only reads users' policies
is granted only iam:GetUserPolicy (tests/infra/test_least_privilege.py follows calls function by function).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from common.aws import error_code


def user_policy(iam: Any, user_name: str, policy_name: str) -> dict[str, Any] | None:
    return read_inline_policy(lambda: iam.get_user_policy(UserName=user_name, PolicyName=policy_name))


def role_policy(iam: Any, role_name: str, policy_name: str) -> dict[str, Any] | None:
    return read_inline_policy(lambda: iam.get_role_policy(RoleName=role_name, PolicyName=policy_name))


def read_inline_policy(get: Callable[[], Mapping[str, Any]]) -> dict[str, Any] | None:
    """The document of an inline policy that `get` (GetUserPolicy or GetRolePolicy) reads, or None
    when IAM says NoSuchEntity: no such policy, or no such principal (the put that follows tells
    them apart)."""
    try:
        document = get()["PolicyDocument"]
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        raise
    # botocore decodes the URL-encoded JSON; tolerate a client that does not.
    return json.loads(document) if isinstance(document, str) else dict(document)
