"""Exposed-key containment against a simulated IAM (moto): state is read back from IAM."""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError

from contain_key import actions
from contain_key.actions import (
    FALLBACK_POLICY,
    FALLBACK_POLICY_NAME,
    OLDER_SESSIONS_POLICY,
    ROOT_USER_NAME,
    NotTheOwnersKey,
    deactivate_key,
    older_sessions_policy,
    quarantine_user,
    revoke_user_sessions,
)

QUARANTINE_ARN = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"


@pytest.fixture
def iam(aws):
    return boto3.client("iam")


@pytest.fixture
def exposed(iam):
    iam.create_user(UserName="ci-deployer")
    exposed = iam.create_access_key(UserName="ci-deployer")["AccessKey"]["AccessKeyId"]
    bystander = iam.create_access_key(UserName="ci-deployer")["AccessKey"]["AccessKeyId"]
    return exposed, bystander


def statuses(iam, user: str) -> dict[str, str]:
    return {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}


def managed_quarantine_policy(iam) -> str:
    """moto lacks AWS's quarantine policy; a customer-managed stand-in has the same attach path."""
    return iam.create_policy(
        PolicyName="AWSCompromisedKeyQuarantineV3",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"}]}
        ),
    )["Policy"]["Arn"]


def as_root_key(user: str) -> None:
    """moto has no root access keys: make the user's keys read as IAM reports a root key's."""
    from moto.iam.models import iam_backends

    backend = iam_backends["123456789012"]["global"]
    staged = backend.users.pop(user)
    staged.name = ROOT_USER_NAME
    backend.users[ROOT_USER_NAME] = staged
    for key in staged.access_keys:
        key.user_name = ROOT_USER_NAME


def test_key_owner_is_what_iam_says(iam, exposed) -> None:
    assert actions.key_owner(iam, exposed[0]) == "ci-deployer"
    assert actions.key_owner(iam, "AKIAUNKNOWNUNKNOWN00") is None  # IAM: NoSuchEntity for the key


def test_a_key_missing_from_the_named_users_list_is_not_deleted(iam, exposed) -> None:
    """UpdateAccessKey on a user that does not hold the key (or does not exist) answers NoSuchEntity:
    that says nothing about the key, and nothing is changed (the handler then asks IAM for the owner)."""
    iam.create_user(UserName="alice")
    with pytest.raises(NotTheOwnersKey):
        deactivate_key(iam, "alice", exposed[0])
    with pytest.raises(NotTheOwnersKey):
        deactivate_key(iam, "nobody", exposed[0])
    assert statuses(iam, "ci-deployer")[exposed[0]] == "Active"


def test_deactivates_only_the_exposed_key_and_reruns_idempotently(iam, exposed) -> None:
    key, bystander = exposed
    first = deactivate_key(iam, "ci-deployer", key)
    assert first["status"] == "done" and first["containment"]
    assert statuses(iam, "ci-deployer") == {key: "Inactive", bystander: "Active"}
    assert "--status Active" in first["undo"]
    # Written first, read back after: a key already Inactive reads back the same (no read before the write).
    again = deactivate_key(iam, "ci-deployer", key)
    assert again["status"] == "done" and "Inactive (read back)" in again["detail"]
    assert statuses(iam, "ci-deployer") == {key: "Inactive", bystander: "Active"}


def test_deleted_key_and_deleted_user_are_reported_not_retried(iam, exposed) -> None:
    key, bystander = exposed
    iam.delete_access_key(UserName="ci-deployer", AccessKeyId=key)
    with pytest.raises(NotTheOwnersKey):
        deactivate_key(iam, "ci-deployer", key)
    assert actions.key_owner(iam, key) is None  # only IAM's answer for the key says it is gone
    iam.delete_access_key(UserName="ci-deployer", AccessKeyId=bystander)
    iam.delete_user(UserName="ci-deployer")
    with pytest.raises(NotTheOwnersKey):
        deactivate_key(iam, "ci-deployer", key)


def test_dry_run_changes_nothing(iam, exposed) -> None:
    key, _ = exposed
    result = deactivate_key(iam, "ci-deployer", key, dry_run=True)
    assert result["status"] == "skipped" and result["detail"].startswith("dry-run")
    assert statuses(iam, "ci-deployer")[key] == "Active"


