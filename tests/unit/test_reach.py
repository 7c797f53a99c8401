"""The reach and its verdicts: pure, from CloudTrail records of any principal with realistic sources."""

from __future__ import annotations

from typing import Any

import pytest

from reach.calls import calls_of, family, network
from reach.graph import Kind, Reach, Seed, build
from reach.judge import Baseline, Signals, Verdict, Window, judge
from tests.unit.reach_records import (
    ACCOUNT,
    ATTACKER_IP,
    BOTO3,
    CI_NET,
    EXPOSED,
    GO,
    KEY,
    OWNER,
    at,
    cli,
    record,
    service_trust,
    session_identity,
    trust,
    user_identity,
)

WINDOW = Window.around(EXPOSED, margin_minutes=60, baseline_days=7)
SEEDS = [Seed("access-key", KEY, f"exposed key {KEY} of user {OWNER}", user=OWNER)]


def reach_of(
    records: list[dict[str, Any]], signals: Signals | None = None, seeds: list[Seed] | None = None, **bounds: int
) -> Reach:
    calls = calls_of(records)
    seeds = seeds or SEEDS
    keys = {seed.id for seed in seeds}
    baseline = Baseline.of([c for c in calls if c.caller.access_key_id in keys], WINDOW)
    return build(seeds, calls, WINDOW, signals or Signals(account=ACCOUNT), baseline, **bounds)


def items(reach: Reach) -> dict[str, tuple[str, str]]:
    return {item.label: (str(item.judgement.verdict), item.judgement.rule) for item in reach.items}


def owner_routine() -> list[dict[str, Any]]:
    """The owner's CI, days before the exposure: CLI v2 from its runners' network, creating roles and a user."""
    return [
        record(
            "GetCallerIdentity",
            at(days=-6),
            ip=CI_NET.format(7),
            agent=cli("sts.get-caller-identity"),
            source="sts.amazonaws.com",
        ),
        record(
            "CreateRole",
            at(days=-5),
            ip=CI_NET.format(8),
            agent=cli("iam.create-role"),
            request={"roleName": "payments-app", "assumeRolePolicyDocument": service_trust()},
            response={
                "role": {
                    "roleName": "payments-app",
                    "roleId": "AROAPAYMENTS00000001",
                    "arn": f"arn:aws:iam::{ACCOUNT}:role/payments-app",
                }
            },
        ),
        record(
            "CreateUser",
            at(days=-4),
            ip=CI_NET.format(9),
            agent=cli("iam.create-user"),
            request={"userName": "carol"},
            response={"user": {"userName": "carol", "userId": "AIDACAROL00000000001"}},
        ),
        record(
            "CreateLoginProfile",
            at(days=-4, minutes=1),
            ip=CI_NET.format(9),
            agent=cli("iam.create-login-profile"),
            request={"userName": "carol", "passwordResetRequired": True},
        ),
    ]


def test_the_client_family_and_network_not_the_whole_agent() -> None:
    assert family(cli("iam.create-role")) == family(cli("iam.create-user")) == "aws-cli/2"
    assert family(BOTO3.format(metrics="Z,b")) == family(BOTO3.format(metrics="C")) == "Boto3"
    assert family(GO) == "aws-sdk-go-v2"
    assert family("cloudformation.amazonaws.com") == "cloudformation.amazonaws.com"
    assert network("198.51.100.7") == network("198.51.100.200") == "198.51.100.0/24"
    assert network("203.0.113.66") != network("198.51.100.7")


def test_the_owners_history_before_the_window_is_reported_as_the_owners() -> None:
    reach = reach_of(owner_routine())
    assert items(reach) == {
        "role payments-app": ("owner", "before-window"),
        "user carol": ("owner", "before-window"),
        "console password of user carol (made)": ("owner", "before-window"),
    }
    assert not reach.followed()  # nothing of the owner's is followed


def test_the_owners_ci_keeps_its_routine_after_the_exposure_from_the_same_network() -> None:
    later = record(
        "CreateRole",
        at(minutes=30),
        ip=CI_NET.format(44),
        agent=cli("iam.create-role"),
        request={"roleName": "orders-app", "assumeRolePolicyDocument": service_trust()},
    )
    reach = reach_of([*owner_routine(), later])
    verdict, rule = items(reach)["role orders-app"]
    assert (verdict, rule) == ("owner", "same-source-same-change")
    evidence = next(i for i in reach.items if i.id == "orders-app").judgement.evidence
    assert "made CreateRole 1 time(s) before the window" in evidence


