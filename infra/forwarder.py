"""Every region: forward the detection events of each covered region to the home region.

GuardDuty publishes a finding in the region where it occurs; AWS Health publishes the IAM
credential events (global) in us-east-1, and in us-west-2 as its backup. The responder runs in one
home region, so each other covered region gets a light stack: one EventBridge rule per pattern,
whose target is the home region's default event bus. Forwarded events keep their `source`,
`detail-type` and `region`, so the home rules match them and the actions run in the incident's
region.

The home bus is addressed by an ARN built from configuration, never by a cross-stack reference
(that would need CDK's cross-region custom resources). Nothing global is named in a forwarder
stack (IAM names are account-wide, so a fixed name fails in the second region): only the rules are
named, because they are regional and the home bus policy must name their ARNs.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack, Tags
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import ResponderConfig
from infra.detection import GUARDDUTY_PATTERN, HEALTH_PATTERN, own_account
from infra.functions import RESPONDER_ROLE_PATH, RESPONDER_TAG
from infra.nag import acknowledge

HEALTH_REGION = "us-east-1"
HEALTH_BACKUP_REGION = "us-west-2"
RULE_NAMES = {
    "guardduty": "credential-responder-forward-guardduty",
    "health": "credential-responder-forward-health",
}
RULE_IDS = {"guardduty": "ForwardGuardDuty", "health": "ForwardHealth"}
BUS_POLICY_STATEMENT_ID = "CredentialResponderForwarders"


def forwarder_stack_name(region: str) -> str:
    return f"CredentialResponderForwarder-{region}"


def forwarded_patterns(region: str, *, health_backup: bool) -> dict[str, dict[str, Any]]:
    """The patterns a region forwards: GuardDuty everywhere, Health only where AWS delivers it."""
    patterns = {"guardduty": GUARDDUTY_PATTERN}
    if region == HEALTH_REGION or (health_backup and region == HEALTH_BACKUP_REGION):
        patterns["health"] = HEALTH_PATTERN
    return patterns


def home_bus_arn(partition: str, region: str, account: str) -> str:
    return f"arn:{partition}:events:{region}:{account}:event-bus/default"


def forwarding_rule_arns(partition: str, account: str, config: ResponderConfig) -> list[str]:
    # Rules on a default bus have no bus segment in their ARN.
    return [
        f"arn:{partition}:events:{region}:{account}:rule/{RULE_NAMES[kind]}"
        for region in config.regions
        for kind in forwarded_patterns(region, health_backup=config.health_backup_region)
    ]


class ForwarderStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: ResponderConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, termination_protection=True, **kwargs)
        if config.home_region is None:  # ResponderConfig.validate refuses regions without a home region
            raise ValueError("a forwarder needs the home region")
        Tags.of(self).add(RESPONDER_TAG, "true")
        # Same account: the pseudo parameters, not a reference to the home stack.
        bus_arn = home_bus_arn(self.partition, config.home_region, self.account)

        role = iam.Role(
            self,
            "ForwardRole",
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": self.account}}
            ),
            path=RESPONDER_ROLE_PATH,
            description=f"credential responder: forward detection events to {config.home_region}",
        )
        role.add_to_policy(iam.PolicyStatement(actions=["events:PutEvents"], resources=[bus_arn]))

        # SQS-managed encryption: a customer-managed key per region would cost $1/month each and
        # the queue only ever holds EventBridge's copies of AWS events.
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
            acknowledge(
                self.dead_letters.node.default_child,
                rule,
                "this queue is the dead-letter queue of the forwarding targets; it has none of its own",
            )

        # The runbook's dead-letter check (an alarm here could not notify the home topic).
        CfnOutput(self, "DeadLetterQueueUrl", value=self.dead_letters.queue_url)

        target = targets.EventBus(
            events.EventBus.from_event_bus_arn(self, "HomeBus", bus_arn), role=role, dead_letter_queue=self.dead_letters
        )
        self.rules = {
            kind: events.Rule(
                self,
                RULE_IDS[kind],
                rule_name=RULE_NAMES[kind],
                description=f"credential responder: forward to the home region {config.home_region}",
                # Only this account's events: another account's would be forwarded, then fail at home.
                event_pattern=events.EventPattern(**own_account(pattern, self.account)),
                targets=[target],
            )
            for kind, pattern in forwarded_patterns(self.region, health_backup=config.health_backup_region).items()
        }


class HomeBusPolicy(Construct):
    """On the home default bus: accept PutEvents from the forwarding rules of this account only."""

    def __init__(self, scope: Construct, construct_id: str, *, config: ResponderConfig) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        # L1: the L2 EventBusPolicy fails to resolve an iam.PolicyStatement through jsii (circular reference).
        events.CfnEventBusPolicy(
            self,
            "Policy",
            event_bus_name="default",
            statement_id=BUS_POLICY_STATEMENT_ID,
            statement={
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{stack.partition}:iam::{stack.account}:root"},
                "Action": "events:PutEvents",
                "Resource": home_bus_arn(stack.partition, stack.region, stack.account),
                "Condition": {
                    "ArnEquals": {"aws:SourceArn": forwarding_rule_arns(stack.partition, stack.account, config)}
                },
            },
        )
