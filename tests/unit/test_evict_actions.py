"""Each eviction against moto: what it changes is read back from the account, never from the step."""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from drill.cloudtrail_fake import make_record
from evict import actions
from evict.actions import EVICTION_POLICY, EVICTION_POLICY_NAME, Switch
from evict.attribution import calls_of, decide

KEY = "AKIAEXPOSEDKEY000001"
EXPOSED = "2026-11-20T12:00:00Z"
NOW = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)
PROTECTED = "/credential-responder/"
ON = Switch(True, False, "SWITCH")
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
OUTSIDE_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        *EC2_TRUST["Statement"],
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::193672423079:root"}, "Action": "sts:AssumeRole"},
    ],
}


@pytest.fixture
def iam(aws: None) -> Any:
    return boto3.client("iam")


def decision(name: str, time: str = "2026-11-20T12:05:00Z", **kwargs: Any) -> Any:
    record = make_record(name, access_key_id=KEY, event_time=time, user_name="ci-deployer", **kwargs)
    event = {"EventId": record["eventID"], "EventName": name, "EventTime": time, "CloudTrailEvent": json.dumps(record)}
    return decide(calls_of([event]), EXPOSED)[0]


def inline(iam: Any, kind: str, name: str) -> list[str]:
    if kind == "user":
        return iam.list_user_policies(UserName=name)["PolicyNames"]
    return iam.list_role_policies(RoleName=name)["PolicyNames"]


def test_a_created_user_loses_every_key_and_gets_the_deny_all(iam: Any) -> None:
    iam.create_user(UserName="malicious")
    keys = [iam.create_access_key(UserName="malicious")["AccessKey"]["AccessKeyId"] for _ in range(2)]
    result = actions.evict_created_user(iam, "malicious", "attacker's: CreateUser", ON)
    assert result["status"] == "done" and result["containment"]
    assert {k["Status"] for k in iam.list_access_keys(UserName="malicious")["AccessKeyMetadata"]} == {"Inactive"}
    document = iam.get_user_policy(UserName="malicious", PolicyName=EVICTION_POLICY_NAME)["PolicyDocument"]
    assert document == EVICTION_POLICY
    assert result["data"] == {"user": "malicious", "policy_name": EVICTION_POLICY_NAME, "deactivated_keys": keys}
    assert "attacker's: CreateUser" in result["detail"]
    again = actions.evict_created_user(iam, "malicious", "why", ON)
    assert again["status"] == "already-done" and not again.get("undo")


def test_a_look_alike_policy_of_the_same_name_is_replaced_by_the_deny(iam: Any) -> None:
    iam.create_user(UserName="malicious")
    allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(UserName="malicious", PolicyName=EVICTION_POLICY_NAME, PolicyDocument=json.dumps(allow))
    assert actions.evict_created_user(iam, "malicious", "why", ON)["status"] == "done"
    assert (
        iam.get_user_policy(UserName="malicious", PolicyName=EVICTION_POLICY_NAME)["PolicyDocument"] == EVICTION_POLICY
    )


@pytest.mark.parametrize(
    ("switch", "says"),
    [(Switch(False, False, "EVICT_CREATED_USERS"), "EVICT_CREATED_USERS is off"), (Switch(True, True), "dry-run")],
)
def test_switched_off_or_dry_run_changes_nothing_and_is_skipped_containment(
    iam: Any, switch: Switch, says: str
) -> None:
    iam.create_user(UserName="malicious")
    key = iam.create_access_key(UserName="malicious")["AccessKey"]["AccessKeyId"]
    result = actions.evict_created_user(iam, "malicious", "why", switch)
    assert result["status"] == "skipped" and result["containment"] and says in result["detail"]
    assert "put-user-policy" in result["manual"]
    assert iam.list_access_keys(UserName="malicious")["AccessKeyMetadata"][0]["Status"] == "Active"
    assert inline(iam, "user", "malicious") == [] and key