def test_a_read_back_that_disagrees_is_a_failure(iam, exposed, monkeypatch) -> None:
    key, _ = exposed
    monkeypatch.setattr(iam, "update_access_key", lambda **kwargs: {})  # the call "succeeds" but changes nothing
    result = deactivate_key(iam, "ci-deployer", key)
    assert result["status"] == "failed" and "reads back as Active" in result["detail"]


def test_quarantine_attaches_the_managed_policy_once(iam, exposed) -> None:
    arn = managed_quarantine_policy(iam)
    first = quarantine_user(iam, "ci-deployer", arn)
    assert first["status"] == "done"
    again = quarantine_user(iam, "ci-deployer", arn)
    assert again["status"] == "already-done"
    attached = iam.list_attached_user_policies(UserName="ci-deployer")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [arn]


def test_quarantine_falls_back_to_an_inline_deny_and_says_so(iam, exposed) -> None:
    # moto does not know AWS's managed policy: the same NoSuchEntity a partition without it gives.
    result = quarantine_user(iam, "ci-deployer", QUARANTINE_ARN)
    assert result["status"] == "done"
    assert "could not attach AWSCompromisedKeyQuarantineV3 (NoSuchEntity)" in result["detail"]
    document = iam.get_user_policy(UserName="ci-deployer", PolicyName=FALLBACK_POLICY_NAME)["PolicyDocument"]
    assert document == FALLBACK_POLICY
    assert quarantine_user(iam, "ci-deployer", QUARANTINE_ARN)["status"] == "already-done"


def test_a_policy_planted_under_the_quarantines_name_is_read_overwritten_and_the_quarantine_attached(
    iam, exposed
) -> None:
    arn = managed_quarantine_policy(iam)
    allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(UserName="ci-deployer", PolicyName=FALLBACK_POLICY_NAME, PolicyDocument=json.dumps(allow))

    result = quarantine_user(iam, "ci-deployer", arn)

    assert result["status"] == "done" and "planted before containment" in result["detail"]
    attached = iam.list_attached_user_policies(UserName="ci-deployer")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [arn]
    document = iam.get_user_policy(UserName="ci-deployer", PolicyName=FALLBACK_POLICY_NAME)["PolicyDocument"]
    assert document == FALLBACK_POLICY
    assert quarantine_user(iam, "ci-deployer", arn)["status"] == "already-done"


def test_fallback_policy_fits_the_inline_policy_limit() -> None:
    assert len(json.dumps(FALLBACK_POLICY, separators=(",", ":"))) < 2048


def test_quarantine_of_a_deleted_user_has_nothing_left_to_do(iam) -> None:
    assert quarantine_user(iam, "nobody", QUARANTINE_ARN)["status"] == "already-done"


NOW = datetime(2026, 11, 20, 3, 5, 7, 250000, tzinfo=UTC)
# When the key was confirmed Inactive: a cut-off at or after it denies every session minted from it.
DEACTIVATED = datetime(2026, 11, 20, 3, 2, 11, tzinfo=UTC)
DETECTED = "2026-11-20T03:02:11Z"


def user_policy(iam, user: str, name: str = OLDER_SESSIONS_POLICY) -> dict:
    return iam.get_user_policy(UserName=user, PolicyName=name)["PolicyDocument"]


def test_revoke_user_sessions_denies_sessions_issued_before_now(iam, exposed) -> None:
    result = revoke_user_sessions(iam, "ci-deployer", not_before=DEACTIVATED, now=NOW)
    assert result["status"] == "done" and result["containment"]
    # Rounded up to the next second: a session issued at 03:05:07.1 is before the cut-off.
    assert user_policy(iam, "ci-deployer") == older_sessions_policy("2026-11-20T03:05:08Z")
    statement = user_policy(iam, "ci-deployer")["Statement"][0]
    assert statement["Effect"] == "Deny" and statement["Action"] == "*"
    assert statement["Condition"] == {"DateLessThan": {"aws:TokenIssueTime": "2026-11-20T03:05:08Z"}}
    assert "other keys keep working" in result["detail"]
    assert shlex.split(result["undo"]) == [
        "aws", "iam", "delete-user-policy", "--user-name", "ci-deployer", "--policy-name", OLDER_SESSIONS_POLICY
    ]  # fmt: skip
    # The user's keys are untouched: a long-term key carries no aws:TokenIssueTime.
    assert set(statuses(iam, "ci-deployer").values()) == {"Active"}


