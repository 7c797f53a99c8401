"""The drill's answers where moto 5.2.5 has none (drill/emulation.py), checked against IAM's and AWS Config's
documented behaviour and botocore's models: the shapes a caller reads, the errors it catches by class."""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ParamValidationError

from drill.emulation import ConfigItem, Emulations
from drill.moto_quirks import aws_semantics

CODECOMMIT = "codecommit.amazonaws.com"


@pytest.fixture
def emulations(aws):
    emulations = Emulations()
    with aws_semantics(), emulations.installed():
        yield emulations


@pytest.fixture
def iam(emulations):
    client = boto3.client("iam")
    client.create_user(UserName="alice")
    return client


def test_moto_alone_does_not_answer(aws) -> None:
    """If this starts passing, moto implemented the calls and the emulation can go."""
    client = boto3.client("iam")
    client.create_user(UserName="alice")
    with pytest.raises(NotImplementedError):
        client.list_service_specific_credentials(UserName="alice")


def test_create_answers_with_the_password_once_and_list_without_it(iam) -> None:
    created = iam.create_service_specific_credential(UserName="alice", ServiceName=CODECOMMIT)[
        "ServiceSpecificCredential"
    ]
    assert created["ServiceUserName"] == "alice-at-123456789012"
    assert created["Status"] == "Active" and created["ServiceName"] == CODECOMMIT
    assert (
        created["ServiceSpecificCredentialId"].startswith("ACCA") and len(created["ServiceSpecificCredentialId"]) >= 20
    )
    assert len(created["ServicePassword"]) >= 40
    (listed,) = iam.list_service_specific_credentials(UserName="alice")["ServiceSpecificCredentials"]
    assert "ServicePassword" not in listed
    assert listed["ServiceSpecificCredentialId"] == created["ServiceSpecificCredentialId"]
    assert listed["CreateDate"] == created["CreateDate"]


def test_update_reset_and_delete(iam) -> None:
    credential_id = iam.create_service_specific_credential(UserName="alice", ServiceName=CODECOMMIT)[
        "ServiceSpecificCredential"
    ]["ServiceSpecificCredentialId"]
    first = iam.reset_service_specific_credential(ServiceSpecificCredentialId=credential_id)
    iam.update_service_specific_credential(
        UserName="alice", ServiceSpecificCredentialId=credential_id, Status="Inactive"
    )
    (listed,) = iam.list_service_specific_credentials(UserName="alice")["ServiceSpecificCredentials"]
    assert listed["Status"] == "Inactive"
    second = iam.reset_service_specific_credential(UserName="alice", ServiceSpecificCredentialId=credential_id)
    assert (
        second["ServiceSpecificCredential"]["ServicePassword"] != first["ServiceSpecificCredential"]["ServicePassword"]
    )
    iam.delete_service_specific_credential(UserName="alice", ServiceSpecificCredentialId=credential_id)
    assert iam.list_service_specific_credentials(UserName="alice")["ServiceSpecificCredentials"] == []


def test_errors_are_iams(iam) -> None:
    with pytest.raises(iam.exceptions.NoSuchEntityException, match="The user with name bob cannot be found"):
        iam.create_service_specific_credential(UserName="bob", ServiceName=CODECOMMIT)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.list_service_specific_credentials(UserName="bob")
    with pytest.raises(iam.exceptions.ServiceNotSupportedException):
        iam.create_service_specific_credential(UserName="alice", ServiceName="s3.amazonaws.com")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.update_service_specific_credential(ServiceSpecificCredentialId="ACCA" + "X" * 17, Status="Inactive")
    for _ in range(2):
        iam.create_service_specific_credential(UserName="alice", ServiceName=CODECOMMIT)
    with pytest.raises(iam.exceptions.LimitExceededException):
        iam.create_service_specific_credential(UserName="alice", ServiceName=CODECOMMIT)
    iam.create_service_specific_credential(UserName="alice", ServiceName="cassandra.amazonaws.com")  # another service
    with pytest.raises(ParamValidationError):
        iam.update_service_specific_credential(ServiceSpecificCredentialId="ACCA" + "X" * 17)


def test_a_user_holding_one_cannot_be_deleted(iam) -> None:
    iam.create_service_specific_credential(UserName="alice", ServiceName=CODECOMMIT)
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_user(UserName="alice")
    iam.create_user(UserName="carol")
    iam.delete_user(UserName="carol")  # one without goes


