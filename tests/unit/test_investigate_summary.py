"""investigate.summary on the real scenario records: classification, what each persistence call created."""

import json

import pytest

from drill.cloudtrail_fake import load_scenario, make_record, to_event
from investigate.summary import fit, is_mutating, is_persistence, summarize


def events_of(*scenarios):
    return [to_event(record) for name in scenarios for record in load_scenario(name)]


def by_name(calls):
    return {call["event_name"]: call for call in calls}


@pytest.mark.parametrize(
    "name",
    [
        "CreateUser",
        "PutUserPolicy",
        "RunInstances",
        "StopLogging",
        "DeleteTrail",
        "ModifyInstanceAttribute",
        "SendCommand",
        "AssumeRole",
        "AssumeRoleWithWebIdentity",
        "TagResource",
        "InvokeModel",
        "UpdateFunctionCode20150331v2",
        "GetFederationToken",
        "CreateFunction20150331",
    ],
)
def test_mutating(name):
    assert is_mutating(name)


@pytest.mark.parametrize(
    "name",
    [
        "GetCallerIdentity",
        "ListBuckets",
        "DescribeInstances",
        "LookupEvents",
        "GetSecretValue",
        "ConsoleLogin",
        "ListFunctions20150331",
        "GetPasswordData",
        "Addresses",
        "Settlement",
    ],
)
def test_not_mutating(name):
    assert not is_mutating(name)


def test_persistence_names():
    assert is_persistence("CreateFunction20150331") and is_persistence("UpdateFunctionCode20150331v2")
    assert not is_persistence("DeleteLoginProfile") and not is_persistence("StopLogging")


def test_backdoor_scenario_shows_create_user_and_create_access_key_as_persistence():
    summary = summarize(events_of("leaked_user_key_backdoor.json"))

    calls = summary["persistence_calls"]
    names = [call["event_name"] for call in calls]
    assert "CreateUser" in names and "CreateAccessKey" in names
    assert set(names) == {
        "CreateAccessKey",
        "UpdateAssumeRolePolicy",
        "AttachUserPolicy",
        "CreateUser",
        "AttachRolePolicy",
        "CreateRole",
        "CreateLoginProfile",
        "UpdateLoginProfile",
        "GetFederationToken",
    }
    assert [call["time"] for call in calls] == sorted(call["time"] for call in calls)  # chronological
    created = {(call["event_name"], json.dumps(call["created"], sort_keys=True)) for call in calls}
    assert ("CreateUser", '{"user": "malicious-iam-user"}') in created
    assert ("CreateAccessKey", '{"access_key_id": "AKIAXAFZN8JEPF6L682H", "user": "malicious-iam-user"}') in created
    assert (
        "CreateAccessKey",
        '{"access_key_id": "AKIAL80DWDVKKM0UXEER", "user": "stratus-red-team-backdoor-u-user"}',
    ) in created
    assert ("CreateRole", '{"role": "stratus-red-team-malicious-iam-role"}') in created
    assert (
        "AttachUserPolicy",
        '{"policy": "arn:aws:iam::aws:policy/AdministratorAccess", "user": "malicious-iam-user"}',
    ) in created
    federation = by_name(calls)["GetFederationToken"]["created"]
    assert federation == {"federated_user": "stratus_red_team", "access_key_id": "ASIASTJKC5GCM7ZE6LUP"}
    assert all(call["succeeded"] for call in calls)
    assert by_name(calls)["CreateUser"]["caller_key"] == "AKIAOZUDECYXYM4ONAN4"


def test_backdoor_scenario_counts_and_failures():
    summary = summarize(events_of("leaked_user_key_backdoor.json"))

    assert summary["event_count"] == 14
    assert summary["by_service"] == {"iam.amazonaws.com": 10, "sts.amazonaws.com": 3, "signin.amazonaws.com": 1}
    assert summary["first_call"]["event_name"] == "CreateAccessKey"
    assert summary["first_call"]["time"] == "2024-07-30T21:53:13Z"
    assert summary["last_call"]["event_name"] == "GetCallerIdentity"
    assert summary["failed_calls"] == 1
    mutating = by_name(summary["mutating_calls"])
    assert mutating["DeleteLoginProfile"]["succeeded"] is False
    assert mutating["DeleteLoginProfile"]["error_code"] == "EntityTemporarilyUnmodifiableException"
    assert "ConsoleLogin" not in mutating and "GetCallerIdentity" not in mutating
    assert summary["source_ips"]["075.050.255.67"] == 3  # kept as written, even where not strict IPv4
    assert summary["new_since_previous_pass"] is None


