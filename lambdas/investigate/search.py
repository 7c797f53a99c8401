"""The look-ups that follow the attacker's reach, hop by hop. Pure apart from the CloudTrail client factory.

Hop 0 reads the seeds (the incident's keys, its instance's role session): their calls in the window of
suspicion, in every enabled region, and their baseline (the days before the window) where IAM logs. Each
later hop reads what the reach derived and follows (reach.graph): a key's or a session's calls by its id, a
user's by its names (a console session has no key the look-up knows), the sessions minted for a role by the
role's ARN (AssumeRole names it as a resource). The reach is rebuilt after each hop from every event so far.

Busy accounts: every look-up is filtered at the source (one credential's id or name), and bounded in time
(a baseline of `baseline_days`, a derived credential from the moment it was made) and in count
(`max_events` per look-up, newest first). Only where such a look-up was cut in the region where IAM logs
does the search ask for the calls that derive a credential by their names, for the part of the window it
did not read, keeping only the reach's; what a bound still cuts is named (RegionResult.note, Reach.cut,
Baseline.cut), so the outcome can say so instead of failing on the budget.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from common.times import iso, parse
from investigate import lookup
from reach.calls import Call, calls_of
from reach.graph import DERIVING_CALLS, SESSION_CALLS, Item, Kind, Reach, Seed, build
from reach.judge import Baseline, Signals, Window

BASELINE = "baseline"
FALLBACK = "the part of the window a cut look-up did not read"


@dataclass
class Search:
    results: list[lookup.RegionResult] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    lookups: list[lookup.Lookup] = field(default_factory=list)
    reach: Reach | None = None
    baseline: Baseline = field(default_factory=Baseline)
    hops: int = 0
    stopped: str | None = None  # why the search ended before the reach was read to its bound

    @property
    def labels(self) -> list[str]:
        return [item.label for item in self.lookups]


def seed_lookups(
    seeds: Sequence[Seed], window: Window, iam_region: str
) -> tuple[list[lookup.Lookup], list[lookup.Lookup]]:
    """(in every region: the window; where IAM logs: the baseline before it)."""
    opens = parse(window.opens_at)
    baseline_from = parse(window.baseline_from)
    regional: list[lookup.Lookup] = []
    baseline: list[lookup.Lookup] = []
    for seed in seeds:
        key = "Username" if seed.kind == "instance-session" else "AccessKeyId" if seed.kind == "access-key" else None
        if key is None:
            continue
        regional.append(lookup.Lookup(key, seed.id, start=opens))
        baseline.append(lookup.Lookup(key, seed.id, start=baseline_from, end=opens, purpose=BASELINE))
    return regional, baseline


def item_lookups(item: Item) -> list[lookup.Lookup]:
    """How the calls an item's credential made are found, from the moment it was made."""
    start = parse(item.made_at)
    if item.kind in (Kind.ACCESS_KEY, Kind.SESSION):
        return [lookup.Lookup("AccessKeyId", item.id, start=start)]
    if item.kind == Kind.USER:
        return [lookup.Lookup("Username", name, start=start) for name in dict.fromkeys(item.names)]
    if item.kind in (Kind.ROLE, Kind.TRUST, Kind.NAMED_ROLE) and item.role_arn:
        return [lookup.Lookup("ResourceName", item.role_arn, start=start)]
    return []


def identities(seeds: Iterable[Seed], reach: Reach | None) -> tuple[str, ...]:
    """Every id under which the look-ups may know a credential of the reach (for EventName filtering)."""
    found = [seed.id for seed in seeds]
    for item in reach.followed() if reach else []:
        if item.kind in (Kind.ACCESS_KEY, Kind.SESSION):
            found.append(item.id)
        elif item.kind == Kind.USER:
            found += item.names
    return tuple(dict.fromkeys(found))


def fallback_lookups(
    results: Iterable[lookup.RegionResult], iam_region: str, window: Window, wanted: tuple[str, ...], done: set[str]
) -> dict[str, list[lookup.Lookup]]:
    """Where a credential's look-up was cut inside the window: the calls that derive a credential, by name, over
    the part it did not read, kept only when the reach made them. Where IAM logs, every deriving call; in the
    other regions STS's (a regional endpoint logs a minted session in its own region)."""
    opens = parse(window.opens_at)
    unread: dict[str, datetime] = {}
    for result in results:
        for label, before in result.unread_before.items():
            if BASELINE in label or FALLBACK in label:
                continue
            if result.region not in unread or before > unread[result.region]:
                unread[result.region] = before
    found: dict[str, list[lookup.Lookup]] = {}
    for region, before in unread.items():
        if opens is None or before <= opens:
            continue
        names = DERIVING_CALLS if region == iam_region else SESSION_CALLS
        for name in names:
            item = lookup.Lookup("EventName", name, only=wanted, start=opens, end=before, purpose=FALLBACK)
            if f"{region}:{item.label}" not in done:
                found.setdefault(region, []).append(item)
    return found