def test_revoke_user_sessions_is_idempotent_and_renews_an_older_cutoff(iam, exposed) -> None:
    revoke_user_sessions(iam, "ci-deployer", not_before=DEACTIVATED, now=NOW)
    again = revoke_user_sessions(iam, "ci-deployer", not_before=DEACTIVATED, now=datetime(2026, 11, 21, tzinfo=UTC))
    assert again["status"] == "already-done" and "2026-11-20T03:05:08Z" in again["detail"]
    assert again["undo"]
    # A key deactivated after the cut-off (a later incident) needs a new one.
    later = revoke_user_sessions(
        iam, "ci-deployer", not_before=datetime(2026, 11, 22, tzinfo=UTC), now=datetime(2026, 11, 22, 0, 1, tzinfo=UTC)
    )
    assert later["status"] == "done"
    assert user_policy(iam, "ci-deployer") == older_sessions_policy("2026-11-22T00:01:00Z")


def test_a_cut_off_the_attacker_narrowed_to_one_source_is_replaced_not_taken_as_done(iam, exposed) -> None:
    narrowed = older_sessions_policy("2026-11-21T00:00:00Z")  # after the deactivation: it would pass
    narrowed["Statement"][0]["Condition"]["IpAddress"] = {"aws:SourceIp": "198.51.100.1/32"}
    iam.put_user_policy(UserName="ci-deployer", PolicyName=OLDER_SESSIONS_POLICY, PolicyDocument=json.dumps(narrowed))
    result = revoke_user_sessions(iam, "ci-deployer", not_before=DEACTIVATED, now=NOW)
    assert result["status"] == "done"
    assert user_policy(iam, "ci-deployer") == older_sessions_policy("2026-11-20T03:05:08Z")


def test_revoke_user_sessions_of_a_deleted_user_and_in_dry_run(iam, exposed) -> None:
    gone = revoke_user_sessions(iam, "nobody", not_before=DEACTIVATED, now=NOW)
    assert gone["status"] == "already-done" and "NoSuchEntity for user nobody" in gone["detail"]
    dry = revoke_user_sessions(iam, "ci-deployer", not_before=DEACTIVATED, dry_run=True, now=NOW)
    assert dry["status"] == "skipped" and "put-user-policy" in dry["manual"]
    assert iam.list_user_policies(UserName="ci-deployer")["PolicyNames"] == []


def test_a_revoke_that_does_not_read_back_is_a_failure(iam, exposed, monkeypatch) -> None:
    monkeypatch.setattr(iam, "put_user_policy", lambda **kwargs: {})
    result = revoke_user_sessions(iam, "ci-deployer", not_before=DEACTIVATED, now=NOW)
    assert result["status"] == "failed" and "does not read back" in result["detail"]
    assert shlex.split(result["manual"])[:3] == ["aws", "iam", "put-user-policy"]


def test_a_later_cutoff_written_by_a_parallel_containment_covers_this_one(iam, exposed, monkeypatch) -> None:
    """Two keys of one user, two Map items: the other item's put lands last with a later cut-off."""
    real_put = iam.put_user_policy
    later = older_sessions_policy("2030-01-01T00:00:00Z")

    def put_then_the_other_item_puts(**kwargs):
        real_put(**kwargs)
        real_put(UserName=kwargs["UserName"], PolicyName=kwargs["PolicyName"], PolicyDocument=json.dumps(later))

    monkeypatch.setattr(iam, "put_user_policy", put_then_the_other_item_puts)
    result = revoke_user_sessions(iam, "ci-deployer", not_before=DEACTIVATED, now=NOW)
    assert result["status"] == "done" and result["data"]["cutoff"] == "2030-01-01T00:00:00Z"


