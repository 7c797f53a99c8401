"""The evict handler end to end against moto: the investigation's reach in S3, the principals in IAM, the steps
it returns, what it keeps as evidence; and release putting back what it changed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.client
import pytest

from evict import handler
from evict.actions import EVICTION_POLICY, EVICTION_POLICY_NAME
from evict.permissions import GRANTS
from reach.calls import calls_of
from reach.graph import Seed, build
from reach.judge import Baseline, Signals, Window
from report.outcome import Outcome, decide
from responder.release import plan as release_plan
from responder.release import release
from tests.unit.reach_records import ACCOUNT, CI_NET, EXPOSED, GO, KEY, OWNER, at, cli, record, service_trust, trust

BUCKET = "responder-evidence"
INCIDENT = {
    "incident_id": f"{ACCOUNT}:health-comm-0001",
    "kind": "exposed-access-key",
    "source": "aws.health",
    "event_type": "AWS_RISK_CREDENTIALS_EXPOSED",
    "event_id": "e-1",
    "account": ACCOUNT,
    "region": "us-east-1",
    "detected_at": "2026-11-20T12:00:00Z",
    "first_seen": "2026-11-20T12:00:00Z",
    "affected_keys": [{"access_key_id": KEY, "user_name": OWNER}],
}
WINDOW = Window.around(EXPOSED, margin_minutes=60, baseline_days=7)
SEEDS = [Seed("access-key", KEY, f"exposed key {KEY}", user=OWNER)]


def reach(records: list[dict[str, Any]]) -> dict[str, Any]:
    calls = calls_of(records)
    baseline = Baseline.of(calls, WINDOW)
    return build(SEEDS, calls, WINDOW, Signals(account=ACCOUNT), baseline).as_dict()


def put(pass_no: int, reach_dict: dict[str, Any] | None) -> None:
    document: dict[str, Any] = {"events": []}
    if reach_dict is not None:
        document["reach"] = reach_dict
    key = handler.evidence_key(INCIDENT["incident_id"], pass_no)
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=json.dumps(document).encode())


def run(lambda_context: Any, pass_no: int = 1) -> dict[str, Any]:
    return handler.handler({"incident": INCIDENT, "pass": pass_no}, lambda_context)


def by_target(steps: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(s["name"], s["target"]): s for s in steps}


def history() -> list[dict[str, Any]]:
    """The owner's CI made a role days before; the attacker, from a new network and client, made a user with a
    key and a role trusting its own account; from the owner's network and client, a user for the first time."""
    ci = {"ip": CI_NET.format(7)}
    return [
        record(
            "CreateRole",
            at(days=-3),
            agent=cli("iam.create-role"),
            **ci,
            request={"roleName": "payments-app", "assumeRolePolicyDocument": service_trust()},
            response={"role": {"roleName": "payments-app", "roleId": "AROAPAYMENTS00000001"}},
        ),
        record(
            "CreateUser",
            at(minutes=4),
            agent=GO,
            request={"userName": "backup-admin"},
            response={"user": {"userName": "backup-admin", "userId": "AIDABACKUP0000000001"}},
        ),
        record(
            "CreateAccessKey",
            at(minutes=4, seconds=20),
            agent=GO,
            request={"userName": "backup-admin"},
            response={"accessKey": {"accessKeyId": "AKIA_BACKDOOR", "userName": "backup-admin"}},
        ),
        record(
            "CreateRole",
            at(minutes=5),
            agent=GO,
            request={"roleName": "evil", "assumeRolePolicyDocument": trust("arn:aws:iam::666666666666:root")},
            response={"role": {"roleName": "evil", "roleId": "AROAEVIL000000000001"}},
        ),
        record(
            "CreateUser",
            at(minutes=6),
            agent=cli("iam.create-user"),
            **ci,
            request={"userName": "carol"},
            response={"user": {"userName": "carol", "userId": "AIDACAROL00000000001"}},
        ),
    ]


