"""The response workflow: one state machine. The containing call comes first.

    Intake (Choice on the raw event's own fields, no Lambda; infra/intake.py):
      read in the state (Health key, GuardDuty role named): Record*Incident (DynamoDB: the dedupe
          write) -> Deactivate*/RevokeRoleSessions (IAM through the AWS SDK integration: the
          containing call) -> KeyContained/SessionContained (the containing function: read back,
          quarantine, the full normalizer); any error of those states -> the first task below
      AWS Health                         -> KeyIntake: the ContainKey function as first task
      GuardDuty instance-credential      -> SessionIntake: the RevokeSessions function as first task
      anything else                      -> Normalize -> Prepare
    Each first task records the incident (the dedupe write), makes the containing call, and only then
    normalizes the event in full (lambdas/incident/intake.py); an event whose essentials it does not
    read itself gets Normalize's treatment and the regular route. A first task that fails outright
    falls back to Normalize with the raw event, so containment still runs along the regular route.
    -> Route (Choice):
      contained at intake:               straight on to what follows containment
      exposed-access-key:                ContainKeys (Map: one ContainKey per key) -> Investigate -> Evict
      instance-credential-exfiltration:  RevokeSessions ->
          Parallel[the actions ON_THE_INSTANCE, in order | Investigate -> Evict]
          (an instance group with incident.isolate_group: PreserveInstanceGroup Map, the actions declared
          "at-once" for every member together, then IsolateInstanceGroup Map, the "one-by-one" ones
          for one member at a time)
      accepted exposed key with incident.contain_roles: ContainRoles (RevokeSessions per role) -> ContainKeys
      duplicate with recontain (the repeat shows the credentials still in use, record.judge):
          instance credentials: Recontain (RevokeSessions again)
          exposed key: [RecontainRoles ->] RecontainKeys (ContainKey again: a new session cut-off)
      duplicate, told (a released incident active again): NotifySlack
      duplicate, nothing new:            AlreadyHandled (no message)
      (a repeat that names something new is `accepted`, narrowed to what is new: incident.repeat)
      accepted but report-only (incident.report_only, set by configuration): straight to Report
    (Investigate -> Evict -> the actions AFTER_EVICTION runs twice: now, and again after CloudTrail's
    delivery lag.)
      ignored / anything else:           (nothing)
    -> Report -> Choice(outcome) -> Succeed | Fail (so CloudWatch alarms on failed executions fire)

Every task retries transient failures with backoff and jitter and catches the rest into
`$.failures.<task>`, so the report still runs and names what to finish by hand.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.actions import Action, by_package
from infra.functions import RESPONDER_ROLE_PATH, depend_on_policy_only, retention
from infra.intake import IN_STATE_WORST_SECONDS, Fallbacks, InStateIntake, InStateOptions

# Where each response action runs; each declares the rest in lambdas/<package>/action.py (common.action).
# On a stolen instance, after RevokeSessions and beside the investigation, in this order: evidence first (the image
# and the protections), then out of its load balancers and without role credentials, then off the network.
ON_THE_INSTANCE = ("preserve_evidence", "cut_off_instance", "isolate_instance")
# After each Evict pass, on the attacker's reach that pass's investigation found.
AFTER_EVICTION = ("user_credentials",)

# Errors worth retrying: Lambda's own transient errors and the handlers' TransientError.
TRANSIENT_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "TransientError",
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
]
# A function that timed out or ran out of memory: Lambda reports `Sandbox.Timedout` (current
# runtimes) or `Lambda.Unknown` (AWS's docs: unhandled errors, "out-of-memory errors and function
# timeouts"). Retried on the idempotent tasks only: a report task that timed out may already have
# posted or published, and a retry would send its message twice.
TIMEOUT_ERRORS = ["Sandbox.Timedout", "Lambda.Unknown"]
RETRY_INTERVAL_SECONDS = 1
RETRY_MAX_ATTEMPTS = 5
RETRY_MAX_DELAY_SECONDS = 20
TIMEOUT_RETRY_ATTEMPTS = 2
# An instance group's members: imaged and cut off at once, then isolated one at a time; at most
# this many (Normalize's MAX_GROUP_ISOLATION: a larger group is only listed).
GROUP_MAX_MEMBERS = 10
DEFAULT_FUNCTION_TIMEOUT_SECONDS = 30
# What the timeout adds on top of the worst case computed below: the transitions themselves,
# Lambda cold starts and the Map's batching of more than ten keys are not in that sum.
TIMEOUT_MARGIN = 1.25
TIMEOUT_SLACK_SECONDS = 600


def task_worst_seconds(timeout_seconds: float, *, retries_timeouts: bool = True) -> float:
    """The longest one task can take: every attempt runs into the function's timeout and every
    retry waits the longest backoff."""
    attempts = 1 + RETRY_MAX_ATTEMPTS + (TIMEOUT_RETRY_ATTEMPTS if retries_timeouts else 0)
    return attempts * timeout_seconds + (attempts - 1) * RETRY_MAX_DELAY_SECONDS


def state_machine_timeout_seconds(
    timeouts: dict[str, float], second_lookup_delay_minutes: int, declared: Sequence[Action] = ()
) -> int:
    """The state machine's timeout, from the longest path through it (a TIMED_OUT execution
    cannot be caught and sends no report: the timeout must never be the reason one ends).
    `timeouts`: each function's timeout in seconds, by WorkflowFunctions field name or declared action's package;
    `declared`: the actions the workflow runs (placed by ON_THE_INSTANCE and AFTER_EVICTION)."""
    retried = {action.package: action.retry_timeouts for action in declared}

    def worst(name: str) -> float:
        retries_timeouts = retried.get(name, name not in ("notify_slack", "report"))
        return task_worst_seconds(timeouts[name], retries_timeouts=retries_timeouts)

    on_instance = [action for action in declared if action.package in ON_THE_INSTANCE]
    eviction = worst("evict") + sum(worst(action.package) for action in declared if action.package in AFTER_EVICTION)
    investigation = 2 * (worst("investigate") + eviction) + 60 * second_lookup_delay_minutes
    # Roles a joined attack sequence names beside its keys are revoked again first (ContainRoles).
    keys = worst("revoke_sessions") + worst("contain_key") + investigation
    # An instance group (isolateInstanceGroups): the at-once actions for every member together, the one-by-one
    # actions for each member in turn.
    group = sum(worst(action.package) for action in on_instance if action.group == "at-once") + GROUP_MAX_MEMBERS * sum(
        worst(action.package) for action in on_instance if action.group == "one-by-one"
    )
    one_instance = sum(worst(action.package) for action in on_instance)
    sessions = worst("revoke_sessions") + max(one_instance, group, investigation)
    # A first task that fails outright (after its retries) hands over to Normalize and the regular route;
    # before it, the in-state states may have run into their timeouts (infra/intake.py).
    first_task = IN_STATE_WORST_SECONDS + max(worst("contain_key"), worst("revoke_sessions"))
    longest = first_task + worst("normalize") + max(keys, sessions) + worst("notify_slack") + worst("report")
    return int(-(-(longest * TIMEOUT_MARGIN + TIMEOUT_SLACK_SECONDS) // 60) * 60)  # whole minutes, rounded up


@dataclass(frozen=True)
class WorkflowFunctions:
    """The core's functions; the declared actions' come beside them (Workflow's `actions`)."""

    normalize: lambda_.IFunction
    contain_key: lambda_.IFunction
    revoke_sessions: lambda_.IFunction
    investigate: lambda_.IFunction
    evict: lambda_.IFunction
    notify_slack: lambda_.IFunction
    report: lambda_.IFunction


class Workflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: WorkflowFunctions,
        actions: Mapping[str, lambda_.IFunction],
        switched_on: frozenset[str],
        key: kms.IKey,
        log_retention_days: int,
        investigate: bool,
        second_lookup_delay_minutes: int,
        in_state: InStateOptions | None = None,
    ) -> None:
        """`actions`: every declared action's function, by package; `switched_on`: the packages whose switches are on.
        An instance action switched off is left out; an action after the eviction always runs, and with its switch
        off reports each item it leaves (what the investigation found is never left unsaid)."""
        super().__init__(scope, construct_id)
        f = functions
        unplaced = set(actions) ^ (set(ON_THE_INSTANCE) | set(AFTER_EVICTION))
        if unplaced:
            raise ValueError(f"declared actions the workflow does not place, or placed but not declared: {unplaced}")
        on_instance = [(by_package(package), actions[package]) for package in ON_THE_INSTANCE if package in switched_on]
        self.after_eviction = [(by_package(package), actions[package]) for package in AFTER_EVICTION]
        self.timeout_seconds = state_machine_timeout_seconds(
            {
                **{name: _timeout_seconds(getattr(f, name)) for name in WorkflowFunctions.__dataclass_fields__},
                **{package: _timeout_seconds(function) for package, function in actions.items()},
            },
            second_lookup_delay_minutes,
            [action for action, _ in [*on_instance, *self.after_eviction]],
        )

        # The raw event (up to EventBridge's 256 KB) never shares the state with anything: Normalize's
        # output replaces it (the default ResultPath "$"), and Prepare wraps that intake. Step Functions caps
        # a state at 256 KiB and States.DataLimitExceeded cannot be caught: it would end the run unreported.
        # Replacing the input also copes with an input that is not a JSON object (an array or a string
        # started by hand), which cannot take a ResultPath and would end in States.Runtime, unreported.
        normalize = self._task(
            "Normalize",
            f.normalize,
            payload={"event.$": "$", "execution_id.$": "$$.Execution.Id"},
        )
        prepare = sfn.Pass(
            self,
            "Prepare",
            parameters={"intake.$": "$", "results": {}, "failures": {}, "branches": []},
            comment="Later states work from the normalized incident only; the raw event is already gone",
        )
        report_input = {
            "intake.$": "$.intake",
            "results.$": "$.results",
            "failures.$": "$.failures",
            "branches.$": "$.branches",
            "execution": {"id.$": "$$.Execution.Id", "start_time.$": "$$.Execution.StartTime"},
        }
        # Slack first, e-mail last: the e-mail is the reliable record and reports Slack's delivery.
        # Two tasks, so that retrying a failed Slack post never sends the e-mail twice.
        notify_slack = self._task(
            "NotifySlack",
            f.notify_slack,
            payload=report_input,
            result_path="$.slack",
            extra_retry=["SlackDeliveryError"],
            retry_timeouts=False,
        )
        report = self._task(
            "Report",
            f.report,
            payload={**report_input, "slack.$": "$.slack"},
            result_path="$.report",
            extra_retry=["EmailDeliveryError"],
            retry_timeouts=False,
        )
        notify_slack.add_catch(report, errors=["States.ALL"], result_path="$.slack")
        notify_slack.next(report)
        finished = sfn.Choice(self, "Outcome")
        finished.when(
            sfn.Condition.or_(
                sfn.Condition.string_equals("$.report.outcome", "failed"),
                sfn.Condition.string_equals("$.report.outcome", "partial"),
            ),
            sfn.Fail(
                self,
                "ResponseIncomplete",
                error="ResponseIncomplete",
                cause="a response step failed; the report names it and the manual fix",
            ),
        ).when(
            # The e-mail went out, but the incident record did not take the outcome: `release`
            # would not know what to undo. Failing the execution makes the alarm say so.
            sfn.Condition.string_matches("$.report.record", "failed*"),
            sfn.Fail(
                self,
                "RecordNotStored",
                error="RecordNotStored",
                cause="the report was sent but the incident record could not store it; see the Report logs",
            ),
        ).otherwise(sfn.Succeed(self, "Done"))
        report.next(finished)
        # A report that cannot be sent must still end the execution as failed, so alarms fire.
        report.add_catch(
            sfn.Fail(self, "ReportFailed", error="ReportFailed", cause="the report could not be sent"),
            errors=["States.ALL"],
            result_path="$.failures.report",
        )

        # Exposed access key: contain every key in parallel, one task each.
        contain_keys = self._contain_keys("ContainKeys", "ContainKey", f.contain_key, notify_slack)

        # Instance credential exfiltration: revoke first (the containment), then the rest.
        revoke = self._guarded("RevokeSessions", f.revoke_sessions, "revoke_sessions")

        branches: list[sfn.IChainable] = []
        instance_steps = [
            self._guarded(action.state, function, action.package, retry_timeouts=action.retry_timeouts)
            for action, function in on_instance
        ]
        if instance_steps:
            for earlier, later in itertools.pairwise(instance_steps):
                earlier.then(later.task)
            branches.append(self._one_or_group(instance_steps[0].task, on_instance))
        if investigate:
            branches.append(self._investigation("OfSession", f.investigate, second_lookup_delay_minutes, evict=f.evict))

        if branches:
            after_revoke = sfn.Parallel(self, "EvidenceAndInvestigation", result_path="$.branches")
            for branch in branches:
                after_revoke.branch(branch)
            after_revoke.add_catch(
                notify_slack, errors=["States.ALL"], result_path="$.failures.evidence_and_investigation"
            )
            revoke.then(after_revoke)
            after_revoke.next(notify_slack)
        else:
            revoke.then(notify_slack)

        after_keys: sfn.IChainable = notify_slack
        if investigate:
            after_keys = self._investigation(
                "OfKey", f.investigate, second_lookup_delay_minutes, then=notify_slack, evict=f.evict
            )
        contain_keys.next(after_keys)
        after_sessions: sfn.IChainable = after_revoke if branches else notify_slack

        # A GuardDuty repeat that shows the credentials still in use (activity after the last cut-off,
        # a count that rose, fresh credentials): revoke again (a new cut-off), then report; evidence
        # and isolation were done by the response that acted.
        recontain = self._guarded("Recontain", f.revoke_sessions, "revoke_sessions")
        recontain.then(notify_slack)
        # The same for an exposed key (an IAM attack sequence's update): ContainKey again for the keys
        # the repeat names (incident.repeat narrows them): already Inactive, a new session cut-off.
        recontain_keys = self._contain_keys("RecontainKeys", "RecontainKey", f.contain_key, notify_slack)
        recontain_keys.next(notify_slack)
        # Roles an attack sequence named beside its keys that another response of the incident
        # contained, active since (incident.contain_roles): their sessions revoked again first.
        recontain_roles = self._contain_roles("RecontainRoles", "RecontainRole", f.revoke_sessions, recontain_keys)
        contain_roles = self._contain_roles("ContainRoles", "ContainRole", f.revoke_sessions, contain_keys)
        roles_to_contain = sfn.Condition.and_(
            sfn.Condition.is_present("$.intake.roles_to_contain"),
            sfn.Condition.boolean_equals("$.intake.roles_to_contain", True),
        )

        route = sfn.Choice(self, "Route")
        key_kind, instance_kind = "exposed-access-key", "instance-credential-exfiltration"
        recontaining = sfn.Condition.and_(
            sfn.Condition.string_equals("$.intake.status", "duplicate"),
            sfn.Condition.is_present("$.intake.recontain"),
            sfn.Condition.boolean_equals("$.intake.recontain", True),
        )
        contained_at_intake = sfn.Condition.and_(
            sfn.Condition.is_present("$.intake.contained_at_intake"),
            sfn.Condition.boolean_equals("$.intake.contained_at_intake", True),
        )
        route.when(
            # The first task re-contained a repeat whose GuardDuty count rose: report it.
            sfn.Condition.and_(contained_at_intake, sfn.Condition.string_equals("$.intake.status", "duplicate")),
            notify_slack,
        ).when(
            sfn.Condition.and_(
                contained_at_intake, sfn.Condition.string_equals("$.intake.incident.kind", "exposed-access-key")
            ),
            after_keys,
        ).when(
            sfn.Condition.and_(
                contained_at_intake,
                sfn.Condition.string_equals("$.intake.incident.kind", "instance-credential-exfiltration"),
            ),
            after_sessions,
        ).when(
            sfn.Condition.and_(recontaining, sfn.Condition.string_equals("$.intake.incident.kind", instance_kind)),
            recontain.task,
        ).when(
            sfn.Condition.and_(
                recontaining, sfn.Condition.string_equals("$.intake.incident.kind", key_kind), roles_to_contain
            ),
            recontain_roles,
        ).when(
            sfn.Condition.and_(recontaining, sfn.Condition.string_equals("$.intake.incident.kind", key_kind)),
            recontain_keys,
        ).when(
            sfn.Condition.and_(
                sfn.Condition.string_equals("$.intake.status", "duplicate"),
                sfn.Condition.boolean_equals("$.intake.notify", False),
            ),
            sfn.Succeed(self, "AlreadyHandled", comment="a repeat in which nothing changed: recorded, not re-sent"),
        ).when(
            # Configuration says this incident is only reported (incident.report_only names why):
            # no containment; the report gives the reason and the manual route.
            sfn.Condition.and_(
                sfn.Condition.string_equals("$.intake.status", "accepted"),
                sfn.Condition.is_present("$.intake.incident.report_only"),
                sfn.Condition.is_string("$.intake.incident.report_only"),
            ),
            notify_slack,
        ).when(
            sfn.Condition.and_(
                sfn.Condition.string_equals("$.intake.status", "accepted"),
                sfn.Condition.string_equals("$.intake.incident.kind", key_kind),
                roles_to_contain,
            ),
            contain_roles,
        ).when(
            sfn.Condition.and_(
                sfn.Condition.string_equals("$.intake.status", "accepted"),
                sfn.Condition.string_equals("$.intake.incident.kind", key_kind),
            ),
            contain_keys,
        ).when(
            sfn.Condition.and_(
                sfn.Condition.string_equals("$.intake.status", "accepted"),
                sfn.Condition.string_equals("$.intake.incident.kind", "instance-credential-exfiltration"),
            ),
            revoke.task,
        ).otherwise(notify_slack)

        normalize.add_catch(
            sfn.Pass(
                self,
                "NormalizeFailed",
                parameters={
                    "intake": {
                        "status": "failed",
                        "reason.$": "$.Cause",
                        "incident": None,
                        "contained_at_intake": False,
                    },
                    "results": {},
                    "failures": {},
                    "branches": [],
                },
            ).next(notify_slack),
            errors=["States.ALL"],
            result_path="$",  # the error replaces the raw event (which may be no object), as the result does
        )
        normalize.next(prepare).next(route)
        key_intake = self._first_task("KeyIntake", f.contain_key, normalize)
        session_intake = self._first_task("SessionIntake", f.revoke_sessions, normalize)
        key_intake.next(route)
        session_intake.next(route)
        # The events the state reads are contained by Step Functions itself (infra/intake.py); the
        # others, and every error of those states, go to the containing function as the first task.
        intake = InStateIntake(
            self,
            options=in_state,
            contain_key=f.contain_key,
            revoke_sessions=f.revoke_sessions,
            fallbacks=Fallbacks(keys=key_intake, sessions=session_intake, normalize=normalize),
            route=route,
            retries=lambda task: self._retry(task, retry_timeouts=True),
        )
        source = "$type($states.input) = 'object' and $states.input.source = "
        exfiltration = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration"
        definition = intake.choice(
            health_fallback_condition=f"{source}'aws.health'",
            session_fallback_condition=f"{source}'aws.guardduty' and ($t := $states.input.detail.type; "
            f"$type($t) = 'string' ? $substring($t, 0, {len(exfiltration)}) = '{exfiltration}' : false)",
        )

        self.log_group = logs.LogGroup(self, "Logs", retention=retention(log_retention_days), encryption_key=key)
        role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("states.amazonaws.com"), path=RESPONDER_ROLE_PATH)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            role=role,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            tracing_enabled=True,
            timeout=Duration.seconds(self.timeout_seconds),
            # Every transition is logged, without execution data: state inputs carry principal
            # names and IPs, and nothing secret may reach the logs.
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        intake.grant(role, key)
        self.intake = intake
        depend_on_policy_only(self.state_machine.node.default_child, role)  # type: ignore[arg-type]

    def fence_own_roles(self, role_arns: list[str]) -> None:
        """The state machine's own writes on roles (the in-state cut-off) never on the responder's roles."""
        self.intake.fence_own_roles(self.state_machine.role, role_arns)

    def _task(
        self,
        name: str,
        function: lambda_.IFunction,
        *,
        payload: dict | None = None,
        result_path: str | None = None,
        result_selector: dict | None = None,
        extra_retry: list[str] | None = None,
        retry_timeouts: bool = True,
    ) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            self,
            name,
            lambda_function=function,
            payload=sfn.TaskInput.from_object(payload) if payload else None,
            payload_response_only=True,
            retry_on_service_exceptions=False,
            result_path=result_path,
            result_selector=result_selector,
        )
        self._retry(task, extra_retry=extra_retry, retry_timeouts=retry_timeouts)
        return task

    @staticmethod
    def _retry(task: tasks.LambdaInvoke, *, extra_retry: list[str] | None = None, retry_timeouts: bool) -> None:
        task.add_retry(
            errors=TRANSIENT_ERRORS + (extra_retry or []),
            interval=Duration.seconds(RETRY_INTERVAL_SECONDS),
            backoff_rate=2,
            max_attempts=RETRY_MAX_ATTEMPTS,
            max_delay=Duration.seconds(RETRY_MAX_DELAY_SECONDS),
            jitter_strategy=sfn.JitterType.FULL,
        )
        if retry_timeouts:
            task.add_retry(
                errors=TIMEOUT_ERRORS,
                interval=Duration.seconds(RETRY_INTERVAL_SECONDS),
                backoff_rate=2,
                max_attempts=TIMEOUT_RETRY_ATTEMPTS,
                max_delay=Duration.seconds(RETRY_MAX_DELAY_SECONDS),
                jitter_strategy=sfn.JitterType.FULL,
            )

    def _contain_keys(
        self, name: str, task_name: str, function: lambda_.IFunction, on_failure: sfn.IChainable
    ) -> sfn.Map:
        """One ContainKey per key of the incident, ten at a time; a key whose task fails outright is
        a failed deactivate-access-key step with the task's error."""
        contain_key = self._task(task_name, function, payload={"incident.$": "$.incident", "key.$": "$.key"})
        contain_key.add_catch(
            sfn.Pass(
                self,
                f"{task_name}Failed",
                parameters={
                    "steps": [
                        {
                            "name": "deactivate-access-key",
                            "status": "failed",
                            "target.$": "$.key.access_key_id",
                            "detail.$": "$.error.Cause",
                            "containment": True,
                        }
                    ]
                },
            ),
            errors=["States.ALL"],
            result_path="$.error",
        )
        contain_keys = sfn.Map(
            self,
            name,
            items_path="$.intake.incident.affected_keys",
            item_selector={"incident.$": "$.intake.incident", "key.$": "$$.Map.Item.Value"},
            result_path="$.results.contain_keys",
            max_concurrency=10,
        )
        contain_keys.item_processor(contain_key)
        contain_keys.add_catch(on_failure, errors=["States.ALL"], result_path="$.failures.contain_keys")
        return contain_keys

    def _contain_roles(self, name: str, task_name: str, function: lambda_.IFunction, then: sfn.IChainable) -> sfn.Map:
        """RevokeSessions for each role of incident.contain_roles (a role's sessions, no instance)."""
        revoke = self._task(task_name, function, payload={"incident.$": "$.incident", "role.$": "$.role"})
        revoke.add_catch(
            sfn.Pass(
                self,
                f"{task_name}Failed",
                parameters={
                    "steps": [
                        {
                            "name": "revoke-role-sessions",
                            "status": "failed",
                            "target.$": "$.role",
                            "detail.$": "$.error.Cause",
                            "containment": True,
                        }
                    ]
                },
            ),
            errors=["States.ALL"],
            result_path="$.error",
        )
        roles = sfn.Map(
            self,
            name,
            items_path="$.intake.incident.contain_roles",
            item_selector={"incident.$": "$.intake.incident", "role.$": "$$.Map.Item.Value"},
            result_path="$.results.contain_roles",
            max_concurrency=10,
        )
        roles.item_processor(revoke)
        roles.add_catch(then, errors=["States.ALL"], result_path="$.failures.contain_roles")
        roles.next(then)
        return roles

    def _first_task(self, name: str, function: lambda_.IFunction, fallback: sfn.IChainable) -> tasks.LambdaInvoke:
        """A containing function as the execution's first task: it gets the raw event and returns what
        Route expects (the state is replaced: the raw event, up to 256 KB, never shares it)."""
        task = self._task(name, function, payload={"event.$": "$", "execution_id.$": "$$.Execution.Id"})
        # The raw event stays as it was (no error merged into it, which could outgrow the state's
        # limit): Normalize takes it from there, and the failure is in the execution's history.
        task.add_catch(fallback, errors=["States.ALL"], result_path=sfn.JsonPath.DISCARD)
        return task

    def _guarded(
        self,
        name: str,
        function: lambda_.IFunction,
        key: str,
        *,
        payload: dict | None = None,
        retry_timeouts: bool = True,
    ) -> _Guarded:
        """A task on the incident whose failure is recorded in `$.failures.<key>` and skipped past."""
        task = self._task(
            name,
            function,
            payload=payload or {"incident.$": "$.intake.incident"},
            result_path=f"$.results.{key}",
            retry_timeouts=retry_timeouts,
        )
        failed = sfn.Pass(self, f"{name}Failed", comment=f"{name} failed: recorded for the report")
        task.add_catch(failed, errors=["States.ALL"], result_path=f"$.failures.{key}")
        return _Guarded(task, failed)

    def _one_or_group(self, one: sfn.IChainable, on_instance: list[tuple[Action, lambda_.IFunction]]) -> sfn.IChainable:
        """The instance actions for the finding's instance, or, for an instance group that
        isolateInstanceGroups lets the response isolate (incident.isolate_group, set by Normalize),
        the same actions for each member: those declared "at-once" for every member together
        (PreserveInstanceGroup), then those declared "one-by-one" for one member at a time
        (IsolateInstanceGroup: the isolation and all-open groups are per VPC and shared, and a swap
        assumes no other swap in its VPC). Normalize isolates at most GROUP_MAX_MEMBERS members; the
        timeout counts them."""
        maps = [
            self._group_map(
                "PreserveInstanceGroup",
                "instance_group",
                [member for member in on_instance if member[0].group == "at-once"],
                GROUP_MAX_MEMBERS,
            ),
            self._group_map(
                "IsolateInstanceGroup",
                "instance_group_isolation",
                [member for member in on_instance if member[0].group == "one-by-one"],
                1,
            ),
        ]
        chain = [group for group in maps if group is not None]
        for earlier, later in itertools.pairwise(chain):
            earlier.next(later)
        choice = sfn.Choice(self, "OneInstanceOrGroup")
        choice.when(
            sfn.Condition.and_(
                sfn.Condition.is_present("$.intake.incident.isolate_group"),
                sfn.Condition.boolean_equals("$.intake.incident.isolate_group", True),
            ),
            chain[0],
        ).otherwise(one)
        return choice

    def _group_map(
        self, name: str, key: str, members: list[tuple[Action, lambda_.IFunction]], concurrency: int
    ) -> sfn.Map | None:
        """A Map over the group's members running `members`' tasks for each; each member's output is
        its instance id, results and failures (without its copy of the incident: the state stays small)."""
        if not members:
            return None
        group = sfn.Map(
            self,
            name,
            items_path="$.intake.incident.group_instance_ids",
            item_selector={
                "incident.$": "$.intake.incident",
                "instance_id.$": "$$.Map.Item.Value",
                "results": {},
                "failures": {},
            },
            result_path=f"$.results.{key}",
            max_concurrency=concurrency,
        )
        chain: list[_Guarded] = []
        for action, function in members:
            task = self._task(
                action.group_state,
                function,
                payload={"incident.$": "$.incident", "instance_id.$": "$.instance_id"},
                result_path=f"$.results.{action.package}",
                retry_timeouts=action.retry_timeouts,
            )
            failed = sfn.Pass(
                self, f"{action.group_state}Failed", comment=f"{action.group_state} failed: recorded for the report"
            )
            task.add_catch(failed, errors=["States.ALL"], result_path=f"$.failures.{action.package}")
            chain.append(_Guarded(task, failed))
        done = sfn.Pass(
            self,
            f"{name}MemberDone",
            parameters={"instance_id.$": "$.instance_id", "results.$": "$.results", "failures.$": "$.failures"},
        )
        for earlier, later in itertools.pairwise(chain):
            earlier.then(later.task)
        chain[-1].then(done)
        group.item_processor(chain[0].task)
        return group

    def _investigation(
        self,
        suffix: str,
        function: lambda_.IFunction,
        delay_minutes: int,
        then: sfn.IChainable | None = None,
        evict: lambda_.IFunction | None = None,
    ) -> sfn.IChainable:
        """Look up CloudTrail now, and again after CloudTrail's delivery lag; after each look-up, evict the
        back doors it found (Evict reads the pass's evidence object, so it takes only the pass number).

        Each pass's output is bounded (a digest, at most a few steps per key: investigate/handler.py); the
        event lists stay in the evidence bucket, and pass 2 gets only pass 1's evidence URI."""
        first = self._task(
            f"Investigate{suffix}",
            function,
            payload={"incident.$": "$.intake.incident", "pass": 1},
            result_path="$.results.investigate",
        )
        first_failed = sfn.Pass(self, f"Investigate{suffix}Failed")
        first.add_catch(first_failed, errors=["States.ALL"], result_path="$.failures.investigate")
        wait = sfn.Wait(
            self,
            f"WaitForCloudTrail{suffix}",
            time=sfn.WaitTime.duration(Duration.minutes(delay_minutes)),
            comment="CloudTrail delivers events up to ~15 minutes late",
        )
        second = self._task(
            f"InvestigateAgain{suffix}",
            function,
            payload={
                "incident.$": "$.intake.incident",
                "pass": 2,
                "previous_evidence.$": "$.results.investigate.investigation.evidence",
            },
            result_path="$.results.investigate_again",
        )
        second_failed = sfn.Pass(self, f"InvestigateAgain{suffix}Failed")
        second.add_catch(second_failed, errors=["States.ALL"], result_path="$.failures.investigate_again")
        skip = sfn.Pass(self, f"NoSecondLookup{suffix}")
        check = sfn.Choice(self, f"FirstLookupSucceeded{suffix}")
        check.when(sfn.Condition.is_present("$.results.investigate.investigation"), wait)
        check.otherwise(skip)
        after_first: sfn.IChainable = check
        after_second: sfn.IChainable | None = then
        if evict is not None:
            after_first = self._evict(f"Evict{suffix}", evict, 1, "evict", check)
            after_second = self._evict(f"EvictAgain{suffix}", evict, 2, "evict_again", then)
        first.next(after_first)
        first_failed.next(check)
        wait.next(second)
        if after_second is not None:
            second.next(after_second)
        if then is not None:
            second_failed.next(then)
            skip.next(then)
        return first

    def _evict(
        self, name: str, function: lambda_.IFunction, pass_no: int, key: str, then: sfn.IChainable | None
    ) -> sfn.IChainable:
        """Evict, then the actions placed AFTER_EVICTION, each on the same pass (`<package>` results for the
        first, `<package>_again` for the second); a failed one is recorded and the next still runs."""
        payload = {"incident.$": "$.intake.incident", "pass": pass_no}
        task = self._task(name, function, payload=payload, result_path=f"$.results.{key}")
        failed = sfn.Pass(self, f"{name}Failed", comment="eviction failed: recorded for the report")
        task.add_catch(failed, errors=["States.ALL"], result_path=f"$.failures.{key}")
        chain = [_Guarded(task, failed)]
        for action, action_function in self.after_eviction:
            chain.append(
                self._guarded(
                    name.replace("Evict", action.state, 1),
                    action_function,
                    action.package if pass_no == 1 else f"{action.package}_again",
                    payload=payload,
                    retry_timeouts=action.retry_timeouts,
                )
            )
        for earlier, later in itertools.pairwise(chain):
            earlier.then(later.task)
        if then is not None:
            chain[-1].then(then)
        return task


def _timeout_seconds(function: lambda_.IFunction) -> float:
    # An alias (SnapStart) takes its function's timeout.
    target = getattr(getattr(function, "version", None), "lambda_", function)
    timeout = getattr(target, "timeout", None)
    return timeout.to_seconds() if timeout is not None else DEFAULT_FUNCTION_TIMEOUT_SECONDS


@dataclass
class _Guarded:
    task: tasks.LambdaInvoke
    failed: sfn.Pass

    def then(self, next_state: sfn.IChainable) -> None:
        self.task.next(next_state)
        self.failed.next(next_state)