def test_an_earlier_cutoff_written_meanwhile_is_a_failure(iam, exposed, monkeypatch) -> None:
    real_put = iam.put_user_policy
    earlier = older_sessions_policy("2000-01-01T00:00:00Z")  # denies less than this run's cut-off
    monkeypatch.setattr(
        iam,
        "put_user_policy",
        lambda **kwargs: real_put(
            UserName=kwargs["UserName"], PolicyName=kwargs["PolicyName"], PolicyDocument=json.dumps(earlier)
        ),
    )
    result = revoke_user_sessions(iam, "ci-deployer", not_before=DEACTIVATED, now=NOW)
    assert result["status"] == "failed" and "does not read back" in result["detail"]


def test_both_inline_policies_fit_the_users_aggregate_limit() -> None:
    # IAM's limit on all of a user's inline policies together: 2,048 characters, whitespace not counted.
    total = sum(
        len(json.dumps(policy, separators=(",", ":")))
        for policy in (FALLBACK_POLICY, older_sessions_policy("2026-11-20T03:05:08Z"))
    )
    assert total < 2048


def test_unexpected_errors_propagate_for_the_state_machine_to_retry(iam, exposed, monkeypatch) -> None:
    def throttled(**kwargs):
        raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "ListAccessKeys")

    monkeypatch.setattr(iam, "get_paginator", lambda name: type("P", (), {"paginate": lambda self, **k: throttled()})())
    with pytest.raises(ClientError):
        deactivate_key(iam, "ci-deployer", exposed[0])