def test_a_renamed_user_keeps_its_credentials_and_its_id(iam) -> None:
    user_id = iam.get_user(UserName="alice")["User"]["UserId"]
    credential_id = iam.create_service_specific_credential(UserName="alice", ServiceName=CODECOMMIT)[
        "ServiceSpecificCredential"
    ]["ServiceSpecificCredentialId"]
    key = iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
    iam.tag_user(UserName="alice", Tags=[{"Key": "team", "Value": "web"}])
    iam.create_login_profile(UserName="alice", Password="Passw0rd!-long-enough")
    iam.update_user(UserName="alice", NewUserName="aws-sync")
    assert iam.get_user(UserName="aws-sync")["User"]["UserId"] == user_id
    (listed,) = iam.list_service_specific_credentials(UserName="aws-sync")["ServiceSpecificCredentials"]
    assert listed["ServiceSpecificCredentialId"] == credential_id and listed["UserName"] == "aws-sync"
    assert iam.get_access_key_last_used(AccessKeyId=key)["UserName"] == "aws-sync"
    assert iam.list_access_keys(UserName="aws-sync")["AccessKeyMetadata"][0]["UserName"] == "aws-sync"
    assert iam.list_user_tags(UserName="aws-sync")["Tags"] == [{"Key": "team", "Value": "web"}]
    assert iam.get_login_profile(UserName="aws-sync")["LoginProfile"]["UserName"] == "aws-sync"


def test_user_ids_are_of_aws_form(iam) -> None:
    assert iam.get_user(UserName="alice")["User"]["UserId"].startswith("AIDA")
    assert len(iam.get_user(UserName="alice")["User"]["UserId"]) == 21


def test_a_bedrock_api_key_has_an_alias_a_secret_and_an_expiry(iam) -> None:
    created = iam.create_service_specific_credential(
        UserName="alice", ServiceName="bedrock.amazonaws.com", CredentialAgeDays=30
    )["ServiceSpecificCredential"]
    assert created["ServiceCredentialAlias"].startswith("BedrockAPIKey-") and created["ServiceCredentialSecret"]
    assert created["ExpirationDate"] - created["CreateDate"] == timedelta(days=30)


def trust(account: str) -> dict:
    statement = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}
    return {"Version": "2012-10-17", "Statement": [statement]}


ROLE_TRUST = trust("123456789012")
OUTSIDE = trust("666666666666")


def test_config_history_of_a_declared_role(emulations) -> None:
    from moto.iam.models import iam_backends

    iam = boto3.client("iam")
    role_id = iam.create_role(RoleName="break-glass", AssumeRolePolicyDocument=json.dumps(ROLE_TRUST))["Role"]["RoleId"]
    role = iam_backends["123456789012"]["global"].roles[role_id]
    recorded = datetime(2026, 1, 1, tzinfo=UTC)
    emulations.config.declare(role, "123456789012", [ConfigItem(recorded, ROLE_TRUST)])
    rewrite = datetime(2026, 6, 1, tzinfo=UTC)
    emulations.config.record("123456789012", role_id, rewrite, OUTSIDE)
    config = boto3.client("config")
    (before,) = config.get_resource_config_history(
        resourceType="AWS::IAM::Role",
        resourceId=role_id,
        laterTime=rewrite - timedelta(seconds=1),
        chronologicalOrder="Reverse",
        limit=1,
    )["configurationItems"]
    assert before["configurationItemCaptureTime"] == recorded
    assert before["resourceName"] == "break-glass" and before["arn"] == role.arn
    configuration = json.loads(before["configuration"])
    assert json.loads(urllib.parse.unquote(configuration["assumeRolePolicyDocument"])) == ROLE_TRUST
    oldest_first = config.get_resource_config_history(
        resourceType="AWS::IAM::Role", resourceId=role_id, chronologicalOrder="Forward"
    )["configurationItems"]
    assert [item["configurationItemCaptureTime"] for item in oldest_first] == [recorded, rewrite]
    with pytest.raises(config.exceptions.InvalidTimeRangeException):
        config.get_resource_config_history(
            resourceType="AWS::IAM::Role", resourceId=role_id, earlierTime=rewrite, laterTime=recorded
        )


def test_config_without_a_declared_history_answers_as_an_account_without_a_recorder(emulations) -> None:
    iam = boto3.client("iam")
    role_id = iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(ROLE_TRUST))["Role"]["RoleId"]
    config = boto3.client("config")
    with pytest.raises(config.exceptions.ResourceNotDiscoveredException):
        config.get_resource_config_history(resourceType="AWS::IAM::Role", resourceId=role_id)
