"""An account's history as a scenario file: who did what, when, with which credential, from where.

docs/drill.md describes the format; this module reads it (strict: an unknown field, a bad time or a
reference to something undeclared is a `HistoryError` naming it) and `drill.replay` stages it.

    {
      "description": "the owner's CI creates roles; after the exposure the attacker makes a user",
      "include": ["owner_ci_routine.json"],
      "users": [...], "roles": [...], "policies": [...],     # as in the --account file (drill/state.py)
      "keys": [{"id": "AKIAOLDKEY0000000001", "user": "${owner}", "status": "Inactive", "created": "-400d"}],
      "sources": {"office": {"ip": "82.165.177.154", "agent": "aws-cli-macos"}},
      "history": [
        {"at": "-3d", "by": "exposed", "from": "github-actions", "call": "CreateRole",
         "request": {"roleName": "payments-app", "assumeRolePolicyDocument": "{...}"}},
        {"at": "+4m", "by": "exposed", "from": "vps-go", "call": "AssumeRole",
         "request": {"roleArn": "arn:aws:iam::${account}:role/deploy", "roleSessionName": "s"},
         "session": "stolen"},
        {"at": "+5m", "by": "stolen", "from": "vps-go", "call": "CreateUser", "request": {"userName": "x"}}
      ]
    }

Times are relative to the exposure moment (Health's startTime, GuardDuty's service.eventFirstSeen) or absolute.
A file that is a JSON array of CloudTrail records, or {"Records": [...]}, is the older format
(`drill.scenario`): its records are moved after the exposure and made the exposed key's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from drill.state import IAM_NAME, Policy, Role, User
from drill.timeline import check_time

MINTING_CALLS = ("AssumeRole", "GetSessionToken", "GetFederationToken")


class HistoryError(ValueError):
    """The scenario cannot be staged: the message names the file, the entry and the field at fault."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Source(_Strict):
    """Where calls come from. `preset` starts from a named source (drill/sources.py); the fields given
    replace its parts."""

    preset: str | None = None
    ip: str | None = None  # one address for every call
    networks: list[str] = Field(default_factory=list)  # CIDRs: a new address for each call (hosted CI runners)
    agent: str | None = None  # an agent preset's name (drill/sources.py AGENTS), or a user agent as written
    vpc_endpoint: str | bool | None = None  # an id, or true: an interface endpoint in the instance's VPC

    @model_validator(mode="after")
    def _something(self) -> Source:
        if not (self.preset or self.ip or self.networks):
            raise ValueError("a source names a preset, an ip or networks")
        return self


class ExtraKey(_Strict):
    """Another access key of a user that exists before the history (the event's owner: "${owner}")."""

    id: str = Field(min_length=8, max_length=128, pattern=r"^\w+$")
    user: str
    status: Literal["Active", "Inactive"] = "Active"
    created: str | None = None

    @field_validator("created")
    @classmethod
    def _time(cls, value: str | None) -> str | None:
        return value if value is None else check_time(value)


class Entry(_Strict):
    """One CloudTrail record of the history: a `call` written here, or a raw `record` placed in time."""

    at: str
    by: str
    call: str | None = None  # the eventName
    service: str | None = None  # the eventSource's service ("iam", "sts", "s3"...), when the call's name is not enough
    from_: str | Source | None = Field(None, alias="from")
    region: str | None = None
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None  # merged over what the drill fills in
    error: str | None = None  # errorCode: the call failed and changed nothing
    error_message: str | None = None
    key: str | None = None  # CreateAccessKey: the name later entries use for the new key
    session: str | None = None  # AssumeRole / GetSessionToken / GetFederationToken: the new session's name
    record: dict[str, Any] | None = None  # a raw CloudTrail record (its identity, time and account are replaced)
    note: str | None = None  # for the reader; never written into the record

    @field_validator("at")
    @classmethod
    def _time(cls, value: str) -> str:
        return check_time(value)

    @model_validator(mode="after")
    def _shape(self) -> Entry:
        if (self.call is None) == (self.record is None):
            raise ValueError("an entry has exactly one of call or record")
        name = self.call or (self.record or {}).get("eventName")
        if self.call is not None and self.from_ is None:
            raise ValueError("a call says where it came from ('from')")
        if self.session is not None and name not in MINTING_CALLS:
            raise ValueError(f"'session' names the session a {'/'.join(MINTING_CALLS)} makes, not a {name}")
        if self.key is not None and name != "CreateAccessKey":
            raise ValueError("'key' names the key a CreateAccessKey makes")
        return self

    @property
    def event_name(self) -> str:
        return str(self.call or (self.record or {}).get("eventName") or "")


