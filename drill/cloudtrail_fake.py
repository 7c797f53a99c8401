"""A fake CloudTrail client serving LookupEvents from raw CloudTrail records, for the tests and the drill.

moto does not implement LookupEvents, so the investigation's client factory is handed these instead:

    records = load_scenario("leaked_user_key_backdoor.json")
    fake = FakeCloudTrail(records, page_size=2, throttle_first=1)
    fake.lookup_events(LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": "AKIA..."}])

    factory = FakeCloudTrailFactory(records, disabled={"eu-south-1": "UnrecognizedClientException"})
    factory("us-east-1")            # one FakeCloudTrail per region, serving the records of that region
    factory.clients["us-east-1"].calls

Behaves like the API where the investigation depends on it: one lookup attribute per call (AccessKeyId,
Username, EventName, EventId, EventSource, ReadOnly, ResourceName, ResourceType), StartTime/EndTime
inclusive, newest first, MaxResults 1..50 (default 50) further limited by `page_size`, NextToken valid only
for the query that issued it, and the errors a real account gives (ThrottlingException, a disabled
region's UnrecognizedClientException). Events come back in the API's shape: EventTime a datetime,
CloudTrailEvent the record as a JSON string.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from common.times import iso

SCENARIOS = Path(__file__).resolve().parent.parent / "tests" / "events" / "cloudtrail"
ERROR_MESSAGES = {
    "ThrottlingException": "Rate exceeded",
    "UnrecognizedClientException": "The security token included in the request is invalid.",
    "AccessDeniedException": "User is not authorized to perform: cloudtrail:LookupEvents",
}
_TIME = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$")


def load_scenario(name: str) -> list[dict[str, Any]]:
    """The raw records of one scenario file in tests/events/cloudtrail/."""
    return json.loads((SCENARIOS / name).read_text())


def make_record(
    event_name: str,
    *,
    access_key_id: str,
    event_time: datetime | str,
    region: str = "us-east-1",
    event_source: str = "iam.amazonaws.com",
    user_name: str = "alice",
    event_id: str | None = None,
    source_ip: str = "203.0.113.10",
    user_agent: str = "aws-cli/2.15.0",
    request: dict[str, Any] | None = None,
    response: dict[str, Any] | None = None,
    error_code: str | None = None,
) -> dict[str, Any]:
    """A raw record of an IAM user's call, for the situations no public record shows (see SOURCES.md)."""
    when = event_time if isinstance(event_time, str) else iso(event_time)
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLEPRINCIPAL",
            "arn": f"arn:aws:iam::123456789012:user/{user_name}",
            "accountId": "123456789012",
            "accessKeyId": access_key_id,
            "userName": user_name,
        },
        "eventTime": when,
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
        "requestParameters": request,
        "responseElements": response,
        "eventID": event_id or str(uuid.uuid4()),
        "readOnly": event_name.startswith(("Get", "List", "Describe")),
        "eventType": "AwsApiCall",
        "recipientAccountId": "123456789012",
    }
    if error_code:
        record["errorCode"] = error_code
        record["errorMessage"] = f"{error_code} (test record)"
    return record


