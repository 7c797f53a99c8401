"""One Lambda function per response action, each with its own role granting exactly what the
action's `permissions.py` declares (the test suite checks declaration, grant and code agree).

All functions share one code asset (the `lambdas/` folder, no Docker bundling) and AWS's
public Powertools layer, pinned by version through its public SSM parameter.
"""

from __future__ import annotations

import importlib
from typing import Any

from aws_cdk import CfnResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra import LAMBDAS_DIR
from infra.nag import acknowledge, acknowledge_policy_wildcards

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.ARM_64
RESPONDER_TAG = "credential-responder:protected"
RESPONDER_ROLE_PATH = "/credential-responder/"


def declared_grants(package: str, handler: str = "handler.handler") -> tuple[dict[str, Any], ...]:
    """The grants a package declares for one entry point (all of them when it has only one)."""
    module = importlib.import_module(f"{package}.permissions")
    # INDIRECT_GRANTS: calls AWS makes with the function's permissions (e.g. KMS behind SNS).
    grants = tuple(module.GRANTS) + tuple(getattr(module, "INDIRECT_GRANTS", ()))
    entry_point = f"{package}.{handler}"
    return tuple(grant for grant in grants if grant.get("handler", entry_point) == entry_point)


class SharedCode(Construct):
    """The code asset and Powertools layer that every function uses."""

    def __init__(self, scope: Construct, construct_id: str, *, powertools_version: str) -> None:
        super().__init__(scope, construct_id)
        self.code = lambda_.Code.from_asset(
            str(LAMBDAS_DIR), exclude=["**/__pycache__", "**/*.pyc", "requirements.txt"]
        )
        # Resolved by CloudFormation at deploy time in the deployment's own region.
        self.powertools_parameter = f"/aws/service/powertools/python/arm64/{RUNTIME.name}/{powertools_version}"
        layer_arn = ssm.StringParameter.value_for_string_parameter(self, self.powertools_parameter)
        self.powertools = lambda_.LayerVersion.from_layer_version_arn(self, "Powertools", layer_arn)


class ResponderFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        package: str,
        shared: SharedCode,
        log_key: kms.IKey,
        log_retention_days: int,
        environment: dict[str, str],
        resources: dict[str, str] | None = None,
        handler: str = "handler.handler",
        timeout: Duration | None = None,
        memory_size: int = 256,
        reserved_concurrency: int | None = None,
        exempt_principal_arns: tuple[str, ...] = (),
        snap_start: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        # Regional actions run in the incident's region, which may be any covered region.
        placeholders = {"partition": stack.partition, "account": stack.account, "region": "*"}
        placeholders.update(resources or {})

        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"credential responder: {package}",
            # The path groups the responder's roles for people; what protects them is their exact ARNs
            # (fence_own_roles): anyone who may create roles can create one under any path.
            path=RESPONDER_ROLE_PATH,
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=retention(log_retention_days),
            encryption_key=log_key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=shared.code,
            handler=f"{package}.{handler}",
            layers=[shared.powertools],
            role=self.role,
            timeout=timeout or Duration.seconds(30),
            memory_size=memory_size,
            # None, never 0: a reservation of 0 would stop the function from running at all.
            reserved_concurrent_executions=reserved_concurrency or None,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            environment={"POWERTOOLS_SERVICE_NAME": "credential-responder", **environment},
            description=f"credential responder: {package}",
            # SnapStart runs the init (imports) when a version is published and restores that snapshot
            # at a cold start; it applies to published versions only, so the workflow invokes an alias.
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if snap_start else None,
        )
        self.log_group.grant_write(self.role)
        # What the workflow invokes: the function, or with SnapStart its alias on the current version.
        self.invocable: lambda_.IFunction = (
            lambda_.Alias(self, "Live", alias_name="live", version=self.function.current_version)
            if snap_start
            else self.function
        )

        self.why: dict[str, str] = {}
        for grant in declared_grants(package, handler):
            resource_arns = [template.format(**placeholders) for template in grant["resources"]]
            if not all(resource_arns):
                continue  # an optional resource this deployment does not have (e.g. no Slack secret)
            # Condition values take the same placeholders (e.g. the configured quarantine policy).
            conditions = {
                operator: {key: _format(value, placeholders) for key, value in pairs.items()}
                for operator, pairs in (grant.get("conditions") or {}).items()
            }
            self.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=list(grant["actions"]), resources=resource_arns, conditions=conditions or None
                )
            )
            for action in grant["actions"]:
                # An action in several grants (e.g. CreateTags on two kinds of resource) keeps every reason.
                self.why[action] = "; ".join(filter(None, (self.why.get(action), grant["why"])))
        self._grants = declared_grants(package, handler)
        for kind in ("user", "role"):
            writes = principal_writes(declared_grants(package, handler), kind)
            exempted = exempt_resources(exempt_principal_arns, kind)
            if writes and exempted:
                # The containing functions write first and read nothing before (issue "One cold start"):
                # IAM itself refuses them any write on an exempted principal (the code refuses it too,
                # by name from the configuration; this holds if the code does not).
                self.role.add_to_principal_policy(
                    iam.PolicyStatement(effect=iam.Effect.DENY, actions=writes, resources=exempted)
                )
        # Added by CDK for active tracing: X-Ray offers no resource-level scoping.
        self.why["xray:PutTraceSegments"] = "X-Ray accepts no resource scope"
        self.why["xray:PutTelemetryRecords"] = "X-Ray accepts no resource scope"
        acknowledge(self.function.node.default_child, "AwsSolutions-L1", RUNTIME_REASON)
        acknowledge(self.function.node.default_child, "Serverless-LambdaLatestVersion", RUNTIME_REASON)
        acknowledge(
            self.function.node.default_child,
            "Serverless-LambdaDLQ",
            "invoked synchronously by Step Functions, which retries and catches every failure; "
            "a DLQ applies only to asynchronous invocations",
        )
        depend_on_policy_only(self.function.node.default_child, self.role)  # type: ignore[arg-type]

    def fence_own_roles(self, role_arns: list[str]) -> None:
        """Code execution in this function must not become account admin: whatever it may write on roles,
        never on the responder's own, named by their exact ARNs (the code refuses them too, by the same list in
        RESPONDER_ROLE_ARNS; this holds if the code does not)."""
        fenced = own_role_writes(self._grants)
        if fenced and role_arns:
            self.role.add_to_principal_policy(
                iam.PolicyStatement(effect=iam.Effect.DENY, actions=fenced, resources=role_arns)
            )

    def acknowledge_wildcards(self) -> list[str]:
        """Call once every grant is in place; returns the wildcards no declaration explains."""
        policy = self.role.node.try_find_child("DefaultPolicy")
        return acknowledge_policy_wildcards(policy, self.why) if policy else []