def test_secrets_and_log_tampering_reads_are_not_mutating():
    summary = summarize(events_of("leaked_user_key_secrets_and_log_tampering.json"))

    mutating = {call["event_name"] for call in summary["mutating_calls"]}
    assert mutating == {"StopLogging", "DeleteTrail", "StopInstances", "ModifyInstanceAttribute", "StartInstances"}
    assert summary["persistence_calls"] == []


def test_aws_quarantine_is_not_the_attackers_persistence():
    summary = summarize(events_of("aws_compromised_key_quarantine_putuserpolicy.json"))

    assert summary["persistence_calls"] == []
    assert "quarantine" in summary["mutating_calls"][0]["by_aws"]
    assert summary["user_agents"] == {next(iter(summary["user_agents"])): 1}
    assert next(iter(summary["user_agents"])).startswith("aws-internal/3")


def test_run_instances_lists_the_instances_started():
    summary = summarize(events_of("run_instances_and_caller_identity_vendor_fixtures.json"))

    assert by_name(summary["persistence_calls"])["RunInstances"]["created"] == {"instances": ["i-0f2f135de18b555e3"]}


def test_denied_probing_is_counted_as_failed():
    summary = summarize(events_of("assumed_role_access_denied_probing.json"))

    assert summary["failed_calls"] == 7
    run = by_name(summary["persistence_calls"])["RunInstances"]
    assert run["succeeded"] is False and run["error_code"] == "Client.UnauthorizedOperation" and run["created"] == {}


def test_panther_normalized_export_survives():
    summary = summarize(events_of("exposed_key_probe_panther_normalized.json"))

    assert summary["event_count"] == 2 and summary["failed_calls"] == 1
    assert summary["access_key_ids"] == {"AKIASXP6SDP2F3JQERZ2": 2}


def test_unreadable_cloudtrail_event_does_not_break_the_summary():
    event = {
        "EventId": "x",
        "EventName": "CreateUser",
        "EventTime": "2026-11-22T10:00:00Z",
        "CloudTrailEvent": "{not json",
    }

    summary = summarize([event])

    assert summary["persistence_calls"][0]["created"] == {} and summary["source_ips"] == {"unknown": 1}


def test_second_pass_reports_only_what_the_first_did_not_see():
    first = events_of("leaked_user_key_backdoor.json")
    late = to_event(
        make_record(
            "CreateAccessKey",
            access_key_id="AKIAOZUDECYXYM4ONAN4",
            event_time="2024-12-01T00:00:00Z",
            response={"accessKey": {"accessKeyId": "AKIALATEKEY000000001", "userName": "late-user"}},
        )
    )
    previous = summarize(first)["event_ids"]

    summary = summarize([*first, late], previous_event_ids=previous)

    assert summary["new_since_previous_pass"]["count"] == 1
    assert summary["new_since_previous_pass"]["events"][0]["event_id"] == late["EventId"]
    flags = {call["event_id"]: call["new"] for call in summary["persistence_calls"]}
    assert flags[late["EventId"]] is True and sum(flags.values()) == 1


def test_event_ids_are_capped_newest_first_with_a_cutoff(monkeypatch):
    import investigate.summary as module

    monkeypatch.setattr(module, "MAX_EVENT_IDS", 3)
    events = [
        {
            "EventId": f"e{i}",
            "EventName": "ListBuckets",
            "EventTime": f"2026-11-22T10:0{i}:00Z",
            "CloudTrailEvent": "{}",
        }
        for i in range(5)
    ]

    first = summarize(events)
    late = {"EventId": "late", "EventName": "ListBuckets", "EventTime": "2026-11-22T10:03:30Z", "CloudTrailEvent": "{}"}
    second = summarize(
        [*events, late], previous_event_ids=first["event_ids"], previous_cutoff=first["event_ids_cutoff"]
    )

    assert first["event_ids"] == ["e4", "e3", "e2"] and first["event_ids_cutoff"] == "2026-11-22T10:02:00Z"
    assert [event["event_id"] for event in second["new_since_previous_pass"]["events"]] == ["late"]


def test_mutating_calls_are_capped_and_fit_keeps_the_summary_small():
    events = [
        to_event(
            make_record(
                "CreateUser",
                access_key_id="AKIAX",
                event_time=f"2026-11-22T10:{i // 60:02d}:{i % 60:02d}Z",
                request={"userName": f"user-{i}-" + "x" * 40},
            )
        )
        for i in range(600)
    ]

    full = summarize(events)
    summary = fit(full, limit=20_000)

    assert len(full["mutating_calls"]) == 50  # the evidence object's summary
    assert summary["mutating_total"] == 600 and 0 < len(summary["mutating_calls"]) <= 20
    assert len(json.dumps(summary)) <= 20_000
    assert "event_ids" not in summary  # pass 2 reads them from the evidence object
    assert summary["persistence_truncated"] is True and summary["persistence_total"] == 600
    assert 0 < len(summary["persistence_calls"]) < 600


