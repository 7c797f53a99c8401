"""CloudTrail records as Calls: who made each (which credential), from where (its source), what it asked and
what it got. Pure.

A source is a network and a client family, never the whole user-agent string: AWS CLI v2 writes the command
into its agent (`md/command#iam.create-role`), the SDKs add per-call feature metrics (`m/Z,b`), and every tool
puts its version there, so the same owner's routine shows a new agent with each command. The network is the
address's /24 (IPv4) or /48 (IPv6); an AWS service that calls on the principal's behalf
(`cloudformation.amazonaws.com`) is its own network. Everything in a record is the caller's to write except
what CloudTrail itself fills in (userIdentity, sourceIPAddress, the time): the agent is only ever a hint.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from common.times import iso

MAX_AGENT_CHARS = 160

# Product tokens in the order they name the client: a tool that embeds an SDK (Terraform embeds
# aws-sdk-go-v2, the CDK CLI aws-sdk-js) is named by the tool, and the CLI by its major version.
_TOOLS = ("terraform", "aws-cdk", "pulumi", "cloudformation", "aws-cli", "boto3", "aws-sdk-", "botocore")
_GENERIC = frozenset(
    {"apn", "hashicorp", "ua", "os", "md", "lang", "exec-env", "cfg", "m", "api", "ft", "app", "sdk-ua-app-id"}
)
_TOKEN = re.compile(r"([A-Za-z][\w.+-]*)/(\S*)")
_SERVICE = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com(\.cn)?$")


def family(agent: str) -> str:
    """The client's product family: "aws-cli/2", "Boto3", "aws-sdk-go-v2", "Terraform", "console", ...;
    "unknown" when the record has no agent."""
    text = agent.strip()
    if not text:
        return "unknown"
    lowered = text.lower()
    if _SERVICE.match(lowered):
        return lowered  # an AWS service acting for the principal (CloudFormation, ...)
    if (
        lowered in ("aws internal", "signin.amazonaws.com", "console.amazonaws.com")
        or "console" in lowered.split("/", 1)[0]
    ):
        return "console"
    tokens = [(name, version) for name, version in _TOKEN.findall(text) if name.lower() not in _GENERIC]
    for tool in _TOOLS:
        for name, version in tokens:
            lower = name.lower()
            if lower == tool or (tool.endswith("-") and lower.startswith(tool)):
                if lower == "aws-cli":
                    return f"aws-cli/{version.split('.', 1)[0] or '?'}"
                if lower == "boto3":
                    return "Boto3"
                if lower == "botocore":
                    return "Botocore"
                if lower == "terraform":
                    return "Terraform"
                return lower
    if tokens:
        name = tokens[0][0]
        return "browser" if name.lower() == "mozilla" else name
    return text.split()[0][:40]


def network(ip: str) -> str:
    """Where a call came from, coarsely: "203.0.113.0/24", "2001:db8:1::/48", or the service's name."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ip.strip().lower() or "unknown"
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


@dataclass(frozen=True)
class Source:
    ip: str
    agent: str
    account: str = ""
    vpc_endpoint: str = ""
    vpc_endpoint_account: str = ""  # whose endpoint the call came through (another account's: not ours)

    @property
    def network(self) -> str:
        return network(self.ip)

    @property
    def family(self) -> str:
        return family(self.agent)

    def describe(self) -> str:
        via = f" through {self.vpc_endpoint}" if self.vpc_endpoint else ""
        return f"{self.ip}{via} (network {self.network}), client {self.family}"


@dataclass(frozen=True)
class Caller:
    """The credential behind a call, as CloudTrail recorded it (userIdentity): never what the caller sent."""

    type: str  # IAMUser, AssumedRole, FederatedUser, Root, AWSAccount, AWSService
    access_key_id: str = ""
    principal_id: str = ""  # AIDA... (user), AROA...:session (assumed role)
    arn: str = ""
    user_name: str = ""  # the IAM user's name (IAMUser)
    session_name: str = ""  # the role session's name (AssumedRole: for EC2 the instance id)
    role_name: str = ""  # the session's role (AssumedRole)
    account: str = ""

    def identifiers(self) -> frozenset[str]:
        """Every id under which a look-up or the reach may know this credential."""
        values = {self.access_key_id, self.principal_id, self.arn, self.user_name, self.session_name}
        return frozenset(value for value in values if value)


