"""The responder's home stack: storage, notification, the functions, the workflow, detection."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Fn, Stack, Tags
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.actions import actions
from infra.config import DRY_RUN_ACTIONS, EVICTION_SWITCHES, ResponderConfig
from infra.detection import Detection
from infra.functions import RESPONDER_TAG, ResponderFunction, SharedCode
from infra.intake import InStateOptions
from infra.monitoring import Monitoring
from infra.nag import acknowledge, acknowledge_policy_wildcards
from infra.notification import Notification
from infra.storage import Storage
from infra.workflow import Workflow, WorkflowFunctions


class ResponderStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: ResponderConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, termination_protection=True, **kwargs)
        # Marks what belongs to the responder, for people and tools. The revoke step does not trust
        # it (a stolen role may be able to tag itself): it refuses the responder's roles by their
        # IAM path, which cannot be changed after creation.
        Tags.of(self).add(RESPONDER_TAG, "true")

        storage = Storage(self, "Storage")
        notification = Notification(
            self,
            "Notification",
            key=storage.key,
            emails=config.notification_emails,
            slack_secret_name=config.slack_secret_name,
        )
        shared = SharedCode(self, "Code", powertools_version=config.powertools_version)
        common_env = {
            "DRY_RUN": _flag(config.dry_run),
            # Each function reads only its own switch; all are set so that every function's
            # environment says the whole dry-run configuration.
            **{switch: _flag(action in config.dry_run_actions) for action, switch in DRY_RUN_ACTIONS.items()},
            "EXEMPT_PRINCIPAL_ARNS": ",".join(config.exempt_principal_arns),
            "EXEMPT_INSTANCE_IDS": ",".join(config.exempt_instance_ids),
            # What a change nobody can attribute gets: the eviction and every action after it judge alike.
            "UNKNOWN_CHANGES": config.unknown_changes,
        }

        def function(
            name: str,
            package: str,
            env: dict[str, str] | None = None,
            resources: dict[str, str] | None = None,
            **kwargs: Any,
        ) -> ResponderFunction:
            return ResponderFunction(
                self,
                name,
                package=package,
                shared=shared,
                log_key=storage.key,
                log_retention_days=config.log_retention_days,
                environment={**common_env, **(env or {})},
                resources=resources,
                **kwargs,
            )

        # Containment keeps running when something else exhausts the region's Lambda concurrency.
        # Off (0) by default: a new account's quota is 10, and any reservation then fails the deploy.
        reserved = config.reserved_concurrency or None
        table_resources = {"table_arn": storage.table.table_arn, "key_arn": storage.key.key_arn}
        slack_env = {"SLACK_SECRET_NAME": config.slack_secret_name or ""}
        slack_resources = {
            "slack_secret_arn": notification.slack_secret.secret_arn + "-??????" if notification.slack_secret else "",
        }
        intake_env = {
            "ACCEPT_SAMPLE_FINDINGS": _flag(config.accept_sample_findings),
            "AFFILIATED_INSIDE_AWS": config.affiliated_inside_aws,
            "ATTACK_SEQUENCE_MAX_ACTORS": str(config.attack_sequence_max_actors),
            "ISOLATE_INSTANCE_GROUPS": _flag(config.isolate_groups),
            "INCIDENT_TABLE": storage.table.table_name,
        }
        functions = {
            "normalize": function(
                "Normalize",
                "incident",
                memory_size=CRITICAL_PATH_MEMORY,
                reserved_concurrency=reserved,
                env=intake_env,
                resources=table_resources,
            ),
            # The containing functions are also the execution's first task (incident.intake): they record
            # the incident and normalize the event after containment, so they take Normalize's settings.
            "contain_key": function(
                "ContainKey",
                "contain_key",
                memory_size=CRITICAL_PATH_MEMORY,
                reserved_concurrency=reserved,
                env={
                    **intake_env,
                    "QUARANTINE_USER": _flag(config.quarantine_user),
                    "QUARANTINE_POLICY_ARN": config.quarantine_policy_arn,
                },
                # iam:AttachUserPolicy is conditioned on this ARN (iam:PolicyARN).
                resources={"quarantine_policy_arn": config.quarantine_policy_arn, **table_resources},
                exempt_principal_arns=tuple(config.exempt_principal_arns),
                snap_start=config.snap_start,
            ),
            "revoke_sessions": function(
                "RevokeSessions",
                "revoke_sessions",
                memory_size=CRITICAL_PATH_MEMORY,
                reserved_concurrency=reserved,
                env={**intake_env, "REVOKE_SCOPE": config.revoke_scope},
                resources=table_resources,
                exempt_principal_arns=tuple(config.exempt_principal_arns),
                snap_start=config.snap_start,
            ),
            "investigate": function(
                "Investigate",
                "investigate",
                timeout=Duration.minutes(5),
                memory_size=512,
                env={
                    "EVIDENCE_BUCKET": storage.evidence.bucket_name,
                    "EVIDENCE_KMS_KEY_ARN": storage.key.key_arn,
                    "SUSPICION_MARGIN_MINUTES": str(config.suspicion_margin_minutes),
                    "BASELINE_DAYS": str(config.baseline_days),
                },
                resources={"evidence_bucket_arn": storage.evidence.bucket_arn, "evidence_key_arn": storage.key.key_arn},
            ),
            "evict": function(
                "Evict",
                "evict",
                timeout=Duration.minutes(2),
                env={
                    "EVIDENCE_BUCKET": storage.evidence.bucket_name,
                    "EVIDENCE_KMS_KEY_ARN": storage.key.key_arn,
                    **{switch: _flag(getattr(config, attribute)) for switch, attribute in EVICTION_SWITCHES.items()},
                },
                resources={"evidence_bucket_arn": storage.evidence.bucket_arn, "evidence_key_arn": storage.key.key_arn},
                exempt_principal_arns=tuple(config.exempt_principal_arns),
            ),
            "notify_slack": function(
                "NotifySlack", "report", handler="handler.handler_slack", env=slack_env, resources=slack_resources
            ),
            "report": function(
                "Report",
                "report",
                handler="handler.handler_sns",
                env={
                    "TOPIC_ARN": notification.topic.topic_arn,
                    "INCIDENT_TABLE": storage.table.table_name,
                    # A response whose steps outgrow the record's item keeps them here (record.finish).
                    "EVIDENCE_BUCKET": storage.evidence.bucket_name,
                    "EVIDENCE_KMS_KEY_ARN": storage.key.key_arn,
                },
                resources={
                    "topic_arn": notification.topic.topic_arn,
                    "evidence_bucket_arn": storage.evidence.bucket_arn,
                    "evidence_key_arn": storage.key.key_arn,
                    **table_resources,
                },
            ),
        }
        core = WorkflowFunctions(**{name: fn.invocable for name, fn in functions.items()})
        evidence = {
            "env": {"EVIDENCE_BUCKET": storage.evidence.bucket_name, "EVIDENCE_KMS_KEY_ARN": storage.key.key_arn},
            "resources": {"evidence_bucket_arn": storage.evidence.bucket_arn, "evidence_key_arn": storage.key.key_arn},
        }
        # Each declared action's function, from its declaration (lambdas/<package>/action.py); the workflow runs
        # those whose switches are on.
        for action in actions():
            shared_uses = [evidence for use in action.uses if use == "evidence"]
            functions[action.package] = function(
                action.state,
                action.package,
                handler=action.handler,
                timeout=Duration.seconds(action.timeout_seconds),
                memory_size=action.memory_mb,
                env={
                    **{
                        switch.env: _flag(config.switched_on(switch.context))
                        for switch in action.switches
                        if switch.env
                    },
                    **{k: v for use in shared_uses for k, v in use["env"].items()},
                },
                resources={k: v for use in shared_uses for k, v in use["resources"].items()},
                exempt_principal_arns=tuple(config.exempt_principal_arns),
            )
        self.functions = functions

        workflow = Workflow(
            self,
            "Workflow",
            functions=core,
            actions={action.package: functions[action.package].invocable for action in actions()},
            switched_on=frozenset(action.package for action in actions() if config.action_on(action)),
            key=storage.key,
            log_retention_days=config.log_retention_days,
            investigate=config.investigate,
            second_lookup_delay_minutes=config.second_lookup_delay_minutes,
            # Containment by Step Functions itself (infra/intake.py), where no setting asks the function
            # to decide first: dry-run, or a revoke scoped to the instance (it reads the role first).
            in_state=InStateOptions(
                table=storage.table,
                exempt_principal_arns=tuple(config.exempt_principal_arns),
                affiliated_inside_aws=config.affiliated_inside_aws,
                keys=not config.dry_run and "containKey" not in config.dry_run_actions,
                sessions=not config.dry_run
                and "revokeSessions" not in config.dry_run_actions
                and config.revoke_scope == "role",
            ),
        )
        self.workflow = workflow
        # A record still `responding` after the state machine's own timeout belongs to an execution
        # that died: a repeat may take the response over (record/store.py).
        for first_task in ("normalize", "contain_key", "revoke_sessions"):
            stale_after = str(workflow.timeout_seconds)
            functions[first_task].function.add_environment("INCIDENT_STALE_AFTER_SECONDS", stale_after)
        for fn in functions.values():
            fn.acknowledge_wildcards()
        machine_policy = workflow.state_machine.role.node.try_find_child("DefaultPolicy")
        acknowledge_policy_wildcards(
            machine_policy,
            {
                "lambda:InvokeFunction": "CDK's LambdaInvoke grant also covers the function's versions (ARN:*)",
                # infra/intake.py: Step Functions makes the containing call itself; the exempted
                # principals and the responder's own roles are denied explicitly.
                "iam:UpdateAccessKey": "an exposed key's owner can be any user of the account",
                "iam:GetAccessKeyLastUsed": "IAM names an exposed key's owner, who can be any user",
                "iam:PutRolePolicy": "the role whose instance credentials were stolen can be any role of the "
                "account; the only policy written is the session cut-off",
                "xray:PutTraceSegments": "X-Ray accepts no resource scope",
                "xray:PutTelemetryRecords": "X-Ray accepts no resource scope",
                "xray:GetSamplingRules": "X-Ray accepts no resource scope",
                "xray:GetSamplingTargets": "X-Ray accepts no resource scope",
                "logs:CreateLogDelivery": "CloudWatch Logs delivery APIs accept no resource scope",
                "logs:GetLogDelivery": "CloudWatch Logs delivery APIs accept no resource scope",
                "logs:UpdateLogDelivery": "CloudWatch Logs delivery APIs accept no resource scope",
                "logs:DeleteLogDelivery": "CloudWatch Logs delivery APIs accept no resource scope",
                "logs:ListLogDeliveries": "CloudWatch Logs delivery APIs accept no resource scope",
                "logs:PutResourcePolicy": "CloudWatch Logs delivery APIs accept no resource scope",
                "logs:DescribeResourcePolicies": "CloudWatch Logs delivery APIs accept no resource scope",
                "logs:DescribeLogGroups": "CloudWatch Logs delivery APIs accept no resource scope",
            },
        )
        detection = Detection(self, "Detection", state_machine=workflow.state_machine, key=storage.key)
        # The responder's own roles, by exact ARN: the functions that write on roles get an explicit Deny on
        # them, and the code refuses them by the same list (a path would let anyone hide a role under it).
        # The forwarders' roles live in other regions' stacks and trust only EventBridge: one whose trust the
        # attacker rewrote is the attacker's, and held like any other.
        own_roles = [role.role_arn for role in self.node.find_all() if isinstance(role, iam.Role)]
        workflow.fence_own_roles(own_roles)
        for name, fn in functions.items():
            fn.fence_own_roles(own_roles)
            if name in ("evict", "revoke_sessions"):
                fn.function.add_environment("RESPONDER_ROLE_ARNS", Fn.join(",", own_roles))
        storage.key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            )
        )
        self.detection = detection
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            topic=notification.topic,
            state_machine=workflow.state_machine,
            dead_letters=detection.dead_letters,
            functions={_camel(name): fn.function for name, fn in functions.items()},
            email_dead_letters=notification.dead_letters,
        )
        for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
            acknowledge(
                detection.dead_letters.node.default_child,
                rule,
                "this queue is the dead-letter queue of the EventBridge targets; it has none of its own",
            )
        self.storage = storage
        self.notification = notification

        CfnOutput(self, "StateMachineArn", value=workflow.state_machine.state_machine_arn)
        CfnOutput(self, "TopicArn", value=notification.topic.topic_arn)
        CfnOutput(self, "IncidentTableName", value=storage.table.table_name)
        CfnOutput(self, "EvidenceBucketName", value=storage.evidence.bucket_name)
        # For `python -m responder check` and the runbook's dead-letter checks.
        CfnOutput(self, "DeadLetterQueueUrl", value=detection.dead_letters.queue_url)
        if notification.dead_letters is not None:
            CfnOutput(self, "EmailDeadLetterQueueUrl", value=notification.dead_letters.queue_url)
        CfnOutput(self, "CoveredRegions", value=Fn.join(",", [self.region, *config.regions]))
        CfnOutput(self, "PowertoolsLayerParameter", value=shared.powertools_parameter)


# Lambda gives CPU in proportion to memory, one full vCPU at 1,769 MB. The functions before and
# at the containing call get it, because their cold start (imports) is the product's speed; at a
# few invocations per incident the cost stays a fraction of a cent.
CRITICAL_PATH_MEMORY = 1769


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _flag(value: bool) -> str:
    return "true" if value else "false"
