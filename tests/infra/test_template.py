"""The synthesized template: what starts the response, and the responder's own security posture.

Expected values are written out here, not imported from infra/, so that a change there shows up.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

pytestmark = pytest.mark.xdist_group("infra")

STACK = "CredentialResponder"
ROLE_PATH = "/credential-responder/"
SLACK_SECRET_NAME = "credential-responder/slack-webhook"  # tests/conftest.py: DRILL_CONTEXT
PROTECTED_TAG = {"Key": "credential-responder:protected", "Value": "true"}
HEALTH_CODES = [
    "AWS_RISK_CREDENTIALS_EXPOSED",
    "AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED",
    "AWS_RISK_CREDENTIALS_COMPROMISED",
    "AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED",
    "AWS_RISK_IAM_QUARANTINE",
    "AWS_RISK_ACCOUNT_CONSOLE_COMPROMISE",  # console credentials: reported as failed, nothing changed
]
EXFILTRATION_TYPES = [
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS",
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration",  # the finding type's former name
    "AttackSequence:IAM/CompromisedCredentials",  # the principal from service.detection.sequence only
    "AttackSequence:EC2/CompromisedInstanceGroup",  # the shared role revoked; the instances listed or isolated
]


@pytest.fixture(scope="module")
def cdk_template(template: dict[str, Any]) -> Template:
    return Template.from_json(template)


def of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {key: value for key, value in template["Resources"].items() if value["Type"] == resource_type}


def output_ref(template: dict[str, Any], name: str) -> str:
    return template["Outputs"][name]["Value"]["Ref"]


def the_key(template: dict[str, Any]) -> dict[str, Any]:
    """The customer-managed key, as the other resources reference it."""
    ((key_id, key),) = of_type(template, "AWS::KMS::Key").items()
    assert key["Properties"]["EnableKeyRotation"] is True
    return {"Fn::GetAtt": [key_id, "Arn"]}


def the_state_machine(template: dict[str, Any]) -> str:
    """Its logical id."""
    (machine,) = of_type(template, "AWS::StepFunctions::StateMachine")
    return machine


# --- detection ---------------------------------------------------------------------------------


def rule_target() -> dict[str, Any]:
    """Each rule starts the state machine; a failed delivery is retried, then kept in a dead-letter queue."""
    return Match.array_with(
        [
            Match.object_like(
                {
                    "Arn": {"Ref": Match.string_like_regexp("^WorkflowStateMachine")},
                    "RoleArn": Match.any_value(),
                    "DeadLetterConfig": {"Arn": {"Fn::GetAtt": [Match.string_like_regexp("DeadLetters"), "Arn"]}},
                    "RetryPolicy": {
                        "MaximumRetryAttempts": Match.any_value(),
                        "MaximumEventAgeInSeconds": Match.any_value(),
                    },
                }
            )
        ]
    )


def test_health_rule_matches_the_exposed_key_codes(cdk_template: Template) -> None:
    cdk_template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": Match.object_like(
                {
                    "source": ["aws.health"],
                    "detail-type": ["AWS Health Event"],
                    "detail": Match.object_like({"service": ["RISK"], "eventTypeCode": HEALTH_CODES}),
                }
            ),
            "Targets": rule_target(),
        },
    )


def test_guardduty_rule_matches_the_exfiltration_findings(cdk_template: Template) -> None:
    cdk_template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.guardduty"],
                "detail-type": ["GuardDuty Finding"],
                "detail": {"type": EXFILTRATION_TYPES},
                "account": [{"Ref": "AWS::AccountId"}],
            },
            "Targets": rule_target(),
        },
    )


def test_rule_targets_retry_for_a_day(template: dict[str, Any]) -> None:
    for rule_id, rule in of_type(template, "AWS::Events::Rule").items():
        for target in rule["Properties"]["Targets"]:
            assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0, rule_id
            assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 24 * 3600, rule_id


# --- encryption and TLS ------------------------------------------------------------------------


def test_topic_queues_and_table_use_the_customer_managed_key(template: dict[str, Any]) -> None:
    key = the_key(template)
    for topic_id, topic in of_type(template, "AWS::SNS::Topic").items():
        assert topic["Properties"].get("KmsMasterKeyId") == key, topic_id
    for queue_id, queue in of_type(template, "AWS::SQS::Queue").items():
        assert queue["Properties"].get("KmsMasterKeyId") == key, queue_id
    for table_id, table in of_type(template, "AWS::DynamoDB::Table").items():
        assert table["Properties"]["SSESpecification"] == {
            "SSEEnabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": key,
        }, table_id


def test_evidence_bucket_uses_the_customer_managed_key(template: dict[str, Any]) -> None:
    bucket = template["Resources"][output_ref(template, "EvidenceBucketName")]
    (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": the_key(template)}


def test_every_bucket_is_encrypted_private_and_tls_only(template: dict[str, Any]) -> None:
    policies = {
        policy["Properties"]["Bucket"]["Ref"]: policy["Properties"]["PolicyDocument"]["Statement"]
        for policy in of_type(template, "AWS::S3::BucketPolicy").values()
    }
    buckets = of_type(template, "AWS::S3::Bucket")
    assert buckets
    for bucket_id, bucket in buckets.items():
        assert bucket["Properties"]["BucketEncryption"], bucket_id
        assert set(bucket["Properties"]["PublicAccessBlockConfiguration"].values()) == {True}, bucket_id
        arn = {"Fn::GetAtt": [bucket_id, "Arn"]}
        assert {
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": [arn, {"Fn::Join": ["", [arn, "/*"]]}],
        } in policies.get(bucket_id, []), f"{bucket_id} accepts requests without TLS"


def test_topic_and_queue_refuse_requests_without_tls(template: dict[str, Any]) -> None:
    def tls_only(policy_type: str, targets: str) -> set[str]:
        """The resources that a policy of this type denies every request without TLS."""
        return {
            target["Ref"]
            for policy in of_type(template, policy_type).values()
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            if statement["Effect"] == "Deny"
            and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
            for target in policy["Properties"][targets]
        }

    assert set(of_type(template, "AWS::SNS::Topic")) <= tls_only("AWS::SNS::TopicPolicy", "Topics")
    assert set(of_type(template, "AWS::SQS::Queue")) <= tls_only("AWS::SQS::QueuePolicy", "Queues")


# --- logs and tracing --------------------------------------------------------------------------


def test_every_log_group_has_a_retention_and_the_key(template: dict[str, Any]) -> None:
    key = the_key(template)
    for group_id, group in of_type(template, "AWS::Logs::LogGroup").items():
        assert group["Properties"].get("RetentionInDays"), f"{group_id} keeps its logs forever"
        assert group["Properties"].get("KmsKeyId") == key, group_id


def test_functions_log_to_their_own_group_and_trace(template: dict[str, Any]) -> None:
    groups = of_type(template, "AWS::Logs::LogGroup")
    functions = of_type(template, "AWS::Lambda::Function")
    assert functions
    for function_id, function in functions.items():
        properties = function["Properties"]
        assert properties["TracingConfig"] == {"Mode": "Active"}, function_id
        # Its own group, with a retention; never the implicit /aws/lambda/<name> group, which has none.
        assert properties["LoggingConfig"]["LogGroup"]["Ref"] in groups, function_id


def test_state_machine_traces_and_logs_without_execution_data(template: dict[str, Any]) -> None:
    machine = template["Resources"][the_state_machine(template)]["Properties"]
    assert machine["TracingConfiguration"] == {"Enabled": True}
    logging = machine["LoggingConfiguration"]
    # Execution data holds the incident (key ids, principals): it stays out of the logs.
    assert logging["IncludeExecutionData"] is False
    assert logging["Level"] in ("ALL", "ERROR", "FATAL")
    (destination,) = logging["Destinations"]
    group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    assert template["Resources"][group]["Properties"]["RetentionInDays"]


# --- the responder protects itself -------------------------------------------------------------


def test_every_role_is_under_the_responder_path(template: dict[str, Any]) -> None:
    # revoke_sessions refuses roles under this path; a path, unlike a tag, cannot be changed later.
    # The functions', the state machine's and EventBridge's roles alike: none is CDK-internal here.
    roles = of_type(template, "AWS::IAM::Role")
    assert len(roles) >= 10
    for role_id, role in roles.items():
        assert role["Properties"].get("Path") == ROLE_PATH, f"{role_id} is not under {ROLE_PATH}"


def test_every_role_is_tagged_as_the_responders(template: dict[str, Any]) -> None:
    for role_id, role in of_type(template, "AWS::IAM::Role").items():
        assert PROTECTED_TAG in role["Properties"].get("Tags", []), role_id


def test_stack_has_termination_protection(synthesized) -> None:
    manifest = json.loads((Path(synthesized.outdir) / "manifest.json").read_text())
    assert manifest["artifacts"][STACK]["properties"]["terminationProtection"] is True


def test_slack_webhook_is_referenced_by_secret_name_only(template: dict[str, Any]) -> None:
    assert "hooks.slack.com" not in json.dumps(template)
    assert not of_type(template, "AWS::SecretsManager::Secret")  # an existing secret, never one made here
    names = {
        function["Properties"]["Environment"]["Variables"].get("SLACK_SECRET_NAME")
        for function in of_type(template, "AWS::Lambda::Function").values()
    }
    assert SLACK_SECRET_NAME in names