class TestHandler:
    def invoke(self, lambda_context, key_id: str, user: str | None = None, account: str = "123456789012", **extra):
        from contain_key.handler import handler

        event = {
            "incident": {
                "incident_id": "123456789012:health:x",
                "account": account,
                "detected_at": DETECTED,
                **extra,
            },
            "key": {"access_key_id": key_id, "user_name": user},
        }
        return handler(event, lambda_context)["steps"]

    def test_resolves_the_owner_and_contains(self, iam, exposed, lambda_context) -> None:
        steps = self.invoke(lambda_context, exposed[0])
        assert [(s["name"], s["status"]) for s in steps] == [
            ("deactivate-access-key", "done"),
            ("quarantine-user", "done"),
            ("revoke-user-sessions", "done"),
        ]
        assert statuses(iam, "ci-deployer")[exposed[0]] == "Inactive"
        assert OLDER_SESSIONS_POLICY in iam.list_user_policies(UserName="ci-deployer")["PolicyNames"]

    def test_the_named_user_is_verified_and_the_real_owner_contained(self, iam, exposed, lambda_context) -> None:
        iam.create_user(UserName="alice")
        alice_key = iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
        steps = self.invoke(lambda_context, exposed[0], "alice")
        assert [s["status"] for s in steps] == ["done", "done", "done"]
        assert "the event names alice, but IAM says the key belongs to ci-deployer" in steps[0]["detail"]
        assert {s["target"] for s in steps[1:]} == {"ci-deployer"}
        assert statuses(iam, "ci-deployer")[exposed[0]] == "Inactive"
        assert statuses(iam, "alice") == {alice_key: "Active"}
        assert iam.list_user_policies(UserName="alice")["PolicyNames"] == []

    def test_unknown_key_is_gone_only_because_iam_says_so(self, iam, lambda_context) -> None:
        # Deliberately changed: IAM's NoSuchEntity for the key is "deleted" (already-done); the
        # sessions minted from it cannot be tied to a user, and that step fails with the lookup.
        deactivate, sessions = self.invoke(lambda_context, "AKIAUNKNOWNUNKNOWN00")
        assert deactivate["status"] == "already-done" and "NoSuchEntity for this key" in deactivate["detail"]
        assert deactivate["data"] == {"key": "deleted"}  # the report offers nothing to delete or rotate
        assert sessions["name"] == "revoke-user-sessions" and sessions["status"] == "failed"
        assert "lookup-events" in sessions["manual"]

    def test_a_deleted_key_still_has_its_named_users_older_sessions_denied(self, iam, exposed, lambda_context) -> None:
        iam.delete_access_key(UserName="ci-deployer", AccessKeyId=exposed[0])
        deactivate, sessions = self.invoke(lambda_context, exposed[0], "ci-deployer")
        assert deactivate["status"] == "already-done"
        assert sessions["status"] == "done" and sessions["detail"].startswith("owner as named by the event")
        assert iam.list_user_policies(UserName="ci-deployer")["PolicyNames"] == [OLDER_SESSIONS_POLICY]

    def test_a_lookup_iam_refuses_fails_without_changing_anything(
        self, iam, exposed, lambda_context, monkeypatch
    ) -> None:
        from common.aws import client

        def denied(**kwargs):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetAccessKeyLastUsed")

        monkeypatch.setattr(client("iam"), "get_access_key_last_used", denied)
        (step,) = self.invoke(lambda_context, exposed[0])  # no user named: IAM must name the owner first
        assert step["status"] == "failed" and "AccessDenied" in step["detail"]
        assert statuses(iam, "ci-deployer")[exposed[0]] == "Active"

    @pytest.mark.parametrize(
        ("account", "extra"),
        [
            ("999988887777", {}),
            (
                "210987654321",
                {
                    "delivered_to": "123456789012",
                    "account_conflict": "detail.affectedAccount names account 210987654321, but account 123456789012",
                },
            ),
            (
                "123456789012",
                {
                    "delivered_to": "999988887777",
                    "account_conflict": "detail.affectedAccount names account 123456789012, but account 999988887777",
                },
            ),
        ],
    )
    def test_key_of_another_account_or_a_disputed_account_is_not_touched(
        self, iam, exposed, lambda_context, account, extra
    ) -> None:
        (step,) = self.invoke(lambda_context, exposed[0], "ci-deployer", account=account, **extra)
        assert step["status"] == "failed" and f"the key belongs to account {account}" in step["detail"]
        assert f"with credentials for account {account}:" in step["manual"]
        assert "update-access-key --user-name ci-deployer" in step["manual"]
        assert statuses(iam, "ci-deployer")[exposed[0]] == "Active"
        assert iam.list_user_policies(UserName="ci-deployer")["PolicyNames"] == []

    def test_root_key_is_recognised_by_what_iam_returns(self, iam, lambda_context) -> None:
        iam.create_user(UserName="rooty")
        key = iam.create_access_key(UserName="rooty")["AccessKey"]["AccessKeyId"]
        as_root_key("rooty")
        (step,) = self.invoke(lambda_context, key, "rooty")
        assert step["status"] == "skipped" and "root" in step["detail"]
        # The report tells the root user's steps from an IAM user's by this, never by a name.
        assert step["data"] == {"owner": "root"}

    def test_a_root_key_named_by_its_arn_is_never_acted_on(self, iam, exposed, lambda_context, monkeypatch) -> None:
        from common.aws import client

        monkeypatch.setattr(
            client("iam"), "get_access_key_last_used", lambda **kw: {"UserName": "arn:aws:iam::123456789012:root"}
        )
        (step,) = self.invoke(lambda_context, exposed[0])
        assert step["status"] == "skipped" and "root" in step["detail"]
        assert statuses(iam, "ci-deployer")[exposed[0]] == "Active"

    def test_a_user_merely_named_root_is_contained(self, iam, lambda_context) -> None:
        iam.create_user(UserName="root")
        key = iam.create_access_key(UserName="root")["AccessKey"]["AccessKeyId"]
        steps = self.invoke(lambda_context, key, "root")
        assert steps[0]["status"] == "done"
        assert statuses(iam, "root")[key] == "Inactive"

    @pytest.mark.parametrize(
        "exempt",
        [
            "arn:aws:iam::123456789012:user/ops/breakglass",
            "arn:aws:iam::123456789012:user/ops/BreakGlass",  # IAM's names ignore case
            "arn:aws:iam::123456789012:user/breakglass",  # the name alone is unique in the account
            # Another path names the same principal: a name is unique in an account whatever its path,
            # and the exemption is decided before any call, from the name.
            "arn:aws:iam::123456789012:user/dev/breakglass",
        ],
    )
    def test_exempted_principal_is_matched_on_its_real_arn(self, iam, lambda_context, monkeypatch, exempt) -> None:
        iam.create_user(UserName="breakglass", Path="/ops/")
        key = iam.create_access_key(UserName="breakglass")["AccessKey"]["AccessKeyId"]
        monkeypatch.setenv("EXEMPT_PRINCIPAL_ARNS", f"arn:aws:iam::123456789012:user/other, {exempt}")
        (step,) = self.invoke(lambda_context, key)
        assert step["status"] == "skipped" and "user breakglass is exempted" in step["detail"]
        assert exempt in step["detail"]
        assert statuses(iam, "breakglass")[key] == "Active"

    @pytest.mark.parametrize(
        "exempt",
        [
            "arn:aws-cn:iam::123456789012:user/ops/breakglass",
            "arn:aws:iam::999988887777:user/ops/breakglass",
            "arn:aws:iam::123456789012:role/ops/breakglass",
        ],
    )
    def test_an_exemption_of_another_principal_does_not_match(self, iam, lambda_context, monkeypatch, exempt) -> None:
        iam.create_user(UserName="breakglass", Path="/ops/")
        key = iam.create_access_key(UserName="breakglass")["AccessKey"]["AccessKeyId"]
        monkeypatch.setenv("EXEMPT_PRINCIPAL_ARNS", exempt)
        steps = self.invoke(lambda_context, key)
        assert steps[0]["status"] == "done"

    def test_global_dry_run(self, iam, exposed, lambda_context, monkeypatch) -> None:
        monkeypatch.setenv("DRY_RUN", "true")
        steps = self.invoke(lambda_context, exposed[0], "ci-deployer")
        assert {s["status"] for s in steps} == {"skipped"}
        assert len(steps) == 3
        assert statuses(iam, "ci-deployer")[exposed[0]] == "Active"
        assert iam.list_user_policies(UserName="ci-deployer")["PolicyNames"] == []


