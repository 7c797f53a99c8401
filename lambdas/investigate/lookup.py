"""CloudTrail LookupEvents for one credential, in every enabled region, in parallel.

Pure apart from the clients it is given: `lookup_region` takes a cloudtrail client, `lookup_all_regions`
a factory `region -> cloudtrail client` (the seam the tests and the drill use to serve recorded events).

Why every region: regional services log only in their own region, and the regions nobody uses are
exactly where an attacker starts instances. Global services (IAM, STS without a regional endpoint)
log in us-east-1, which is always enabled.

LookupEvents facts that shape this code:
- one lookup attribute per call, so each (AccessKeyId=..., Username=..., EventName=...) is its own paged query;
- at most 50 events per page, newest first, NextToken until the end: a cap on what is read keeps the
  newest events, so noise made after a back door pushes the back door out. The caller therefore also
  looks up the persistence calls by EventName (lists an attacker cannot pad without making persistence
  calls), filtered here to the compromised credential (`Lookup.only`), and every capped look-up is named;
- LookupEvents returns management events only: data events (S3 object reads, Lambda invokes, ...) are not
  in it, whatever the trail records;
- "limited to two per second, per account, per Region": calls in one region are spaced by
  `min_interval` and a ThrottlingException is retried with exponential backoff;
- a region that is not enabled answers UnrecognizedClientException (the caller's token is unknown
  there): that region is reported "not searched", never a crash.

Output events are the API's `Events[]` entries made JSON-safe (EventTime as ISO-8601 UTC) plus
`Region` (where it was found) and `MatchedBy` (which look-ups found it).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from common.aws import error_code
from common.times import iso

PAGE_SIZE = 50  # the API's maximum MaxResults
THROTTLE_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"})
# The regions the account can call: enabled by default, or opted in by the owner.
ENABLED_OPT_IN_STATUSES = ("opt-in-not-required", "opted-in")

CloudTrailFactory = Callable[[str], Any]


@dataclass(frozen=True)
class Lookup:
    """One LookupAttributes value: `AccessKeyId`, `Username`, `ResourceName` or `EventName` (the API allows
    one per call), over the search's time range or its own (`start`, `end`: a baseline before the window, a
    credential from the moment it was made, the part of the window a capped look-up did not reach).

    `only`: keep only the events made by one of these access key ids or session/user names (an EventName
    look-up returns every principal's calls of that name; only the reach's are kept)."""

    key: str
    value: str
    only: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    purpose: str = ""  # "baseline", "cut part of the window", ...: said in the label

    @property
    def label(self) -> str:
        return f"{self.key}={self.value}" + (f" ({self.purpose})" if self.purpose else "")


@dataclass
class RegionResult:
    region: str
    events: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0  # pages received: 0 with an error means the region was not searched at all
    error: str | None = None  # why the search stopped early
    capped_lookups: list[str] = field(default_factory=list)  # look-ups stopped at max_events, by label
    # For each capped look-up, the oldest event time it read: what lies before it (and after the look-up's
    # start) was not read.
    unread_before: dict[str, datetime] = field(default_factory=dict)
    read: int = 0  # events the API returned, before `Lookup.only` filtering
    lookups: list[str] = field(default_factory=list)  # the labels of the look-ups this search ran
    cap: int = 0  # the max_events the search ran with

    @property
    def capped(self) -> bool:
        return bool(self.capped_lookups)

    @property
    def status(self) -> str:
        if self.error is None:
            return "searched"
        return "partly-searched" if self.pages else "not-searched"

    @property
    def note(self) -> str | None:
        notes = [self.error] if self.error else []
        if self.capped:
            labels = ", ".join(self.capped_lookups)
            notes.append(f"capped at {self.cap} events per look-up ({labels}): older events unread")
        return "; ".join(notes) or None


class _Stop(Exception):
    """Ends a region's search early with a reason (error, retries exhausted, out of time)."""


def enabled_regions(ec2: Any) -> list[str]:
    """The account's enabled regions. ec2:DescribeRegions rather than account:ListRegions: it needs no
    Account Management API access, is available in every partition, and by default already lists only
    regions enabled for the account; the opt-in filter makes that explicit. The status is checked again
    here because not every implementation (moto, for one) applies the filter."""
    response = ec2.describe_regions(Filters=[{"Name": "opt-in-status", "Values": list(ENABLED_OPT_IN_STATUSES)}])
    return sorted(
        region["RegionName"]
        for region in response["Regions"]
        if region.get("OptInStatus", "opt-in-not-required") in ENABLED_OPT_IN_STATUSES
    )


def _json_safe(event: dict[str, Any], region: str, label: str) -> dict[str, Any]:
    safe = dict(event)
    safe["EventTime"] = iso(event.get("EventTime"))
    safe["Region"] = region
    safe["MatchedBy"] = [label]
    return safe


def made_by(event: dict[str, Any], identities: Sequence[str]) -> bool:
    """Whether the event's caller is one of `identities` (access key ids, user or role-session names), from
    the record CloudTrail wrote (userIdentity), not from anything the caller sent."""
    wanted = set(identities)
    if event.get("AccessKeyId") in wanted or event.get("Username") in wanted:
        return True
    raw = event.get("CloudTrailEvent")
    try:
        record = raw if isinstance(raw, dict) else json.loads(raw or "{}")
    except (TypeError, ValueError):
        return False
    identity = record.get("userIdentity") if isinstance(record, dict) else None
    if not isinstance(identity, dict):
        return False
    session = str(identity.get("arn") or "").rpartition("/")[2]
    principal = str(identity.get("principalId") or "").rpartition(":")[2]
    return bool({identity.get("accessKeyId"), identity.get("userName"), session, principal} & wanted)