class History(_Strict):
    description: str = ""
    include: list[str] = Field(default_factory=list)
    users: list[User] = Field(default_factory=list)
    roles: list[Role] = Field(default_factory=list)
    policies: list[Policy] = Field(default_factory=list)
    keys: list[ExtraKey] = Field(default_factory=list)
    sources: dict[str, Source] = Field(default_factory=dict)
    # When the account's principals were made (the event's user and keys, and those declared here
    # without their own `created`): before the history, so none reads as new.
    created: str = "-180d"
    history: list[Entry] = Field(default_factory=list)
    # Set by the loader: the file (for the messages, and the seed of the sources' addresses).
    _origin: str = PrivateAttr("inline")

    @field_validator("created")
    @classmethod
    def _time(cls, value: str) -> str:
        return check_time(value)

    @property
    def origin(self) -> str:
        return self._origin

    @field_validator("sources")
    @classmethod
    def _source_names(cls, value: dict[str, Source]) -> dict[str, Source]:
        for name in value:
            if not re.fullmatch(IAM_NAME, name):
                raise ValueError(f"source name {name!r}: letters, digits and +=,.@_- only")
        return value


def is_history(data: Any) -> bool:
    """A scenario object (this format) rather than CloudTrail's own records."""
    return isinstance(data, dict) and "Records" not in data


def load_history(path: str | Path) -> History:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise HistoryError(f"{path}: {exc}") from None
    return parse_history(data, base=path.parent, origin=str(path))


def parse_history(data: Any, *, base: Path, origin: str = "inline", _seen: tuple[str, ...] = ()) -> History:
    """A scenario object, its `include`s merged in first (paths relative to `base`)."""
    try:
        history = History.model_validate(data)
    except ValidationError as exc:
        raise HistoryError(f"{origin}: {_summary(exc)}") from None
    merged = History(description=history.description, created=history.created)
    merged._origin = origin
    for name in history.include:
        path = (base / name).resolve()
        if str(path) in _seen:
            raise HistoryError(f"{origin}: include {name} includes itself")
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise HistoryError(f"{origin}: include {name}: {exc}") from None
        if not is_history(data):
            raise HistoryError(f"{origin}: include {name} is not a scenario object (raw records cannot be included)")
        _merge(merged, parse_history(data, base=path.parent, origin=str(path), _seen=(*_seen, str(path))), origin)
    _merge(merged, history, origin)
    return merged


def _merge(into: History, other: History, origin: str) -> None:
    for kind, key in (("users", "name"), ("roles", "name"), ("policies", "name"), ("keys", "id")):
        existing = {getattr(item, key) for item in getattr(into, kind)}
        for item in getattr(other, kind):
            if getattr(item, key) in existing:
                raise HistoryError(f"{origin}: {kind[:-1]} {getattr(item, key)} is declared twice (with its includes)")
            getattr(into, kind).append(item)
    for name, source in other.sources.items():
        if name in into.sources and into.sources[name] != source:
            raise HistoryError(f"{origin}: source {name} is declared twice, differently (with its includes)")
        into.sources[name] = source
    into.history.extend(other.history)


def _summary(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or '(top level)'}: {error['msg']}" for error in exc.errors()
    )
