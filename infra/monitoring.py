"""Nothing fails silently: alarms on failed executions, on events stuck in the dead-letter queues
and on function errors, each notifying the responders' topic; and a dashboard of what the
responder did (the Report function's metrics, lambdas/report/metrics.py)."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: sns.ITopic,
        state_machine: sfn.StateMachine,
        dead_letters: sqs.IQueue,
        functions: dict[str, lambda_.IFunction],
        email_dead_letters: sqs.IQueue | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        notify = actions.SnsAction(topic)
        self.alarms: list[cloudwatch.Alarm] = []

        def alarm(name: str, metric: cloudwatch.IMetric, description: str) -> None:
            created = cloudwatch.Alarm(
                self,
                name,
                metric=metric,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            created.add_alarm_action(notify)
            self.alarms.append(created)

        minute = Duration.minutes(1)
        alarm(
            "ExecutionsFailed",
            state_machine.metric_failed(period=minute, statistic="Sum"),
            "A response ended failed or partial: read the report e-mail and finish the named step by hand",
        )
        alarm(
            "ExecutionsTimedOut",
            state_machine.metric_timed_out(period=minute, statistic="Sum"),
            "A response timed out: open the execution in the Step Functions console",
        )
        alarm(
            "ExecutionsAborted",
            state_machine.metric_aborted(period=minute, statistic="Sum"),
            "A response was stopped before it finished",
        )
        alarm(
            "DeadLetters",
            dead_letters.metric_approximate_number_of_messages_visible(period=minute, statistic="Maximum"),
            "EventBridge could not start the workflow for an event: it waits in the dead-letter queue; "
            "start an execution with it by hand (python -m responder try)",
        )
        if email_dead_letters is not None:
            alarm(
                "EmailDeadLetters",
                email_dead_letters.metric_approximate_number_of_messages_visible(period=minute, statistic="Maximum"),
                "SNS could not deliver a report e-mail (bounced or refused address): the report waits in the "
                "e-mail dead-letter queue; read it there and fix the subscription",
            )
        for name, function in functions.items():
            alarm(
                f"Errors{name}",
                function.metric_errors(period=minute, statistic="Sum"),
                f"The {name} function failed (the workflow retried and caught it; see its logs)",
            )

        self.dashboard = response_dashboard(self, self.alarms)


# lambdas/report/metrics.py: namespace, metric names, dimensions (with Powertools' `service`).
METRICS_NAMESPACE = "CredentialResponder"


def _search(metric: str, dimensions: str, statistic: str, label: str) -> cloudwatch.MathExpression:
    # SEARCH graphs every kind/outcome/action that has occurred, without listing them here.
    return cloudwatch.MathExpression(
        expression=f"SEARCH('{{{METRICS_NAMESPACE},{dimensions},service}} MetricName=\"{metric}\"', "
        f"'{statistic}', 3600)",
        using_metrics={},
        label=label,
        period=Duration.hours(1),
    )


def response_dashboard(scope: Construct, alarms: list[cloudwatch.Alarm]) -> cloudwatch.Dashboard:
    stack = Stack.of(scope)
    dashboard = cloudwatch.Dashboard(
        scope,
        "Dashboard",
        dashboard_name=f"{stack.stack_name}-responses",
        default_interval=Duration.days(30),
    )
    dashboard.add_widgets(
        cloudwatch.GraphWidget(
            title="Incidents by kind and outcome (per hour)",
            left=[_search("Incidents", "Kind,Outcome", "Sum", "")],
            width=12,
        ),
        cloudwatch.GraphWidget(
            title="Time from the event to containment (s): worst and median per hour",
            left=[
                _search("TimeToContainment", "Kind", "Maximum", "max"),
                _search("TimeToContainment", "Kind", "p50", "p50"),
            ],
            width=12,
        ),
    )
    dashboard.add_widgets(
        cloudwatch.GraphWidget(
            title="Steps by action and result: done, already-done, skipped, failed (per hour)",
            left=[_search("Steps", "Action,Status", "Sum", "")],
            width=16,
            stacked=True,
        ),
        cloudwatch.AlarmStatusWidget(title="Alarms", alarms=alarms, width=8),
    )
    return dashboard
