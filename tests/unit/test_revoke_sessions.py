"""revoke_sessions against moto: every claim is checked against the role's policy read back from IAM."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from common.aws import client
from revoke_sessions import handler
from revoke_sessions.actions import INSTANCE_SESSION_POLICY, OLDER_SESSIONS_POLICY, instance_session_policy, revoke
from tests.factories import exfiltration_incident

REGION = "ap-northeast-1"
ACCOUNT = "123456789012"
DETECTED_AT = "2026-11-20T03:02:11.000Z"
NOW = datetime(2026, 11, 20, 3, 5, 0, 250000, tzinfo=UTC)
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)


def refuse_like_iam(iam: Any, role_name: str, code: str) -> None:
    """What IAM answers and moto does not: PutRolePolicy on a service-linked role (UnmodifiableEntity),
    or on a role the function's policy explicitly denies (AccessDenied). The drill does the same for
    every call (drill/iam_semantics.py)."""
    real = iam.put_role_policy

    def put(**kwargs: Any) -> Any:
        if kwargs["RoleName"] == role_name:
            raise ClientError({"Error": {"Code": code, "Message": "refused"}}, "PutRolePolicy")
        return real(**kwargs)

    iam.put_role_policy = put


def make_incident(**overrides: Any) -> dict[str, Any]:
    return exfiltration_incident(**{"instance_id": "i-0f8e7d6c5b4a39281", **overrides})


@pytest.fixture
def iam(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("DRY_RUN", "REVOKE_SCOPE", "PROTECTED_ROLE_PATH", "EXEMPT_PRINCIPAL_ARNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        iam = boto3.client("iam", region_name=REGION)
        iam.create_role(RoleName="web-app-role", AssumeRolePolicyDocument=TRUST)
        yield iam
    client.cache_clear()  # no cached client may outlive this mock


def policy(iam: Any, name: str = OLDER_SESSIONS_POLICY, role: str = "web-app-role") -> dict[str, Any]:
    return iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]


def cutoff_of(document: dict[str, Any]) -> str:
    return document["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"]


def test_puts_deny_for_sessions_issued_before_now(iam: Any) -> None:
    result = revoke(iam, None, make_incident(), now=NOW)

    document = policy(iam)
    assert document["Statement"][0]["Effect"] == "Deny"
    assert document["Statement"][0]["Action"] == "*"
    assert cutoff_of(document) == "2026-11-20T03:05:01Z"  # rounded up: covers the sub-second too
    assert result["status"] == "done"
    assert result["containment"] is True
    assert result["undo"] == "aws iam delete-role-policy --role-name web-app-role --policy-name AWSRevokeOlderSessions"
    assert result["data"] == {
        "role_name": "web-app-role",
        "policy_name": OLDER_SESSIONS_POLICY,
        "cutoff": "2026-11-20T03:05:01Z",
    }


def test_rerun_writes_first_and_reads_back_the_new_cutoff(iam: Any) -> None:
    """Nothing is read before the containing write: a re-run puts a new cut-off (which denies every
    session the earlier one did) and reads it back."""
    revoke(iam, None, make_incident(), now=NOW)
    later = datetime(2026, 11, 20, 4, 0, 0, tzinfo=UTC)

    again = revoke(iam, None, make_incident(), now=later)

    assert again["status"] == "done"
    assert cutoff_of(policy(iam)) == "2026-11-20T04:00:00Z"
    assert again["data"]["cutoff"] == "2026-11-20T04:00:00Z"


def test_cutoff_before_detection_is_rewritten(iam: Any) -> None:
    stale = {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": "2026-11-19T00:00:00Z"}},
        },
    }
    iam.put_role_policy(RoleName="web-app-role", PolicyName=OLDER_SESSIONS_POLICY, PolicyDocument=json.dumps(stale))

    result = revoke(iam, None, make_incident(), now=NOW)

    assert result["status"] == "done"
    assert cutoff_of(policy(iam)) == "2026-11-20T03:05:01Z"


def test_instance_scope_denies_only_that_instances_sessions(iam: Any) -> None:
    role_id = iam.get_role(RoleName="web-app-role")["Role"]["RoleId"]

    result = revoke(iam, None, make_incident(), scope="instance", now=NOW)
    again = revoke(iam, None, make_incident(), scope="instance", now=NOW)

    condition = policy(iam, INSTANCE_SESSION_POLICY)["Statement"][0]["Condition"]
    assert condition == {"StringEquals": {"aws:userid": f"{role_id}:i-0f8e7d6c5b4a39281"}}
    assert iam.list_role_policies(RoleName="web-app-role")["PolicyNames"] == [INSTANCE_SESSION_POLICY]
    assert (result["status"], again["status"]) == ("done", "already-done")


def test_an_instance_session_deny_narrowed_to_one_vpc_is_replaced_not_taken_as_done(iam: Any) -> None:
    session = f"{iam.get_role(RoleName='web-app-role')['Role']['RoleId']}:i-0f8e7d6c5b4a39281"
    narrowed = instance_session_policy(session)
    narrowed["Statement"][0]["Condition"]["StringEquals"]["aws:SourceVpc"] = "vpc-0123456789abcdef0"
    iam.put_role_policy(
        RoleName="web-app-role", PolicyName=INSTANCE_SESSION_POLICY, PolicyDocument=json.dumps(narrowed)
    )

    result = revoke(iam, None, make_incident(), scope="instance", now=NOW)

    assert result["status"] == "done"
    assert policy(iam, INSTANCE_SESSION_POLICY) == instance_session_policy(session)


def test_service_linked_role_is_refused(iam: Any) -> None:
    iam.create_role(
        RoleName="AWSServiceRoleForAutoScaling",
        Path="/aws-service-role/autoscaling.amazonaws.com/",
        AssumeRolePolicyDocument=TRUST,
    )

    refuse_like_iam(iam, "AWSServiceRoleForAutoScaling", "UnmodifiableEntity")
    result = revoke(iam, None, make_incident(role_name="AWSServiceRoleForAutoScaling"), now=NOW)

    assert iam.list_role_policies(RoleName="AWSServiceRoleForAutoScaling")["PolicyNames"] == []
    assert result["status"] == "skipped"
    assert result["containment"] is True
    assert "service-linked" in result["detail"]
    assert result["manual"]


def test_responder_own_role_is_refused_by_its_exact_arn_not_its_path(iam: Any) -> None:
    own = iam.create_role(RoleName="responder-role", AssumeRolePolicyDocument=TRUST, Path="/credential-responder/")
    mimic = "attacker-made-under-our-path"
    iam.create_role(RoleName=mimic, AssumeRolePolicyDocument=TRUST, Path="/credential-responder/")
    fence = frozenset({own["Role"]["Arn"]})

    refuse_like_iam(iam, "responder-role", "AccessDenied")  # the explicit deny in the function's policy
    result = revoke(iam, None, make_incident(role_name="responder-role"), own_role_arns=fence, now=NOW)
    contained = revoke(iam, None, make_incident(role_name=mimic), own_role_arns=fence, now=NOW)

    assert iam.list_role_policies(RoleName="responder-role")["PolicyNames"] == []
    assert result["status"] == "skipped"
    assert "one of the responder's own roles" in result["detail"] and own["Role"]["Arn"] in result["detail"]
    assert result["manual"].startswith("aws iam put-role-policy --role-name responder-role")
    # A role under the responder's path is not the responder's: anyone who may create roles can make one.
    assert contained["status"] == "done" and iam.list_role_policies(RoleName=mimic)["PolicyNames"]


def test_a_tag_does_not_make_a_role_look_like_the_responder(iam: Any) -> None:
    # Whoever holds the stolen role may be able to tag it; only the (immutable) path counts.
    iam.tag_role(RoleName="web-app-role", Tags=[{"Key": "credential-responder:protected", "Value": "true"}])

    result = revoke(iam, None, make_incident(role_name="web-app-role"), now=NOW)

    assert result["status"] == "done"
    assert iam.list_role_policies(RoleName="web-app-role")["PolicyNames"] == ["AWSRevokeOlderSessions"]


def test_role_name_missing_is_resolved_from_the_instance_profile(iam: Any) -> None:
    iam.create_role(RoleName="batch-role", AssumeRolePolicyDocument=TRUST)
    iam.create_instance_profile(InstanceProfileName="batch-profile")
    iam.add_role_to_instance_profile(InstanceProfileName="batch-profile", RoleName="batch-role")
    ec2 = boto3.client("ec2", region_name=REGION)
    instance_id = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, IamInstanceProfile={"Name": "batch-profile"}
    )["Instances"][0]["InstanceId"]

    result = revoke(iam, ec2, make_incident(role_name=None, instance_id=instance_id), now=NOW)

    assert result["status"] == "done"
    assert result["target"] == "batch-role"
    assert cutoff_of(policy(iam, role="batch-role")) == "2026-11-20T03:05:01Z"
    assert iam.list_role_policies(RoleName="web-app-role")["PolicyNames"] == []


def test_role_name_missing_and_no_profile_fails_cleanly(iam: Any) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    instance_id = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]

    result = revoke(iam, ec2, make_incident(role_name=None, instance_id=instance_id), now=NOW)

    assert result["status"] == "failed"
    assert "no instance profile" in result["detail"]


def test_missing_role_fails_without_crashing(iam: Any) -> None:
    result = revoke(iam, None, make_incident(role_name="deleted-role"), now=NOW)

    assert result["status"] == "failed"
    assert "does not exist" in result["detail"]


def test_dry_run_changes_nothing(iam: Any) -> None:
    result = revoke(iam, None, make_incident(), dry_run=True, now=NOW)

    assert iam.list_role_policies(RoleName="web-app-role")["PolicyNames"] == []
    assert result["status"] == "skipped"
    assert result["detail"].startswith("dry-run: would put AWSRevokeOlderSessions")
    assert result["manual"].startswith("aws iam put-role-policy")


def test_exempted_role_is_refused(iam: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXEMPT_PRINCIPAL_ARNS", f"arn:aws:iam::{ACCOUNT}:role/web-app-role")

    result = revoke(iam, None, make_incident(), now=NOW)

    assert result["status"] == "skipped"
    assert iam.list_role_policies(RoleName="web-app-role")["PolicyNames"] == []


def test_handler(iam: Any, lambda_context: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVOKE_SCOPE", "instance")
    client.cache_clear()  # clients are cached per process; make them inside this mock

    output = handler.handler({"incident": make_incident()}, lambda_context)

    assert [s["name"] for s in output["steps"]] == ["revoke-role-sessions"]
    assert output["steps"][0]["status"] == "done"
    assert iam.list_role_policies(RoleName="web-app-role")["PolicyNames"] == [INSTANCE_SESSION_POLICY]
    json.dumps(output)  # what Step Functions receives must be JSON


def test_handler_skips_another_accounts_role(iam: Any, lambda_context: Any) -> None:
    client.cache_clear()

    output = handler.handler({"incident": make_incident(account="210987654321")}, lambda_context)

    assert output["steps"][0]["status"] == "skipped"
    assert iam.list_role_policies(RoleName="web-app-role")["PolicyNames"] == []


def swapped_profile(iam: Any) -> tuple[Any, str, str]:
    """An instance launched with web-app-role's profile, whose profile was then replaced by another role's."""
    ec2 = boto3.client("ec2", region_name=REGION)
    iam.create_role(RoleName="decoy-role", AssumeRolePolicyDocument=TRUST)
    for profile, role in (("web-app-profile", "web-app-role"), ("decoy-profile", "decoy-role")):
        iam.create_instance_profile(InstanceProfileName=profile)
        iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    instance = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, IamInstanceProfile={"Name": "web-app-profile"}
    )["Instances"][0]["InstanceId"]
    (association,) = ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"]
    ec2.replace_iam_instance_profile_association(
        AssociationId=association["AssociationId"], IamInstanceProfile={"Name": "decoy-profile"}
    )
    web_arn = iam.get_instance_profile(InstanceProfileName="web-app-profile")["InstanceProfile"]["Arn"]
    return ec2, instance, web_arn


def test_the_finding_role_is_revoked_and_a_swapped_profile_reported(iam: Any) -> None:
    ec2, instance, _ = swapped_profile(iam)

    result = revoke(iam, ec2, make_incident(instance_id=instance), now=NOW)

    assert result["status"] == "done" and result["target"] == "web-app-role"
    assert OLDER_SESSIONS_POLICY in iam.list_role_policies(RoleName="web-app-role")["PolicyNames"]
    assert iam.list_role_policies(RoleName="decoy-role")["PolicyNames"] == []
    assert "points at role decoy-role" in result["detail"] and "web-app-role was revoked" in result["detail"]
    assert result["data"]["current_profile_role"] == "decoy-role"


def test_without_a_role_name_the_findings_profile_wins_over_the_current_one(iam: Any) -> None:
    ec2, instance, web_arn = swapped_profile(iam)

    result = revoke(
        iam, ec2, make_incident(instance_id=instance, role_name=None, instance_profile_arn=web_arn), now=NOW
    )

    assert result["target"] == "web-app-role" and result["status"] == "done"
    assert iam.list_role_policies(RoleName="decoy-role")["PolicyNames"] == []
    assert "decoy-role" in result["detail"]


def test_an_exempted_instance_stops_a_revoke_scoped_to_it(iam: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    incident = make_incident()
    monkeypatch.setenv("EXEMPT_INSTANCE_IDS", incident["instance_id"])

    result = revoke(iam, None, incident, scope="instance", now=NOW)

    assert result["status"] == "skipped" and "exemptInstanceIds" in result["detail"]
    assert iam.list_role_policies(RoleName="web-app-role")["PolicyNames"] == []
    # The whole-role revoke is not about the instance: the exemption does not stop it.
    assert revoke(iam, None, incident, now=NOW)["status"] == "done"


def test_commands_are_shell_quoted(iam: Any) -> None:
    import shlex

    result = revoke(iam, None, make_incident(), now=NOW, dry_run=True)
    words = shlex.split(result["manual"])
    assert words[-2] == "--policy-document" and json.loads(words[-1])["Statement"][0]["Effect"] == "Deny"


def test_a_findings_profile_iam_does_not_know_falls_back_to_the_current_one(iam: Any) -> None:
    ec2, instance, _ = swapped_profile(iam)
    gone = f"arn:aws:iam::{ACCOUNT}:instance-profile/deleted-since"

    result = revoke(iam, ec2, make_incident(instance_id=instance, role_name=None, instance_profile_arn=gone), now=NOW)

    assert result["status"] == "done" and result["target"] == "decoy-role"


# -- after Step Functions itself put the cut-off (infra/intake.py) -------------------------------------


def finding_event() -> dict[str, Any]:
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "events" / "guardduty_exfil_outside_realistic.json"
    event = json.loads(path.read_text())
    event["account"] = event["detail"]["accountId"] = ACCOUNT
    return event


def after_state(cutoff: str) -> dict[str, Any]:
    event = finding_event()
    return {
        "event": event,
        "execution_id": "arn:x",
        "incident_id": f"{ACCOUNT}:guardduty:{event['detail']['id']}",
        "contained": {"role_name": "web-app-role", "cutoff": cutoff},
    }


def test_after_the_states_put_the_cutoff_is_read_back(iam: Any, lambda_context: Any) -> None:
    from revoke_sessions.actions import older_sessions_policy

    cutoff = "2026-11-20T03:05:01Z"
    iam.put_role_policy(  # the state's call
        RoleName="web-app-role",
        PolicyName=OLDER_SESSIONS_POLICY,
        PolicyDocument=json.dumps(older_sessions_policy(cutoff)),
    )
    out = handler.handler(after_state(cutoff), lambda_context)
    ((step,),) = [out["results"]["revoke_sessions"]["steps"]]
    assert step["status"] == "done" and step["data"]["cutoff"] == cutoff
    assert out["intake"]["status"] == "accepted" and out["intake"]["contained_at_intake"] is True


def test_after_the_state_a_cutoff_that_does_not_read_back_is_a_failure(iam: Any, lambda_context: Any) -> None:
    out = handler.handler(after_state("2026-11-20T03:05:01Z"), lambda_context)
    (step,) = out["results"]["revoke_sessions"]["steps"]
    assert step["status"] == "failed" and "does not read back as written" in step["detail"]
