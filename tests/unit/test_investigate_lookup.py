"""investigate.lookup: paged, paced LookupEvents per region and the fan-out over regions."""

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws

from drill.cloudtrail_fake import FakeCloudTrail, FakeCloudTrailFactory, load_scenario, make_record
from investigate.lookup import Lookup, enabled_regions, lookup_all_regions, lookup_region, merge

KEY = "AKIAEXAMPLEKEY000001"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
START = NOW - timedelta(hours=24)
BY_KEY = [Lookup("AccessKeyId", KEY)]
FAST = {"min_interval": 0}  # the tests never wait


def calls(count, *, key=KEY, region="us-east-1", name="ListBuckets"):
    """`count` calls by `key`, one a minute, newest at NOW - 1 min."""
    return [
        make_record(
            name,
            access_key_id=key,
            event_time=NOW - timedelta(minutes=i + 1),
            region=region,
            event_source="s3.amazonaws.com",
            event_id=f"{region}-{key}-{i:04d}",
        )
        for i in range(count)
    ]


class Clock:
    """time.monotonic and time.sleep in one, without waiting."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class Timed:
    """Records the clock at every call the client receives."""

    def __init__(self, inner, clock):
        self.inner, self.clock, self.times = inner, clock, []

    def lookup_events(self, **kwargs):
        self.times.append(self.clock())
        return self.inner.lookup_events(**kwargs)


def test_pages_to_the_end():
    fake = FakeCloudTrail(calls(120), page_size=50)

    result = lookup_region(fake, "us-east-1", BY_KEY, START, NOW, **FAST)

    assert result.status == "searched" and not result.capped
    assert len(result.events) == 120 and len(fake.calls) == 3
    assert [call.get("NextToken") is not None for call in fake.calls] == [False, True, True]
    assert result.events[0]["EventTime"] == "2026-11-22T11:59:00Z"  # JSON-safe, newest first
    assert result.events[0]["Region"] == "us-east-1" and result.events[0]["MatchedBy"] == [f"AccessKeyId={KEY}"]


def test_cap_is_respected_and_reported():
    fake = FakeCloudTrail(calls(120))

    result = lookup_region(fake, "us-east-1", BY_KEY, START, NOW, max_events=70, **FAST)

    assert len(result.events) == 70 and result.capped
    assert [call["MaxResults"] for call in fake.calls] == [50, 20]  # never asks for more than the cap
    assert result.status == "searched" and result.capped_lookups == [f"AccessKeyId={KEY}"]
    assert result.note == f"capped at 70 events per look-up (AccessKeyId={KEY}): older events unread"


def test_each_lookup_has_its_own_cap_and_event_name_lookups_keep_only_the_credential():
    """Noise after the back door fills the key's look-up; the EventName look-up still finds the back door,
    and keeps only the compromised key's calls of that name (another principal's are dropped)."""
    backdoor = make_record(
        "CreateAccessKey", access_key_id=KEY, event_time=NOW - timedelta(hours=2), event_id="backdoor"
    )
    someone_else = make_record(
        "CreateAccessKey", access_key_id="AKIAOTHERPRINCIPAL01", event_time=NOW - timedelta(hours=3), event_id="ci"
    )
    fake = FakeCloudTrail([*calls(120, name="GetCallerIdentity"), backdoor, someone_else])
    lookups = [*BY_KEY, Lookup("EventName", "CreateAccessKey", only=(KEY,))]

    result = lookup_region(fake, "us-east-1", lookups, START, NOW, max_events=100, **FAST)

    ids = {event["EventId"] for event in result.events}
    assert "backdoor" in ids and "ci" not in ids
    assert result.capped_lookups == [f"AccessKeyId={KEY}"]  # the EventName look-up was not capped
    assert result.read == 100 + 2


def test_made_by_reads_the_record_identity():
    from investigate.lookup import made_by

    role = {
        "EventId": "1",
        "CloudTrailEvent": '{"userIdentity": {"type": "AssumedRole", "principalId": "AROAX:i-0abc",'
        ' "arn": "arn:aws:sts::123456789012:assumed-role/web/i-0abc", "accessKeyId": "ASIAX"}}',
    }
    assert made_by(role, ["i-0abc"]) and made_by(role, ["ASIAX"]) and not made_by(role, ["i-0def"])
    assert not made_by({"EventId": "2", "CloudTrailEvent": "not json"}, ["i-0abc"])


def test_window_is_passed_and_honoured():
    old = calls(1)[0] | {"eventID": "too-old", "eventTime": "2026-11-20T00:00:00Z"}
    fake = FakeCloudTrail([*calls(2), old])

    result = lookup_region(fake, "us-east-1", BY_KEY, START, NOW, **FAST)

    assert {event["EventId"] for event in result.events} == {
        "us-east-1-AKIAEXAMPLEKEY000001-0000",
        "us-east-1-AKIAEXAMPLEKEY000001-0001",
    }
    assert fake.calls[0]["StartTime"] == START and fake.calls[0]["EndTime"] == NOW


def test_calls_in_a_region_are_paced():
    clock = Clock()
    client = Timed(FakeCloudTrail(calls(5), page_size=1), clock)

    lookup_region(client, "us-east-1", BY_KEY, START, NOW, min_interval=0.5, sleep=clock.sleep, clock=clock)

    gaps = [later - earlier for earlier, later in zip(client.times, client.times[1:], strict=False)]
    assert len(client.times) == 5 and all(gap >= 0.5 for gap in gaps)


def test_throttled_region_backs_off_and_recovers():
    clock = Clock()
    fake = FakeCloudTrail(calls(3), throttle_first=2)

    result = lookup_region(fake, "us-east-1", BY_KEY, START, NOW, min_interval=0.5, sleep=clock.sleep, clock=clock)

    assert result.status == "searched" and len(result.events) == 3
    assert len(fake.calls) == 3  # two throttled, then the page
    backoffs = [s for s in clock.sleeps if s > 0.5]
    assert len(backoffs) == 2 and backoffs[1] > backoffs[0]  # exponential


def test_throttled_for_good_is_reported_not_raised():
    fake = FakeCloudTrail(calls(3), throttle_first=100)

    result = lookup_region(fake, "us-east-1", BY_KEY, START, NOW, max_retries=2, **FAST)

    assert result.status == "not-searched" and len(fake.calls) == 3
    assert result.error == "ThrottlingException: gave up after 2 retries"


def test_disabled_region_is_not_searched():
    result = lookup_region(
        FakeCloudTrail(calls(3), disabled="UnrecognizedClientException"), "ap-east-1", BY_KEY, START, NOW, **FAST
    )

    assert result.status == "not-searched" and result.events == []
    assert result.error.startswith("UnrecognizedClientException: The security token")


def test_unreachable_endpoint_is_not_searched():
    class Unreachable:
        def lookup_events(self, **kwargs):
            raise EndpointConnectionError(endpoint_url="https://cloudtrail.xx-nowhere-1.amazonaws.com/")

    result = lookup_region(Unreachable(), "xx-nowhere-1", BY_KEY, START, NOW, **FAST)

    assert result.status == "not-searched" and result.error.startswith("EndpointConnectionError")


def test_error_after_some_pages_keeps_what_was_found():
    class FailsOnSecondPage(FakeCloudTrail):
        def lookup_events(self, **kwargs):
            if kwargs.get("NextToken"):
                raise self._error("AccessDeniedException")
            return super().lookup_events(**kwargs)

    result = lookup_region(FailsOnSecondPage(calls(3), page_size=2), "us-east-1", BY_KEY, START, NOW, **FAST)

    assert result.status == "partly-searched" and len(result.events) == 2
    assert result.error.startswith("AccessDeniedException")


def test_deadline_stops_the_search_in_time():
    clock = Clock()
    fake = FakeCloudTrail(calls(3), page_size=1)

    result = lookup_region(
        fake, "us-east-1", BY_KEY, START, NOW, min_interval=0.5, deadline=0.2, sleep=clock.sleep, clock=clock
    )

    assert len(fake.calls) == 1 and result.status == "partly-searched"
    assert "out of time" in result.error


def test_empty_history():
    fake = FakeCloudTrail([])

    result = lookup_region(fake, "us-east-1", BY_KEY, START, NOW, **FAST)

    assert result.status == "searched" and result.events == [] and len(fake.calls) == 1


def test_lookup_by_key_ignores_other_keys_of_the_same_user_name():
    # Every detonation in this file is "christophe", each with its own key: only one technique's records match.
    fake = FakeCloudTrail(load_scenario("leaked_user_key_backdoor.json"))
    start = datetime(2024, 7, 1, tzinfo=UTC)

    result = lookup_region(fake, "x", [Lookup("AccessKeyId", "AKIAOZUDECYXYM4ONAN4")], start, NOW, **FAST)

    assert sorted(event["EventName"] for event in result.events) == [
        "AttachUserPolicy",
        "CreateAccessKey",
        "CreateUser",
    ]


def test_instance_id_finds_calls_made_with_other_keys_of_the_same_theft():
    records = load_scenario("instance_role_credentials_used_elsewhere.json")
    other_key = records[-1] | {
        "eventID": "later-session",
        "eventTime": "2024-08-02T09:00:00Z",
        "userIdentity": records[-1]["userIdentity"] | {"accessKeyId": "ASIAOTHERSESSIONKEY1"},
    }
    lookups = [Lookup("AccessKeyId", "ASIAP5CT9NN8EYVU1FXV"), Lookup("Username", "i-786a3A8B5C0d92eF4")]
    start = datetime(2024, 8, 1, tzinfo=UTC)

    result = lookup_region(FakeCloudTrail([*records, other_key]), "us-north-2r", lookups, start, NOW, **FAST)

    by_id = {event["EventId"]: event for event in result.events}
    assert set(by_id) == {
        "b379479b-05c9-4c3c-af4b-cbd43acf29e1",
        "394cf343-b9cf-48ce-8a94-e188656ae8ba",
        "later-session",
    }
    assert by_id["b379479b-05c9-4c3c-af4b-cbd43acf29e1"]["MatchedBy"] == [
        "AccessKeyId=ASIAP5CT9NN8EYVU1FXV",
        "Username=i-786a3A8B5C0d92eF4",
    ]  # found twice, kept once
    assert by_id["later-session"]["MatchedBy"] == ["Username=i-786a3A8B5C0d92eF4"]


def test_fan_out_over_regions():
    records = calls(60, region="us-east-1") + calls(2, region="eu-west-1")
    factory = FakeCloudTrailFactory(
        records, throttle={"eu-west-1": 1}, disabled={"ap-east-1": "UnrecognizedClientException"}
    )

    def client_for(region):
        if region == "xx-broken-1":
            raise EndpointConnectionError(endpoint_url="https://cloudtrail.xx-broken-1.amazonaws.com/")
        return factory(region)

    regions = ["us-east-1", "eu-west-1", "ap-east-1", "sa-east-1", "xx-broken-1"]
    results = lookup_all_regions(client_for, regions, BY_KEY, START, NOW, max_workers=3, **FAST)

    status = {result.region: result.status for result in results}
    assert [result.region for result in results] == sorted(regions)
    assert status == {
        "us-east-1": "searched",
        "eu-west-1": "searched",
        "sa-east-1": "searched",
        "ap-east-1": "not-searched",
        "xx-broken-1": "not-searched",
    }
    events = merge(results)
    assert len(events) == 62 and events == sorted(events, key=lambda e: e["EventTime"], reverse=True)
    assert len(factory.clients["eu-west-1"].calls) == 2  # throttled once, then served


def test_merge_dedupes_across_regions():
    event = {"EventId": "same", "EventTime": "2026-11-22T10:00:00Z", "MatchedBy": ["AccessKeyId=A"]}
    twin = event | {"MatchedBy": ["Username=i-1"]}

    from investigate.lookup import RegionResult

    merged = merge([RegionResult("us-east-1", [event]), RegionResult("us-west-2", [twin])])

    assert len(merged) == 1 and merged[0]["MatchedBy"] == ["AccessKeyId=A", "Username=i-1"]


@mock_aws
def test_enabled_regions_leave_out_regions_not_opted_in():
    ec2 = boto3.client("ec2", region_name="us-east-1")
    listed = {r["RegionName"]: r["OptInStatus"] for r in ec2.describe_regions(AllRegions=True)["Regions"]}

    regions = enabled_regions(ec2)

    assert "us-east-1" in regions
    assert all(listed[region] in ("opt-in-not-required", "opted-in") for region in regions)
    assert set(listed) - set(regions) == {r for r, status in listed.items() if status == "not-opted-in"}


def test_fake_rejects_a_token_from_another_query():
    fake = FakeCloudTrail(calls(3), page_size=1)
    token = fake.lookup_events(LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": KEY}])["NextToken"]

    with pytest.raises(Exception, match="InvalidNextTokenException"):
        fake.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "alice"}], NextToken=token)