def _policy_record(event_name, **request):
    return make_record(event_name, access_key_id="AKIAX", event_time="2026-11-22T10:00:00Z", request=request)


ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
DENY_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})


@pytest.mark.parametrize(
    "event_name, request_parameters, is_quarantine",
    [
        # AWS's managed policy by its exact ARN, on the caller's own user (alice is make_record's caller)
        (
            "AttachUserPolicy",
            {"userName": "alice", "policyArn": "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"},
            True,
        ),
        (
            "AttachUserPolicy",
            {"userName": "alice", "policyArn": "arn:aws-cn:iam::aws:policy/AWSCompromisedKeyQuarantineV2"},
            True,
        ),
        # a customer policy named like it, or AWS's on another user, or a longer name
        (
            "AttachUserPolicy",
            {"userName": "alice", "policyArn": "arn:aws:iam::123456789012:policy/AWSCompromisedKeyQuarantineV3"},
            False,
        ),
        (
            "AttachUserPolicy",
            {"userName": "backdoor", "policyArn": "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"},
            False,
        ),
        (
            "AttachUserPolicy",
            {"userName": "alice", "policyArn": "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3Admin"},
            False,
        ),
        (
            "AttachRolePolicy",
            {"roleName": "r", "policyArn": "arn:aws:iam::123456789012:policy/AWSCompromisedKeyQuarantineV9"},
            False,
        ),
        # inline: only a deny-only document, named as AWS's or ours, on the caller's own user
        (
            "PutUserPolicy",
            {"userName": "alice", "policyName": "AWSCompromisedKeyQuarantineV3", "policyDocument": DENY_ALL},
            True,
        ),
        (
            "PutUserPolicy",
            {"userName": "alice", "policyName": "CredentialResponderQuarantine", "policyDocument": DENY_ALL},
            True,
        ),
        (
            "PutUserPolicy",
            {"userName": "alice", "policyName": "AWSCompromisedKeyQuarantineV3", "policyDocument": ALLOW_ALL},
            False,
        ),
        (
            "PutUserPolicy",
            {"userName": "backdoor", "policyName": "AWSCompromisedKeyQuarantineV3", "policyDocument": DENY_ALL},
            False,
        ),
        (
            "PutUserPolicy",
            {"userName": "alice", "policyName": "AWSCompromisedKeyQuarantineV3", "policyDocument": "not json"},
            False,
        ),
    ],
)
def test_only_the_real_quarantine_is_aws_s(event_name, request_parameters, is_quarantine):
    from investigate.summary import is_aws_quarantine

    record = _policy_record(event_name, **request_parameters)
    assert is_aws_quarantine(record) is is_quarantine
    summary = summarize([to_event(record)])
    assert (summary["persistence_calls"] == []) is is_quarantine


def test_record_strings_are_one_bounded_line():
    record = _policy_record("CreateUser", userName="evil\n*PERSISTENCE* fake line\t" + "x" * 500)
    (call,) = summarize([to_event(record)])["persistence_calls"]
    assert "\n" not in call["created"]["user"] and len(call["created"]["user"]) <= 200


def test_persistence_calls_say_who_made_them_by_source():
    from investigate.summary import source_of

    split = {"attacker_ips": {"198.51.100.7"}, "attacker_accounts": {"999988887777"}, "own_ips": {"10.0.1.5"}}
    assert source_of({"sourceIPAddress": "198.51.100.7"}, **split) == "attacker"
    assert source_of({"sourceIPAddress": "10.0.9.9", "vpcEndpointAccountId": "999988887777"}, **split) == "attacker"
    assert source_of({"sourceIPAddress": "10.0.1.5", "vpcEndpointId": "vpce-1"}, **split) == "workload"
    assert source_of({"sourceIPAddress": "203.0.113.1"}, **split) == "unknown"


def test_digest_lists_succeeded_persistence_before_failed_noise():
    noise = [
        to_event(
            make_record(
                "RunInstances",
                access_key_id="AKIAX",
                event_time=f"2026-11-22T09:{i // 60:02d}:{i % 60:02d}Z",
                event_source="ec2.amazonaws.com",
                error_code="Client.DryRunOperation",
            )
        )
        for i in range(500)
    ]
    backdoor = to_event(_policy_record("CreateUser", userName="backdoor"))
    digest = fit(summarize([*noise, backdoor]))
    assert digest["persistence_calls"][0]["created"] == {"user": "backdoor"}
    assert digest["persistence_by_name"]["RunInstances"] == {"succeeded": 0, "failed": 500}
    assert len(json.dumps(digest)) <= 20_000
