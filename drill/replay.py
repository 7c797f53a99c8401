"""Stage a history scenario (drill.history) in the simulated account, and write its CloudTrail records.

In time order, each entry:
* is made by a credential of the account ("by"): the event's exposed keys (`exposed`, `exposed:2`), the
  instance's role session (`instance`), a key the scenario declares or a CreateAccessKey made, a session an
  AssumeRole / GetSessionToken / GetFederationToken made (`session`), or an AWS service (`service:NAME`);
* becomes the record CloudTrail writes for that principal (userIdentity as CloudTrail writes each type,
  read from the simulated account at that moment: a renamed user's later calls carry its new name), with
  the source's address and user agent (drill.sources);
* has its effect on the account when it is a successful IAM change: the call itself is made against the
  simulated account with the record's parameters, so moto mints the ids, which then fill responseElements,
  and the creation dates are set to the record's time. A call IAM refuses stops the staging with the reason:
  the scenario contradicts itself (write the entry with `error` if the call failed).

Every alias and the id it got is added to `staged.mapping` (the drill's `staged`): key aliases and the event's
key ids to AKIA ids, `session:NAME` to ASIA ids, `user:NAME` / `role:NAME` to AIDA / AROA ids.
"""

from __future__ import annotations

import copy
import json
import math
import secrets
import urllib.parse
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import botocore.session
from botocore import xform_name
from botocore.exceptions import ClientError

from common.times import iso
from drill.account import SimulatedAccount
from drill.emulation import ConfigItem
from drill.history import MINTING_CALLS, Entry, History, HistoryError
from drill.sources import Call, Context, Origin, resolve_source
from drill.staging import Staged, _owner_with_room
from drill.state import Policy, Role, User, _aws_managed, _stage_iam
from drill.timeline import exposure_moment, resolve_time

IAM_REGION = "us-east-1"  # IAM is global: CloudTrail records its calls in us-east-1
# The services whose models are searched, in this order, for an entry's `call` when it names no `service`.
SERVICES = ("iam", "sts", "ec2", "s3", "lambda", "secretsmanager", "ssm", "kms", "cloudtrail", "organizations",
            "cloudformation", "logs", "dynamodb", "sns", "sqs", "guardduty", "config", "ses", "sso", "ecr")  # fmt: skip
READ_ONLY = ("Get", "List", "Describe", "Generate", "Simulate", "Lookup", "Head")
SECRETS = {"SecretAccessKey", "ServicePassword", "ServiceCredentialSecret", "Password"}
DOCUMENTS = ("policyDocument", "assumeRolePolicyDocument", "policy")
INSTANCE_SESSION_HOURS = 6  # EC2 hands an instance a new role session (and key) about every six hours
NAMESPACE = uuid.UUID("0f5a6d84-6a4b-4a55-9a58-2f7d4b1c9e10")


@dataclass
class Credential:
    alias: str
    kind: str  # "key" | "user-session" | "role-session" | "federated" | "instance" | "service"
    access_key_id: str | None = None
    user_id: str | None = None  # keys and user sessions: the user's unique id (a rename keeps it)
    role_id: str | None = None
    role_name: str | None = None
    role_arn: str | None = None
    session_name: str | None = None
    issued: datetime | None = None
    service: str | None = None  # "service:NAME": an AWS service acting itself


def naive(moment: datetime) -> datetime:
    """moto keeps its dates as naive UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def cloudtrail_date(moment: datetime, comma: bool = False) -> str:
    """How CloudTrail writes dates inside responseElements: "Aug 1, 2024 1:33:28 PM" (a credential's
    expiration has a second comma: "Jul 30, 2024, 9:46:15 PM")."""
    moment = moment.astimezone(UTC)
    hour = moment.hour % 12 or 12
    return f"{moment:%b} {moment.day}, {moment.year}{',' if comma else ''} {hour}:{moment:%M:%S} {moment:%p}"


@cache
def _real_regions() -> frozenset[str]:
    """A public record's invented region (the anonymized detonation logs) is not one of these."""
    return frozenset(botocore.session.get_session().get_available_regions("ec2"))


@cache
def _service_model(name: str) -> Any:
    return botocore.session.get_session().get_service_model(name)


def service_of(event_name: str) -> str:
    """The service whose API has this operation (its endpoint prefix, as the event source names it)."""
    for name in SERVICES:
        model = _service_model(name)
        if event_name in model.operation_names:
            return str(model.endpoint_prefix)
    raise HistoryError(f"{event_name}: no such call in {', '.join(SERVICES)}; name the entry's 'service'")


