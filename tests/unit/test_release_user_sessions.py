"""release reverses revoke-user-sessions: the deny on the user's older sessions, read back from moto."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest

from contain_key.actions import OLDER_SESSIONS_POLICY, deactivate_key, revoke_user_sessions
from responder.release import plan, release

NOW = datetime(2026, 11, 20, 3, 5, tzinfo=UTC)
THEIR_OWN = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}'


@pytest.fixture
def iam(aws):
    iam = boto3.client("iam")
    iam.create_user(UserName="ci-deployer")
    iam.put_user_policy(UserName="ci-deployer", PolicyName="their-own", PolicyDocument=THEIR_OWN)
    return iam


def test_release_deletes_the_older_sessions_deny_and_nothing_else(iam) -> None:
    key = iam.create_access_key(UserName="ci-deployer")["AccessKey"]["AccessKeyId"]
    steps = [
        deactivate_key(iam, "ci-deployer", key),
        revoke_user_sessions(iam, "ci-deployer", not_before=datetime(2026, 11, 20, 3, 2, 11, tzinfo=UTC), now=NOW),
    ]
    assert [s["status"] for s in steps] == ["done", "done"]
    assert sorted(iam.list_user_policies(UserName="ci-deployer")["PolicyNames"]) == [OLDER_SESSIONS_POLICY, "their-own"]

    reversals, _ = plan(steps, iam=iam)
    assert [r.step for r in reversals] == ["revoke-user-sessions", "deactivate-access-key"]
    assert reversals[0].what == (
        f"delete the inline policy {OLDER_SESSIONS_POLICY} of user ci-deployer "
        "(its sessions issued before the cut-off work again)"
    )
    recorded: list[str] = []
    outcomes = release(reversals, confirm=lambda r: r.step == "revoke-user-sessions", record=recorded.append)
    assert [o.status for o in outcomes] == ["released", "declined"]
    assert iam.list_user_policies(UserName="ci-deployer")["PolicyNames"] == ["their-own"]
    assert recorded == [
        f"released: delete the inline policy {OLDER_SESSIONS_POLICY} of user ci-deployer (its sessions issued "
        f"before the cut-off work again) ({OLDER_SESSIONS_POLICY} is gone from user ci-deployer (read back))"
    ]


def test_a_cutoff_the_responder_found_in_place_is_left_alone(iam) -> None:
    revoke_user_sessions(iam, "ci-deployer", not_before=datetime(2026, 11, 20, 3, 2, 11, tzinfo=UTC), now=NOW)
    again = revoke_user_sessions(iam, "ci-deployer", not_before=datetime(2026, 11, 20, 3, 2, 11, tzinfo=UTC), now=NOW)
    assert again["status"] == "already-done"
    reversals, notes = plan([again], iam=iam)
    assert reversals == [] and notes and notes[0].startswith("revoke-user-sessions ci-deployer: left as is")
