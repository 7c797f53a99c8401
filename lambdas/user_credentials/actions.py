"""Set a user's other long-term credentials Inactive, each read back: SSH public keys (CodeCommit), service-specific
credentials (CodeCommit and Keyspaces passwords, Bedrock API keys) and signing certificates. Never deleted: the
attacker's are evidence, the owner's come back with `responder release` (user_credentials.release).

Each credential is one step, `deactivate-user-credential`, whose data says the user, the kind and the id: release
reads only that. A credential IAM lists Inactive is already done; one it no longer lists is gone only when IAM says
so (the user's listing, read back, holds no such id).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from common.aws import error_code
from common.errors import is_transient
from common.steps import Status, StepResult, step

STEP = "deactivate-user-credential"
q = shlex.quote


@dataclass(frozen=True)
class CredentialKind:
    name: str  # as the step's data and the report say it
    list_key: str  # where IAM's listing holds them
    id_field: str
    cli: str  # the AWS CLI command that sets its status
    cli_id: str


SSH_KEY = CredentialKind(
    "ssh-public-key", "SSHPublicKeys", "SSHPublicKeyId", "update-ssh-public-key", "--ssh-public-key-id"
)
SERVICE_SPECIFIC = CredentialKind(
    "service-specific-credential",
    "ServiceSpecificCredentials",
    "ServiceSpecificCredentialId",
    "update-service-specific-credential",
    "--service-specific-credential-id",
)
SIGNING_CERTIFICATE = CredentialKind(
    "signing-certificate", "Certificates", "CertificateId", "update-signing-certificate", "--certificate-id"
)
KINDS = (SSH_KEY, SERVICE_SPECIFIC, SIGNING_CERTIFICATE)
BY_NAME = {kind.name: kind for kind in KINDS}


@dataclass(frozen=True)
class Credential:
    kind: CredentialKind
    id: str
    user: str
    status: str
    service: str = ""  # a service-specific credential's service

    @property
    def label(self) -> str:
        service = f" for {self.service}" if self.service else ""
        return f"{self.kind.name} {self.id}{service} of user {self.user}"


def command(kind: CredentialKind, user: str, credential_id: str, status: str) -> str:
    return f"aws iam {kind.cli} --user-name {q(user)} {kind.cli_id} {q(credential_id)} --status {status}"


def _page(iam: Any, kind: CredentialKind, user: str, marker: str | None) -> dict[str, Any]:
    more = {"Marker": marker} if marker else {}
    if kind is SSH_KEY:
        return iam.list_ssh_public_keys(UserName=user, **more)
    if kind is SERVICE_SPECIFIC:
        return iam.list_service_specific_credentials(UserName=user, **more)
    return iam.list_signing_certificates(UserName=user, **more)


def set_status(iam: Any, kind: CredentialKind, user: str, credential_id: str, status: str) -> None:
    if kind is SSH_KEY:
        iam.update_ssh_public_key(UserName=user, SSHPublicKeyId=credential_id, Status=status)
    elif kind is SERVICE_SPECIFIC:
        iam.update_service_specific_credential(UserName=user, ServiceSpecificCredentialId=credential_id, Status=status)
    else:
        iam.update_signing_certificate(UserName=user, CertificateId=credential_id, Status=status)


def listed(iam: Any, user: str) -> list[Credential]:
    """Every SSH public key, service-specific credential and signing certificate IAM lists for the user.
    Raises ClientError (NoSuchEntity when IAM knows no such user)."""
    found: list[Credential] = []
    for kind in KINDS:
        marker: str | None = None
        while True:
            page = _page(iam, kind, user, marker)
            for entry in page.get(kind.list_key) or []:
                found.append(
                    Credential(
                        kind, str(entry[kind.id_field]), user, str(entry.get("Status")), entry.get("ServiceName", "")
                    )
                )
            marker = page.get("Marker") if page.get("IsTruncated") else None
            if not marker:
                break
    return found


def status_of(iam: Any, kind: CredentialKind, user: str, credential_id: str) -> str | None:
    """The credential's status as IAM lists it now; None when the user's listing holds no such id."""
    return next((c.status for c in listed(iam, user) if c.kind is kind and c.id == credential_id), None)


def deactivate(
    iam: Any, credential: Credential, why: str, *, dry_run: bool = False, refusal: str | None = None
) -> StepResult:
    """Set the credential Inactive and read it back."""
    kind, user = credential.kind, credential.user
    data = {
        "user": user,
        "kind": kind.name,
        "id": credential.id,
        **({"service": credential.service} if credential.service else {}),
    }
    manual = command(kind, user, credential.id, "Inactive")

    def result(status: Status, text: str, **extra: Any) -> StepResult:
        return step(STEP, status, credential.id, f"{credential.label}: {text}; {why}", containment=True, **extra)

    if refusal:
        return result(Status.SKIPPED, f"{refusal}: not touched", manual=manual)
    if credential.status == "Inactive":
        return result(Status.ALREADY_DONE, "Inactive already (IAM's listing)", data=data)
    if dry_run:
        return result(Status.SKIPPED, "dry-run: would be set Inactive", manual=manual)
    try:
        set_status(iam, kind, user, credential.id, "Inactive")
        now = status_of(iam, kind, user, credential.id)
    except ClientError as exc:
        if is_transient(exc):
            raise
        return result(Status.FAILED, f"not set Inactive: {error_code(exc)}", manual=manual)
    if now != "Inactive":
        return result(Status.FAILED, f"set Inactive, but IAM lists it {now or 'no more'}", manual=manual)
    return result(
        Status.DONE,
        "set Inactive (read back)",
        undo=command(kind, user, credential.id, "Active"),
        data=data,
    )


def user_named(iam: Any, user: str, user_id: str) -> str | None:
    """The user's name now, by its unique id (a rename keeps the id); None when IAM lists no user with it."""
    for page in iam.get_paginator("list_users").paginate():
        for found in page.get("Users") or []:
            if found.get("UserId") == user_id:
                return str(found["UserName"])
    return None