# -- the first task: the raw event, contained before it is normalized in full ------------------------


def health_event(key_id: str, user: str | None = None, **envelope: object) -> dict:
    metadata = {"publicKey": key_id, **({"userName": user} if user else {})}
    return {
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "AWS Health Event",
        "source": "aws.health",
        "account": "123456789012",
        "time": "2026-11-30T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventArn": "arn:aws:health:us-east-1::event/RISK/AWS_RISK_CREDENTIALS_EXPOSED/X1",
            "service": "RISK",
            "eventTypeCode": "AWS_RISK_CREDENTIALS_EXPOSED",
            "communicationId": "first-task-test",
            "eventMetadata": metadata,
            "affectedEntities": [{"entityValue": key_id}],
        },
        **envelope,
    }


def test_first_task_contains_before_normalizing_and_hands_on_the_intake(iam, exposed, lambda_context) -> None:
    from contain_key.handler import handler

    key_id, bystander = exposed
    out = handler({"event": health_event(key_id, "ci-deployer"), "execution_id": "arn:x"}, lambda_context)
    assert statuses(iam, "ci-deployer") == {key_id: "Inactive", bystander: "Active"}
    intake = out["intake"]
    assert intake["status"] == "accepted" and intake["contained_at_intake"] is True
    assert intake["incident"]["incident_id"] == "123456789012:health:first-task-test"
    ((first,),) = [
        [s for s in item["steps"] if s["name"] == "deactivate-access-key"] for item in out["results"]["contain_keys"]
    ]
    assert first["status"] == "done"
    assert out["failures"] == {} and out["branches"] == []


def test_first_task_without_its_table_contains_and_says_dedupe_was_skipped(
    iam, exposed, lambda_context, monkeypatch
) -> None:
    from contain_key.handler import handler

    monkeypatch.delenv("INCIDENT_TABLE", raising=False)
    key_id, _ = exposed
    out = handler({"event": health_event(key_id, "ci-deployer"), "execution_id": "arn:x"}, lambda_context)
    assert statuses(iam, "ci-deployer")[key_id] == "Inactive"
    assert out["intake"]["status"] == "accepted"
    assert out["intake"]["reason"].endswith("(INCIDENT_TABLE is not set: no incident record, dedupe skipped)")