def to_api(shape: Any, value: Any) -> Any:
    """requestParameters as CloudTrail writes them (lowerCamelCase, documents as text) -> API parameters."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = {name.lower(): name for name in shape.members}
        return {
            members[key.lower()]: to_api(shape.members[members[key.lower()]], item)
            for key, item in value.items()
            if key.lower() in members and item is not None
        }
    if kind == "list" and isinstance(value, list):
        return [to_api(shape.member, item) for item in value]
    if kind == "boolean" and isinstance(value, str):
        return value.lower() == "true"
    if kind in ("integer", "long") and isinstance(value, str):
        return int(value)
    if kind == "string" and isinstance(value, dict | list):
        return json.dumps(value)
    return value


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def response_elements(value: Any, moment: datetime) -> Any:
    """An API response as CloudTrail writes it in responseElements: lowerCamelCase, no secrets, dates as
    CloudTrail prints them (the record's own time: moto's are the staging's), documents URL-encoded."""
    if isinstance(value, dict):
        converted = {
            _lower_first(key): (
                urllib.parse.quote(json.dumps(item)) if key.endswith("PolicyDocument") and isinstance(item, dict)
                else response_elements(item, moment)
            )
            for key, item in value.items()
            if key not in SECRETS and key != "ResponseMetadata"
        }  # fmt: skip
        return converted or None
    if isinstance(value, list):
        return [response_elements(item, moment) for item in value]
    if isinstance(value, datetime):
        return cloudtrail_date(moment)
    return value


def _substitute(value: Any, names: dict[str, str], aliases: dict[str, str]) -> Any:
    """${account}, ${region}, ${owner}, ${instance} in every string; a value that is exactly a key's alias
    becomes its id (a request naming "old-key" names the key moto minted)."""
    if isinstance(value, dict):
        return {key: _substitute(item, names, aliases) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, names, aliases) for item in value]
    if isinstance(value, str):
        if value in aliases:
            return aliases[value]
        for name, replacement in names.items():
            value = value.replace("${" + name + "}", replacement)
    return value