def test_a_hosted_runner_from_a_new_address_is_unknown_never_the_attackers() -> None:
    later = record(
        "CreateRole",
        at(minutes=30),
        ip="20.42.17.101",
        agent=cli("iam.create-role"),
        request={"roleName": "orders-app", "assumeRolePolicyDocument": service_trust()},
    )
    verdict, rule = items(reach_of([*owner_routine(), later]))["role orders-app"]
    assert (verdict, rule) == ("unknown", "unknown")


def test_a_user_agent_alone_never_makes_a_call_the_owners() -> None:
    # The attacker copies the owner's CLI agent but calls from its own network, and makes a change the
    # owner never made: not the owner's.
    spoofed = record(
        "CreateUser",
        at(minutes=5),
        ip=ATTACKER_IP,
        agent=cli("iam.create-user"),
        request={"userName": "backup-admin"},
        response={"user": {"userName": "backup-admin", "userId": "AIDABACKUP0000000001"}},
    )
    reach = reach_of([*owner_routine()[:2], spoofed])
    assert items(reach)["user backup-admin"][0] == "unknown"


def test_the_attackers_calls_minutes_before_the_event_are_judged_inside_the_margin() -> None:
    attack = [
        record("ListUsers", at(minutes=-2), agent=GO),
        record(
            "CreateUser",
            at(minutes=-2, seconds=20),
            agent=GO,
            request={"userName": "backup-admin"},
            response={"user": {"userName": "backup-admin", "userId": "AIDABACKUP0000000001"}},
        ),
        record(
            "CreateAccessKey",
            at(minutes=-2, seconds=40),
            agent=GO,
            request={"userName": "backup-admin"},
            response={
                "accessKey": {"accessKeyId": "AKIABACKDOORKEY00001", "userName": "backup-admin", "status": "Active"}
            },
        ),
    ]
    reach = reach_of([*owner_routine(), *attack])
    assert items(reach)["user backup-admin"] == ("attacker", "unexplained-source")
    assert items(reach)["access key AKIABACKDOORKEY00001 of user backup-admin"] == ("attacker", "unexplained-source")


def test_with_no_baseline_nothing_is_judged_the_attackers_by_its_source_alone() -> None:
    made = record(
        "CreateUser", at(minutes=4), request={"userName": "x"}, response={"user": {"userName": "x", "userId": "AIDAX"}}
    )
    assert items(reach_of([made]))["user x"] == ("unknown", "unknown")


