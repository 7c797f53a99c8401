"""investigate.backdoors against moto IAM: the attacker's keys are deactivated, nobody else's."""

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws
from moto.iam.models import iam_backends

from drill.cloudtrail_fake import make_record, to_event
from investigate import backdoors
from investigate.summary import summarize

EXPOSED_AT = datetime.now(UTC) - timedelta(hours=1)


@pytest.fixture
def iam(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("iam", region_name="us-east-1")


def new_key(iam, user):
    return iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]


def backdate(user, key_id, days):
    """moto stamps keys with the current time; an owner's key from last month needs an older one."""
    for key in iam_backends["123456789012"]["aws"].users[user].access_keys:
        if key.access_key_id == key_id:
            key.create_date = (datetime.now(UTC) - timedelta(days=days)).replace(tzinfo=None)


def status(iam, user, key_id):
    return {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}[key_id]


def create_access_key_by(caller_key, created_key, user, *, minutes_ago=30, error_code=None):
    """The record of `caller_key` creating `created_key` for `user`."""
    return to_event(
        make_record(
            "CreateAccessKey",
            access_key_id=caller_key,
            event_time=datetime.now(UTC) - timedelta(minutes=minutes_ago),
            request={"userName": user},
            response=None
            if error_code
            else {"accessKey": {"accessKeyId": created_key, "userName": user, "status": "Active"}},
            error_code=error_code,
        )
    )


@pytest.fixture
def account(iam):
    """alice: an owner's key from last month + the exposed key; the attacker's user with its key."""
    for user in ("alice", "malicious-iam-user"):
        iam.create_user(UserName=user)
    old, exposed = new_key(iam, "alice"), new_key(iam, "alice")
    backdate("alice", old, days=30)
    planted = new_key(iam, "malicious-iam-user")
    return {"old": old, "exposed": exposed, "planted": planted}


def test_attacker_key_is_deactivated_and_the_owners_keys_are_not(iam, account):
    summary = summarize([create_access_key_by(account["exposed"], account["planted"], "malicious-iam-user")])
    keys = backdoors.attacker_keys(summary["persistence_calls"], {account["exposed"]})

    steps = [backdoors.deactivate_key(iam, key, enabled=True, exposed_at=EXPOSED_AT) for key in keys]

    assert [(s["name"], s["status"], s["target"]) for s in steps] == [
        ("deactivate-backdoor-key", "done", account["planted"])
    ]
    assert steps[0]["undo"] == (
        f"aws iam update-access-key --user-name malicious-iam-user --access-key-id {account['planted']} --status Active"
    )
    assert "read back" in steps[0]["detail"] and account["exposed"] in steps[0]["detail"]
    assert status(iam, "malicious-iam-user", account["planted"]) == "Inactive"
    assert status(iam, "alice", account["old"]) == "Active"
    assert status(iam, "alice", account["exposed"]) == "Active"  # containment's business, not ours


def test_second_run_is_already_done(iam, account):
    key = {"access_key_id": account["planted"], "user": "malicious-iam-user", "time": "2026-01-01T00:00:00Z"}
    backdoors.deactivate_key(iam, key, enabled=True, exposed_at=EXPOSED_AT)

    again = backdoors.deactivate_key(iam, key, enabled=True, exposed_at=EXPOSED_AT)

    assert again["status"] == "already-done" and "already Inactive" in again["detail"]


def test_deleted_key_is_already_done(iam, account):
    iam.delete_access_key(UserName="malicious-iam-user", AccessKeyId=account["planted"])
    key = {"access_key_id": account["planted"], "user": "malicious-iam-user"}

    result = backdoors.deactivate_key(iam, key, enabled=True, exposed_at=EXPOSED_AT)

    assert result["status"] == "already-done" and "no longer exists" in result["detail"]


def test_deleted_user_is_already_done(iam):
    key = {"access_key_id": "AKIAGONEGONEGONE0001", "user": "gone-user"}

    result = backdoors.deactivate_key(iam, key, enabled=True, exposed_at=EXPOSED_AT)

    assert result["status"] == "already-done"


def test_switched_off_by_configuration(iam, account):
    key = {"access_key_id": account["planted"], "user": "malicious-iam-user"}

    result = backdoors.deactivate_key(iam, key, enabled=False, exposed_at=EXPOSED_AT)

    assert result["status"] == "skipped" and result["manual"].endswith("--status Inactive")
    assert status(iam, "malicious-iam-user", account["planted"]) == "Active"


def test_never_the_incident_key_nor_failed_or_foreign_creations(account):
    events = [
        create_access_key_by(account["exposed"], account["exposed"], "alice"),  # nonsense, but never touch it
        create_access_key_by(account["exposed"], "AKIAFAILEDKEY0000001", "alice", error_code="LimitExceeded"),
    ]

    keys = backdoors.attacker_keys(summarize(events)["persistence_calls"], {account["exposed"]})

    assert keys == []


def test_key_created_for_the_exposed_user_itself(iam):
    iam.create_user(UserName="bob")
    exposed = new_key(iam, "bob")
    planted = new_key(iam, "bob")  # the attacker's second key for the same user
    summary = summarize([create_access_key_by(exposed, planted, "bob")])
    keys = backdoors.attacker_keys(summary["persistence_calls"], {exposed})

    sweep = backdoors.sweep_user_keys(
        iam,
        "bob",
        incident_keys={exposed},
        exposed_at=EXPOSED_AT,
        attacker_key_ids={key["access_key_id"] for key in keys},
    )
    [result] = [backdoors.deactivate_key(iam, key, enabled=True, exposed_at=EXPOSED_AT) for key in keys]

    assert (
        result["status"] == "done"
        and status(iam, "bob", planted) == "Inactive"
        and status(iam, "bob", exposed) == "Active"
    )
    marks = {key["access_key_id"]: key for key in sweep}
    assert marks[planted]["created_after_exposure"] and marks[planted]["created_by_attacker"]
    assert marks[exposed]["is_incident_key"]