def test_a_user_already_gone_is_already_done_because_iam_says_so(iam: Any) -> None:
    result = actions.evict_created_user(iam, "gone", "why", ON)
    assert result["status"] == "already-done" and "NoSuchEntity" in result["detail"]


def test_the_undo_quotes_what_the_attacker_named(iam: Any) -> None:
    name = "evil+name=,.@-x"  # every character IAM allows in a user name that a shell cares about
    iam.create_user(UserName=name)
    result = actions.evict_created_user(iam, name, "why", ON)
    words = shlex.split(result["undo"])
    assert words[words.index("--user-name") + 1] == name


def test_a_console_password_is_removed_and_release_is_told_it_cannot_come_back(iam: Any) -> None:
    iam.create_user(UserName="bob")
    iam.create_login_profile(UserName="bob", Password="Bob-password-1!")
    result = actions.remove_login_profile(iam, "bob", "attacker's: UpdateLoginProfile", ON, created_by_attacker=False)
    assert result["status"] == "done" and result["containment"]
    with pytest.raises(ClientError):
        iam.get_login_profile(UserName="bob")
    assert "cannot be restored" in result["data"]["password"] and "must set a new password" in result["detail"]
    again = actions.remove_login_profile(iam, "bob", "why", ON, created_by_attacker=False)
    assert again["status"] == "already-done"


def test_a_created_role_is_denied_everything_and_its_sessions_revoked(iam: Any) -> None:
    iam.create_role(RoleName="evil", AssumeRolePolicyDocument=json.dumps(OUTSIDE_TRUST))
    result = actions.quarantine_role(iam, "evil", actions.QUARANTINE_ROLE, "why", ON, protected_path=PROTECTED, now=NOW)
    assert result["status"] == "done"
    assert sorted(inline(iam, "role", "evil")) == sorted([EVICTION_POLICY_NAME, "AWSRevokeOlderSessions"])
    revoke = iam.get_role_policy(RoleName="evil", PolicyName="AWSRevokeOlderSessions")["PolicyDocument"]
    assert revoke["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"] == "2026-11-20T12:30:00Z"
    assert result["undo"].count("delete-role-policy") == 2
    again = actions.quarantine_role(iam, "evil", actions.QUARANTINE_ROLE, "why", ON, protected_path=PROTECTED, now=NOW)
    assert again["status"] == "already-done"