def key_user(iam: Any, key_id: str) -> tuple[str | None, str]:
    """The user that holds an access key now, as IAM names it (a rename keeps the key), and IAM's error code when it
    names none ("NoSuchEntity": IAM knows no such key)."""
    try:
        return iam.get_access_key_last_used(AccessKeyId=key_id).get("UserName"), ""
    except ClientError as exc:
        if is_transient(exc):
            raise
        return None, error_code(exc)


def every_credential(
    iam: Any,
    user: str,
    user_id: str,
    act: Callable[[Credential, str], StepResult | None],
    why: str,
    gone: str = "",
) -> list[StepResult | None]:
    """`act` on each credential of the user (with why it is acted on). A user IAM no longer has under that name is
    looked up by its id; gone only when IAM lists no user with it, or when IAM said so otherwise (`gone`: why)."""
    try:
        credentials = listed(iam, user)
    except ClientError as exc:
        if is_transient(exc):
            raise
        if error_code(exc) != "NoSuchEntity":
            text = f"user {user}: its credentials could not be listed: {error_code(exc)}; {why}"
            manual = (
                f"aws iam list-ssh-public-keys --user-name {q(user)}  # and its service-specific credentials and "
                "signing certificates"
            )
            return [step(STEP, Status.FAILED, user, text, containment=True, manual=manual)]
        renamed = user_named(iam, user, user_id) if user_id else None
        if renamed and renamed != user:
            return every_credential(iam, renamed, "", act, f"{why}; renamed {user} -> {renamed}")
        if user_id or gone:
            said = gone or f"IAM lists no user with its id {user_id}"
            text = f"user {user}: {said}: deleted, with its credentials; {why}"
            return [step(STEP, Status.ALREADY_DONE, user, text, containment=True)]
        text = f"user {user}: IAM knows no user by that name (NoSuchEntity) and no id to find a rename by; {why}"
        manual = (
            "aws iam list-users  # find the user; then set its SSH keys, service-specific credentials and signing "
            "certificates Inactive"
        )
        return [step(STEP, Status.FAILED, user, text, containment=True, manual=manual)]
    return [act(credential, why) for credential in credentials]