def test_first_task_the_normalizer_disagrees_the_containment_stands_and_says_so(iam, exposed, lambda_context) -> None:
    """An envelope field the first read does not use holds what AWS never sends: the key named in a
    valid form is contained all the same, and the intake says what the normalizer made of it."""
    from contain_key.handler import handler

    key_id, _ = exposed
    out = handler({"event": health_event(key_id, version=7), "execution_id": "arn:x"}, lambda_context)
    assert statuses(iam, "ci-deployer")[key_id] == "Inactive"
    intake = out["intake"]
    assert intake["status"] == "accepted"
    assert "the full normalizer said: ignored: malformed-event" in intake["reason"]
    assert intake["incident"]["access_key_ids"] == [key_id]


def test_first_task_leaves_an_event_it_does_not_read_to_the_normalizer(iam, exposed, lambda_context) -> None:
    from contain_key.handler import handler

    key_id, bystander = exposed
    event = health_event(key_id)
    event["detail"]["eventTypeCode"] = "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED"
    out = handler({"event": event, "execution_id": "arn:x"}, lambda_context)
    assert statuses(iam, "ci-deployer") == {key_id: "Active", bystander: "Active"}
    assert out["intake"]["status"] == "ignored" and out["intake"]["contained_at_intake"] is False
    assert out["results"] == {}


def test_a_named_user_is_tried_first_and_the_real_owner_found_after(iam, exposed, lambda_context) -> None:
    """No read before the write: UpdateAccessKey on the named user answers NoSuchEntity (not its
    key), and only then does IAM name the owner."""
    from contain_key.handler import handler

    key_id, _ = exposed
    iam.create_user(UserName="someone-else")
    out = handler({"event": health_event(key_id, "someone-else"), "execution_id": "arn:x"}, lambda_context)
    assert statuses(iam, "ci-deployer")[key_id] == "Inactive"
    (deactivate,) = [s for s in out["results"]["contain_keys"][0]["steps"] if s["name"] == "deactivate-access-key"]
    assert deactivate["status"] == "done"
    assert "the event names someone-else, but IAM says the key belongs to ci-deployer" in deactivate["detail"]


# -- after Step Functions itself deactivated the key (infra/intake.py) --------------------------------


def after_state(key_id: str, user: str, contained_on: str | None = None) -> dict:
    return {
        "event": health_event(key_id, user),
        "execution_id": "arn:x",
        "incident_id": "123456789012:health:first-task-test",
        "contained": [{"access_key_id": key_id, "user_name": contained_on or user}],
    }


def test_after_the_states_call_the_key_is_read_back_and_the_owner_quarantined(iam, exposed, lambda_context) -> None:
    from contain_key.handler import handler

    key_id, bystander = exposed
    iam.update_access_key(UserName="ci-deployer", AccessKeyId=key_id, Status="Inactive")  # the state's call
    out = handler(after_state(key_id, "ci-deployer"), lambda_context)
    (item,) = out["results"]["contain_keys"]
    assert [(s["name"], s["status"]) for s in item["steps"]] == [
        ("deactivate-access-key", "done"),
        ("quarantine-user", "done"),
        ("revoke-user-sessions", "done"),
    ]
    assert item["steps"][0]["detail"] == "key of ci-deployer is Inactive (read back)"
    assert statuses(iam, "ci-deployer") == {key_id: "Inactive", bystander: "Active"}
    intake = out["intake"]
    assert intake["status"] == "accepted" and intake["contained_at_intake"] is True
    assert intake["incident"]["incident_id"] == "123456789012:health:first-task-test"


def test_after_the_states_call_a_key_still_active_is_a_failure_not_done(iam, exposed, lambda_context) -> None:
    """The read-back is what says done: a state that returned without the key reading Inactive fails."""
    from contain_key.handler import handler

    key_id, _ = exposed
    out = handler(after_state(key_id, "ci-deployer"), lambda_context)
    deactivate = out["results"]["contain_keys"][0]["steps"][0]
    assert deactivate["status"] == "failed" and "reads back as Active" in deactivate["detail"]


def test_after_the_state_a_reading_that_disagrees_goes_the_regular_route(iam, exposed, lambda_context) -> None:
    from contain_key.handler import handler

    key_id, _ = exposed
    event = after_state(key_id, "ci-deployer")
    event["incident_id"] = "123456789012:health:another-reading"
    out = handler(event, lambda_context)
    assert out["results"] == {} and out["intake"]["contained_at_intake"] is False
    assert out["intake"]["incident"]["incident_id"] == "123456789012:health:first-task-test"