def _format(value: Any, placeholders: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**placeholders)
    if isinstance(value, list):
        return [_format(item, placeholders) for item in value]
    return value


IAM_READS = ("Get", "List", "Simulate", "Generate")


def own_role_writes(grants: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> list[str]:
    """The IAM write actions `grants` allow on roles: each function that holds one gets an explicit
    Deny of exactly those on the responder's own roles (by exact ARN: fence_own_roles)."""
    return principal_writes(grants, "role")


def principal_writes(grants: tuple[dict[str, Any], ...] | list[dict[str, Any]], kind: str) -> list[str]:
    """The IAM write actions `grants` allow on principals of `kind` ("user" or "role")."""
    return sorted(
        {
            action
            for grant in grants
            if any(f":{kind}/" in resource or resource == "*" for resource in grant["resources"])
            for action in grant["actions"]
            if action.startswith("iam:") and not action.split(":", 1)[1].startswith(IAM_READS)
        }
    )


def exempt_resources(exemptions: tuple[str, ...], kind: str) -> list[str]:
    """The resource ARNs an exemption covers: the name at its own path, and at any other (a name is
    unique in an account, so the exemption names the principal wherever it lives)."""
    resources: list[str] = []
    for arn in exemptions:
        prefix, _, rest = arn.partition(f":{kind}/")
        if not rest:
            continue
        name = rest.rsplit("/", 1)[-1]
        resources += [arn, f"{prefix}:{kind}/{name}", f"{prefix}:{kind}/*/{name}"]
    return sorted(set(resources))


def depend_on_policy_only(resource: CfnResource, role: iam.Role) -> None:
    """CDK makes a resource that runs as `role` depend on the role and on its DefaultPolicy. The role
    part is already implied by the GetAtt of the role's ARN (cfn-lint W3005): keep only the policy,
    which CloudFormation must create first so that the role can do its work from the first call."""
    policy = role.node.find_child("DefaultPolicy").node.default_child
    resource.add_override("DependsOn", [Stack.of(resource).get_logical_id(policy)])  # type: ignore[arg-type]


RUNTIME_REASON = (
    "python3.12 is pinned on purpose: it is the runtime the code is tested on and the one the pinned "
    "Powertools layer is built for; both move together"
)


_RETENTION_STEPS = (
    (1, "ONE_DAY"),
    (3, "THREE_DAYS"),
    (5, "FIVE_DAYS"),
    (7, "ONE_WEEK"),
    (14, "TWO_WEEKS"),
    (30, "ONE_MONTH"),
    (60, "TWO_MONTHS"),
    (90, "THREE_MONTHS"),
    (120, "FOUR_MONTHS"),
    (150, "FIVE_MONTHS"),
    (180, "SIX_MONTHS"),
    (365, "ONE_YEAR"),
    (400, "THIRTEEN_MONTHS"),
    (545, "EIGHTEEN_MONTHS"),
    (731, "TWO_YEARS"),
    (1096, "THREE_YEARS"),
    (1827, "FIVE_YEARS"),
    (2192, "SIX_YEARS"),
    (2557, "SEVEN_YEARS"),
    (2922, "EIGHT_YEARS"),
    (3288, "NINE_YEARS"),
    (3653, "TEN_YEARS"),
)


def retention(days: int) -> logs.RetentionDays:
    """The shortest retention CloudWatch offers that keeps logs at least `days` days."""
    for step_days, name in _RETENTION_STEPS:
        if step_days >= days:
            return getattr(logs.RetentionDays, name)
    return logs.RetentionDays.TEN_YEARS