def session_record(
    event_name: str,
    *,
    instance_id: str,
    role: str,
    event_time: datetime | str,
    source_ip: str,
    account_id: str = "123456789012",
    access_key_id: str = "ASIADRILLINSTANCE001",
    region: str = "us-east-1",
    event_source: str = "iam.amazonaws.com",
    request: dict[str, Any] | None = None,
    response: dict[str, Any] | None = None,
    error_code: str | None = None,
    vpc_endpoint_id: str | None = None,
) -> dict[str, Any]:
    """A raw record of a call made with an EC2 instance's role credentials: the session is named after the
    instance, whoever holds the credentials (the workload on the instance, or whoever stole them)."""
    record = make_record(
        event_name,
        access_key_id=access_key_id,
        event_time=event_time,
        region=region,
        event_source=event_source,
        source_ip=source_ip,
        request=request,
        response=response,
        error_code=error_code,
    )
    record["userIdentity"] = {
        "type": "AssumedRole",
        "principalId": f"AROADRILLROLE0000001:{instance_id}",
        "arn": f"arn:aws:sts::{account_id}:assumed-role/{role}/{instance_id}",
        "accountId": account_id,
        "accessKeyId": access_key_id,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROADRILLROLE0000001",
                "arn": f"arn:aws:iam::{account_id}:role/{role}",
                "accountId": account_id,
                "userName": role,
            },
            "attributes": {"creationDate": record["eventTime"], "mfaAuthenticated": "false"},
            "ec2RoleDelivery": "2.0",
        },
    }
    record["recipientAccountId"] = account_id
    if vpc_endpoint_id:
        record["vpcEndpointId"] = vpc_endpoint_id
        record["vpcEndpointAccountId"] = account_id
    return record