def test_sweep_reports_old_and_unattributed_keys_without_touching_them(iam, account):
    sweep = backdoors.sweep_user_keys(
        iam, "alice", incident_keys={account["exposed"]}, exposed_at=EXPOSED_AT, attacker_key_ids=set()
    )
    step = backdoors.sweep_step("alice", sweep)

    marks = {key["access_key_id"]: key for key in sweep}
    assert marks[account["old"]]["created_after_exposure"] is False and not marks[account["old"]]["created_by_attacker"]
    assert step["status"] == "done" and "older than the exposure, left alone" in step["detail"]
    assert status(iam, "alice", account["old"]) == "Active"


def test_key_owner(iam, account):
    assert backdoors.key_owner(iam, account["exposed"]) == "alice"
    assert backdoors.key_owner(iam, "AKIANOSUCHKEY0000001") is None


def test_created_entities_have_console_links():
    events = [
        to_event(
            make_record(
                "CreateUser",
                access_key_id="AKIAX",
                event_time="2026-11-22T10:00:00Z",
                request={"userName": "evil+user"},
            )
        ),
        to_event(
            make_record(
                "CreateRole",
                access_key_id="AKIAX",
                event_time="2026-11-22T10:01:00Z",
                request={"roleName": "evil-role"},
            )
        ),
        create_access_key_by("AKIAX", "AKIAPLANTED000000001", "evil+user"),
        to_event(
            make_record(
                "CreateUser",
                access_key_id="AKIAX",
                event_time="2026-11-22T10:02:00Z",
                request={"userName": "denied"},
                error_code="AccessDenied",
            )
        ),
    ]

    entities = backdoors.created_entities(summarize(events)["persistence_calls"], "eu-west-1")

    assert sorted(entities, key=lambda entity: entity["type"], reverse=True) == [
        {
            "type": "iam-user",
            "name": "evil+user",
            "console": "https://console.aws.amazon.com/iam/home#/users/details/evil%2Buser",
        },
        {
            "type": "iam-role",
            "name": "evil-role",
            "console": "https://console.aws.amazon.com/iam/home#/roles/details/evil-role",
        },
        {
            "type": "access-key",
            "user": "evil+user",
            "access_key_id": "AKIAPLANTED000000001",
            "console": "https://console.aws.amazon.com/iam/home#/users/details/evil%2Buser?section=security_credentials",
        },
    ]
    assert backdoors.console_host("us-gov-west-1") == "console.amazonaws-us-gov.com"


# -- keys reported, not deactivated ------------------------------------------------------------------


def test_an_exempted_principals_key_is_held_back(monkeypatch):
    from common.guards import principal_guard

    monkeypatch.setenv("EXEMPT_PRINCIPAL_ARNS", "arn:aws:iam::123456789012:user/automation")
    record = make_record(
        "CreateAccessKey",
        access_key_id="AKIAAUTOMATION00001",
        event_time="2026-11-22T10:00:00Z",
        user_name="automation",
        request={"userName": "uploader"},
        response={"accessKey": {"accessKeyId": "AKIACREATED000000001", "userName": "uploader"}},
    )
    calls = summarize([to_event(record)])["persistence_calls"]
    (key,) = backdoors.attacker_keys(calls, {"AKIAAUTOMATION00001"})

    reason = backdoors.held_back(key, principal_guard)
    assert reason and "exempted by configuration" in reason
    reported = backdoors.report_key(key, reason)
    assert reported["status"] == "skipped" and reported["containment"] is False
    assert reported["manual"].endswith("--status Inactive")

    monkeypatch.setenv("EXEMPT_PRINCIPAL_ARNS", "arn:aws:iam::123456789012:user/someone-else")
    assert backdoors.held_back(key, principal_guard) is None


def test_the_workloads_own_key_is_held_back():
    assert "workload's own key" in backdoors.held_back({"source": "workload", "source_ip": "10.0.1.5"}, lambda *_: None)
    assert backdoors.held_back({"source": "attacker"}, lambda *_: None) is None
    assert backdoors.held_back({"source": "unknown"}, lambda *_: None) is None  # not proven the workload's


def test_many_key_steps_are_folded_so_the_state_stays_bounded():
    from common.steps import Status, step
    from investigate.handler import MAX_KEY_STEPS, bound_steps

    steps = [step("investigate-cloudtrail", Status.DONE, "AKIA", "pass 1")]
    steps += [
        step(backdoors.DEACTIVATE_STEP, Status.DONE, f"AKIAKEY{i:04d}", "off", containment=True) for i in range(100)
    ]
    steps += [step(backdoors.DEACTIVATE_STEP, Status.FAILED, "AKIAKEYBAD", "denied", containment=True)]

    bounded = bound_steps(steps, "s3://b/investigations/x/pass-1.json")

    keys = [s for s in bounded if s["name"] == backdoors.DEACTIVATE_STEP]
    assert len(keys) == MAX_KEY_STEPS + 2
    folded = {s["status"]: s for s in keys[MAX_KEY_STEPS:]}
    assert folded["done"]["target"] == "90 more key(s)" and folded["done"]["containment"] is True
    assert (
        folded["failed"]["target"] == "1 more key(s)"
        and "s3://b/investigations/x/pass-1.json" in folded["failed"]["manual"]
    )
