"""user_credentials (lambdas/user_credentials): every other long-term credential of a compromised IAM user set
Inactive, read back, and set Active again by `responder release`. moto has no service-specific credentials: the
drill's emulation (drill/emulation.py) answers those calls here, never the product."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from drill.emulation import Emulations
from drill.moto_quirks import aws_semantics
from incident.model import Incident
from tests.factories import ACCOUNT, fake_context
from user_credentials import handler as module
from user_credentials.actions import BY_NAME, STEP, listed
from user_credentials.handler import plan_reach, respond
from user_credentials.release import reversals

BUCKET = "evidence"
BEDROCK = "bedrock.amazonaws.com"


@pytest.fixture
def iam(aws):
    with aws_semantics(), Emulations().installed():
        yield boto3.client("iam")


def _user_with_one_of_each(iam: Any, name: str) -> dict[str, str]:
    iam.create_user(UserName=name)
    from drill.replay import _certificate, _ssh_public_key

    ssh = iam.upload_ssh_public_key(UserName=name, SSHPublicKeyBody=_ssh_public_key())["SSHPublicKey"]
    cert = iam.upload_signing_certificate(UserName=name, CertificateBody=_certificate())["Certificate"]
    api_key = iam.create_service_specific_credential(UserName=name, ServiceName=BEDROCK)["ServiceSpecificCredential"]
    return {
        "ssh-public-key": ssh["SSHPublicKeyId"],
        "signing-certificate": cert["CertificateId"],
        "service-specific-credential": api_key["ServiceSpecificCredentialId"],
    }


def _statuses(iam: Any, user: str) -> dict[str, str]:
    return {c.id: c.status for c in listed(iam, user)}


def _incident(key_id: str, user: str | None = None, account: str = ACCOUNT) -> Incident:
    return Incident(
        incident_id=f"{account}:health:0123456789abcdef",
        kind="exposed-access-key",
        source="aws.health",
        event_type="AWS_RISK_CREDENTIALS_EXPOSED",
        event_id="6f1f6a2e-2f0a-4c55-9a43-7b1d0c9e1a01",
        account=account,
        region="us-east-1",
        detected_at="2026-11-20T03:02:11.000Z",
        affected_keys=[{"access_key_id": key_id, "user_name": user}],
    )


def _exposed(iam: Any, user: str) -> tuple[Incident, dict[str, str]]:
    ids = _user_with_one_of_each(iam, user)
    key = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    return _incident(key, user), ids


def _respond(iam: Any, incident: Incident, items: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    return respond(iam, incident, items, account=ACCOUNT, partition="aws")  # type: ignore[return-value]


def _release(iam: Any, steps: list[dict[str, Any]]) -> list[str]:
    return [r.run() for s in steps if s["status"] == "done" for r in reversals(s, {"iam": iam}).reversals]


def test_each_credential_of_the_exposed_users_user_is_set_inactive_read_back_and_released(iam) -> None:
    incident, ids = _exposed(iam, "ci-deployer")
    steps = _respond(iam, incident)
    assert sorted(s["target"] for s in steps) == sorted(ids.values())
    assert all(s["name"] == STEP and s["status"] == "done" and s["containment"] for s in steps)
    assert set(_statuses(iam, "ci-deployer").values()) == {"Inactive"}
    by_id = {s["target"]: s for s in steps}
    for kind, credential_id in ids.items():
        assert by_id[credential_id]["data"] == {
            "user": "ci-deployer",
            "kind": kind,
            "id": credential_id,
            **({"service": BEDROCK} if kind == "service-specific-credential" else {}),
        }
        assert by_id[credential_id]["undo"].endswith("--status Active")
    read_back = _release(iam, steps)
    assert len(read_back) == 3 and all("Active (read back)" in line for line in read_back)
    assert set(_statuses(iam, "ci-deployer").values()) == {"Active"}


def test_a_second_run_changes_nothing_and_says_already_inactive(iam) -> None:
    incident, _ = _exposed(iam, "ci-deployer")
    _respond(iam, incident)
    again = _respond(iam, incident)
    assert {s["status"] for s in again} == {"already-done"}
    assert _release(iam, again) == []  # a credential found Inactive is never set Active by release


def test_dry_run_and_switched_off_touch_nothing_and_give_the_command(iam, monkeypatch) -> None:
    incident, _ = _exposed(iam, "ci-deployer")
    for name, value, says in (("DRY_RUN_USER_CREDENTIALS", "true", "dry-run"), ("USER_CREDENTIALS", "false", "off")):
        monkeypatch.setenv(name, value)
        steps = _respond(iam, incident)
        monkeypatch.delenv(name)
        assert {s["status"] for s in steps} == {"skipped"} and all(says in s["detail"] for s in steps)
        assert all("--status Inactive" in s["manual"] for s in steps)
        assert set(_statuses(iam, "ci-deployer").values()) == {"Active"}, name


def test_an_exempted_user_is_refused(iam, monkeypatch) -> None:
    incident, _ = _exposed(iam, "break-glass")
    monkeypatch.setenv("EXEMPT_PRINCIPAL_ARNS", f"arn:aws:iam::{ACCOUNT}:user/break-glass")
    steps = _respond(iam, incident)
    assert {s["status"] for s in steps} == {"skipped"}
    assert set(_statuses(iam, "break-glass").values()) == {"Active"}


def test_another_accounts_credential_is_only_reported(iam) -> None:
    incident, _ = _exposed(iam, "ci-deployer")
    steps = respond(iam, incident, None, account="999999999999", partition="aws")
    assert [s["status"] for s in steps] == ["skipped"] and "999999999999" in steps[0]["detail"]
    assert set(_statuses(iam, "ci-deployer").values()) == {"Active"}


def _item(kind: str, verdict: str, **fields: Any) -> dict[str, Any]:
    return {"kind": kind, "verdict": verdict, "label": f"{kind} {fields.get('id')}", "rule": "r", "evidence": "e"} | (
        fields
    )


def test_the_reach_is_acted_on_by_verdict(iam) -> None:
    incident, _ = _exposed(iam, "ci-deployer")
    backdoor = _user_with_one_of_each(iam, "bedrock-batch")
    owners = _user_with_one_of_each(iam, "carol")
    user_id = iam.get_user(UserName="bedrock-batch")["User"]["UserId"]
    items = [
        _item("user", "attacker", id=user_id, user="bedrock-batch", user_id=user_id),
        _item("user", "owner", id="carol", user="carol"),
    ]
    steps = _respond(iam, incident, items)
    assert set(_statuses(iam, "bedrock-batch").values()) == {"Inactive"}
    assert set(_statuses(iam, "carol").values()) == {"Active"}, "the owner's user is the eviction's to report"
    assert set(backdoor.values()) <= {s["target"] for s in steps} and not set(owners.values()) & {
        s["target"] for s in steps
    }


def test_one_credential_added_to_an_owners_user_is_the_only_one_touched(iam) -> None:
    incident, _ = _exposed(iam, "ci-deployer")
    carol = _user_with_one_of_each(iam, "carol")
    added = carol["ssh-public-key"]
    items = [_item("user-credential", "attacker", id=added, user="carol", details={"type": "ssh-public-key"})]
    _respond(iam, incident, items)
    statuses = _statuses(iam, "carol")
    assert statuses.pop(added) == "Inactive" and set(statuses.values()) == {"Active"}


def test_unknown_is_held_or_reported_as_configured(iam, monkeypatch) -> None:
    incident, _ = _exposed(iam, "ci-deployer")
    _user_with_one_of_each(iam, "maybe")
    items = [_item("user", "unknown", id="maybe", user="maybe")]
    monkeypatch.setenv("UNKNOWN_CHANGES", "report")
    reported = [s for s in _respond(iam, incident, items) if s["target"] == "maybe"]
    assert [s["status"] for s in reported] == ["skipped"] and "unknownChanges=report" in reported[0]["detail"]
    assert set(_statuses(iam, "maybe").values()) == {"Active"}
    monkeypatch.setenv("UNKNOWN_CHANGES", "hold")
    held = [s for s in _respond(iam, incident, items) if "held on doubt" in s["detail"]]
    assert len(held) == 3 and set(_statuses(iam, "maybe").values()) == {"Inactive"}


def test_a_renamed_backdoor_is_followed_by_its_id_and_a_deleted_one_is_gone_only_by_its_id(iam) -> None:
    incident, _ = _exposed(iam, "ci-deployer")
    _user_with_one_of_each(iam, "backup-svc")
    user_id = iam.get_user(UserName="backup-svc")["User"]["UserId"]
    iam.update_user(UserName="backup-svc", NewUserName="AWSSupportSync")
    items = [_item("user", "attacker", id=user_id, user="backup-svc", user_id=user_id)]
    steps = [s for s in _respond(iam, incident, items) if "renamed" in s["detail"]]
    assert len(steps) == 3 and set(_statuses(iam, "AWSSupportSync").values()) == {"Inactive"}

    gone = [_item("user", "attacker", id="AIDAGONE", user="ghost", user_id="AIDAGONE")]
    (deleted,) = [s for s in _respond(iam, incident, gone) if s["target"] == "ghost"]
    assert deleted["status"] == "already-done" and "IAM lists no user with its id" in deleted["detail"]
    nameless = [_item("user", "attacker", id="ghost", user="ghost")]
    (unknown,) = [s for s in _respond(iam, incident, nameless) if s["target"] == "ghost"]
    assert unknown["status"] == "failed" and unknown["manual"]


def test_plan_reach_reports_what_an_exempted_credential_made() -> None:
    items = [_item("user", "attacker", id="u", user="u", root="AKIAEXEMPT")]
    users, singles, reported = plan_reach(items, "hold", {"AKIAEXEMPT"})
    assert users == [] and singles == [] and "exempted" in reported[0]["detail"]


def test_release_of_a_record_that_names_no_credential_fails_loudly(iam) -> None:
    (reversal,) = reversals({"name": STEP, "status": "done", "target": "x", "data": {}}, {"iam": iam}).reversals
    with pytest.raises(Exception, match="names no credential"):
        reversal.run()


def test_the_handler_covers_the_exposed_user_when_the_reach_cannot_be_read_and_keeps_every_step(
    iam, monkeypatch
) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("EVIDENCE_BUCKET", BUCKET)
    monkeypatch.setattr(module, "MAX_STEPS", 2)
    incident, ids = _exposed(iam, "ci-deployer")
    result = module.handler({"incident": incident.model_dump(mode="json"), "pass": 1}, fake_context())
    failed = [s for s in result["steps"] if s["status"] == "failed"]
    assert failed and "could not be read" in failed[0]["detail"]
    assert set(_statuses(iam, "ci-deployer").values()) == {"Inactive"}
    assert len(result["steps"]) <= 3, "folded to MAX_STEPS and one summary"
    kept = s3.get_object(Bucket=BUCKET, Key=f"user-credentials/{incident.incident_id}/pass-1.json")["Body"].read()
    assert {s["target"] for s in json.loads(kept)["steps"]} >= set(ids.values())


def test_every_kind_is_one_iam_lists() -> None:
    assert set(BY_NAME) == {"ssh-public-key", "service-specific-credential", "signing-certificate"}


def test_the_exposed_keys_user_deleted_is_gone_only_because_iam_knows_neither_key_nor_user(iam) -> None:
    incident, _ = _exposed(iam, "ci-deployer")
    for key in iam.list_access_keys(UserName="ci-deployer")["AccessKeyMetadata"]:
        iam.delete_access_key(UserName="ci-deployer", AccessKeyId=key["AccessKeyId"])
    for credential in listed(iam, "ci-deployer"):
        if credential.kind.name == "ssh-public-key":
            iam.delete_ssh_public_key(UserName="ci-deployer", SSHPublicKeyId=credential.id)
        elif credential.kind.name == "signing-certificate":
            iam.delete_signing_certificate(UserName="ci-deployer", CertificateId=credential.id)
        else:
            iam.delete_service_specific_credential(UserName="ci-deployer", ServiceSpecificCredentialId=credential.id)
    iam.delete_user(UserName="ci-deployer")
    (gone,) = _respond(iam, incident)
    assert gone["status"] == "already-done" and "IAM knows no key" in gone["detail"], gone


def test_a_user_iam_cannot_find_while_the_key_look_up_is_refused_is_a_failure(iam, monkeypatch) -> None:
    from botocore.exceptions import ClientError

    incident = _incident("AKIAIOSFODNN7EXAMPLE", "nobody-by-this-name")

    def refused(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetAccessKeyLastUsed")

    monkeypatch.setattr(iam, "get_access_key_last_used", refused)
    (failed,) = _respond(iam, incident)
    assert failed["status"] == "failed" and failed["manual"], failed
