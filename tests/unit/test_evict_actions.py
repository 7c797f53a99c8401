"""Each containment of the reach against moto's IAM: reversible, idempotent, read back, checked by content."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from common.cutoff import OLDER_SESSIONS_POLICY, cutoff_of, deny_older_sessions
from common.steps import Status
from evict import actions
from evict.actions import EVICTION_POLICY, EVICTION_POLICY_NAME, Replaced, Switch

NOW = datetime(2026, 11, 20, 12, 30, 0, 400000, tzinfo=UTC)
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
OUTSIDE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::666666666666:root"}, "Action": "sts:AssumeRole"}
    ],
}
ON = Switch(name="SWITCH")


@pytest.fixture
def iam(aws):
    return boto3.client("iam", region_name="us-east-1")


def policy(iam: Any, kind: str, name: str, policy_name: str) -> Any:
    if kind == "user":
        return iam.get_user_policy(UserName=name, PolicyName=policy_name)["PolicyDocument"]
    return iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]


def statuses(iam: Any, user: str) -> dict[str, str]:
    return {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}


def test_a_created_user_is_held_whole_and_a_planted_policy_under_our_name_is_overwritten(iam) -> None:
    user_id = iam.create_user(UserName="backup-admin")["User"]["UserId"]
    key = iam.create_access_key(UserName="backup-admin")["AccessKey"]["AccessKeyId"]
    iam.create_login_profile(UserName="backup-admin", Password="Attacker-Pass-123!")
    iam.put_user_policy(UserName="backup-admin", PolicyName=EVICTION_POLICY_NAME, PolicyDocument=json.dumps(ALLOW_ALL))
    replaced = Replaced()

    result = actions.hold_user(
        iam, "backup-admin", user_id, "attacker's (rule)", ON, step_name=actions.EVICT_USER, now=NOW, replaced=replaced
    )

    assert result["status"] == Status.DONE and result["containment"]
    assert statuses(iam, "backup-admin") == {key: "Inactive"}
    assert policy(iam, "user", "backup-admin", EVICTION_POLICY_NAME) == EVICTION_POLICY
    assert cutoff_of(policy(iam, "user", "backup-admin", OLDER_SESSIONS_POLICY)) == datetime(
        2026, 11, 20, 12, 30, 1, tzinfo=UTC
    )
    assert iam.get_login_profile(UserName="backup-admin")["LoginProfile"]  # never deleted: the deny-all covers it
    assert replaced.documents == [
        {"where": "user/backup-admin", "policy": EVICTION_POLICY_NAME, "document": ALLOW_ALL, "planted": True}
    ]
    assert "planted?" in result["detail"] and json.dumps(ALLOW_ALL) not in json.dumps(result)
    assert f"--access-key-id {key} --status Active" in result["undo"]

    again = actions.hold_user(
        iam,
        "backup-admin",
        user_id,
        "why",
        ON,
        step_name=actions.EVICT_USER,
        now=NOW + timedelta(minutes=15),
        replaced=Replaced(),
    )
    assert again["status"] == Status.ALREADY_DONE and "undo" not in again


def test_a_renamed_user_is_found_by_its_id_and_a_deleted_one_is_gone_only_when_iam_lists_no_such_id(iam) -> None:
    user_id = iam.create_user(UserName="tmp1")["User"]["UserId"]
    key = iam.create_access_key(UserName="tmp1")["AccessKey"]["AccessKeyId"]
    iam.update_user(UserName="tmp1", NewUserName="svc-billing-sync")

    result = actions.hold_user(
        iam, "tmp1", user_id, "why", ON, step_name=actions.EVICT_USER, now=NOW, replaced=Replaced()
    )

    assert result["status"] == Status.DONE and result["target"] == "svc-billing-sync"
    assert f"found by its id {user_id}" in result["detail"]
    assert statuses(iam, "svc-billing-sync") == {key: "Inactive"}

    gone = actions.hold_user(
        iam, "nobody", "AIDANOSUCHUSER000001", "why", ON, step_name=actions.EVICT_USER, now=NOW, replaced=Replaced()
    )
    assert gone["status"] == Status.ALREADY_DONE and "IAM lists no user with id AIDANOSUCHUSER000001" in gone["detail"]


def test_a_key_is_deactivated_where_iam_says_it_lives(iam) -> None:
    iam.create_user(UserName="tmp1")
    key = iam.create_access_key(UserName="tmp1")["AccessKey"]["AccessKeyId"]
    iam.update_user(UserName="tmp1", NewUserName="renamed")

    result = actions.deactivate_key(iam, key, "tmp1", "why", ON)

    assert result["status"] == Status.DONE and statuses(iam, "renamed") == {key: "Inactive"}
    assert "CloudTrail named tmp1" in result["detail"] and "--user-name renamed" in result["undo"]
    assert actions.deactivate_key(iam, key, "tmp1", "why", ON)["status"] == Status.ALREADY_DONE
    gone = actions.deactivate_key(iam, "AKIADELETEDKEY000001", "tmp1", "why", ON)
    assert gone["status"] == Status.ALREADY_DONE and "NoSuchEntity" in gone["detail"]


def test_a_password_the_attacker_created_is_removed_and_the_users_sessions_cut_off(iam) -> None:
    iam.create_user(UserName="alice")
    iam.create_login_profile(UserName="alice", Password="Attacker-Pass-123!")
    made = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    result = actions.remove_login_profile(iam, "alice", made, "why", ON, now=NOW, replaced=Replaced())

    assert result["status"] == Status.DONE, result["detail"]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_login_profile(UserName="alice")
    assert cutoff_of(policy(iam, "user", "alice", OLDER_SESSIONS_POLICY)) is not None


def test_a_second_pass_over_a_removed_password_keeps_the_cut_off_in_place(iam) -> None:
    iam.create_user(UserName="alice")
    iam.create_login_profile(UserName="alice", Password="Attacker-Pass-123!")
    now = datetime.now(UTC)
    made = (now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    first = actions.remove_login_profile(iam, "alice", made, "why", ON, now=now, replaced=Replaced())
    in_place = policy(iam, "user", "alice", OLDER_SESSIONS_POLICY)

    # Minutes later (secondLookupDelayMinutes): the password is gone, so no console session can be newer.
    replaced = Replaced()
    second = actions.remove_login_profile(
        iam, "alice", made, "why", ON, now=now + timedelta(minutes=5), replaced=replaced
    )

    assert first["status"] == Status.DONE and second["status"] == Status.ALREADY_DONE, second["detail"]
    assert policy(iam, "user", "alice", OLDER_SESSIONS_POLICY) == in_place and not replaced.documents
    assert not second.get("undo")


def test_a_password_already_gone_under_a_cut_off_older_than_it_is_cut_off_again(iam) -> None:
    """Someone removed the attacker's password before the eviction came: a cut-off from before the password was made
    (the containment's, say) leaves the sessions signed in with it, so the pass writes a new one."""
    iam.create_user(UserName="alice")
    older = deny_older_sessions("2026-11-20T11:00:00Z")
    iam.put_user_policy(UserName="alice", PolicyName=OLDER_SESSIONS_POLICY, PolicyDocument=json.dumps(older))

    result = actions.remove_login_profile(iam, "alice", "2026-11-20T12:00:00Z", "why", ON, now=NOW, replaced=Replaced())

    assert result["status"] == Status.DONE, result["detail"]
    assert cutoff_of(policy(iam, "user", "alice", OLDER_SESSIONS_POLICY)) == datetime(
        2026, 11, 20, 12, 30, 1, tzinfo=UTC
    )


def test_a_password_set_again_after_the_attacker_is_left_alone(iam) -> None:
    iam.create_user(UserName="alice")
    iam.create_login_profile(UserName="alice", Password="Owners-New-Pass-123!")
    made = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    result = actions.remove_login_profile(iam, "alice", made, "why", ON, now=NOW, replaced=Replaced())

    assert result["status"] == Status.SKIPPED and "someone set it since" in result["detail"]
    assert iam.get_login_profile(UserName="alice")["LoginProfile"]


def test_a_role_is_held_by_content_and_the_responders_own_roles_are_refused_by_exact_arn(iam) -> None:
    iam.create_role(RoleName="evil", AssumeRolePolicyDocument=json.dumps(OUTSIDE))
    planted = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_role_policy(RoleName="evil", PolicyName=OLDER_SESSIONS_POLICY, PolicyDocument=json.dumps(planted))
    replaced = Replaced()

    result = actions.hold_role(
        iam, "evil", actions.QUARANTINE_ROLE, "why", ON, now=NOW, replaced=replaced, own_role_arns=frozenset()
    )

    assert result["status"] == Status.DONE
    assert policy(iam, "role", "evil", EVICTION_POLICY_NAME) == EVICTION_POLICY
    assert cutoff_of(policy(iam, "role", "evil", OLDER_SESSIONS_POLICY)) is not None
    assert [doc["policy"] for doc in replaced.documents] == [OLDER_SESSIONS_POLICY]

    # A role under the responder's path is not the responder's: only the exact ARNs are.
    own = iam.create_role(RoleName="own", Path="/credential-responder/", AssumeRolePolicyDocument=json.dumps(TRUST))[
        "Role"
    ]
    mimic = iam.create_role(
        RoleName="mimic", Path="/credential-responder/", AssumeRolePolicyDocument=json.dumps(OUTSIDE)
    )
    fence = frozenset({own["Arn"]})
    refused = actions.hold_role(
        iam, "own", actions.QUARANTINE_ROLE, "why", ON, now=NOW, replaced=Replaced(), own_role_arns=fence
    )
    assert refused["status"] == Status.FAILED and "responder's own roles" in refused["detail"]
    held = actions.hold_role(
        iam, "mimic", actions.QUARANTINE_ROLE, "why", ON, now=NOW, replaced=Replaced(), own_role_arns=fence
    )
    assert held["status"] == Status.DONE and mimic["Role"]["Arn"] not in fence


def test_a_minted_session_ends_with_a_cut_off_after_its_issue_and_a_later_one_stands(iam) -> None:
    iam.create_role(RoleName="deploy-role", AssumeRolePolicyDocument=json.dumps(TRUST))
    issued = "2026-11-20T12:05:00Z"

    first = actions.revoke_sessions(iam, "role", "deploy-role", issued, "why", ON, now=NOW, replaced=Replaced())
    again = actions.revoke_sessions(
        iam, "role", "deploy-role", issued, "why", ON, now=NOW + timedelta(hours=1), replaced=Replaced()
    )
    later = actions.revoke_sessions(
        iam, "role", "deploy-role", "2026-11-20T13:00:00Z", "why", ON, now=NOW + timedelta(hours=1), replaced=Replaced()
    )

    assert first["status"] == Status.DONE and "issued 2026-11-20T12:05:00Z" in first["detail"]
    assert again["status"] == Status.ALREADY_DONE  # the cut-off already denies that session
    assert later["status"] == Status.DONE  # a session minted after the cut-off needs a later one
    assert cutoff_of(policy(iam, "role", "deploy-role", OLDER_SESSIONS_POLICY)) == datetime(
        2026, 11, 20, 13, 30, 1, tzinfo=UTC
    )


class _Config:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.calls: list[dict[str, Any]] = []

    def get_resource_config_history(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {"configurationItems": self.items}


def test_a_trust_document_aws_config_proves_is_put_back(iam) -> None:
    role_id = iam.create_role(RoleName="web", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["RoleId"]
    iam.update_assume_role_policy(RoleName="web", PolicyDocument=json.dumps(OUTSIDE))
    config = _Config(
        [
            {
                "configuration": json.dumps({"assumeRolePolicyDocument": json.dumps(TRUST)}),
                "configurationItemCaptureTime": "2026-11-19T00:00:00Z",
            }
        ]
    )
    previous, proof = actions.previous_trust_from_config(config, role_id, "2026-11-20T12:05:00Z")
    assert previous == TRUST and "AWS Config" in proof and config.calls[0]["resourceId"] == role_id
    replaced = Replaced()

    result = actions.restore_trust(
        iam, "web", previous, proof, OUTSIDE, "why", ON, now=NOW, replaced=replaced, own_role_arns=frozenset()
    )

    assert result["status"] == Status.DONE, result["detail"]
    document = iam.get_role(RoleName="web")["Role"]["AssumeRolePolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    assert document["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert replaced.documents[0]["policy"] == "trust policy"
    assert cutoff_of(policy(iam, "role", "web", OLDER_SESSIONS_POLICY)) is not None

    # A second pass minutes later: the trust is back, so the cut-off of the first stands and nothing is written.
    in_place = policy(iam, "role", "web", OLDER_SESSIONS_POLICY)
    again = Replaced()
    second = actions.restore_trust(
        iam,
        "web",
        previous,
        proof,
        OUTSIDE,
        "why",
        ON,
        now=NOW + timedelta(minutes=5),
        replaced=again,
        own_role_arns=frozenset(),
        rewritten_at="2026-11-20T12:05:00Z",
    )
    assert second["status"] == Status.ALREADY_DONE, second["detail"]
    assert policy(iam, "role", "web", OLDER_SESSIONS_POLICY) == in_place and not again.documents


def test_switches_and_dry_run_refuse_before_any_call(iam) -> None:
    off = actions.hold_role(
        iam,
        "nope",
        actions.QUARANTINE_ROLE,
        "why",
        Switch(enabled=False, name="QUARANTINE_CREATED_ROLES"),
        now=NOW,
        replaced=Replaced(),
        own_role_arns=frozenset(),
    )
    dry = actions.deactivate_key(iam, "AKIAX", "u", "why", Switch(dry_run=True))
    assert off["status"] == dry["status"] == Status.SKIPPED
    assert "QUARANTINE_CREATED_ROLES is off" in off["detail"] and dry["detail"].startswith("dry-run: would")


def test_shorten_cuts_at_a_word_with_a_marker() -> None:
    text = " ".join(["reasoning"] * 300)
    cut = actions.shorten(text)
    assert len(cut) <= actions.MAX_DETAIL and cut.endswith("[cut: the whole text is in the eviction evidence]")
    assert "reasoning reasoning …" in cut