def lookup_region(
    client: Any,
    region: str,
    lookups: Sequence[Lookup],
    start: datetime,
    end: datetime,
    *,
    max_events: int = 1000,
    min_interval: float = 0.5,
    max_retries: int = 5,
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> RegionResult:
    """Run every look-up in one region, each paged to the end or to `max_events` events read.

    `deadline` is a `clock()` value after which no call is started, so the Lambda can still store what
    it found before it times out. Throttling backoff scales with `min_interval` (so 0 turns off every
    wait, as the tests do); the boto3 client's own retries sit underneath."""
    result = RegionResult(region)
    found: dict[str, dict[str, Any]] = {}
    last_call = [float("-inf")]

    def call(**kwargs: Any) -> dict[str, Any]:
        for attempt in range(max_retries + 1):
            wait = last_call[0] + min_interval - clock()
            if deadline is not None and clock() + max(wait, 0) > deadline:
                raise _Stop("stopped: out of time before the search finished")
            if wait > 0:
                sleep(wait)
            last_call[0] = clock()
            try:
                return client.lookup_events(**kwargs)
            except ClientError as exc:
                if error_code(exc) not in THROTTLE_CODES:
                    raise
                if attempt == max_retries:
                    raise _Stop(f"{error_code(exc)}: gave up after {max_retries} retries") from exc
                # Exponential backoff with jitter (not crypto): 2x, 4x, 8x... the pacing interval.
                sleep(min_interval * 2 ** (attempt + 1) + random.uniform(0, min_interval))  # noqa: S311
        raise AssertionError("unreachable")

    result.cap = max_events
    result.lookups = [item.label for item in lookups]
    try:
        for lookup in lookups:
            token = None
            read = 0
            oldest: datetime | None = None
            while True:
                if read >= max_events:  # more pages were left unread: the oldest events
                    result.capped_lookups.append(lookup.label)
                    if oldest is not None:
                        result.unread_before[lookup.label] = oldest
                    break
                kwargs: dict[str, Any] = {
                    "LookupAttributes": [{"AttributeKey": lookup.key, "AttributeValue": lookup.value}],
                    "StartTime": lookup.start or start,
                    "EndTime": lookup.end or end,
                    "MaxResults": min(PAGE_SIZE, max_events - read),
                }
                if token:
                    kwargs["NextToken"] = token
                page = call(**kwargs)
                result.pages += 1
                for event in page.get("Events", []):
                    read += 1
                    result.read += 1
                    when = event.get("EventTime")
                    if isinstance(when, datetime):
                        when = when if when.tzinfo else when.replace(tzinfo=UTC)
                        oldest = when if oldest is None or when < oldest else oldest
                    if lookup.only and not made_by(event, lookup.only):
                        continue
                    if event["EventId"] in found:  # found by an earlier look-up: note this one too
                        matched = found[event["EventId"]]["MatchedBy"]
                        if lookup.label not in matched:
                            matched.append(lookup.label)
                    else:
                        found[event["EventId"]] = _json_safe(event, region, lookup.label)
                token = page.get("NextToken")
                if not token:
                    break
    except _Stop as stop:
        result.error = str(stop)
    except ClientError as exc:
        result.error = f"{error_code(exc)}: {exc.response.get('Error', {}).get('Message', '')}".strip(": ")
    except BotoCoreError as exc:  # endpoint unreachable, connection or read timeout
        result.error = f"{type(exc).__name__}: {exc}"
    result.events = list(found.values())
    return result


def lookup_all_regions(
    client_factory: CloudTrailFactory,
    regions: Iterable[str],
    lookups: Sequence[Lookup],
    start: datetime,
    end: datetime,
    *,
    max_workers: int = 8,
    extra: Mapping[str, Sequence[Lookup]] | None = None,
    **options: Any,
) -> list[RegionResult]:
    """`lookup_region` for every region, `max_workers` at a time; results in region order. `extra`: more
    look-ups for some regions (the EventName look-ups in the region where IAM logs), run after `lookups`
    under the same pacing.

    The rate limit is per region, so regions run in parallel while each region's calls stay paced.
    Clients are created here, in the calling thread: creating boto3 clients from several threads
    at once on the shared default session is not thread-safe (using them concurrently is)."""
    clients: dict[str, Any] = {}
    failed: dict[str, RegionResult] = {}
    for region in regions:
        try:
            clients[region] = client_factory(region)
        except (ClientError, BotoCoreError) as exc:
            failed[region] = RegionResult(region, error=f"{type(exc).__name__}: {exc}")
    results = dict(failed)
    if clients:
        with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(clients)))) as pool:
            futures = {
                region: pool.submit(
                    lookup_region, client, region, [*lookups, *(extra or {}).get(region, ())], start, end, **options
                )
                for region, client in clients.items()
            }
            results.update({region: future.result() for region, future in futures.items()})
    return [results[region] for region in sorted(results)]


def merge(results: Iterable[RegionResult]) -> list[dict[str, Any]]:
    """All events, each once (by EventId), newest first."""
    merged: dict[str, dict[str, Any]] = {}
    for result in results:
        for event in result.events:
            if event["EventId"] in merged:
                seen = merged[event["EventId"]]["MatchedBy"]
                seen.extend(label for label in event["MatchedBy"] if label not in seen)
            else:
                merged[event["EventId"]] = event
    return sorted(merged.values(), key=lambda event: event["EventTime"], reverse=True)
