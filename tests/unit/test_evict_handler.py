"""The evict handler end to end against moto: the investigation's evidence object in S3, the back doors in
IAM, the steps it returns; and release putting back what can be put back."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from drill.cloudtrail_fake import make_record
from evict import handler
from evict.actions import EVICTION_POLICY_NAME
from responder.release import plan as release_plan
from responder.release import release

BUCKET = "responder-evidence"
KEY = "AKIAEXPOSEDKEY000001"
INCIDENT = {
    "incident_id": "123456789012:health-comm-0001",
    "kind": "exposed-access-key",
    "source": "aws.health",
    "event_type": "AWS_RISK_CREDENTIALS_EXPOSED",
    "event_id": "e-1",
    "account": "123456789012",
    "region": "us-east-1",
    "detected_at": "2026-11-20T12:00:00Z",
    "first_seen": "2026-11-20T12:00:00Z",
    "affected_keys": [{"access_key_id": KEY, "user_name": "ci-deployer"}],
}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::193672423079:root"}, "Action": "sts:AssumeRole"}
    ],
}


def event(name: str, time: str, **kwargs: Any) -> dict[str, Any]:
    record = make_record(name, access_key_id=KEY, event_time=time, user_name="ci-deployer", **kwargs)
    return {"EventId": record["eventID"], "EventName": name, "EventTime": time, "CloudTrailEvent": json.dumps(record)}


@pytest.fixture
def account(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("EVIDENCE_BUCKET", BUCKET)
    for name in ("DRY_RUN", "EVICT_CREATED_USERS", "DRY_RUN_EVICT_CREATED_USERS"):
        monkeypatch.delenv(name, raising=False)
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    iam = boto3.client("iam")
    iam.create_user(UserName="ci-deployer")
    iam.create_user(UserName="malicious")
    iam.create_access_key(UserName="malicious")
    admin = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    arn = iam.create_policy(PolicyName="Admin", PolicyDocument=json.dumps(admin))
    iam.attach_user_policy(UserName="malicious", PolicyArn=arn["Policy"]["Arn"])
    iam.create_user(UserName="bob")
    iam.create_login_profile(UserName="bob", Password="Bob-password-1!")
    iam.create_role(RoleName="evil", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.create_role(RoleName="owners-role", AssumeRolePolicyDocument=json.dumps(TRUST))
    events = [
        event("GetCallerIdentity", "2026-11-20T08:00:00Z"),
        event("CreateRole", "2026-11-20T09:00:00Z", request={"roleName": "owners-role"}),  # the owner's
        event("CreateUser", "2026-11-20T12:04:00Z", request={"userName": "malicious"}, source_ip="203.0.113.66"),
        event(
            "AttachUserPolicy",
            "2026-11-20T12:04:01Z",
            request={"userName": "malicious", "policyArn": arn["Policy"]["Arn"]},
        ),
        event("UpdateLoginProfile", "2026-11-20T12:05:00Z", request={"userName": "bob"}),
        event(
            "CreateRole",
            "2026-11-20T12:06:00Z",
            request={"roleName": "evil", "assumeRolePolicyDocument": json.dumps(TRUST)},
        ),
    ]
    put(1, events)
    return iam


def put(pass_no: int, events: list[dict[str, Any]]) -> None:
    document = {"window": {"first_sighting": INCIDENT["first_seen"]}, "events": events}
    key = handler.evidence_key(INCIDENT["incident_id"], pass_no)
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=json.dumps(document).encode())


def run(lambda_context: Any, pass_no: int = 1) -> dict[str, Any]:
    return handler.handler({"incident": INCIDENT, "pass": pass_no}, lambda_context)


def test_every_back_door_is_evicted_and_the_owners_change_is_only_reported(account: Any, lambda_context: Any) -> None:
    iam = account
    result = run(lambda_context)
    statuses = {(s["name"], s["target"]): s["status"] for s in result["steps"]}
    assert statuses[("evict-created-user", "malicious")] == "done"
    assert statuses[("remove-login-profile", "bob")] == "done"
    assert statuses[("quarantine-created-role", "evil")] == "done"
    assert statuses[("owner-change", "owners-role")] == "skipped"
    # read back from the account
    assert iam.list_user_policies(UserName="malicious")["PolicyNames"] == [EVICTION_POLICY_NAME]
    assert iam.list_attached_user_policies(UserName="malicious")["AttachedPolicies"] == []
    assert EVICTION_POLICY_NAME in iam.list_role_policies(RoleName="evil")["PolicyNames"]
    assert iam.list_role_policies(RoleName="owners-role")["PolicyNames"] == []
    summary = result["steps"][0]
    assert (
        summary["name"] == "evict-backdoors"
        and "CloudTrail delivers events up to ~15 minutes late" in summary["detail"]
    )
    assert result["eviction"]["attacker_backdoor_calls"] == 4 and result["eviction"]["owner_backdoor_calls"] == 1
    owner = next(s for s in result["steps"] if s["name"] == "owner-change")
    assert "owner's: CreateRole at 2026-11-20T09:00:00Z (before the exposure" in owner["detail"]
    assert len(json.dumps(result)) < 40_000


def test_a_missing_evidence_object_is_a_loud_failure_not_a_clean_bill(account: Any, lambda_context: Any) -> None:
    result = run(lambda_context, pass_no=2)
    (only,) = result["steps"]
    assert only["status"] == "failed" and "back doors not evaluated" in only["detail"]


def test_more_back_doors_than_one_pass_acts_on_are_named_as_left(account: Any, lambda_context: Any) -> None:
    many = [
        event("CreateUser", f"2026-11-20T12:{minute:02d}:00Z", request={"userName": f"u{minute}"})
        for minute in range(handler.MAX_STEPS + 5)
    ]
    put(1, many)
    result = run(lambda_context)
    last = result["steps"][-1]
    assert last["status"] == "failed" and last["containment"] and "more back door(s)" in last["detail"]
    assert len(result["steps"]) == handler.MAX_STEPS + 2


def test_release_undoes_each_eviction_and_says_a_password_cannot_come_back(account: Any, lambda_context: Any) -> None:
    iam = account
    steps = run(lambda_context)["steps"]
    reversals, notes = release_plan(steps, iam=iam)
    assert {r.step for r in reversals} >= {"evict-created-user", "quarantine-created-role", "detach-attacker-policy"}
    outcomes = release(reversals, confirm=lambda reversal: True, record=lambda what: None)
    assert all(o.status == "released" for o in outcomes), [(o.reversal.what, o.detail) for o in outcomes]
    assert iam.list_user_policies(UserName="malicious")["PolicyNames"] == []
    assert {k["Status"] for k in iam.list_access_keys(UserName="malicious")["AccessKeyMetadata"]} == {"Active"}
    assert len(iam.list_attached_user_policies(UserName="malicious")["AttachedPolicies"]) == 1
    assert iam.list_role_policies(RoleName="evil")["PolicyNames"] == []
    assert any("remove-login-profile bob: not reversible, a password cannot be restored" in note for note in notes)


def test_a_stolen_instance_role_sessions_back_doors_fall_under_the_same_rule(account: Any, lambda_context: Any) -> None:
    from tests.factories import exfiltration_incident

    iam = account
    incident = exfiltration_incident(first_seen="2026-11-20T12:00:00Z")
    session = {"type": "AssumedRole", "accessKeyId": "ASIASTOLENSESSION001", "accountId": "123456789012"}

    def as_session(entry: dict[str, Any]) -> dict[str, Any]:
        record = json.loads(entry["CloudTrailEvent"])
        record["userIdentity"] = {**session, "arn": "arn:aws:sts::123456789012:assumed-role/web-app-role/i-0abc"}
        return {**entry, "CloudTrailEvent": json.dumps(record)}

    events = [
        as_session(event("ListRoles", "2026-11-20T11:00:00Z")),  # the instance's own work, from its address
        as_session(event("CreateUser", "2026-11-20T12:10:00Z", request={"userName": "malicious"})),
    ]
    document = {"window": {"first_sighting": incident["first_seen"]}, "events": events}
    key = handler.evidence_key(incident["incident_id"], 1)
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=json.dumps(document).encode())
    result = handler.handler({"incident": incident, "pass": 1}, lambda_context)
    evicted = [s for s in result["steps"] if s["name"] == "evict-created-user"]
    assert [s["status"] for s in evicted] == ["done"] and "attacker's: CreateUser" in evicted[0]["detail"]
    assert iam.list_user_policies(UserName="malicious")["PolicyNames"] == [EVICTION_POLICY_NAME]


def test_one_action_in_dry_run_changes_nothing_of_its_own_and_says_so(
    account: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    iam = account
    monkeypatch.setenv("DRY_RUN_EVICT_CREATED_USERS", "true")
    steps = {(s["name"], s["target"]): s for s in run(lambda_context)["steps"]}
    user = steps[("evict-created-user", "malicious")]
    assert user["status"] == "skipped" and user["detail"].startswith("dry-run: would")
    assert iam.list_user_policies(UserName="malicious")["PolicyNames"] == []
    assert {k["Status"] for k in iam.list_access_keys(UserName="malicious")["AccessKeyMetadata"]} == {"Active"}
    assert steps[("quarantine-created-role", "evil")]["status"] == "done"  # the others still act
