"""The attacker-or-owner rule and what the attacker's calls left: pure, from CloudTrail records."""

from __future__ import annotations

import json
from typing import Any

from drill.cloudtrail_fake import make_record
from evict.attribution import RULE, calls_of, decide
from evict.plan import plan

KEY = "AKIAEXPOSEDKEY000001"
EXPOSED = "2026-11-20T12:00:00Z"
USUAL = {"source_ip": "198.51.100.7", "user_agent": "aws-cli/2.15.0 ci-runner"}


def event(name: str, time: str, **kwargs: Any) -> dict[str, Any]:
    record = make_record(name, access_key_id=KEY, event_time=time, user_name="ci-deployer", **kwargs)
    return {"EventId": record["eventID"], "EventName": name, "EventTime": time, "CloudTrailEvent": json.dumps(record)}


def verdicts(events: list[dict[str, Any]]) -> list[str]:
    return [decision.verdict for decision in decide(calls_of(events), EXPOSED)]


def test_a_call_after_the_exposure_is_the_attackers_even_from_the_usual_address() -> None:
    events = [
        event("GetCallerIdentity", "2026-11-20T09:00:00Z", **USUAL),
        event("CreateRole", "2026-11-20T12:04:00Z", request={"roleName": "x"}, **USUAL),
    ]
    decisions = decide(calls_of(events), EXPOSED)
    assert [d.verdict for d in decisions] == ["owner", "attacker"]
    assert decisions[1].after_exposure and not decisions[1].new_sources
    assert "at or after the exposure 2026-11-20T12:00:00Z" in decisions[1].explain()


def test_before_the_exposure_the_owners_usual_source_is_the_owners() -> None:
    events = [
        event("GetCallerIdentity", "2026-11-20T08:00:00Z", **USUAL),
        event("CreateRole", "2026-11-20T09:00:00Z", request={"roleName": "deploy-1"}, **USUAL),
        event("CreateRole", "2026-11-20T10:00:00Z", request={"roleName": "deploy-2"}, **USUAL),
    ]
    decisions = decide(calls_of(events), EXPOSED)
    assert [d.verdict for d in decisions] == ["owner", "owner", "owner"]
    assert "every part used by the owner before (2 earlier call(s))" in decisions[2].explain()


def test_a_new_source_before_the_exposure_is_the_attackers_and_never_becomes_usual() -> None:
    stranger = {"source_ip": "203.0.113.66", "user_agent": "aws-cli/2.15.0 ci-runner"}
    events = [
        event("GetCallerIdentity", "2026-11-20T08:00:00Z", **USUAL),
        event("GetCallerIdentity", "2026-11-20T10:00:00Z", **stranger),
        event("CreateUser", "2026-11-20T10:01:00Z", request={"userName": "backdoor"}, **stranger),
    ]
    decisions = decide(calls_of(events), EXPOSED)
    assert [d.verdict for d in decisions] == ["owner", "attacker", "attacker"]
    assert decisions[2].new_sources == ("IP 203.0.113.66",)
    assert "new to the owner: IP 203.0.113.66" in decisions[2].explain()


def test_a_new_user_agent_alone_is_a_new_source() -> None:
    events = [
        event("GetCallerIdentity", "2026-11-20T08:00:00Z", **USUAL),
        event("CreateRole", "2026-11-20T09:00:00Z", source_ip=USUAL["source_ip"], user_agent="python-requests/2.31"),
    ]
    assert verdicts(events) == ["owner", "attacker"]


def test_the_first_call_of_the_window_is_judged_by_its_time_alone() -> None:
    decisions = decide(calls_of([event("CreateRole", "2026-11-20T09:00:00Z", **USUAL)]), EXPOSED)
    assert decisions[0].verdict == "owner"
    assert "no earlier call in the window to compare with, so time alone decides" in decisions[0].explain()


def test_calls_of_the_same_second_do_not_vouch_for_each_other() -> None:
    stranger = {"source_ip": "203.0.113.66", "user_agent": "x"}
    events = [
        event("GetCallerIdentity", "2026-11-20T08:00:00Z", **USUAL),
        event("GetCallerIdentity", "2026-11-20T09:00:00Z", **USUAL),
        event("CreateUser", "2026-11-20T09:00:00Z", request={"userName": "u"}, **stranger),
    ]
    assert sorted(verdicts(events)) == ["attacker", "owner", "owner"]


def test_the_rule_says_both_clauses() -> None:
    assert "at or after the exposure" in RULE and "never used in the window before it" in RULE


def test_plan_collects_what_the_attackers_successful_calls_left() -> None:
    after = "2026-11-20T12:0{}:00Z"
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    aws_quarantine = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"
    events = [
        event("CreateUser", after.format(1), request={"userName": "malicious"}),
        event("AttachUserPolicy", after.format(2), request={"userName": "malicious", "policyArn": admin}),
        event("AttachUserPolicy", after.format(3), request={"userName": "bob", "policyArn": admin}),
        event("CreateLoginProfile", after.format(4), request={"userName": "bob"}),
        event("CreateRole", after.format(5), request={"roleName": "evil"}, error_code="AccessDenied"),
        event("UpdateAssumeRolePolicy", after.format(6), request={"roleName": "prod", "policyDocument": "{}"}),
        event("GetFederationToken", after.format(7), request={"name": "fed"}),
        # AWS's own quarantine of the exposed user (exact AWS-managed ARN), and an attacker's look-alike
        event("AttachUserPolicy", after.format(8), request={"userName": "ci-deployer", "policyArn": aws_quarantine}),
        event(
            "PutUserPolicy",
            after.format(9),
            request={"userName": "bob", "policyName": aws_quarantine.rpartition("/")[2]},
        ),
    ]
    found = plan(decide(calls_of(events), EXPOSED))
    assert list(found.created_users) == ["malicious"]
    assert not found.created_roles  # the CreateRole failed: nothing to evict
    assert list(found.login_profiles) == ["bob"]
    assert list(found.trust_rewrites) == ["prod"]
    assert [d.call.request.get("policyName") or d.call.request["userName"] for d in found.policies] == [
        "malicious",
        "bob",
        "AWSCompromisedKeyQuarantineV3",
    ]
    assert [found.created_principal(d) for d in found.policies] == ["malicious", None, None]
    assert [d.call.event_name for d in found.minted] == ["GetFederationToken"]


def test_the_owners_calls_are_collected_to_be_reported_only() -> None:
    events = [
        event("GetCallerIdentity", "2026-11-20T08:00:00Z", **USUAL),
        event("CreateRole", "2026-11-20T09:00:00Z", request={"roleName": "deploy"}, **USUAL),
    ]
    found = plan(decide(calls_of(events), EXPOSED))
    assert not found.created_roles
    assert [d.call.request["roleName"] for d in found.owner] == ["deploy"]