@dataclass(frozen=True)
class Call:
    event_id: str
    event_name: str
    event_source: str
    time: str  # ISO-8601 UTC, sorts as it reads
    region: str
    source: Source
    caller: Caller
    succeeded: bool
    error_code: str = ""
    request: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    response: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    resources: tuple[str, ...] = ()  # the record's resources[].ARN


def record_of(event: dict[str, Any]) -> dict[str, Any]:
    """The CloudTrail record inside a LookupEvents entry (a JSON string); {} if unreadable."""
    raw = event.get("CloudTrailEvent")
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def as_dict(value: Any) -> dict[str, Any]:
    """A record's object field, or {} when the record has anything else there (it is the caller's data)."""
    return value if isinstance(value, dict) else {}


def text(value: Any, limit: int = 2048) -> str:
    return value[:limit] if isinstance(value, str) else ""


def caller_of(record: dict[str, Any]) -> Caller:
    identity = as_dict(record.get("userIdentity"))
    kind = text(identity.get("type"), 64)
    arn = text(identity.get("arn"))
    principal = text(identity.get("principalId"), 256)
    issuer = as_dict(as_dict(identity.get("sessionContext")).get("sessionIssuer"))
    session = ""
    role = ""
    if kind == "AssumedRole":
        session = arn.rpartition("/")[2] if "/" in arn else principal.rpartition(":")[2]
        role = text(issuer.get("userName"), 64) or (arn.split("/")[1] if arn.count("/") >= 2 else "")
    elif kind == "FederatedUser":
        session = arn.rpartition("/")[2]
    return Caller(
        type=kind,
        access_key_id=text(identity.get("accessKeyId"), 128),
        principal_id=principal,
        arn=arn,
        user_name=text(identity.get("userName"), 64) if kind == "IAMUser" else "",
        session_name=session,
        role_name=role,
        account=text(identity.get("accountId"), 12),
    )


def calls_of(events: Iterable[dict[str, Any]]) -> list[Call]:
    """Every LookupEvents entry (or raw record) as a Call, oldest first, each event once (by id)."""
    calls: dict[str, Call] = {}
    for event in events:
        if not isinstance(event, dict):
            continue
        record = record_of(event) if "CloudTrailEvent" in event else event
        event_id = text(event.get("EventId") or record.get("eventID"), 128)
        if not event_id or event_id in calls:
            continue
        resources = tuple(
            text(item.get("ARN") or item.get("ResourceName"))
            for item in record.get("resources") or []
            if isinstance(item, dict) and (item.get("ARN") or item.get("ResourceName"))
        )
        calls[event_id] = Call(
            event_id=event_id,
            event_name=text(event.get("EventName") or record.get("eventName"), 128),
            event_source=text(record.get("eventSource") or event.get("EventSource"), 128),
            time=iso(event.get("EventTime") or record.get("eventTime")),
            region=text(event.get("Region") or record.get("awsRegion"), 32),
            source=Source(
                ip=text(record.get("sourceIPAddress"), 256) or "unknown",
                agent=text(record.get("userAgent"), 1024),
                account=text(as_dict(record.get("userIdentity")).get("accountId"), 12),
                vpc_endpoint=text(record.get("vpcEndpointId"), 64),
                vpc_endpoint_account=text(record.get("vpcEndpointAccountId"), 12),
            ),
            caller=caller_of(record),
            succeeded=not record.get("errorCode"),
            error_code=text(record.get("errorCode"), 128),
            request=as_dict(record.get("requestParameters")),
            response=as_dict(record.get("responseElements")),
            resources=resources,
        )
    return sorted(calls.values(), key=lambda call: (call.time, call.event_id))


def short(value: str, limit: int = MAX_AGENT_CHARS) -> str:
    """One bounded line of attacker-written text, cut at a word boundary with a marker."""
    line = " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1].rsplit(" ", 1)[0] or line[: limit - 1]
    return cut + "…"
