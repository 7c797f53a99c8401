"""What starts the workflow: EventBridge rules on the default bus, with a retry policy and an
encrypted dead-letter queue so that no event is dropped silently.

Every rule matches only the deployment's own account (the envelope's `account`, the account AWS
delivered the event to). Events that other accounts send to this bus (an organization bus) are
not ours: they would start executions that can only fail and raise alarms. Forwarded events keep
their source account, so the same filter holds on the forwarders' rules and on the home rules
that receive their copies. A delegated administrator's view of members' findings arrives with
this account as `account` and the member in the detail: normalization deals with those.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.functions import RESPONDER_ROLE_PATH
from lambdas.incident import codes

# One list for the rules and the normalizer (lambdas/incident/codes.py).
HEALTH_CREDENTIAL_CODES = list(codes.HEALTH_CREDENTIAL_CODES)
GUARDDUTY_FINDING_TYPES = list(codes.GUARDDUTY_FINDING_TYPES)
EXFILTRATION_FINDING_TYPES = list(codes.EXFILTRATION_FINDING_TYPES)

HEALTH_PATTERN: dict[str, Any] = {
    "source": ["aws.health"],
    "detail_type": ["AWS Health Event"],
    "detail": {"service": ["RISK"], "eventTypeCategory": ["issue"], "eventTypeCode": HEALTH_CREDENTIAL_CODES},
}
# Samples are filtered in code, not here, so that a sample can still drive a dry-run test.
GUARDDUTY_PATTERN: dict[str, Any] = {
    "source": ["aws.guardduty"],
    "detail_type": ["GuardDuty Finding"],
    "detail": {"type": GUARDDUTY_FINDING_TYPES},
}


def own_account(pattern: dict[str, Any], account: str) -> dict[str, Any]:
    """`pattern` restricted to events delivered to `account` (in CDK, the stack's account token)."""
    return {**pattern, "account": [account]}


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
        account = Stack.of(self).account
        self.rules = {
            "health": events.Rule(
                self,
                "ExposedAccessKey",
                description="AWS Health: an IAM access key was exposed or compromised",
                event_pattern=events.EventPattern(**own_account(HEALTH_PATTERN, account)),
                targets=[target],
            ),
            "guardduty": events.Rule(
                self,
                "InstanceCredentialExfiltration",
                description="GuardDuty: EC2 instance credentials used from elsewhere, attack sequences",
                event_pattern=events.EventPattern(**own_account(GUARDDUTY_PATTERN, account)),
                targets=[target],
            ),
        }
