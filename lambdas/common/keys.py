"""Setting an access key Inactive, for the exposed key (contain_key) and for a key the attacker made (evict).

UpdateAccessKey answers NoSuchEntity when the user does not exist or does not hold the key; what that means differs
by caller, so each says it: for the exposed key, look up the owner (the event may name another user); for a back-door
key whose owner IAM has just named, the key or user went since, a failure to report like any other.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from common.aws import error_code


def set_inactive(iam: Any, user_name: str, access_key_id: str, *, no_such_entity: type[Exception] | None) -> None:
    """UpdateAccessKey to Inactive. NoSuchEntity raises `no_such_entity` when the caller gives one (the ClientError
    otherwise); every other error raises as it is."""
    try:
        # UserName is required with temporary credentials (the Lambda's), though some mocks accept it without.
        iam.update_access_key(UserName=user_name, AccessKeyId=access_key_id, Status="Inactive")
    except ClientError as exc:
        if no_such_entity is not None and error_code(exc) == "NoSuchEntity":
            raise no_such_entity(f"{user_name} does not hold {access_key_id}") from exc
        raise


def key_status(iam: Any, user_name: str, access_key_id: str) -> str | None:
    """The key's status on the user (Active/Inactive), None when the user does not hold it."""
    paginator = iam.get_paginator("list_access_keys")
    for page in paginator.paginate(UserName=user_name):
        for key in page["AccessKeyMetadata"]:
            if key["AccessKeyId"] == access_key_id:
                return str(key["Status"])
    return None
