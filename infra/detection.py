"""What starts the workflow: EventBridge rules on the default bus, with a retry policy and an
encrypted dead-letter queue so that no event is dropped silently."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.functions import RESPONDER_ROLE_PATH

HEALTH_CREDENTIAL_CODES = [
    "AWS_RISK_CREDENTIALS_EXPOSED",
    "AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED",
    "AWS_RISK_CREDENTIALS_COMPROMISED",
    "AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED",
    "AWS_RISK_IAM_QUARANTINE",
]
EXFILTRATION_FINDING_TYPES = [
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS",
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration",
]

HEALTH_PATTERN: dict[str, Any] = {
    "source": ["aws.health"],
    "detail_type": ["AWS Health Event"],
    "detail": {"service": ["RISK"], "eventTypeCategory": ["issue"], "eventTypeCode": HEALTH_CREDENTIAL_CODES},
}
# Samples are filtered in code, not here, so that a sample can still drive a dry-run test.
GUARDDUTY_PATTERN: dict[str, Any] = {
    "source": ["aws.guardduty"],
    "detail_type": ["GuardDuty Finding"],
    "detail": {"type": EXFILTRATION_FINDING_TYPES},
}


class Detection(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, state_machine: sfn.IStateMachine, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        target = targets.SfnStateMachine(
            state_machine,
            role=iam.Role(
                self, "StartRole", assumed_by=iam.ServicePrincipal("events.amazonaws.com"), path=RESPONDER_ROLE_PATH
            ),
            dead_letter_queue=self.dead_letters,
            retry_attempts=185,
            max_event_age=Duration.hours(24),
        )
        self.rules = {
            "health": events.Rule(
                self,
                "ExposedAccessKey",
                description="AWS Health: an IAM access key was exposed or compromised",
                event_pattern=events.EventPattern(**HEALTH_PATTERN),
                targets=[target],
            ),
            "guardduty": events.Rule(
                self,
                "InstanceCredentialExfiltration",
                description="GuardDuty: EC2 instance credentials used from elsewhere",
                event_pattern=events.EventPattern(**GUARDDUTY_PATTERN),
                targets=[target],
            ),
        }