def _certificate() -> str:
    """A self-signed X.509 certificate (UploadSigningCertificate takes only a well-formed one)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signing")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _ssh_public_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    body = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return body.decode() + " deploy@build"


def settle(account: SimulatedAccount, staged: Staged, *, default_created: str | None = None) -> None:
    """What needs the exposure moment: the declared creation dates and the roles' recorded trust history.
    With `default_created`, every principal already in the account is first dated then (a history's account
    existed before it), the declared dates afterwards."""
    from moto.iam.models import iam_backends

    if default_created is None and not staged.settle:
        return
    exposure = exposure_moment(staged.event)
    backend = iam_backends[account.account_id]["global"]
    if default_created is not None:
        moment = naive(resolve_time(default_created, exposure))
        for user in backend.users.values():
            user.create_date = moment
            for key in user.access_keys:
                key.create_date = moment
        for role in backend.roles.values():
            role.create_date = moment
    for kind, name, value in staged.settle:
        if kind == "user" and name in backend.users:
            backend.users[name].create_date = naive(resolve_time(value, exposure))
        elif kind == "key":
            for user in backend.users.values():
                for key in user.access_keys:
                    if key.access_key_id == name:
                        key.create_date = naive(resolve_time(value, exposure))
        elif kind == "role":
            role = _role_named(backend, name)
            if role is not None:
                role.create_date = naive(resolve_time(value, exposure))
        elif kind == "trust_history":
            role = _role_named(backend, name)
            if role is not None:
                items = [ConfigItem(resolve_time(item.at, exposure), item.document) for item in value]
                account.emulations.config.declare(role, account.account_id, items)
    staged.settle.clear()


def _role_named(backend: Any, name: str) -> Any:
    return next((role for role in backend.roles.values() if role.name == name), None)


class Replay:
    def __init__(self, account: SimulatedAccount, staged: Staged, history: History) -> None:
        from moto.iam.models import iam_backends

        self.account = account
        self.staged = staged
        self.history = history
        self.account_id = account.account_id
        self.iam = account.client("iam")
        self.backend = iam_backends[account.account_id]["global"]
        self.exposure = exposure_moment(staged.event)
        self.credentials: dict[str, Credential] = {}
        self.key_aliases: dict[str, str] = {}  # alias or event id -> minted key id
        self.records: list[dict[str, Any]] = []
        self.instance_keys: dict[int, str] = {}
        self.endpoints: dict[str, str] = {}
        self.event_ids: set[str] = set()
        self.names: dict[str, str] = {"account": self.account_id, "region": staged.region}

    # -- the run --------------------------------------------------------------------------------------------
    def run(self) -> list[dict[str, Any]]:
        self._declare()
        settle(self.account, self.staged, default_created=self.history.created)
        self._known_credentials()
        context = Context(
            origin=self.history.origin, addresses=self._event_addresses(), vpc_endpoint=self._vpc_endpoint
        )
        timed = sorted(
            ((resolve_time(entry.at, self.exposure), index, entry) for index, entry in enumerate(self.history.history)),
            key=lambda item: (item[0], item[1]),
        )
        for moment, index, entry in timed:
            where = f"{self.history.origin}: history[{index}] {entry.event_name} at {entry.at}"
            try:
                self._replay(index, entry, moment, context)
            except HistoryError as exc:
                raise HistoryError(f"{where}: {exc}") from None
        created_roles = self.staged.created.setdefault("roles", [])
        self.staged.created["roles"] = list(dict.fromkeys(created_roles))
        self.staged.notes.append(
            f"history {self.history.origin}: {len(self.records)} CloudTrail record(s) from "
            f"{iso(timed[0][0]) if timed else '-'} to {iso(timed[-1][0]) if timed else '-'} "
            f"(exposure {iso(self.exposure)})"
        )
        return self.records

    def _declare(self) -> None:
        """The principals the scenario declares, and the other keys of users that already exist."""
        history, staged = self.history, self.staged
        for user in history.users:
            if user.name in self.backend.users:
                raise HistoryError(
                    f"{history.origin}: user {user.name} already exists (the event's, or the account file's): "
                    "declare its other keys under 'keys'"
                )
        for role in history.roles:
            if _role_named(self.backend, role.name) is not None:
                raise HistoryError(f"{history.origin}: role {role.name} already exists (the event's or the account's)")
        declared = Staged(event=None, region=staged.region)
        names = {**self.names, **({"owner": owner} if (owner := self._owner_name()) else {})}
        policies = [Policy.model_validate(_substitute(p.model_dump(), names, {})) for p in history.policies]
        users = [User.model_validate(_substitute(u.model_dump(), names, {})) for u in history.users]
        roles = [Role.model_validate(_substitute(r.model_dump(), names, {})) for r in history.roles]
        try:
            _stage_iam(self.iam, self.account_id, policies, users, roles, declared)
        except ClientError as exc:
            raise HistoryError(f"{history.origin}: {exc}") from None
        staged.mapping.update(declared.mapping)
        staged.users.extend(u for u in declared.users if u not in staged.users)
        staged.declared_users.update(declared.declared_users)
        staged.settle.extend(declared.settle)
        staged.created.setdefault("roles", []).extend(declared.roles)
        for user in history.users:
            staged.mapping[f"user:{user.name}"] = self.backend.users[user.name].id
        for role in history.roles:
            staged.mapping[f"role:{role.name}"] = _role_named(self.backend, role.name).id
        for key in history.keys:
            holder = key.user.replace("${owner}", owner or "")
            if holder not in self.backend.users:
                raise HistoryError(f"{history.origin}: key {key.id}: no user {holder} in the account")
            if _owner_with_room(self.iam, staged, holder) != holder:
                raise HistoryError(f"{history.origin}: key {key.id}: {holder} already holds IAM's two keys")
            minted = self.iam.create_access_key(UserName=holder)["AccessKey"]["AccessKeyId"]
            if key.status == "Inactive":
                self.iam.update_access_key(UserName=holder, AccessKeyId=minted, Status="Inactive")
            staged.mapping[key.id] = minted
            if key.created:
                staged.settle.append(("key", minted, key.created))
            staged.notes.append(f"key {key.id} of {holder} staged as {minted} ({key.status})")

    def _owner_name(self) -> str | None:
        if not self.staged.access_key_ids:
            return None
        owner = self._key_owner(self.staged.access_key_ids[0])
        return owner.name if owner is not None else None

    def _key_owner(self, key_id: str) -> Any:
        return next(
            (user for user in self.backend.users.values() for key in user.access_keys if key.access_key_id == key_id),
            None,
        )

    def _known_credentials(self) -> None:
        for index, key_id in enumerate(self.staged.access_key_ids):
            aliases = [f"exposed:{index + 1}"] + (["exposed"] if index == 0 else [])
            for alias in aliases:
                self._add_key(alias, key_id)
        for original, minted in self.staged.mapping.items():
            if minted.startswith("AKIA"):
                self._add_key(original, minted)
        if owner := self._owner_name():
            self.names["owner"] = owner
        if self.staged.instances:
            self.names["instance"] = self.staged.instances[0]
            role = self._instance_role()
            if role is not None:
                self.credentials["instance"] = Credential(
                    "instance",
                    "instance",
                    role_id=role.id,
                    role_name=role.name,
                    role_arn=role.arn,
                    session_name=self.staged.instances[0],
                )

    def _add_key(self, alias: str, key_id: str) -> None:
        owner = self._key_owner(key_id)
        self.key_aliases[alias] = key_id
        self.credentials[alias] = Credential(alias, "key", access_key_id=key_id, user_id=owner.id if owner else None)

    def _instance_role(self) -> Any:
        for name in self.staged.roles:
            role = _role_named(self.backend, name)
            if role is not None:
                return role
        return None

    def _event_addresses(self) -> dict[str, str]:
        """The addresses the presets take from the event: the instance's, the finding's remote caller, the attack
        sequence's endpoint."""

        def part(parent: dict[str, Any], key: str) -> dict[str, Any]:
            value = parent.get(key)
            return value if isinstance(value, dict) else {}

        event = self.staged.event if isinstance(self.staged.event, dict) else {}
        detail = part(event, "detail")
        found: dict[str, str] = {}
        instance = part(part(detail, "resource"), "instanceDetails")
        interfaces = [eni for eni in instance.get("networkInterfaces") or [] if isinstance(eni, dict)]
        if interfaces:
            if interfaces[0].get("publicIp"):
                found["instance-public"] = interfaces[0]["publicIp"]
            if interfaces[0].get("privateIpAddress"):
                found["instance-private"] = interfaces[0]["privateIpAddress"]
        service = part(detail, "service")
        remote = part(part(part(service, "action"), "awsApiCallAction"), "remoteIpDetails").get("ipAddressV4")
        if isinstance(remote, str):
            found["finding-remote"] = remote
        sequence = part(part(service, "detection"), "sequence")
        endpoints = [e for e in sequence.get("endpoints") or [] if isinstance(e, dict) and e.get("ip")]
        if endpoints:
            found["sequence-endpoint"] = endpoints[0]["ip"]
        if self.staged.instances and not ({"instance-public", "instance-private"} & set(found)):
            # An event that names no instance (an account file declared it): the simulated instance's own.
            ec2 = self.account.client("ec2", self.staged.region)
            reservations = ec2.describe_instances(InstanceIds=self.staged.instances[:1])["Reservations"]
            launched = reservations[0]["Instances"][0]
            for preset, field in (("instance-public", "PublicIpAddress"), ("instance-private", "PrivateIpAddress")):
                if launched.get(field):
                    found[preset] = launched[field]
        return found

    def _vpc_endpoint(self, service: str) -> str:
        """An interface endpoint of the instance's VPC for this service, made once (moto mints its id)."""
        if service in self.endpoints:
            return self.endpoints[service]
        if not self.staged.instances:
            raise HistoryError("a VPC endpoint needs the instance the event names")
        ec2 = self.account.client("ec2", self.staged.region)
        instance = ec2.describe_instances(InstanceIds=self.staged.instances[:1])["Reservations"][0]["Instances"][0]
        endpoint = ec2.create_vpc_endpoint(
            VpcId=instance["VpcId"],
            ServiceName=f"com.amazonaws.{self.staged.region}.{service}",
            VpcEndpointType="Interface",
            SubnetIds=[instance["SubnetId"]],
        )["VpcEndpoint"]["VpcEndpointId"]
        self.endpoints[service] = endpoint
        self.staged.mapping[f"vpce:{service}"] = endpoint
        self.staged.notes.append(f"interface VPC endpoint {endpoint} for {service} in {instance['VpcId']}")
        return endpoint

    # -- one entry ------------------------------------------------------------------------------------------
    def _replay(self, index: int, entry: Entry, moment: datetime, context: Context) -> None:
        credential = self._credential(entry.by)
        for alias in (entry.session, entry.key):
            if alias is not None and (alias in self.credentials or alias.startswith("service:")):
                raise HistoryError(f"{alias!r} already names a credential: give the new one its own name")
        raw = copy.deepcopy(entry.record) if entry.record is not None else None
        name = entry.event_name
        if raw is not None:
            service = entry.service or str(raw.get("eventSource", "")).split(".")[0] or service_of(name)
        else:
            service = entry.service or service_of(name)
        recorded = str((raw or {}).get("awsRegion", ""))
        region = entry.region or (
            IAM_REGION if service == "iam" else recorded if recorded in _real_regions() else self.staged.region
        )
        request = _substitute(
            entry.request if entry.request is not None else (raw or {}).get("requestParameters"),
            self.names,
            self.key_aliases,
        )
        request = _documents_as_text(request)
        call = Call(event_name=name, service=service, region=region, index=index)
        if entry.from_ is not None:
            origin = resolve_source(entry.from_, declared=self.history.sources, context=context).at(call)
        elif raw is not None:
            origin = Origin(ip=str(raw.get("sourceIPAddress", "")), agent=str(raw.get("userAgent", "")))
        else:
            raise HistoryError("no source")
        error = entry.error or (raw or {}).get("errorCode")
        record = self._record(index, raw, credential, moment, name, service, region, origin, request, entry)
        response: Any = None
        if not error:
            if name in MINTING_CALLS:
                response = self._mint(entry, credential, moment, record, request or {})
            elif service == "iam" and not name.startswith(READ_ONLY):
                response = self._apply(entry, credential, moment, name, request or {})
            self._last_used(credential, moment, service, region)
        else:
            record["errorCode"] = error
            record["errorMessage"] = entry.error_message or (raw or {}).get("errorMessage") or _message(error, name)
        supplied = _substitute(entry.response if entry.response is not None else None, self.names, self.key_aliases)
        if raw is not None and response is None and not supplied and not error:
            response = _substitute(raw.get("responseElements"), self.names, self.key_aliases)
        if supplied:
            response = _merged(response or {}, supplied)
        record["responseElements"] = response if response else None
        self.records.append(record)

    def _credential(self, alias: str) -> Credential:
        if alias.startswith("service:"):
            return Credential(alias, "service", service=alias.removeprefix("service:"))
        if alias in self.credentials:
            return self.credentials[alias]
        known = ", ".join(sorted([*self.credentials, "service:NAME"]))
        raise HistoryError(f"'by': {alias!r} is no credential of the account at that time (known: {known})")

    def _identity(self, credential: Credential, moment: datetime, origin: Origin) -> dict[str, Any]:
        account = self.account_id
        if credential.kind == "service":
            return {"type": "AWSService", "invokedBy": credential.service}
        if credential.kind in ("key", "user-session", "federated"):
            user = self._user_by_id(credential.user_id)
            if user is None:
                raise HistoryError(f"{credential.alias}: its user no longer exists at that time")
        identity: dict[str, Any]
        if credential.kind in ("key", "user-session"):
            identity = {
                "type": "IAMUser",
                "principalId": user.id,
                "arn": user.arn,
                "accountId": account,
                "accessKeyId": credential.access_key_id,
                "userName": user.name,
            }
            if credential.kind == "user-session":
                identity["sessionContext"] = {
                    "sessionIssuer": {},
                    "webIdFederationData": {},
                    "attributes": {"creationDate": iso(credential.issued or moment), "mfaAuthenticated": "false"},
                }
        elif credential.kind == "federated":
            identity = {
                "type": "FederatedUser",
                "principalId": f"{account}:{credential.session_name}",
                "arn": f"arn:aws:sts::{account}:federated-user/{credential.session_name}",
                "accountId": account,
                "accessKeyId": credential.access_key_id,
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "IAMUser",
                        "principalId": user.id,
                        "arn": user.arn,
                        "accountId": account,
                        "userName": user.name,
                    },
                    "webIdFederationData": {},
                    "attributes": {"creationDate": iso(credential.issued or moment), "mfaAuthenticated": "false"},
                },
            }
        else:  # a role session: one the scenario minted, or the instance's
            key_id, issued = credential.access_key_id, credential.issued
            if credential.kind == "instance":
                key_id, issued = self._instance_key(moment)
            identity = {
                "type": "AssumedRole",
                "principalId": f"{credential.role_id}:{credential.session_name}",
                "arn": f"arn:aws:sts::{account}:assumed-role/{credential.role_name}/{credential.session_name}",
                "accountId": account,
                "accessKeyId": key_id,
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "Role",
                        "principalId": credential.role_id,
                        "arn": credential.role_arn,
                        "accountId": account,
                        "userName": credential.role_name,
                    },
                    "webIdFederationData": {},
                    "attributes": {"creationDate": iso(issued or moment), "mfaAuthenticated": "false"},
                },
            }
            if credential.kind == "instance":
                identity["sessionContext"]["ec2RoleDelivery"] = "2.0"
        if origin.invoked_by_service:
            identity["invokedBy"] = origin.agent
        return identity

    def _instance_key(self, moment: datetime) -> tuple[str, datetime]:
        """The instance's session key at that moment: the finding's from three hours before the exposure on;
        before that, the key of each earlier six-hour session (EC2 rotates them)."""
        start = self.exposure - timedelta(hours=3)
        if moment >= start:
            detail = self.staged.event.get("detail", {}) if isinstance(self.staged.event, dict) else {}
            key = ((detail.get("resource") or {}).get("accessKeyDetails") or {}).get("accessKeyId")
            if key:
                return str(key), start
            slot = 0
        else:
            slot = math.ceil((start - moment) / timedelta(hours=INSTANCE_SESSION_HOURS))
        if slot not in self.instance_keys:
            self.instance_keys[slot] = self._session_key()
        return self.instance_keys[slot], start - timedelta(hours=INSTANCE_SESSION_HOURS * slot)

    def _session_key(self) -> str:
        from moto.iam.utils import generate_access_key_id_from_account_id

        return str(generate_access_key_id_from_account_id(self.account_id, prefix="ASIA", total_length=20))

    def _user_by_id(self, user_id: str | None) -> Any:
        return next((user for user in self.backend.users.values() if user.id == user_id), None)

    def _record(
        self,
        index: int,
        raw: dict[str, Any] | None,
        credential: Credential,
        moment: datetime,
        name: str,
        service: str,
        region: str,
        origin: Origin,
        request: Any,
        entry: Entry,
    ) -> dict[str, Any]:
        event_id = str(uuid.uuid5(NAMESPACE, f"{self.history.origin}:{index}"))
        if raw is not None and raw.get("eventID") and raw["eventID"] not in self.event_ids:
            event_id = raw["eventID"]
        self.event_ids.add(event_id)
        record: dict[str, Any] = {
            "eventVersion": (raw or {}).get("eventVersion", "1.11"),
            "userIdentity": self._identity(credential, moment, origin),
            "eventTime": iso(moment),
            "eventSource": f"{service}.amazonaws.com",
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": origin.ip,
            "userAgent": origin.agent,
            "requestParameters": request if request else None,
            "responseElements": None,
            "requestID": str(uuid.uuid5(NAMESPACE, f"{self.history.origin}:{index}:request")),
            "eventID": event_id,
            "readOnly": name.startswith(READ_ONLY) or name == "AssumeRole",
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": self.account_id,
            "eventCategory": "Management",
        }
        if raw is not None:
            for key, value in raw.items():
                if key not in record and key not in ("errorCode", "errorMessage", "tlsDetails", "vpcEndpointId"):
                    record[key] = _substitute(value, self.names, self.key_aliases)
        if origin.vpc_endpoint:
            record["vpcEndpointId"] = origin.vpc_endpoint
            record["vpcEndpointAccountId"] = self.account_id
        if not origin.invoked_by_service and credential.kind != "service":
            host = "iam.amazonaws.com" if service == "iam" else f"{service}.{region}.amazonaws.com"
            record["tlsDetails"] = {
                "tlsVersion": "TLSv1.3",
                "cipherSuite": "TLS_AES_128_GCM_SHA256",
                "clientProvidedHostHeader": host,
            }
        return record

    # -- effects --------------------------------------------------------------------------------------------
    def _mint(
        self, entry: Entry, caller: Credential, moment: datetime, record: dict[str, Any], request: dict[str, Any]
    ) -> dict[str, Any]:
        """A session made with the caller's credential: its own ASIA key, and the identity CloudTrail writes
        for its later calls."""
        key_id = self._session_key()
        duration = int(request.get("durationSeconds") or 3600)
        credentials = {
            "accessKeyId": key_id,
            "sessionToken": "IQoJb3JpZ2luX2Vj" + secrets.token_urlsafe(240),
            "expiration": cloudtrail_date(moment + timedelta(seconds=duration), comma=True),
        }
        name = entry.event_name
        if name == "AssumeRole":
            arn = str(request.get("roleArn") or "")
            role = next((r for r in self.backend.roles.values() if r.arn == arn), None)
            if role is None:
                raise HistoryError(f"AssumeRole: no role {arn or '(roleArn missing)'} in the simulated account")
            session_name = str(request.get("roleSessionName") or f"botocore-session-{int(moment.timestamp())}")
            request.setdefault("roleSessionName", session_name)
            record["requestParameters"] = request
            record["resources"] = [{"accountId": self.account_id, "type": "AWS::IAM::Role", "ARN": role.arn}]
            session = Credential(
                entry.session or f"session:{key_id}",
                "role-session",
                access_key_id=key_id,
                role_id=role.id,
                role_name=role.name,
                role_arn=role.arn,
                session_name=session_name,
                issued=moment,
            )
            assumed = {
                "assumedRoleId": f"{role.id}:{session_name}",
                "arn": f"arn:aws:sts::{self.account_id}:assumed-role/{role.name}/{session_name}",
            }
            response: dict[str, Any] = {"credentials": credentials, "assumedRoleUser": assumed}
            self.staged.created.setdefault("roles", []).append(role.name)
        else:
            if caller.kind != "key":
                raise HistoryError(f"{name} is made with an IAM user's access key, not by {caller.alias}")
            if name == "GetSessionToken":
                session = Credential(
                    entry.session or f"session:{key_id}",
                    "user-session",
                    access_key_id=key_id,
                    user_id=caller.user_id,
                    issued=moment,
                )
                response = {"credentials": credentials}
            else:
                federated = str(request.get("name") or "")
                if not federated:
                    raise HistoryError("GetFederationToken needs request.name")
                session = Credential(
                    entry.session or f"session:{key_id}",
                    "federated",
                    access_key_id=key_id,
                    user_id=caller.user_id,
                    session_name=federated,
                    issued=moment,
                )
                response = {
                    "credentials": credentials,
                    "federatedUser": {
                        "federatedUserId": f"{self.account_id}:{federated}",
                        "arn": f"arn:aws:sts::{self.account_id}:federated-user/{federated}",
                    },
                    "packedPolicySize": 6 if request.get("policy") else 0,
                }
        if entry.session:
            self.credentials[entry.session] = session
            self.staged.mapping[f"session:{entry.session}"] = key_id
        return response

    def _apply(self, entry: Entry, caller: Credential, moment: datetime, name: str, request: dict[str, Any]) -> Any:
        """The IAM call made against the simulated account, with the record's parameters."""
        try:
            operation = self.iam.meta.service_model.operation_model(name)
        except Exception:
            raise HistoryError(f"{name}: not an IAM call") from None
        params = to_api(operation.input_shape, request)
        caller_user = self._user_by_id(caller.user_id) if caller.user_id else None
        if name == "CreateAccessKey" and "UserName" not in params:
            if caller_user is None:
                raise HistoryError("CreateAccessKey without userName is made by an IAM user (for itself)")
            params["UserName"] = caller_user.name
            request["userName"] = caller_user.name
        if name == "UpdateAccessKey" and "UserName" not in params:
            owner = self._key_owner(str(params.get("AccessKeyId")))
            if owner is not None:
                params["UserName"] = owner.name
        if name == "CreateLoginProfile" and "Password" not in params:
            params["Password"] = "Drill-" + secrets.token_urlsafe(18) + "1!"  # CloudTrail never records it
        if name == "UpdateLoginProfile" and "Password" not in params:
            params["Password"] = "Drill-" + secrets.token_urlsafe(18) + "2!"
        if name == "UploadSigningCertificate" and "CertificateBody" not in params:
            params["CertificateBody"] = _certificate()
        if name == "UploadSSHPublicKey" and "SSHPublicKeyBody" not in params:
            params["SSHPublicKeyBody"] = _ssh_public_key()
            request["sSHPublicKeyBody"] = params["SSHPublicKeyBody"]
        arn = str(params.get("PolicyArn", ""))
        if arn.startswith("arn:aws:iam::aws:policy/"):
            try:
                _aws_managed(self.account_id, arn)
            except ValueError as exc:
                raise HistoryError(str(exc)) from None
        old_user = self.backend.users.get(str(params.get("UserName"))) if name == "UpdateUser" else None
        try:
            response = getattr(self.iam, xform_name(name))(**params)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise HistoryError(
                f"IAM refused it ({error.get('Code')}: {error.get('Message')}): the scenario contradicts itself "
                "(write the entry with 'error' if the call failed)"
            ) from None
        except NotImplementedError:
            self.staged.notes.append(f"{name} recorded; its effect is not staged (moto does not implement it)")
            return None
        self._after(entry, name, params, response, moment, old_user)
        return response_elements(response, moment)

    def _after(
        self,
        entry: Entry,
        name: str,
        params: dict[str, Any],
        response: dict[str, Any],
        moment: datetime,
        old_user: Any,
    ) -> None:
        """The call's time on what it made, and the drill's bookkeeping (`staged`, `observed`)."""
        staged, backend, when = self.staged, self.backend, naive(moment)
        user = backend.users.get(str(params.get("UserName")))
        roles = staged.created.setdefault("roles", [])
        if name == "CreateUser" and user is not None:
            user.create_date = when
            staged.users.append(user.name)
            staged.mapping[f"user:{user.name}"] = user.id
        elif name == "UpdateUser" and old_user is not None:
            new = old_user.name
            staged.users = [new if listed == params["UserName"] else listed for listed in staged.users]
            staged.mapping[f"user:{new}"] = old_user.id
            staged.notes.append(f"user {params['UserName']} renamed {new} (id {old_user.id})")
        elif name == "CreateAccessKey":
            key_id = response["AccessKey"]["AccessKeyId"]
            for key in backend.users[response["AccessKey"]["UserName"]].access_keys:
                if key.access_key_id == key_id:
                    key.create_date = when
            if response["AccessKey"]["UserName"] not in staged.users:
                staged.users.append(response["AccessKey"]["UserName"])
            aliases = [entry.key] if entry.key else []
            original = ((entry.response or {}).get("accessKey") or {}).get("accessKeyId")
            if original:
                aliases.append(original)
            for alias in aliases or [key_id]:
                self._add_key(alias, key_id)
                staged.mapping[alias] = key_id
        elif name == "CreateLoginProfile" and user is not None:
            user.login_profile_create_date = when
        elif name == "UploadSSHPublicKey" and user is not None:
            for ssh_key in user.ssh_public_keys:
                if ssh_key.ssh_public_key_id == response["SSHPublicKey"]["SSHPublicKeyId"]:
                    ssh_key.upload_date = when
        elif name == "UploadSigningCertificate" and user is not None:
            certificate = user.signing_certificates.get(response["Certificate"]["CertificateId"])
            if certificate is not None:
                certificate.upload_date = when
        elif name == "CreateServiceSpecificCredential":
            credential_id = response["ServiceSpecificCredential"]["ServiceSpecificCredentialId"]
            for credential in self.account.emulations.service_specific_credentials.all(self.account_id):
                if credential.id == credential_id:
                    credential.created = moment.astimezone(UTC)
        elif name == "CreatePolicy":
            policy = backend.managed_policies.get(response["Policy"]["Arn"])
            if policy is not None:
                policy.create_date = when
        if "RoleName" in params:
            role = _role_named(backend, str(params["RoleName"]))
            if role is not None:
                roles.append(role.name)
                staged.mapping.setdefault(f"role:{role.name}", role.id)
                if name == "CreateRole":
                    role.create_date = when
                document = params.get("PolicyDocument") if name == "UpdateAssumeRolePolicy" else None
                if name == "CreateRole":
                    document = params.get("AssumeRolePolicyDocument")
                if document is not None:
                    self.account.emulations.config.record(
                        self.account_id, role.id, moment + timedelta(minutes=1), json.loads(document)
                    )

    def _last_used(self, credential: Credential, moment: datetime, service: str, region: str) -> None:
        """GetAccessKeyLastUsed: a key's latest call, as the history has it."""
        if credential.kind != "key" or not credential.access_key_id:
            return
        from moto.iam.models import AccessKeyLastUsed

        for user in self.backend.users.values():
            for key in user.access_keys:
                if key.access_key_id != credential.access_key_id:
                    continue
                last = key.last_used
                if last is None or naive(moment) > last.timestamp:
                    key.last_used = AccessKeyLastUsed(naive(moment), service, region)


def _documents_as_text(request: Any) -> Any:
    """Policy documents written as objects become the text CloudTrail records."""
    if not isinstance(request, dict):
        return request
    return {
        key: json.dumps(value) if key in DOCUMENTS and isinstance(value, dict) else value
        for key, value in request.items()
    }


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """responseElements: what the drill filled, with what the entry wrote laid over it."""
    merged = dict(base)
    for key, value in extra.items():
        nested = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merged(merged[key], value) if nested else value
    return merged


def _message(code: str, name: str) -> str:
    if code in ("AccessDenied", "Client.UnauthorizedOperation", "AccessDeniedException"):
        return f"User is not authorized to perform: {name}"
    return code