def parse_time(value: Any) -> datetime:
    """A datetime from a record's eventTime ("2024-08-01T13:33:28Z", or Panther's "2024-06-02 20:16:22.000000000")
    or from a LookupEvents StartTime/EndTime (datetime, ISO string or epoch seconds)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    match = _TIME.match(str(value).strip())
    if not match:
        raise ValueError(f"not a time: {value!r}")
    date, clock, _fraction, zone = match.groups()
    zone = "+00:00" if zone in (None, "Z") else zone
    return datetime.fromisoformat(f"{date}T{clock}{zone}").astimezone(UTC)


def username_of(record: dict[str, Any]) -> str | None:
    """LookupEvents' Username: the user name, or the role session name for an assumed role (EC2 instance
    credentials: the instance id)."""
    identity = record.get("userIdentity") or {}
    kind, arn = identity.get("type"), identity.get("arn") or ""
    if kind in ("AssumedRole", "FederatedUser") and "/" in arn:
        return arn.rsplit("/", 1)[1]
    if kind == "Root":
        return "root"
    return identity.get("userName") or identity.get("invokedBy")


def to_event(record: dict[str, Any]) -> dict[str, Any]:
    """A raw record as a LookupEvents `Events[]` entry."""
    event = {
        "EventId": record["eventID"],
        "EventName": record.get("eventName"),
        "EventTime": parse_time(record["eventTime"]),
        "EventSource": record.get("eventSource"),
        "Resources": [
            {"ResourceType": resource.get("type"), "ResourceName": resource.get("ARN")}
            for resource in record.get("resources") or []
        ],
        "CloudTrailEvent": json.dumps(record),
    }
    if "readOnly" in record:
        event["ReadOnly"] = str(record["readOnly"]).lower()
    if username_of(record):
        event["Username"] = username_of(record)
    if (record.get("userIdentity") or {}).get("accessKeyId"):
        event["AccessKeyId"] = record["userIdentity"]["accessKeyId"]
    return event


def _matches(event: dict[str, Any], key: str, value: str) -> bool:
    if key in ("ResourceName", "ResourceType"):
        return any(resource.get(key) == value for resource in event["Resources"])
    return event.get(key) == value


class FakeCloudTrail:
    """Client-like: `lookup_events(**kwargs)`. `calls` holds every call's kwargs, throttled ones included."""

    ATTRIBUTES = (
        "AccessKeyId",
        "Username",
        "EventName",
        "EventId",
        "EventSource",
        "ReadOnly",
        "ResourceName",
        "ResourceType",
    )

    def __init__(
        self,
        records: Iterable[dict[str, Any]] = (),
        *,
        page_size: int = 50,
        throttle_first: int = 0,
        disabled: str | None = None,
        region: str | None = None,
    ) -> None:
        """`throttle_first`: the first N calls raise ThrottlingException. `disabled`: every call raises this
        error code (a region that is not enabled raises "UnrecognizedClientException")."""
        self.region = region
        self.page_size = page_size
        self.throttle_first = throttle_first
        self.disabled = disabled
        self.calls: list[dict[str, Any]] = []
        self._events: list[dict[str, Any]] = []
        self._tokens: dict[str, tuple[str, int]] = {}
        self.add(*records)

    def add(self, *records: dict[str, Any]) -> None:
        """More records, e.g. the ones CloudTrail delivers late (for a second pass)."""
        self._events.extend(to_event(record) for record in records)
        self._events.sort(key=lambda event: event["EventTime"], reverse=True)

    def _error(self, code: str) -> ClientError:
        error = {"Error": {"Code": code, "Message": ERROR_MESSAGES.get(code, code)}}
        return ClientError(error, "LookupEvents")  # type: ignore[arg-type]

    def lookup_events(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.disabled:
            raise self._error(self.disabled)
        if len(self.calls) <= self.throttle_first:
            raise self._error("ThrottlingException")
        attributes = kwargs.get("LookupAttributes") or []
        if len(attributes) > 1 or any(item["AttributeKey"] not in self.ATTRIBUTES for item in attributes):
            raise self._error("InvalidLookupAttributesException")
        max_results = kwargs.get("MaxResults", 50)
        if not 1 <= max_results <= 50:
            raise self._error("InvalidMaxResultsException")
        start = parse_time(kwargs["StartTime"]) if "StartTime" in kwargs else None
        end = parse_time(kwargs["EndTime"]) if "EndTime" in kwargs else None
        if start and end and start > end:
            raise self._error("InvalidTimeRangeException")

        query = json.dumps([attributes, str(start), str(end)], sort_keys=True)
        offset = 0
        if kwargs.get("NextToken"):
            issued = self._tokens.get(kwargs["NextToken"])
            if issued is None or issued[0] != query:
                raise self._error("InvalidNextTokenException")
            offset = issued[1]
        matching = [
            event
            for event in self._events
            if all(_matches(event, item["AttributeKey"], item["AttributeValue"]) for item in attributes)
            and (start is None or event["EventTime"] >= start)
            and (end is None or event["EventTime"] <= end)
        ]
        size = min(max_results, self.page_size)
        response: dict[str, Any] = {"Events": [dict(event) for event in matching[offset : offset + size]]}
        if offset + size < len(matching):
            token = f"token-{len(self._tokens) + 1}"
            self._tokens[token] = (query, offset + size)
            response["NextToken"] = token
        return response


class FakeCloudTrailFactory:
    """`region -> FakeCloudTrail`, the shape of the investigation's client factory. Each region serves the
    records whose `region_of(record)` is that region (default: the record's awsRegion; the scenario files'
    regions are invented, so the drill may pass e.g. `region_of=lambda record: "us-east-1"`)."""

    def __init__(
        self,
        records: Iterable[dict[str, Any]] = (),
        *,
        region_of: Callable[[dict[str, Any]], str] = lambda record: record.get("awsRegion", ""),
        page_size: int = 50,
        throttle: dict[str, int] | None = None,
        disabled: dict[str, str] | None = None,
    ) -> None:
        self.records = list(records)
        self.region_of = region_of
        self.page_size = page_size
        self.throttle = throttle or {}
        self.disabled = disabled or {}
        self.clients: dict[str, FakeCloudTrail] = {}

    def __call__(self, region: str) -> FakeCloudTrail:
        if region not in self.clients:
            self.clients[region] = FakeCloudTrail(
                [record for record in self.records if self.region_of(record) == region],
                page_size=self.page_size,
                throttle_first=self.throttle.get(region, 0),
                disabled=self.disabled.get(region),
                region=region,
            )
        return self.clients[region]

    def add(self, *records: dict[str, Any]) -> None:
        """Late records: served by the regions' clients from now on."""
        self.records.extend(records)
        for region, client in self.clients.items():
            client.add(*(record for record in records if self.region_of(record) == region))
