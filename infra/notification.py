"""Where responders hear from the responder: the KMS-encrypted SNS topic (email) and the
Slack webhook secret, referenced by name only (the URL never enters the template).

An e-mail SNS cannot deliver (the address bounces, SNS throttles) would otherwise be dropped
after SNS's retries: every e-mail subscription redrives into one encrypted dead-letter queue,
which has its own alarm (infra/monitoring.py) and is checked by `python -m responder check`.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.nag import acknowledge


class Notification(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        emails: tuple[str, ...],
        slack_secret_name: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.topic = sns.Topic(self, "Topic", display_name="Credential responder", master_key=key, enforce_ssl=True)
        self.dead_letters: sqs.Queue | None = None
        if emails:
            self.dead_letters = sqs.Queue(
                self,
                "EmailDeadLetters",
                encryption=sqs.QueueEncryption.KMS,
                encryption_master_key=key,
                enforce_ssl=True,
                retention_period=Duration.days(14),
            )
            for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
                acknowledge(
                    self.dead_letters.node.default_child,  # type: ignore[arg-type]
                    rule,
                    "this queue is the dead-letter queue of the e-mail subscriptions; it has none of its own",
                )
            # SNS writes undeliverable messages into the KMS-encrypted queue as itself: it needs the
            # key. (CDK adds the queue policy, scoped to this topic, for the subscription.)
            key.add_to_resource_policy(
                iam.PolicyStatement(
                    actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                    principals=[iam.ServicePrincipal("sns.amazonaws.com")],
                    resources=["*"],
                    conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
                )
            )
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email, dead_letter_queue=self.dead_letters))
        # CloudWatch alarms publish to the encrypted topic through this key.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
        self.slack_secret: secretsmanager.ISecret | None = None
        if slack_secret_name:
            self.slack_secret = secretsmanager.Secret.from_secret_name_v2(self, "SlackWebhook", slack_secret_name)