@pytest.fixture
def account(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("EVIDENCE_BUCKET", BUCKET)
    for name in ("DRY_RUN", "UNKNOWN_CHANGES", "EXEMPT_PRINCIPAL_ARNS", "RESPONDER_ROLE_ARNS"):
        monkeypatch.delenv(name, raising=False)
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    iam = boto3.client("iam")
    iam.create_user(UserName=OWNER)
    iam.create_role(RoleName="payments-app", AssumeRolePolicyDocument=service_trust())
    iam.create_user(UserName="backup-admin")
    iam.create_role(RoleName="evil", AssumeRolePolicyDocument=trust("arn:aws:iam::666666666666:root"))
    iam.create_user(UserName="carol")
    return iam


def real_ids(iam: Any, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records with the ids moto minted (CloudTrail names what IAM made)."""
    key = iam.create_access_key(UserName="backup-admin")["AccessKey"]["AccessKeyId"]
    ids = {u["UserName"]: u["UserId"] for u in iam.list_users()["Users"]}
    for made in records:
        user = (made.get("responseElements") or {}).get("user")
        if user:
            user["userId"] = ids[user["userName"]]
        access = (made.get("responseElements") or {}).get("accessKey")
        if access:
            access["accessKeyId"] = key
    return records


def test_each_item_by_its_verdict_and_the_owners_left_alone(account: Any, lambda_context: Any) -> None:
    iam = account
    put(1, reach(real_ids(iam, history())))

    result = run(lambda_context)

    steps = by_target(result["steps"])
    user = steps[("evict-created-user", "backup-admin")]
    assert user["status"] == "done" and user["detail"].count("attacker's (unexplained-source)") == 1
    assert (
        iam.get_user_policy(UserName="backup-admin", PolicyName=EVICTION_POLICY_NAME)["PolicyDocument"]
        == EVICTION_POLICY
    )
    assert {k["Status"] for k in iam.list_access_keys(UserName="backup-admin")["AccessKeyMetadata"]} == {"Inactive"}
    assert steps[("quarantine-created-role", "evil")]["status"] == "done"
    # from the owner's own network and client, but a change that source never made before: held on doubt
    carol = steps[("evict-created-user", "carol")]
    assert carol["status"] == "done" and carol["detail"].startswith("user carol")
    assert "held on doubt (unknownChanges=hold; its undo command releases it)" in carol["detail"] and carol["undo"]
    # the owner's role, before the window: reported, never touched
    owner = steps[("owner-change", "payments-app")]
    assert owner["status"] == "skipped" and not owner["containment"] and "before-window" in owner["detail"]
    assert iam.list_role_policies(RoleName="payments-app")["PolicyNames"] == []
    key = [s for s in result["steps"] if s["name"] == "deactivate-key" or s["name"] == "deactivate-backdoor-key"]
    assert [s["status"] for s in key] == ["already-done"]  # the user's hold set it Inactive first
    eviction = result["eviction"]
    assert (eviction["attacker"], eviction["unknown"], eviction["owner"]) == (3, 1, 1)
    stored = boto3.client("s3").get_object(Bucket=BUCKET, Key=handler.eviction_key(INCIDENT["incident_id"], 1))
    assert len(json.loads(stored["Body"].read())["steps"]) == len(result["steps"])
    done = {"name": "deactivate-access-key", "status": "done", "target": KEY, "detail": "", "containment": True}
    assert decide("accepted", "", [done, *result["steps"]]).outcome is Outcome.CONTAINED


def test_unknown_changes_report_leaves_them_and_the_outcome_partial_names_them(
    account: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    iam = account
    monkeypatch.setenv("UNKNOWN_CHANGES", "report")
    put(1, reach(real_ids(iam, history())))

    result = run(lambda_context)

    carol = by_target(result["steps"])[("evict-created-user", "carol")]
    assert carol["status"] == "skipped" and carol["containment"] and "unknownChanges=report" in carol["detail"]
    assert carol["manual"].startswith(
        "aws iam put-user-policy --user-name carol --policy-name CredentialResponderEviction"
    )
    assert iam.list_user_policies(UserName="carol")["PolicyNames"] == []
    done = {"name": "deactivate-access-key", "status": "done", "target": KEY, "detail": "", "containment": True}
    verdict = decide("accepted", "", [done, *result["steps"]])
    assert verdict.outcome is Outcome.PARTIAL and "evict-created-user skipped on carol" in verdict.reason


def test_an_exempted_role_is_never_written_and_a_no_op_trust_rewrite_is_reported(
    account: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    iam = account
    own = trust(f"arn:aws:iam::{ACCOUNT}:root")
    iam.create_role(RoleName="break-glass", AssumeRolePolicyDocument=own)
    iam.create_role(RoleName="deploy", AssumeRolePolicyDocument=own)
    monkeypatch.setenv("EXEMPT_PRINCIPAL_ARNS", f"arn:aws:iam::{ACCOUNT}:role/break-glass")
    records = [
        record(
            "CreateRole",
            at(days=-3),
            ip=CI_NET.format(7),
            agent=cli("iam.create-role"),
            request={"roleName": "deploy", "assumeRolePolicyDocument": own},
        ),
        record(
            "UpdateAssumeRolePolicy",
            at(minutes=3),
            request={"roleName": "break-glass", "policyDocument": trust("arn:aws:iam::666666666666:root")},
        ),
        record("UpdateAssumeRolePolicy", at(minutes=4), request={"roleName": "deploy", "policyDocument": own}),
    ]
    put(1, reach(records))

    steps = by_target(run(lambda_context)["steps"])

    refused = steps[("quarantine-rewritten-trust", "break-glass")]
    assert (
        refused["status"] == "skipped" and refused["containment"] and "exempted by configuration" in refused["detail"]
    )
    assert iam.list_role_policies(RoleName="break-glass")["PolicyNames"] == []
    noop = steps[("trust-rewrite-adds-nobody", "deploy")]
    assert noop["status"] == "skipped" and not noop["containment"] and "adds nobody" in noop["detail"]
    assert iam.list_role_policies(RoleName="deploy")["PolicyNames"] == []


def test_a_missing_evidence_object_or_reach_is_a_loud_failure(account: Any, lambda_context: Any) -> None:
    (missing,) = run(lambda_context)["steps"]
    assert missing["status"] == "failed" and missing["containment"] and "could not be read" in missing["detail"]
    put(1, None)
    (no_reach,) = run(lambda_context)["steps"]
    assert no_reach["status"] == "failed" and "holds no reach" in no_reach["detail"]


def test_the_largest_documents_on_many_principals_never_reach_the_state(account: Any, lambda_context: Any) -> None:
    """Four and more roles the attacker made with the largest trust documents IAM allows, quote-heavy (each '
    costs 7 bytes once shell-quoted): the state carries names and counts; the documents go to the evidence."""
    iam = account
    quotes = "'" * 1900
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::666666666666:root"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"sts:ExternalId": quotes}},
                }
            ],
        }
    )
    records = []
    for index in range(30):
        name = f"evil-{index}"
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=document)
        records.append(
            record(
                "CreateRole",
                at(minutes=5, seconds=index),
                request={"roleName": name, "assumeRolePolicyDocument": document},
            )
        )
    put(1, reach(records))

    result = run(lambda_context)

    size = len(json.dumps(result))
    assert size < 64 * 1024, size
    assert len(result["steps"]) <= handler.MAX_STEPS
    assert (
        sum(
            1
            for name in (f"evil-{i}" for i in range(30))
            if EVICTION_POLICY_NAME in iam.list_role_policies(RoleName=name)["PolicyNames"]
        )
        == 30
    )
    folded = [s for s in result["steps"] if s["target"].endswith("more")]
    assert folded and "each in full, with its undo, in s3://" in folded[0]["detail"]


def test_release_lets_every_held_principal_go_and_says_what_it_does_not_put_back(
    account: Any, lambda_context: Any
) -> None:
    iam = account
    put(1, reach(real_ids(iam, history())))
    steps = run(lambda_context)["steps"]

    reversals, _notes = release_plan(steps, iam=iam)
    outcomes = release(reversals, confirm=lambda reversal: True, record=lambda what: None)

    assert {r.step for r in reversals} == {"evict-created-user", "quarantine-created-role"}
    assert all(o.status == "released" for o in outcomes), [(o.reversal.what, o.detail) for o in outcomes]
    assert iam.list_user_policies(UserName="backup-admin")["PolicyNames"] == []
    assert {k["Status"] for k in iam.list_access_keys(UserName="backup-admin")["AccessKeyMetadata"]} == {"Active"}
    assert iam.list_role_policies(RoleName="evil")["PolicyNames"] == []


def test_code_calls_only_granted_actions_and_deletes_nothing(
    account: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    iam = account
    calls: set[str] = set()
    original = botocore.client.BaseClient._make_api_call

    def recorded(self: Any, operation: str, params: Any) -> Any:
        calls.add(f"{self.meta.service_model.signing_name}:{operation}")
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recorded)
    iam.create_user(UserName="bob")
    iam.create_login_profile(UserName="bob", Password="Attacker-Pass-123!")
    # made a minute ago (moto dates the password now): the password is the attacker's, bob had none before
    just_now = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    records = [*real_ids(iam, history()), record("CreateLoginProfile", just_now, request={"userName": "bob"})]
    put(1, reach(records))

    run(lambda_context)

    granted = {action for grant in GRANTS for action in grant["actions"]}
    setup = {"s3:PutObject", "iam:CreateUser", "iam:CreateLoginProfile", "iam:CreateAccessKey", "iam:ListUsers"}
    assert calls <= granted | setup, calls - granted
    destructive = {c for c in calls if c.split(":")[1].startswith(("Delete", "Detach", "Remove"))}
    assert destructive == {"iam:DeleteLoginProfile"}  # only the password the attacker made, on a user that had none


def test_what_an_exempted_principal_made_is_reported_not_undone(
    account: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    iam = account
    monkeypatch.setenv("EXEMPT_PRINCIPAL_ARNS", f"arn:aws:iam::{ACCOUNT}:user/{OWNER}")
    put(1, reach(real_ids(iam, history())))

    steps = run(lambda_context)["steps"]

    acted = [s for s in steps if s["status"] in ("done", "already-done") and s["name"] != "evict-backdoors"]
    assert not acted, acted
    user = by_target(steps)[("evict-created-user", "backup-admin")]
    assert user["status"] == "skipped" and not user["containment"] and "is exempted" in user["detail"]
    assert iam.list_user_policies(UserName="backup-admin")["PolicyNames"] == []