def test_a_role_chain_and_what_its_session_made() -> None:
    session_key = "ASIACHAINSESSION0001"
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/deploy-role"
    chain = [
        record(
            "GetCallerIdentity",
            at(days=-2),
            ip=CI_NET.format(7),
            agent=cli("sts.get-caller-identity"),
            source="sts.amazonaws.com",
        ),
        record(
            "AssumeRole",
            at(minutes=5),
            source="sts.amazonaws.com",
            request={"roleArn": role_arn, "roleSessionName": "x"},
            response={
                "credentials": {"accessKeyId": session_key},
                "assumedRoleUser": {"arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy-role/x"},
            },
            resources=[{"ARN": role_arn, "type": "AWS::IAM::Role"}],
        ),
        record(
            "CreateUser",
            at(minutes=6),
            identity=session_identity(session_key, "deploy-role", "x"),
            request={"userName": "svc-sync"},
            response={"user": {"userName": "svc-sync", "userId": "AIDASVCSYNC000000001"}},
        ),
        record(
            "CreateAccessKey",
            at(minutes=7),
            identity=session_identity(session_key, "deploy-role", "x"),
            request={"userName": "svc-sync"},
            response={"accessKey": {"accessKeyId": "AKIASVCSYNCKEY000001", "userName": "svc-sync"}},
        ),
        record(
            "AttachUserPolicy",
            at(minutes=8),
            identity=session_identity(session_key, "deploy-role", "x"),
            request={"userName": "svc-sync", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        ),
    ]
    reach = reach_of(chain)
    found = {item.label: item for item in reach.items}
    session = found[f"session {session_key} of role deploy-role (x)"]
    user = found["user svc-sync"]
    assert session.judgement.verdict == Verdict.ATTACKER and session.depth == 1
    assert user.judgement.rule == "inherited" and user.depth == 2 and user.judgement.verdict == Verdict.ATTACKER
    assert user.details["grants"] == ["AttachUserPolicy arn:aws:iam::aws:policy/AdministratorAccess"]
    assert found["access key AKIASVCSYNCKEY000001 of user svc-sync"].depth == 2


def test_a_renamed_user_is_followed_by_its_id() -> None:
    attack = [
        record(
            "GetCallerIdentity",
            at(days=-1),
            ip=CI_NET.format(7),
            agent=cli("sts.get-caller-identity"),
            source="sts.amazonaws.com",
        ),
        record(
            "CreateUser",
            at(minutes=3),
            request={"userName": "tmp1"},
            response={"user": {"userName": "tmp1", "userId": "AIDATMP1000000000001"}},
        ),
        record(
            "CreateAccessKey",
            at(minutes=4),
            request={"userName": "tmp1"},
            response={"accessKey": {"accessKeyId": "AKIATMP1KEY000000001", "userName": "tmp1"}},
        ),
        record("UpdateUser", at(minutes=5), request={"userName": "tmp1", "newUserName": "svc-billing-sync"}),
        # the renamed user's own key makes a call under its new name: still the same user
        record(
            "CreateRole",
            at(minutes=6),
            identity=user_identity("AKIATMP1KEY000000001", "svc-billing-sync", "AIDATMP1000000000001"),
            request={"roleName": "billing-sync", "assumeRolePolicyDocument": trust("arn:aws:iam::666666666666:root")},
        ),
    ]
    reach = reach_of(attack)
    user = next(item for item in reach.items if item.kind == Kind.USER)
    assert user.user == "svc-billing-sync" and user.names == ["tmp1", "svc-billing-sync"]
    assert user.user_id == "AIDATMP1000000000001"
    role = next(item for item in reach.items if item.kind == Kind.ROLE)
    assert role.role == "billing-sync" and role.details["trusts"] == ["AWS arn:aws:iam::666666666666:root"]
    assert role.judgement.verdict == Verdict.ATTACKER  # made with the attacker's key, after its rename


def test_an_old_key_set_active_again_is_in_the_reach() -> None:
    made = record(
        "UpdateAccessKey",
        at(minutes=3),
        request={"userName": OWNER, "accessKeyId": "AKIAOLDKEY0000000001", "status": "Active"},
    )
    (item,) = reach_of([made]).items
    assert item.kind == Kind.ACCESS_KEY and item.id == "AKIAOLDKEY0000000001" and item.details["reactivated"]
    # the exposed key itself set Active again is the first task's business, not the reach's
    again = record(
        "UpdateAccessKey", at(minutes=3), request={"userName": OWNER, "accessKeyId": KEY, "status": "Active"}
    )
    assert not reach_of([again]).items


def test_stolen_instance_credentials_the_workload_and_the_thief() -> None:
    instance, role, key = "i-0f8e7d6c5b4a39281", "web-app-role", "ASIA4XKQ2EXAMPLE7Q3Z"
    seeds = [Seed("instance-session", instance, f"role {role} session {instance}", role=role)]
    signals = Signals(
        attacker_ips=frozenset({"81.2.69.144"}), own_ips=frozenset({"10.0.1.5"}), instance=True, account=ACCOUNT
    )
    ident = session_identity(key, role, instance)
    calls = [
        record(
            "CreateRole",
            at(minutes=10),
            identity=ident,
            ip="10.0.1.5",
            agent=BOTO3.format(metrics="Z"),
            vpc_endpoint="vpce-0abc",
            request={"roleName": "lambda-exec-release-42", "assumeRolePolicyDocument": service_trust()},
        ),
        record(
            "CreateAccessKey",
            at(minutes=11),
            identity=ident,
            ip="10.0.1.5",
            agent=BOTO3.format(metrics="Z"),
            request={"userName": "app-uploader"},
            response={"accessKey": {"accessKeyId": "AKIAWORKLOADKEY00001", "userName": "app-uploader"}},
        ),
        record(
            "CreateUser",
            at(minutes=12),
            identity=ident,
            ip="81.2.69.144",
            agent=GO,
            request={"userName": "thief-door"},
            response={"user": {"userName": "thief-door", "userId": "AIDATHIEF00000000001"}},
        ),
    ]
    found = items(reach_of(calls, signals, seeds))
    assert found["role lambda-exec-release-42"] == ("owner", "instance-own")
    assert found["access key AKIAWORKLOADKEY00001 of user app-uploader"] == ("unknown", "instance-creates")
    assert found["user thief-door"] == ("attacker", "finding-remote")


def test_the_bounds_cut_and_say_so() -> None:
    many = [
        record(
            "CreateUser",
            at(minutes=5, seconds=i),
            request={"userName": f"u{i}"},
            response={"user": {"userName": f"u{i}", "userId": f"AIDA{i:016d}"}},
        )
        for i in range(5)
    ]
    reach = reach_of(many, max_items=3)
    assert len(reach.items) == 3 and len(reach.cut) == 2 and "over 3 items" in reach.cut[0]
    assert "3 hop(s)" in reach.bound() and "at most 3 items" in reach.bound()


def test_deny_only_and_aws_quarantine_are_no_grant() -> None:
    deny = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}'
    calls = [
        record(
            "PutUserPolicy",
            at(minutes=3),
            request={"userName": OWNER, "policyName": "AWSCompromisedKeyQuarantineV3", "policyDocument": deny},
        ),
        record(
            "AttachUserPolicy",
            at(minutes=3),
            request={"userName": OWNER, "policyArn": "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"},
        ),
        record(
            "AttachUserPolicy",
            at(minutes=4),
            request={"userName": "bob", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        ),
    ]
    assert [item.label for item in reach_of(calls).items] == [
        "AttachUserPolicy arn:aws:iam::aws:policy/AdministratorAccess on user bob"
    ]


def test_a_trust_rewrite_keeps_what_it_replaced() -> None:
    calls = [
        record(
            "CreateRole",
            at(days=-3),
            ip=CI_NET.format(7),
            agent=cli("iam.create-role"),
            request={"roleName": "break-glass", "assumeRolePolicyDocument": trust(f"arn:aws:iam::{ACCOUNT}:root")},
        ),
        record(
            "UpdateAssumeRolePolicy",
            at(minutes=5),
            request={"roleName": "break-glass", "policyDocument": trust(f"arn:aws:iam::{ACCOUNT}:root")},
        ),
    ]
    trust_item = next(item for item in reach_of(calls).items if item.kind == Kind.TRUST)
    assert trust_item.details["previous"]["event_name"] == "CreateRole"
    assert trust_item.details["previous"]["document"] == trust_item.details["document"]


@pytest.mark.parametrize(
    ("ip", "agent", "verdict"),
    [
        (CI_NET.format(99), cli("iam.create-role"), "owner"),
        ("20.1.2.3", cli("iam.create-role"), "unknown"),
        (ATTACKER_IP, GO, "attacker"),
    ],
)
def test_judge_alone(ip: str, agent: str, verdict: str) -> None:
    calls = calls_of(
        [*owner_routine(), record("CreateRole", at(minutes=20), ip=ip, agent=agent, request={"roleName": "r"})]
    )
    baseline = Baseline.of(calls[:-1], WINDOW)
    assert judge(calls[-1], WINDOW, Signals(account=ACCOUNT), baseline).verdict == verdict


def test_a_role_the_sequence_names_is_in_the_reach_and_its_sessions_are_followed() -> None:
    seeds = [*SEEDS, Seed("role", "deploy-role", "role deploy-role, named by the attack sequence", role="deploy-role")]
    outside = {"type": "AWSAccount", "principalId": "AIDAOUTSIDE", "accountId": "666666666666"}
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/deploy-role"
    assumed = record(
        "AssumeRole",
        at(minutes=9),
        identity=outside,
        source="sts.amazonaws.com",
        request={"roleArn": role_arn, "roleSessionName": "x"},
        response={"credentials": {"accessKeyId": "ASIAOUTSIDESESSION01"}},
        resources=[{"ARN": role_arn}],
    )
    reach = reach_of([assumed], seeds=seeds)
    named, session = reach.items
    assert named.kind == Kind.NAMED_ROLE and named.judgement.rule == "finding-names-it" and named.followed
    assert session.kind == Kind.SESSION and session.judgement.rule == "inherited" and session.role == "deploy-role"
