"""AWS calls moto 5.2.5 does not answer, answered by the drill for the simulated account, never by the product.

* IAM service-specific credentials (CodeCommit / Amazon Keyspaces passwords, Bedrock API keys):
  Create-, List-, Update-, Reset- and DeleteServiceSpecificCredential. moto raises NotImplementedError for all
  five. The answers follow botocore's IAM model (shapes, error codes) and IAM's documented rules: a user holds
  at most two per service, an unknown user or credential is NoSuchEntity, an unsupported service is
  NotSupportedService, and a user who holds one cannot be deleted (DeleteConflict). Credentials belong to the
  user's unique id, so a renamed user keeps them.
* AWS Config's GetResourceConfigHistory for an IAM role whose recorded history a scenario or account file
  declares (moto ignores the times and answers with the role as it is now; with nothing declared the call goes
  on to moto, which `moto_quirks.config_history_needs_a_recorder` makes answer as an account without a
  recorder does).

The answers are given at botocore's level (`BaseClient._make_api_call`), below the simulated account's own
hook, so the IAM denies, faults and the call record of `drill.account` see these calls like any other:

    emulations = Emulations()
    with mock_aws(), emulations.installed():
        boto3.client("iam").create_service_specific_credential(UserName="alice", ServiceName="codecommit.amazonaws.com")
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import string
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.client
from botocore.exceptions import ClientError, ParamValidationError
from botocore.validate import ParamValidator

DEFAULT_ACCOUNT = "123456789012"
# The services IAM issues service-specific credentials for (IAM User Guide, "Service-specific credentials").
PASSWORD_SERVICES = ("codecommit.amazonaws.com", "cassandra.amazonaws.com")
API_KEY_SERVICES = ("bedrock.amazonaws.com",)
PER_USER_PER_SERVICE = 2

Proceed = Callable[[], Any]


def _account() -> str:
    return os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT)


def _iam_backend(account_id: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account_id]["global"]


def _now() -> datetime:
    return datetime.now(UTC)


def _answer(body: dict[str, Any]) -> dict[str, Any]:
    metadata = {"RequestId": str(uuid.uuid4()), "HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}
    return {**body, "ResponseMetadata": metadata}


def _error(client: Any, operation: str, shape_name: str, message: str) -> ClientError:
    """The error as botocore raises it: the model's code, the client's own exception class."""
    model = client.meta.service_model
    # Query protocols (IAM) name the error in the model; JSON protocols (Config) by the shape itself.
    code = model.shape_for(shape_name).metadata.get("error", {}).get("code", shape_name)
    response = {"Error": {"Code": code, "Message": message, "Type": "Sender"}, "ResponseMetadata": {}}
    return client.exceptions.from_code(code)(response, operation)  # type: ignore[no-any-return]


def _validate(client: Any, operation: str, params: dict[str, Any]) -> None:
    shape = client.meta.service_model.operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        raise ParamValidationError(report=report.generate_report())


@dataclass
class Credential:
    id: str
    user_id: str
    service: str
    created: datetime
    status: str = "Active"
    service_user_name: str | None = None
    alias: str | None = None
    secret: str = ""
    expires: datetime | None = None

    def metadata(self, user_name: str) -> dict[str, Any]:
        item: dict[str, Any] = {
            "UserName": user_name,
            "Status": self.status,
            "CreateDate": self.created,
            "ServiceSpecificCredentialId": self.id,
            "ServiceName": self.service,
        }
        if self.service_user_name is not None:
            item["ServiceUserName"] = self.service_user_name
        if self.alias is not None:
            item["ServiceCredentialAlias"] = self.alias
        if self.expires is not None:
            item["ExpirationDate"] = self.expires
        return item

    def with_secret(self, user_name: str) -> dict[str, Any]:
        item = self.metadata(user_name)
        item["ServicePassword" if self.alias is None else "ServiceCredentialSecret"] = self.secret
        return item


def _credential_id() -> str:
    # IAM's form: ACCA and 17 upper-case letters and digits (21 characters, within the model's 20..128).
    return "ACCA" + "".join(random.choices(string.ascii_uppercase + string.digits, k=17))


def _password(length: int = 44) -> str:
    return secrets.token_urlsafe(length)[:length]


@dataclass
class ServiceSpecificCredentials:
    """IAM's service-specific credentials, per account, per user id."""

    by_account: dict[str, list[Credential]] = field(default_factory=dict)
    OPERATIONS = frozenset(
        {
            "CreateServiceSpecificCredential",
            "ListServiceSpecificCredentials",
            "UpdateServiceSpecificCredential",
            "ResetServiceSpecificCredential",
            "DeleteServiceSpecificCredential",
        }
    )

    def all(self, account_id: str | None = None) -> list[Credential]:
        return self.by_account.setdefault(account_id or _account(), [])

    def of_user(self, user_id: str, account_id: str | None = None) -> list[Credential]:
        return [c for c in self.all(account_id) if c.user_id == user_id]

    def handle(self, client: Any, operation: str, params: dict[str, Any], proceed: Proceed) -> Any:
        if client.meta.service_model.service_name != "iam":
            return proceed()
        if operation == "DeleteUser":
            return self._delete_user(client, params, proceed)
        if operation not in self.OPERATIONS:
            return proceed()
        _validate(client, operation, params)
        return getattr(self, "_" + operation)(client, params)

    # -- the five calls --------------------------------------------------------------------------------
    def _CreateServiceSpecificCredential(self, client: Any, params: dict[str, Any]) -> dict[str, Any]:
        operation = "CreateServiceSpecificCredential"
        user = self._user(client, operation, params["UserName"])
        service = params["ServiceName"]
        if service not in (*PASSWORD_SERVICES, *API_KEY_SERVICES):
            raise _error(client, operation, "ServiceNotSupportedException", f"The service {service} is not supported.")
        if sum(1 for c in self.of_user(user.id) if c.service == service) >= PER_USER_PER_SERVICE:
            raise _error(
                client,
                operation,
                "LimitExceededException",
                f"Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: {PER_USER_PER_SERVICE}",
            )
        now = _now()
        credential = Credential(id=_credential_id(), user_id=user.id, service=service, created=now)
        if service in API_KEY_SERVICES:
            # A Bedrock API key: an alias and a secret instead of a user name and password.
            credential.alias = f"BedrockAPIKey-{secrets.token_hex(2)}-at-{_account()}"
            credential.secret = secrets.token_urlsafe(96)
            if params.get("CredentialAgeDays"):
                credential.expires = now + timedelta(days=int(params["CredentialAgeDays"]))
        else:
            credential.service_user_name = f"{user.name}-at-{_account()}"
            credential.secret = _password()
        self.all().append(credential)
        return _answer({"ServiceSpecificCredential": credential.with_secret(user.name)})

    def _ListServiceSpecificCredentials(self, client: Any, params: dict[str, Any]) -> dict[str, Any]:
        operation = "ListServiceSpecificCredentials"
        service = params.get("ServiceName")
        if service is not None and service not in (*PASSWORD_SERVICES, *API_KEY_SERVICES):
            raise _error(client, operation, "ServiceNotSupportedException", f"The service {service} is not supported.")
        backend = _iam_backend(_account())
        names = {u.id: u.name for u in backend.users.values()}
        if params.get("AllUsers"):
            found = [c for c in self.all() if c.user_id in names]
        else:
            # Without a user name IAM lists the caller's own; the drill's caller is no IAM user, so: none.
            user = self._user(client, operation, params["UserName"]) if params.get("UserName") else None
            found = self.of_user(user.id) if user else []
        found = [c for c in found if service is None or c.service == service]
        return _answer(
            {
                "ServiceSpecificCredentials": [c.metadata(names[c.user_id]) for c in found],
                "IsTruncated": False,
            }
        )

    def _UpdateServiceSpecificCredential(self, client: Any, params: dict[str, Any]) -> dict[str, Any]:
        credential, _ = self._credential(client, "UpdateServiceSpecificCredential", params)
        credential.status = params["Status"]
        return _answer({})

    def _ResetServiceSpecificCredential(self, client: Any, params: dict[str, Any]) -> dict[str, Any]:
        credential, user_name = self._credential(client, "ResetServiceSpecificCredential", params)
        credential.secret = _password() if credential.alias is None else secrets.token_urlsafe(96)
        return _answer({"ServiceSpecificCredential": credential.with_secret(user_name)})

    def _DeleteServiceSpecificCredential(self, client: Any, params: dict[str, Any]) -> dict[str, Any]:
        credential, _ = self._credential(client, "DeleteServiceSpecificCredential", params)
        self.all().remove(credential)
        return _answer({})

    # -- helpers ---------------------------------------------------------------------------------------
    def _user(self, client: Any, operation: str, name: str) -> Any:
        user = _iam_backend(_account()).users.get(name)
        if user is None:
            raise _error(client, operation, "NoSuchEntityException", f"The user with name {name} cannot be found.")
        return user

    def _credential(self, client: Any, operation: str, params: dict[str, Any]) -> tuple[Credential, str]:
        credential_id = params["ServiceSpecificCredentialId"]
        if params.get("UserName"):
            user = self._user(client, operation, params["UserName"])
            candidates = self.of_user(user.id)
        else:
            candidates = self.all()
        found = next((c for c in candidates if c.id == credential_id), None)
        if found is None:
            raise _error(client, operation, "NoSuchEntityException", f"No such credential {credential_id} exists.")
        names = {u.id: u.name for u in _iam_backend(_account()).users.values()}
        return found, names.get(found.user_id, "")

    def _delete_user(self, client: Any, params: dict[str, Any], proceed: Proceed) -> Any:
        user = _iam_backend(_account()).users.get(params.get("UserName"))
        if user is not None and self.of_user(user.id):
            raise _error(
                client,
                "DeleteUser",
                "DeleteConflictException",
                "Cannot delete entity, must remove referenced objects first.",
            )
        return proceed()