@pytest.mark.parametrize("path", [PROTECTED, "/aws-service-role/ecs.amazonaws.com/"])
def test_the_responders_own_and_service_linked_roles_are_refused(iam: Any, path: str) -> None:
    iam.create_role(RoleName="mine", Path=path, AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    result = actions.quarantine_role(iam, "mine", actions.QUARANTINE_TRUST, "why", ON, protected_path=PROTECTED)
    assert result["status"] == "failed" and "refused" in result["detail"]
    assert inline(iam, "role", "mine") == []


def test_a_rewritten_trust_names_the_added_principals_and_the_restore_command() -> None:
    rewrite = decision(
        "UpdateAssumeRolePolicy", request={"roleName": "prod", "policyDocument": json.dumps(OUTSIDE_TRUST)}
    )
    earlier = decision(
        "CreateRole",
        "2026-11-19T08:00:00Z",
        request={"roleName": "prod", "assumeRolePolicyDocument": json.dumps(EC2_TRUST)},
    )
    unknown = lambda: (None, "AWS Config has no history of it (ResourceNotDiscoveredException)")  # noqa: E731
    text, data = actions.trust_report("prod", [rewrite], [earlier], unknown)
    assert data["added_principals"] == ["AWS arn:aws:iam::193672423079:root"]
    assert "CloudTrail: CreateRole at 2026-11-19T08:00:00Z" in data["previous_source"]
    words = shlex.split(data["restore_trust"])
    assert json.loads(words[words.index("--policy-document") + 1]) == EC2_TRUST
    assert data["restore_trust"] in text

    text, data = actions.trust_report("prod", [rewrite], [], unknown)
    assert data["restore_trust"] is None and "previous trust document unknown" in text
    assert "AWS arn:aws:iam::193672423079:root" in text and "Service ec2.amazonaws.com" in text


def test_the_previous_trust_comes_from_aws_config_history_before_the_rewrite() -> None:
    class Config:
        def __init__(self) -> None:
            self.asked: dict[str, Any] = {}

        def get_resource_config_history(self, **kwargs: Any) -> dict[str, Any]:
            self.asked = kwargs
            configuration = {
                "assumeRolePolicyDocument": "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D"
            }
            item = {"configuration": json.dumps(configuration), "configurationItemCaptureTime": "t0"}
            return {"configurationItems": [item]}

    config = Config()
    document, source = actions.previous_trust_from_config(config, "AROAEXAMPLE", "2026-11-20T12:05:00Z")
    assert document == {"Version": "2012-10-17", "Statement": []} and "AWS Config" in source
    assert config.asked["resourceId"] == "AROAEXAMPLE" and config.asked["chronologicalOrder"] == "Reverse"
    assert config.asked["laterTime"] == datetime(2026, 11, 20, 12, 4, 59, tzinfo=UTC)


def test_a_policy_on_a_principal_the_attacker_created_is_removed(iam: Any) -> None:
    iam.create_user(UserName="malicious")
    arn = iam.create_policy(PolicyName="Admin", PolicyDocument=json.dumps(EVICTION_POLICY))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="malicious", PolicyArn=arn)
    attach = decision("AttachUserPolicy", request={"userName": "malicious", "policyArn": arn})
    result = actions.detach_policy(iam, attach, "malicious", "why", ON)
    assert result["status"] == "done"
    assert iam.list_attached_user_policies(UserName="malicious")["AttachedPolicies"] == []
    assert result["undo"] == f"aws iam attach-user-policy --user-name malicious --policy-arn {arn}"
    assert actions.detach_policy(iam, attach, "malicious", "why", ON)["status"] == "already-done"


def test_a_policy_on_someone_elses_principal_is_reported_with_the_command_not_removed(iam: Any) -> None:
    iam.create_user(UserName="bob")
    iam.put_user_policy(UserName="bob", PolicyName="extra", PolicyDocument=json.dumps(EVICTION_POLICY))
    put = decision("PutUserPolicy", request={"userName": "bob", "policyName": "extra", "policyDocument": "{}"})
    result = actions.detach_policy(iam, put, None, "why", ON)
    assert result["status"] == "skipped" and not result["containment"]
    assert result["manual"] == "aws iam delete-user-policy --user-name bob --policy-name extra"
    assert inline(iam, "user", "bob") == ["extra"]


def test_federation_tokens_are_reported_as_covered_by_the_user_level_revocation() -> None:
    minted = decision(
        "GetFederationToken",
        request={"name": "fed"},
        response={"credentials": {"accessKeyId": "ASIAFEDERATED0000001"}},
    )
    result = actions.minted_sessions(minted, "why")
    assert result["status"] == "skipped" and not result["containment"] and result["target"] == "ASIAFEDERATED0000001"
    assert "revoke-user-sessions" in result["detail"] and "AWSRevokeOlderSessions" in result["manual"]


def test_the_email_shows_the_full_restore_command_of_a_rewritten_trust() -> None:
    from report.outcome import decide as verdict_of
    from report.render import render_email

    restore = 'aws iam update-assume-role-policy --role-name prod --policy-document \'{"Version": "2012-10-17"}\''
    quarantined = actions.step(
        actions.QUARANTINE_TRUST, actions.Status.DONE, "prod", "deny-all in place", containment=True,
        data={"restore_trust": restore},
    )  # fmt: skip
    text = render_email(None, verdict_of("accepted", "", [quarantined]), [])["text"]
    assert "restore the previous trust policy:\n      " + restore in text
