"""The investigate handler end to end: moto EC2 (regions), IAM and S3; CloudTrail from FakeCloudTrail,
swapped in for the handler's client factory (test-side patch only)."""

import json
from datetime import UTC, datetime, timedelta

import boto3
import botocore.client
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from common import aws as common_aws
from common.errors import UnsupportedEvent
from drill.cloudtrail_fake import FakeCloudTrail, FakeCloudTrailFactory, make_record
from incident.model import AffectedKey, Incident, Kind
from investigate import handler, lookup, search, seeds
from investigate.permissions import GRANTS
from reach.judge import Window
from tests.factories import fake_context

REGION = "us-east-1"
BUCKET = "responder-evidence"
INCIDENT_ID = "123456789012:health-comm-0001"
NOW = datetime.now(UTC)
DISABLED = "ap-southeast-2"


@pytest.fixture
def account(monkeypatch):
    """alice's exposed key and her older legitimate key; the attacker's user and its key."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "EVIDENCE_BUCKET": BUCKET,
        "LOOKUP_MIN_INTERVAL_SECONDS": "0",
    }.items():
        monkeypatch.setenv(name, value)
    common_aws.client.cache_clear()
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        iam = boto3.client("iam", region_name=REGION)
        keys = {}
        for user in ("alice", "malicious-iam-user", "eve"):
            iam.create_user(UserName=user)
        keys["old"] = iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
        keys["exposed"] = iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
        keys["planted"] = iam.create_access_key(UserName="malicious-iam-user")["AccessKey"]["AccessKeyId"]
        keys["late"] = iam.create_access_key(UserName="eve")["AccessKey"]["AccessKeyId"]
        yield iam, keys
    common_aws.client.cache_clear()


def attack(keys):
    """What the exposed key did (IAM logs in us-east-1, EC2 in the region used), plus noise it did not do."""
    key, at = keys["exposed"], lambda minutes: NOW - timedelta(minutes=minutes)
    return [
        make_record("ListUsers", access_key_id=key, event_time=at(50)),
        make_record("CreateUser", access_key_id=key, event_time=at(49), request={"userName": "malicious-iam-user"}),
        make_record(
            "AttachUserPolicy",
            access_key_id=key,
            event_time=at(48),
            request={"userName": "malicious-iam-user", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        ),
        make_record(
            "CreateAccessKey",
            access_key_id=key,
            event_time=at(47),
            request={"userName": "malicious-iam-user"},
            response={"accessKey": {"accessKeyId": keys["planted"], "userName": "malicious-iam-user"}},
        ),
        make_record(
            "RunInstances",
            access_key_id=key,
            event_time=at(45),
            region="eu-west-1",
            event_source="ec2.amazonaws.com",
            response={"instancesSet": {"items": [{"instanceId": "i-0abc"}]}},
        ),
        make_record("ListBuckets", access_key_id=keys["old"], event_time=at(44), event_source="s3.amazonaws.com"),
    ]


def incident(keys, **changes):
    fields = {
        "incident_id": INCIDENT_ID,
        "kind": Kind.EXPOSED_ACCESS_KEY,
        "source": "aws.health",
        "event_type": "AWS_RISK_CREDENTIALS_EXPOSED",
        "event_id": "evt-1",
        "account": "123456789012",
        "region": REGION,
        "detected_at": (NOW - timedelta(hours=1)).isoformat(),
        "affected_keys": [AffectedKey(access_key_id=keys["exposed"])],  # no user name: the handler finds alice
    }
    return Incident(**(fields | changes)).model_dump(mode="json")


def status(iam, user, key_id):
    return {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}[key_id]


def by_name(steps):
    return {s["name"]: s for s in steps}


def test_pass_one_then_pass_two(account, monkeypatch):
    iam, keys = account
    factory = FakeCloudTrailFactory(
        attack(keys), disabled={DISABLED: "UnrecognizedClientException"}, throttle={"eu-west-1": 1}
    )
    monkeypatch.setattr(handler, "cloudtrail_client", factory)

    first = handler.handler({"incident": incident(keys), "pass": 1}, fake_context())

    steps, found = by_name(first["steps"]), first["investigation"]
    main = steps["investigate-cloudtrail"]
    assert main["status"] == "done" and main["containment"] is False
    assert f"not searched: {DISABLED} (UnrecognizedClientException" in main["detail"]
    assert "derived: user malicious-iam-user (unknown's)" in main["detail"]
    assert found["regions"]["not_searched"].keys() == {DISABLED} and REGION in found["regions"]["searched"]
    assert len(factory.clients) == len(found["regions"]["searched"]) + 1  # every enabled region was asked
    assert found["event_count"] == 5 and found["by_region"] == {REGION: 4, "eu-west-1": 1}
    assert {c["event_name"] for c in found["persistence_calls"]} == {
        "CreateUser",
        "AttachUserPolicy",
        "CreateAccessKey",
        "RunInstances",
    }
    assert found["new_since_previous_pass"] is None and "event_ids" not in found  # they are in the evidence
    assert {
        "type": "iam-user",
        "verdict": "unknown",
        "name": "malicious-iam-user",
        "console": "https://console.aws.amazon.com/iam/home#/users/details/malicious-iam-user",
    } in found["backdoors"]["created"]
    assert len(json.dumps(first)) < 256 * 1024

    # the evidence: every event, encrypted
    uri = f"s3://{BUCKET}/investigations/{INCIDENT_ID}/pass-1.json"
    assert steps["store-cloudtrail-evidence"] == {
        "name": "store-cloudtrail-evidence",
        "status": "done",
        "target": uri,
        "detail": "5 event(s) stored, SSE-KMS",
        "containment": False,
    }
    assert found["evidence"] == uri
    s3 = boto3.client("s3", region_name=REGION)
    stored = s3.get_object(Bucket=BUCKET, Key=f"investigations/{INCIDENT_ID}/pass-1.json")
    assert stored["ServerSideEncryption"] == "aws:kms"
    document = json.loads(stored["Body"].read())
    assert len(document["events"]) == 5
    # fields added for the eviction: the full summary, the reach (what Evict contains) and the steps
    assert len(document["summary"]["event_ids"]) == 5 and document["backdoors"]["created_total"] == 2
    assert [s["name"] for s in document["steps"]] == ["investigate-cloudtrail"]
    reach = {item["label"]: item for item in document["reach"]["items"]}
    assert set(reach) == {"user malicious-iam-user", f"access key {keys['planted']} of user malicious-iam-user"}
    assert reach["user malicious-iam-user"]["details"]["grants"] == [
        "AttachUserPolicy arn:aws:iam::aws:policy/AdministratorAccess"
    ]
    # no call before the window to compare with: neither the owner's nor, by its source alone, the attacker's
    assert {item["verdict"] for item in reach.values()} == {"unknown"}
    assert found["reach"]["items"] == 2 and found["reach"]["by_kind_and_verdict"] == {
        "user:unknown": 1,
        "access-key:unknown": 1,
    }

    # the investigation only reads: every key as it was (Evict contains what the reach holds)
    assert status(iam, "malicious-iam-user", keys["planted"]) == "Active"
    assert status(iam, "alice", keys["exposed"]) == "Active" and status(iam, "alice", keys["old"]) == "Active"

    # CloudTrail delivers late: an older call shows up only now
    late = make_record(
        "CreateAccessKey",
        access_key_id=keys["exposed"],
        event_time=NOW - timedelta(minutes=46),
        request={"userName": "eve"},
        response={"accessKey": {"accessKeyId": keys["late"], "userName": "eve"}},
    )
    factory.add(late)
    second = handler.handler(
        {
            "incident": incident(keys),
            "pass": 2,
            "previous_evidence": found["evidence"],  # pass 1's event ids are read from its evidence object
        },
        fake_context(),
    )

    found2 = second["investigation"]
    assert found2["new_since_previous_pass"]["count"] == 1
    assert found2["new_since_previous_pass"]["events"][0]["event_id"] == late["eventID"]
    assert [c["event_id"] for c in found2["persistence_calls"] if c["new"]] == [late["eventID"]]
    assert "1 new since pass 1" in by_name(second["steps"])["investigate-cloudtrail"]["detail"]
    assert f"access key {keys['late']} of user eve" in {item["label"] for item in found2["reach"]["listed"]}
    s3.head_object(Bucket=BUCKET, Key=f"investigations/{INCIDENT_ID}/pass-2.json")


def test_no_region_searchable_fails_with_a_manual_command(account, monkeypatch):
    _, keys = account
    monkeypatch.setattr(handler, "cloudtrail_client", lambda region: FakeCloudTrail(disabled="AccessDeniedException"))

    result = handler.handler({"incident": incident(keys), "pass": 1}, fake_context())

    main = by_name(result["steps"])["investigate-cloudtrail"]
    assert main["status"] == "failed" and main["detail"].startswith("no region could be searched")
    assert main["manual"].startswith(f"aws cloudtrail lookup-events --region {REGION}")
    assert f"AttributeValue={keys['exposed']}" in main["manual"]


def test_region_list_unavailable_searches_the_home_regions(account, monkeypatch):
    _, keys = account

    def denied(ec2):
        raise ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "no"}}, "DescribeRegions")

    monkeypatch.setattr(lookup, "enabled_regions", denied)
    factory = FakeCloudTrailFactory(attack(keys))
    monkeypatch.setattr(handler, "cloudtrail_client", factory)

    result = handler.handler({"incident": incident(keys, region="eu-west-1"), "pass": 1}, fake_context())

    assert set(factory.clients) == {"eu-west-1", REGION}
    assert "region list unavailable (UnauthorizedOperation)" in result["steps"][0]["detail"]


def test_missing_bucket_still_returns_the_summary(account, monkeypatch):
    _, keys = account
    monkeypatch.delenv("EVIDENCE_BUCKET")
    monkeypatch.setattr(handler, "cloudtrail_client", FakeCloudTrailFactory(attack(keys)))

    result = handler.handler({"incident": incident(keys), "pass": 1}, fake_context())

    steps = by_name(result["steps"])
    assert steps["store-cloudtrail-evidence"]["status"] == "failed" and result["investigation"]["evidence"] is None
    assert result["investigation"]["event_count"] == 5


def test_instance_credentials_are_also_looked_up_by_instance_id():
    ice = Incident(
        incident_id="123456789012:finding-1",
        kind=Kind.INSTANCE_CREDENTIAL_EXFILTRATION,
        source="aws.guardduty",
        event_type="UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
        event_id="evt-2",
        account="123456789012",
        region="us-west-2",
        detected_at="2026-11-22T10:00:00Z",
        affected_keys=[AffectedKey(access_key_id="ASIAP5CT9NN8EYVU1FXV")],
        principal_id="AROALHCCSKSM395EGX3XN:i-786a3A8B5C0d92eF4",
    )

    window = Window.around("2026-11-22T10:00:00Z", margin_minutes=60, baseline_days=7)
    regional, baseline = search.seed_lookups(seeds.seeds_of(ice), window, "us-east-1")

    assert [item.label for item in regional] == ["AccessKeyId=ASIAP5CT9NN8EYVU1FXV", "Username=i-786a3A8B5C0d92eF4"]
    assert [item.label for item in baseline] == [f"{item.label} (baseline)" for item in regional]
    assert {item.start.isoformat() for item in regional} == {"2026-11-22T09:00:00+00:00"}
    assert {item.end.isoformat() for item in baseline} == {"2026-11-22T09:00:00+00:00"}


@pytest.mark.parametrize(
    "event, message",
    [
        ({}, "expects"),
        ({"incident": {"incident_id": "x"}, "pass": 3}, "pass must be 1 or 2"),
        ({"incident": {"incident_id": "x"}, "pass": 2}, "previous_event_ids"),
    ],
)
def test_malformed_input_is_a_named_error(event, message):
    with pytest.raises(UnsupportedEvent, match=message):
        handler.handler(event, fake_context())


def test_settings_defaults_and_bad_values():
    settings = handler.Settings.from_env({})
    assert (settings.margin_minutes, settings.baseline_days, settings.max_depth, settings.max_items) == (60, 7, 3, 40)
    assert (settings.max_events_per_region, settings.min_interval, settings.evidence_bucket) == (1000, 0.5, None)
    with pytest.raises(ValueError, match="LOOKUP_MAX_EVENTS_PER_REGION"):
        handler.Settings.from_env({"LOOKUP_MAX_EVENTS_PER_REGION": "lots"})
    with pytest.raises(ValueError, match="REACH_MAX_DEPTH"):
        handler.Settings.from_env({"REACH_MAX_DEPTH": "0"})


def test_code_calls_exactly_the_granted_actions(account, monkeypatch):
    _, keys = account
    calls = set()
    original = botocore.client.BaseClient._make_api_call

    def record(self, operation, params):
        calls.add(f"{self.meta.service_model.signing_name}:{operation}")
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    factory = FakeCloudTrailFactory(attack(keys))
    monkeypatch.setattr(handler, "cloudtrail_client", factory)

    first = handler.handler({"incident": incident(keys), "pass": 1}, fake_context())
    previous = first["investigation"]["evidence"]
    handler.handler({"incident": incident(keys), "pass": 2, "previous_evidence": previous}, fake_context())
    instance = {
        "kind": Kind.INSTANCE_CREDENTIAL_EXFILTRATION,
        "source": "aws.guardduty",
        "instance_id": "i-0f8e7d6c5b4a39281",
        "role_name": "web-app-role",
        "network_interfaces": [{"network_interface_id": "eni-1", "vpc_id": "vpc-1", "private_ip": "10.0.1.5"}],
    }
    handler.handler({"incident": incident(keys, **instance), "pass": 1}, fake_context())

    calls.add("cloudtrail:LookupEvents")  # served by the fake, not botocore
    assert calls == {action for grant in GRANTS for action in grant["actions"]}


def test_evidence_is_encrypted_with_the_buckets_key_when_named(account, monkeypatch):
    _, keys = account
    key_arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    monkeypatch.setenv("EVIDENCE_KMS_KEY_ARN", key_arn)
    monkeypatch.setattr(handler, "cloudtrail_client", FakeCloudTrailFactory(attack(keys)))

    handler.handler({"incident": incident(keys), "pass": 1}, fake_context())

    head = boto3.client("s3", region_name=REGION).head_object(
        Bucket=BUCKET, Key=f"investigations/{INCIDENT_ID}/pass-1.json"
    )
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key_arn


def test_noise_after_the_backdoor_neither_hides_it_nor_reads_as_done(account, monkeypatch):
    iam, keys = account
    monkeypatch.setenv("LOOKUP_MAX_EVENTS_PER_REGION", "50")
    backdoor = make_record(
        "CreateAccessKey",
        access_key_id=keys["exposed"],
        # after the exposure (detected_at): a key made before it is left to lambdas/evict's source rule
        event_time=NOW - timedelta(minutes=59),
        request={"userName": "malicious-iam-user"},
        response={"accessKey": {"accessKeyId": keys["planted"], "userName": "malicious-iam-user"}},
    )
    noise = [
        make_record(
            "GetCallerIdentity",
            access_key_id=keys["exposed"],
            event_time=NOW - timedelta(minutes=50) + timedelta(seconds=10 * i),
        )
        for i in range(80)
    ]
    factory = FakeCloudTrailFactory([backdoor, *noise])
    monkeypatch.setattr(handler, "cloudtrail_client", factory)

    result = handler.handler({"incident": incident(keys), "pass": 1}, fake_context())

    # The key's own look-up is cut by the noise; the deriving calls by name, over the part it did not read,
    # find the back door: the investigation is whole for what derives a credential, and says how.
    main = by_name(result["steps"])["investigate-cloudtrail"]
    assert main["status"] == "done", main["detail"]
    document = json.loads(
        boto3.client("s3", region_name=REGION)
        .get_object(Bucket=BUCKET, Key=f"investigations/{INCIDENT_ID}/pass-1.json")["Body"]
        .read()
    )
    assert [item["id"] for item in document["reach"]["items"]] == [keys["planted"]]
    assert any("EventName=CreateAccessKey" in label for label in document["lookups"])
    by_name_calls = [
        c for c in factory.clients[REGION].calls if c["LookupAttributes"][0]["AttributeKey"] == "EventName"
    ]
    assert by_name_calls and all(c["EndTime"] < NOW - timedelta(minutes=40) for c in by_name_calls)
    assert "eu-west-1" not in {
        r
        for r, c in factory.clients.items()
        if any(x["LookupAttributes"][0]["AttributeKey"] == "EventName" for x in c.calls)
    }
    assert status(iam, "malicious-iam-user", keys["planted"]) == "Active"  # Evict's to contain, not this one's


def test_iam_logs_in_the_partitions_first_region():
    assert [handler.iam_log_region(r) for r in ("eu-west-1", "us-gov-east-1", "cn-northwest-1")] == [
        "us-east-1",
        "us-gov-west-1",
        "cn-north-1",
    ]


def test_pass_two_without_pass_one_evidence_says_so(account, monkeypatch):
    _, keys = account
    monkeypatch.setattr(handler, "cloudtrail_client", FakeCloudTrailFactory(attack(keys)))
    elsewhere = "s3://another-bucket/investigations/x/pass-1.json"

    result = handler.handler({"incident": incident(keys), "pass": 2, "previous_evidence": elsewhere}, fake_context())

    assert result["investigation"]["new_since_previous_pass"] is None
    assert "pass 1's evidence is not available" in by_name(result["steps"])["investigate-cloudtrail"]["detail"]