def search(
    factory: lookup.CloudTrailFactory,
    regions: list[str],
    iam_region: str,
    seeds: list[Seed],
    window: Window,
    signals: Signals,
    end: datetime,
    *,
    max_depth: int,
    max_items: int,
    max_events: int,
    min_interval: float,
    deadline: float | None = None,
    max_workers: int = 8,
    clock: Any = None,
) -> Search:
    found = Search()
    done: set[str] = set()
    events: dict[str, dict[str, Any]] = {}
    regional, iam_only = seed_lookups(seeds, window, iam_region)
    start = parse(window.opens_at) or end
    options: dict[str, Any] = {"max_events": max_events, "min_interval": min_interval, "deadline": deadline}
    if clock is not None:
        options["clock"] = clock
    for hop in range(max_depth + 1):
        if not regional and not iam_only:
            break
        if deadline is not None and clock is not None and clock() > deadline:
            found.stopped = f"out of time after {hop} hop(s): the reach was not read to its bound"
            break
        results = lookup.lookup_all_regions(
            factory,
            regions,
            regional,
            start,
            end,
            max_workers=max_workers,
            extra={iam_region: iam_only} if iam_only and iam_region in regions else {},
            **options,
        )
        found.hops = hop + 1
        found.results += results
        found.lookups += [*regional, *iam_only]
        done.update(item.label for item in [*regional, *iam_only])
        for event in lookup.merge(results):
            _keep(events, event)
        calls = calls_of(events.values())
        found.baseline = Baseline.of(_seed_calls(calls, seeds), window, cut=_baseline_cut(found.results))
        found.reach = build(seeds, calls, window, signals, found.baseline, max_depth=max_depth, max_items=max_items)
        fallback = fallback_lookups(results, iam_region, window, identities(seeds, found.reach), done)
        if fallback:
            more = lookup.lookup_all_regions(
                factory, sorted(fallback), [], start, end, max_workers=max_workers, extra=fallback, **options
            )
            found.results += more
            for region, items in fallback.items():
                found.lookups += [item for item in items if item not in found.lookups]
                done.update(f"{region}:{item.label}" for item in items)
            for event in lookup.merge(more):
                _keep(events, event)
            calls = calls_of(events.values())
            found.reach = build(seeds, calls, window, signals, found.baseline, max_depth=max_depth, max_items=max_items)
        regional = [item for item in _frontier(found.reach) if item.label not in done]
        iam_only = []
    found.events = sorted(events.values(), key=lambda event: event["EventTime"], reverse=True)
    if found.reach is None:
        found.reach = build(seeds, [], window, signals, found.baseline, max_depth=max_depth, max_items=max_items)
    return found


def _frontier(reach: Reach) -> list[lookup.Lookup]:
    return [item for followed in reach.followed() for item in item_lookups(followed)]


def _keep(events: dict[str, dict[str, Any]], event: dict[str, Any]) -> None:
    known = events.get(event["EventId"])
    if known is None:
        events[event["EventId"]] = event
        return
    known["MatchedBy"] = list(dict.fromkeys([*known.get("MatchedBy", []), *event.get("MatchedBy", [])]))


def _seed_calls(calls: list[Call], seeds: list[Seed]) -> list[Call]:
    keys = {seed.id for seed in seeds if seed.kind == "access-key"}
    sessions = {seed.id for seed in seeds if seed.kind == "instance-session"}
    return [
        call
        for call in calls
        if call.caller.access_key_id in keys
        or (call.caller.type == "AssumedRole" and call.caller.session_name in sessions)
    ]


def _baseline_cut(results: list[lookup.RegionResult]) -> str | None:
    cut = [
        f"{result.region}: {label} read back to {iso(result.unread_before.get(label, ''))}"
        for result in results
        for label in result.capped_lookups
        if BASELINE in label
    ]
    return "; ".join(cut) or None
