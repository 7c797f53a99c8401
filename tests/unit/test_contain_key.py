"""Exposed-key containment against a simulated IAM (moto): state is read back from IAM."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from contain_key import actions
from contain_key.actions import FALLBACK_POLICY, FALLBACK_POLICY_NAME, deactivate_key, quarantine_user

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


def test_resolve_owner(iam, exposed) -> None:
    assert actions.resolve_owner(iam, exposed[0]) == "ci-deployer"
    with pytest.raises(actions.KeyNotFound):
        actions.resolve_owner(iam, "AKIAUNKNOWNUNKNOWN00")


def test_deactivates_only_the_exposed_key_and_reruns_as_already_done(iam, exposed) -> None:
    key, bystander = exposed
    first = deactivate_key(iam, "ci-deployer", key)
    assert first["status"] == "done" and first["containment"]
    assert statuses(iam, "ci-deployer") == {key: "Inactive", bystander: "Active"}
    assert "--status Active" in first["undo"]
    again = deactivate_key(iam, "ci-deployer", key)
    assert again["status"] == "already-done"
    assert statuses(iam, "ci-deployer") == {key: "Inactive", bystander: "Active"}


def test_deleted_key_and_deleted_user_are_reported_not_retried(iam, exposed) -> None:
    key, bystander = exposed
    iam.delete_access_key(UserName="ci-deployer", AccessKeyId=key)
    gone = deactivate_key(iam, "ci-deployer", key)
    assert gone["status"] == "already-done" and "no longer exists" in gone["detail"]
    iam.delete_access_key(UserName="ci-deployer", AccessKeyId=bystander)
    iam.delete_user(UserName="ci-deployer")
    assert deactivate_key(iam, "ci-deployer", key)["status"] == "already-done"


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


def test_fallback_policy_fits_the_inline_policy_limit() -> None:
    assert len(json.dumps(FALLBACK_POLICY, separators=(",", ":"))) < 2048


def test_quarantine_of_a_deleted_user_has_nothing_left_to_do(iam) -> None:
    assert quarantine_user(iam, "nobody", QUARANTINE_ARN)["status"] == "already-done"


def test_unexpected_errors_propagate_for_the_state_machine_to_retry(iam, exposed, monkeypatch) -> None:
    def throttled(**kwargs):
        raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "ListAccessKeys")

    monkeypatch.setattr(iam, "get_paginator", lambda name: type("P", (), {"paginate": lambda self, **k: throttled()})())
    with pytest.raises(ClientError):
        deactivate_key(iam, "ci-deployer", exposed[0])


class TestHandler:
    def invoke(self, lambda_context, key_id: str, user: str | None = None, account: str = "123456789012"):
        from contain_key.handler import handler

        event = {
            "incident": {"incident_id": "123456789012:health:x", "account": account},
            "key": {"access_key_id": key_id, "user_name": user},
        }
        return handler(event, lambda_context)["steps"]

    def test_resolves_the_owner_and_contains(self, iam, exposed, lambda_context) -> None:
        steps = self.invoke(lambda_context, exposed[0])
        assert [(s["name"], s["status"]) for s in steps] == [
            ("deactivate-access-key", "done"),
            ("quarantine-user", "done"),
        ]
        assert statuses(iam, "ci-deployer")[exposed[0]] == "Inactive"

    def test_unknown_key_fails_loudly_with_a_manual_command(self, iam, lambda_context) -> None:
        (step,) = self.invoke(lambda_context, "AKIAUNKNOWNUNKNOWN00")
        assert step["status"] == "failed" and "get-access-key-last-used" in step["manual"]

    def test_key_of_another_account_is_not_touched(self, iam, exposed, lambda_context) -> None:
        (step,) = self.invoke(lambda_context, exposed[0], "ci-deployer", account="999988887777")
        assert step["status"] == "skipped" and "999988887777" in step["detail"]
        assert statuses(iam, "ci-deployer")[exposed[0]] == "Active"

    def test_root_key_is_never_acted_on(self, iam, lambda_context) -> None:
        (step,) = self.invoke(lambda_context, "AKIAROOTROOTROOT0000", "root")
        assert step["status"] == "skipped" and "root" in step["detail"]

    def test_exempted_principal_is_reported_not_contained(self, iam, exposed, lambda_context, monkeypatch) -> None:
        monkeypatch.setenv("EXEMPT_PRINCIPAL_ARNS", "arn:aws:iam::123456789012:user/ci-deployer")
        (step,) = self.invoke(lambda_context, exposed[0], "ci-deployer")
        assert step["status"] == "skipped" and "exempted" in step["detail"]
        assert statuses(iam, "ci-deployer")[exposed[0]] == "Active"

    def test_global_dry_run(self, iam, exposed, lambda_context, monkeypatch) -> None:
        monkeypatch.setenv("DRY_RUN", "true")
        steps = self.invoke(lambda_context, exposed[0], "ci-deployer")
        assert {s["status"] for s in steps} == {"skipped"}
        assert statuses(iam, "ci-deployer")[exposed[0]] == "Active"
        assert iam.list_user_policies(UserName="ci-deployer")["PolicyNames"] == []