@dataclass
class ConfigItem:
    captured: datetime
    document: dict[str, Any]


@dataclass
class RoleHistory:
    role_id: str
    role_name: str
    arn: str
    created: datetime
    items: list[ConfigItem] = field(default_factory=list)


@dataclass
class ConfigHistory:
    """What AWS Config recorded of the IAM roles a scenario or account file says it records."""

    roles: dict[tuple[str, str], RoleHistory] = field(default_factory=dict)  # (account, role id) -> history

    def declare(self, role: Any, account_id: str, items: list[ConfigItem]) -> RoleHistory:
        """Config records this role (moto's Role model): its declared items, and from now on each change the
        replayed history makes (`record`)."""
        history = self.roles.setdefault(
            (account_id, role.id),
            RoleHistory(role.id, role.name, role.arn, _aware(role.create_date)),
        )
        history.items.extend(items)
        history.items.sort(key=lambda item: item.captured)
        return history

    def records(self, account_id: str, role_id: str) -> bool:
        return (account_id, role_id) in self.roles

    def record(self, account_id: str, role_id: str, captured: datetime, document: dict[str, Any]) -> None:
        if self.records(account_id, role_id):
            history = self.roles[(account_id, role_id)]
            history.items.append(ConfigItem(captured, document))
            history.items.sort(key=lambda item: item.captured)

    def handle(self, client: Any, operation: str, params: dict[str, Any], proceed: Proceed) -> Any:
        if client.meta.service_model.service_name != "config" or operation != "GetResourceConfigHistory":
            return proceed()
        history = self.roles.get((_account(), str(params.get("resourceId"))))
        if params.get("resourceType") != "AWS::IAM::Role" or history is None:
            return proceed()
        _validate(client, operation, params)
        later = _aware(params.get("laterTime")) if params.get("laterTime") else None
        earlier = _aware(params.get("earlierTime")) if params.get("earlierTime") else None
        if later and earlier and earlier > later:
            raise _error(
                client, operation, "InvalidTimeRangeException", "The earlier time must be before the later time."
            )
        limit = int(params.get("limit") or 10)
        if not 0 <= limit <= 100:
            raise _error(client, operation, "InvalidLimitException", "The limit must be between 0 and 100.")
        items = [
            item
            for item in history.items
            if (later is None or item.captured <= later) and (earlier is None or item.captured >= earlier)
        ]
        if params.get("chronologicalOrder", "Reverse") == "Reverse":
            items.reverse()
        return _answer({"configurationItems": [self._item(history, item) for item in items[: limit or 10]]})

    def _item(self, history: RoleHistory, item: ConfigItem) -> dict[str, Any]:
        """A configuration item as Config writes it for AWS::IAM::Role: `configuration` is a JSON string whose
        assumeRolePolicyDocument is URL-encoded JSON."""
        configuration = {
            "path": "/",
            "roleName": history.role_name,
            "roleId": history.role_id,
            "arn": history.arn,
            "createDate": history.created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "assumeRolePolicyDocument": urllib.parse.quote(json.dumps(item.document)),
            "instanceProfileList": [],
            "rolePolicyList": [],
            "attachedManagedPolicies": [],
            "permissionsBoundary": None,
            "tags": [],
            "roleLastUsed": None,
        }
        text = json.dumps(configuration, sort_keys=True)
        return {
            "version": "1.3",
            "accountId": _account(),
            "configurationItemCaptureTime": item.captured,
            "configurationItemStatus": "OK",
            "configurationStateId": str(int(item.captured.timestamp() * 1000)),
            "configurationItemMD5Hash": "",
            "arn": history.arn,
            "resourceType": "AWS::IAM::Role",
            "resourceId": history.role_id,
            "resourceName": history.role_name,
            "awsRegion": "global",
            "availabilityZone": "Not Applicable",
            "resourceCreationTime": history.created,
            "tags": {},
            "relatedEvents": [],
            "relationships": [],
            "configuration": text,
            "supplementaryConfiguration": {},
        }


def _aware(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


Handler = Callable[[Any, str, dict[str, Any], Proceed], Any]


@dataclass
class Emulations:
    """The drill's answers, per simulated account; `installed()` hooks them under every botocore client."""

    service_specific_credentials: ServiceSpecificCredentials = field(default_factory=ServiceSpecificCredentials)
    config: ConfigHistory = field(default_factory=ConfigHistory)

    @property
    def handlers(self) -> list[Handler]:
        return [self.service_specific_credentials.handle, self.config.handle]

    @contextlib.contextmanager
    def installed(self) -> Iterator[Emulations]:
        original = botocore.client.BaseClient._make_api_call
        handlers = self.handlers

        def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            def chain(index: int) -> Any:
                if index == len(handlers):
                    return original(client, operation, params)
                return handlers[index](client, operation, params, lambda: chain(index + 1))

            return chain(0)

        botocore.client.BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]
        try:
            yield self
        finally:
            botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]
