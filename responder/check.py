"""`python -m responder check`: a deployment proves, before the first incident, that it will work.

Run with the operator's credentials against the deployed home stack. Each check prints PASS,
FAIL or WARN with what to do. Nothing the responder protects is changed: IAM is asked with
iam:SimulatePrincipalPolicy, EC2 with DryRun=True, and the dry invocation runs in a twin of each
function (same code, layer, role) that is deleted afterwards.

Checks:
  stack          the home stack exists and has its outputs
  permissions    every mutating action each function's role holds is allowed for a representative
                 target (iam:SimulatePrincipalPolicy on the role, with the statement's condition keys
                 as context: SCPs and permissions boundaries count)
  probe          each function's code imports its handler with the Powertools layer, as its own role,
                 and its EC2 mutations are allowed (DryRun=True: DryRunOperation = allowed)
  layer          the Powertools layer version exists (home region) and its public parameter in every
                 covered region
  slack          the Slack secret exists and its function may read it (simulated GetSecretValue)
  guardduty      GuardDuty is enabled in every covered region
  suppression    no GuardDuty suppression rule (a filter with action ARCHIVE) archives a finding type
                 the responder answers: GuardDuty sends a suppressed finding to no one, so it never
                 reaches EventBridge. WARN names the rule, the types and the criteria; FAIL when the
                 rule archives every finding of a type
  health         us-east-1 is covered (AWS Health sends exposed-key events only there)
  cloudtrail     a trail is logging (the investigation reads CloudTrail)
  subscriptions  every e-mail subscription is confirmed
  alarms         every alarm of the stack is OK
  dead-letters   the dead-letter queues (home, e-mail, forwarders) are empty

Exit code 0: every check passed (warnings allowed); 1: a check failed; 2: the stack cannot be read
(no region or credentials, no such stack, an AWS error: the message says what to do).
"""

from __future__ import annotations

import importlib
import io
import json
import re
import urllib.parse
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from common.action import actions
from incident.codes import GUARDDUTY_FINDING_TYPES
from responder import HOME_STACK, credentials_problem

PASS, FAIL, WARN = "PASS", "FAIL", "WARN"
HEALTH_REGION = "us-east-1"
READ_ONLY = re.compile(r"^(Describe|Get|List|Lookup|BatchGet|Search)")
PLUMBING = ("logs", "xray", "kms")  # made by CDK for every function; not a response action
REPRESENTATIVE = "credential-responder-check"
PROBE_HANDLER = "common.probe.handler"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


ClientFactory = Callable[..., Any]  # (service, region=None) -> boto3 client


def run_checks(client: ClientFactory, *, stack_name: str = HOME_STACK, region: str, probe: bool = True) -> list[Check]:
    """Every check against the deployed stack; `client(service, region)` makes boto3 clients."""
    cloudformation = client("cloudformation", region)
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    resources = [
        r
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name)
        for r in page["StackResourceSummaries"]
    ]
    covered = [r for r in outputs.get("CoveredRegions", region).split(",") if r] or [region]
    functions = [
        client("lambda", region).get_function_configuration(FunctionName=r["PhysicalResourceId"])
        for r in resources
        if r["ResourceType"] == "AWS::Lambda::Function"
    ]
    account = stack["StackId"].split(":")[4]
    results = [_stack(stack_name, outputs, functions)]
    checks: list[tuple[str, Callable[[], Iterable[Check]]]] = [
        ("permissions", lambda: _permissions(client("iam"), functions, account, region)),
        ("probe", lambda: _probe(client, functions, region) if probe else []),
        ("layer", lambda: _layer(client, functions, outputs, covered, region)),
        ("slack", lambda: _slack(client, functions, region)),
        ("guardduty", lambda: _guardduty(client, covered)),
        ("suppression", lambda: _suppression(client, covered, account)),
        ("health", lambda: [_health(covered)]),
        ("cloudtrail", lambda: [_cloudtrail(client("cloudtrail", region), region)]),
        ("subscriptions", lambda: _subscriptions(client("sns", region), outputs)),
        ("alarms", lambda: _alarms(client("cloudwatch", region), resources)),
        ("dead-letters", lambda: _dead_letters(client, outputs, covered, stack_name)),
    ]
    for name, check in checks:
        try:
            results.extend(check())
        except (ClientError, BotoCoreError) as exc:
            results.append(Check(name, FAIL, f"AWS error: {exc}", _fix_for(exc)))
    return results


def _fix_for(exc: Exception) -> str:
    if credentials_problem(exc):
        return (
            "your AWS credentials stopped working during the check: set fresh ones (AWS_PROFILE, "
            "aws sso login, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and run it again"
        )
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    if "AccessDenied" in code or "Unauthorized" in code:
        return (
            "the operator's credentials lack this read permission (docs/operations.md 'Permissions the operator needs')"
        )
    return "retry; if it persists, read the error"


def _stack(stack_name: str, outputs: dict[str, str], functions: list[dict[str, Any]]) -> Check:
    missing = [key for key in ("StateMachineArn", "TopicArn", "IncidentTableName") if key not in outputs]
    if missing or not functions:
        return Check(
            "stack",
            FAIL,
            f"{stack_name}: missing outputs {missing} or no function",
            "deploy the current version (make deploy, with the settings you deployed before)",
        )
    return Check("stack", PASS, f"{stack_name}: {len(functions)} functions, outputs present")


# --- permissions: iam:SimulatePrincipalPolicy on each function's role ---------------------------


def role_statements(iam: Any, role_name: str) -> list[dict[str, Any]]:
    statements = []
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(urllib.parse.unquote(document))
        statements += _as_list(document.get("Statement"))
    return statements


def representative_arn(resource: str, region: str) -> str:
    """A concrete target for a granted ARN: the region given, a made-up name for each wildcard."""
    parts = resource.split(":", 5)
    if len(parts) == 6 and parts[3] == "*":
        parts[3] = region
    return ":".join(parts).replace("*", REPRESENTATIVE).replace("?", "a")


def context_entries(statement: dict[str, Any], region: str) -> list[dict[str, Any]]:
    """Context that satisfies the statement's own conditions, as the response's real calls would."""
    entries = []
    for operator, block in (statement.get("Condition") or {}).items():
        for key, value in block.items():
            values = [str(v) for v in _as_list(value)]
            if operator == "Null":
                values = [REPRESENTATIVE] if values == ["false"] else []
                if not values:
                    continue
            values = [v.replace("*", region if key.endswith(":ViaService") else REPRESENTATIVE) for v in values]
            many = operator.startswith("ForAllValues") or operator.startswith("ForAnyValue")
            entries.append(
                {
                    "ContextKeyName": key,
                    "ContextKeyValues": values if many else values[:1],
                    "ContextKeyType": "stringList" if many else "string",
                }
            )
    return entries


def _permissions(iam: Any, functions: list[dict[str, Any]], account: str, region: str) -> list[Check]:
    checks = []
    for function in functions:
        role_arn = function["Role"]
        role_name = role_arn.rsplit("/", 1)[-1]
        denied, tried = [], 0
        for statement in role_statements(iam, role_name):
            if statement.get("Effect") != "Allow":
                continue
            actions = [a for a in _as_list(statement.get("Action")) if _mutating(a)]
            if not actions:
                continue
            arns = [representative_arn(r, region) for r in _as_list(statement.get("Resource")) if r != "*"] or ["*"]
            context = context_entries(statement, region)
            for action in actions:
                for arn in arns:
                    tried += 1
                    result = iam.simulate_principal_policy(
                        PolicySourceArn=role_arn,
                        ActionNames=[action],
                        ResourceArns=[arn],
                        ContextEntries=context,
                    )["EvaluationResults"][0]
                    if result["EvalDecision"] != "allowed":
                        why = _denial(result)
                        denied.append(f"{action} on {arn}: {result['EvalDecision']}{why}")
        name = f"permissions {function['FunctionName']}"
        if denied:
            checks.append(
                Check(
                    name,
                    FAIL,
                    "; ".join(denied),
                    "an SCP or permissions boundary denies it, or the role's policy is not the deployed one: "
                    "read the decision detail; allow it for the role's path /credential-responder/",
                )
            )
        else:
            checks.append(Check(name, PASS, f"{tried} mutating action/target pairs allowed"))
    return checks


def _denial(result: dict[str, Any]) -> str:
    notes = []
    if result.get("OrganizationsDecisionDetail", {}).get("AllowedByOrganizations") is False:
        notes.append("denied by an SCP")
    if result.get("PermissionsBoundaryDecisionDetail", {}).get("AllowedByPermissionsBoundary") is False:
        notes.append("denied by the permissions boundary")
    return f" ({', '.join(notes)})" if notes else ""


def _mutating(action: str) -> bool:
    service, _, name = action.partition(":")
    return service not in PLUMBING and not READ_ONLY.match(name)


# --- probe: a twin of each function imports the handler and dry-runs EC2 -------------------------


def ec2_dry_runs(package: str, target: dict[str, str], region: str) -> list[dict[str, Any]]:
    """Representative EC2 mutations of a function's package, as DryRun calls, from its action's declared probe
    (built from the account's own instance, read with the operator's credentials; none without one)."""
    action = next((a for a in actions() if a.package == package and a.probe), None)
    if action is None:
        return []
    calls = importlib.import_module(action.probe).dry_runs(target, REPRESENTATIVE)
    return [{**call, "region": region} for call in calls]


def probes_ec2(package: str) -> bool:
    return any(a.package == package and a.probe for a in actions())


def representative_instance(ec2: Any) -> dict[str, str]:
    for page in ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "instance-state-name", "Values": ["running", "stopped"]}]
    ):
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                interfaces = instance.get("NetworkInterfaces") or []
                if interfaces and interfaces[0].get("Groups"):
                    return {
                        "instance": instance["InstanceId"],
                        "eni": interfaces[0]["NetworkInterfaceId"],
                        "group": interfaces[0]["Groups"][0]["GroupId"],
                        "vpc": instance["VpcId"],
                    }
    return {}


def _probe(client: ClientFactory, functions: list[dict[str, Any]], region: str) -> list[Check]:
    lambda_client = client("lambda", region)
    target = representative_instance(client("ec2", region))
    checks = []
    for function in functions:
        package = function["Handler"].split(".", 1)[0]
        event = {"check": True, "handler": function["Handler"], "ec2": ec2_dry_runs(package, target, region)}
        name = f"probe {function['FunctionName']}"
        try:
            answer = invoke_twin(lambda_client, function, event)
        except (ClientError, BotoCoreError) as exc:
            checks.append(Check(name, FAIL, f"the twin could not run: {exc}", _twin_fix(exc)))
            continue
        problems = []
        if not answer.get("imported"):
            problems.append(f"{function['Handler']} does not import: {answer.get('import_error') or answer}")
        for call in answer.get("ec2", []):
            if call.get("decision") != "allowed":
                problems.append(f"ec2:{call['operation']} {call.get('decision')}: {call.get('detail', '')}")
        expected = len(event["ec2"])
        if problems:
            checks.append(Check(name, FAIL, "; ".join(problems), "redeploy; for a denial, see the permissions row"))
        elif probes_ec2(package) and not expected:
            checks.append(
                Check(
                    name,
                    WARN,
                    "imports; no instance in the home region to dry-run EC2 against",
                    "the permissions row stands",
                )
            )
        else:
            checks.append(Check(name, PASS, f"imports {function['Handler']}; {expected} EC2 dry runs allowed"))
    return checks


def _twin_fix(exc: Exception) -> str:
    return (
        "the operator needs lambda:GetFunction, lambda:CreateFunction, lambda:InvokeFunction, "
        "lambda:DeleteFunction and iam:PassRole on the responder's roles (run with --no-probe to skip)"
    )


def invoke_twin(lambda_client: Any, function: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """Run the probe in a temporary copy of `function` (same code, layers, role, environment, log
    group), then delete the copy. Returns the probe's answer."""
    deployed = lambda_client.get_function(FunctionName=function["FunctionName"])
    with urllib.request.urlopen(deployed["Code"]["Location"], timeout=60) as response:  # noqa: S310 (AWS's presigned https URL)
        code = response.read()
    zipfile.ZipFile(io.BytesIO(code)).testzip()
    name = f"{REPRESENTATIVE}-{uuid.uuid4().hex[:12]}"
    lambda_client.create_function(
        FunctionName=name,
        Role=function["Role"],
        Runtime=function["Runtime"],
        Handler=PROBE_HANDLER,
        Code={"ZipFile": code},
        Architectures=function.get("Architectures", ["arm64"]),
        Layers=[layer["Arn"] for layer in function.get("Layers", [])],
        Timeout=60,
        MemorySize=function.get("MemorySize", 256),
        Environment={"Variables": function.get("Environment", {}).get("Variables", {})},
        # The role may write only to the function's own log group.
        LoggingConfig={"LogGroup": function.get("LoggingConfig", {}).get("LogGroup", f"/aws/lambda/{name}")},
        Description=f"credential responder check: twin of {function['FunctionName']} (deleted after the check)",
    )
    try:
        lambda_client.get_waiter("function_active_v2").wait(FunctionName=name)
        response = lambda_client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
        payload = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            return {"imported": False, "import_error": str(payload)}
        return dict(payload)
    finally:
        lambda_client.delete_function(FunctionName=name)


# --- the rest ---------------------------------------------------------------------------------


def _layer(
    client: ClientFactory, functions: list[dict[str, Any]], outputs: dict[str, str], covered: list[str], region: str
) -> list[Check]:
    checks = []
    arns = sorted({layer["Arn"] for function in functions for layer in function.get("Layers", [])})
    for arn in arns:
        try:
            layer, version = arn.rsplit(":", 1)
            client("lambda", region).get_layer_version(LayerName=layer, VersionNumber=int(version))
            checks.append(Check("layer", PASS, f"{arn} exists"))
        except ClientError as exc:
            checks.append(
                Check("layer", FAIL, f"{arn}: {exc}", "set powertoolsVersion to a released version and redeploy")
            )
    parameter = outputs.get("PowertoolsLayerParameter")
    for covered_region in covered if parameter else []:
        try:
            client("ssm", covered_region).get_parameter(Name=parameter)
            checks.append(Check(f"layer {covered_region}", PASS, f"{parameter} resolves"))
        except ClientError as exc:
            checks.append(
                Check(
                    f"layer {covered_region}",
                    FAIL,
                    f"{parameter}: {exc.response.get('Error', {}).get('Code')}",
                    "AWS does not publish that Powertools version there: pick powertoolsVersion it has",
                )
            )
    return checks


def _slack(client: ClientFactory, functions: list[dict[str, Any]], region: str) -> list[Check]:
    for function in functions:
        secret = function.get("Environment", {}).get("Variables", {}).get("SLACK_SECRET_NAME")
        if secret is None:
            continue
        if not secret:
            return [Check("slack", PASS, "no Slack configured (e-mail only)")]
        try:
            arn = client("secretsmanager", region).describe_secret(SecretId=secret)["ARN"]
        except ClientError as exc:
            return [
                Check(
                    "slack",
                    FAIL,
                    f"secret {secret}: {exc.response.get('Error', {}).get('Code')}",
                    f"aws secretsmanager create-secret --region {region} --name {secret} --secret-string "
                    "https://hooks.slack.com/services/...",
                )
            ]
        result = client("iam").simulate_principal_policy(
            PolicySourceArn=function["Role"], ActionNames=["secretsmanager:GetSecretValue"], ResourceArns=[arn]
        )["EvaluationResults"][0]
        if result["EvalDecision"] != "allowed":
            return [
                Check(
                    "slack",
                    FAIL,
                    f"{function['FunctionName']} may not read {arn}: {result['EvalDecision']}{_denial(result)}",
                    "a secret encrypted with a customer-managed key also needs kms:Decrypt for the role",
                )
            ]
        return [Check("slack", PASS, f"{secret} exists and {function['FunctionName']} may read it")]
    return []


def _guardduty(client: ClientFactory, covered: list[str]) -> list[Check]:
    checks = []
    for covered_region in covered:
        guardduty = client("guardduty", covered_region)
        detectors = guardduty.list_detectors()["DetectorIds"]
        enabled = [d for d in detectors if guardduty.get_detector(DetectorId=d)["Status"] == "ENABLED"]
        if enabled:
            checks.append(Check(f"guardduty {covered_region}", PASS, f"detector {enabled[0]} enabled"))
        else:
            checks.append(
                Check(
                    f"guardduty {covered_region}",
                    FAIL,
                    "no enabled detector: stolen instance credentials are never detected here",
                    f"aws guardduty create-detector --region {covered_region} --enable",
                )
            )
    return checks


# --- suppression: GuardDuty filters with action ARCHIVE --------------------------------------------

# GuardDuty's severity bands: Low 1.0-3.9, Medium 4.0-6.9, High 7.0-8.9, Critical 9.0-10.0. The types
# the responder answers are rated Medium at the lowest (InsideAWS from an affiliated account), so a
# severity criterion is read against this range: "severity < 4" archives none of them.
ANSWERED_SEVERITY = (4.0, 10.0)
_BELOW = {"Lt": "<", "LessThan": "<", "Lte": "<=", "LessThanOrEqual": "<="}
_ABOVE = {"Gt": ">", "GreaterThan": ">", "Gte": ">=", "GreaterThanOrEqual": ">="}
_IS = ("Eq", "Equals")
_IS_NOT = ("Neq", "NotEquals")


@dataclass(frozen=True)
class Suppression:
    """What one ARCHIVE filter hides of the types the responder answers."""

    name: str
    entirely: tuple[str, ...]  # every finding of these types is archived
    partly: tuple[str, ...]  # findings of these types that also meet `when`
    when: str


def _suppression(client: ClientFactory, covered: list[str], account: str) -> list[Check]:
    checks = []
    for covered_region in covered:
        guardduty = client("guardduty", covered_region)
        read = 0
        for detector in guardduty.list_detectors()["DetectorIds"]:
            names = [
                name
                for page in guardduty.get_paginator("list_filters").paginate(DetectorId=detector)
                for name in page["FilterNames"]
            ]
            read += len(names)
            for name in names:
                rule = guardduty.get_filter(DetectorId=detector, FilterName=name)
                hidden = suppression(rule, account=account, region=covered_region)
                if hidden:
                    checks.append(_suppression_check(hidden, covered_region, detector))
        if not any(c.name.startswith(f"suppression {covered_region} ") for c in checks):
            checks.append(
                Check(
                    f"suppression {covered_region}",
                    PASS,
                    f"{read} filter(s) read: no suppression rule archives a finding type the responder answers",
                )
            )
    return checks


def _suppression_check(hidden: Suppression, region: str, detector: str) -> Check:
    parts = []
    if hidden.entirely:
        parts.append(f"every {' and every '.join(hidden.entirely)} finding")
    if hidden.partly:
        parts.append(f"{', '.join(hidden.partly)} findings when {hidden.when}")
    return Check(
        f"suppression {region} {hidden.name}",
        FAIL if hidden.entirely else WARN,
        f"suppression rule {hidden.name} archives {'; and '.join(parts)}: GuardDuty sends the findings it suppresses "
        "to no other service, so they never reach EventBridge and the responder never answers them",
        (
            "unless those findings are a risk you accept, narrow the rule's criteria, or keep it as a saved "
            f"filter that archives nothing: aws guardduty update-filter --region {region} --detector-id {detector} "
            f"--filter-name {hidden.name} --action NOOP"
        ),
    )


def suppression(rule: dict[str, Any], *, account: str, region: str) -> Suppression | None:
    """What the filter `rule` (GetFilter's answer) archives of the types the responder answers, in
    `account` and `region`; None when it archives none of them (a NOOP filter, other types, other
    accounts or regions, severities below theirs).

    A finding is archived when it meets every criterion. `type` decides which types; `accountId`
    and `region` either exclude this account/region (nothing hidden) or not (no narrowing);
    `severity` is read against ANSWERED_SEVERITY; any other criterion narrows what is hidden."""
    if rule.get("Action") != "ARCHIVE":
        return None
    criteria = dict((rule.get("FindingCriteria") or {}).get("Criterion") or {})
    type_condition = criteria.pop("type", None) or {}
    types = [t for t in GUARDDUTY_FINDING_TYPES if _meets(t, type_condition)]
    narrowing = []
    for field, condition in sorted(criteria.items()):
        if field in ("accountId", "region"):
            if not _meets(account if field == "accountId" else region, condition):
                return None
            continue
        if field == "severity" and _numeric(condition):
            low, high = ANSWERED_SEVERITY
            if not any(_meets(v, condition) for v in _boundaries(condition, low, high)):
                return None
            if _meets(low, condition) and _meets(high, condition):
                continue  # every severity of the answered types
        narrowing.append(_describe(field, condition))
    if not types:
        return None
    if narrowing:
        return Suppression(str(rule.get("Name")), (), tuple(types), " and ".join(narrowing))
    return Suppression(str(rule.get("Name")), tuple(types), (), "")


def _meets(value: str | float, condition: dict[str, Any]) -> bool:
    """Whether `value` meets every operator of one GuardDuty Condition."""
    for operator, operand in condition.items():
        if operator in _IS and str(value) not in [str(v) for v in operand]:
            return False
        if operator in _IS_NOT and str(value) in [str(v) for v in operand]:
            return False
        if operator == "Matches" and not any(_wildcard(p).fullmatch(str(value)) for p in operand):
            return False
        if operator == "NotMatches" and any(_wildcard(p).fullmatch(str(value)) for p in operand):
            return False
        if operator in _BELOW or operator in _ABOVE:
            if not isinstance(value, int | float):
                continue  # a number compared with a type name: not decidable here, never narrows it
            if not _compare(value, operator, float(operand)):
                return False
    return True


def _compare(value: float, operator: str, bound: float) -> bool:
    symbol = _BELOW.get(operator) or _ABOVE[operator]
    return {"<": value < bound, "<=": value <= bound, ">": value > bound, ">=": value >= bound}[symbol]


def _numeric(condition: dict[str, Any]) -> bool:
    return bool(condition) and all(operator in _BELOW or operator in _ABOVE for operator in condition)


def _boundaries(condition: dict[str, Any], low: float, high: float) -> list[float]:
    """Points of [low, high] where a set of half-line bounds can first or last be met: the range's
    ends and each bound with a step either side. The set they allow is one interval, so it meets
    the range exactly when it holds one of these points."""
    points = {low, high}
    for bound in condition.values():
        points |= {float(bound) - 0.05, float(bound), float(bound) + 0.05}
    return sorted(p for p in points if low <= p <= high)


def _wildcard(pattern: str) -> re.Pattern[str]:
    # GuardDuty documents Matches as a wildcard match without its syntax: `*` as any run of
    # characters and `?` as one character read it the widest way, so a possible match is reported.
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern))


def _describe(field: str, condition: dict[str, Any]) -> str:
    said = []
    for operator, operand in condition.items():
        if operator in _IS:
            said.append(f"{field} is {' or '.join(map(str, operand))}")
        elif operator in _IS_NOT:
            said.append(f"{field} is not {' nor '.join(map(str, operand))}")
        elif operator == "Matches":
            said.append(f"{field} matches {' or '.join(map(str, operand))}")
        elif operator == "NotMatches":
            said.append(f"{field} matches none of {', '.join(map(str, operand))}")
        elif operator in _BELOW or operator in _ABOVE:
            said.append(f"{field} {_BELOW.get(operator) or _ABOVE[operator]} {operand}")
    return " and ".join(said) or field


def _health(covered: list[str]) -> Check:
    if HEALTH_REGION in covered:
        return Check("health", PASS, f"{HEALTH_REGION} is covered: AWS Health's exposed-key events arrive")
    return Check(
        "health",
        FAIL,
        f"{HEALTH_REGION} is not covered: exposed keys are never contained",
        f"redeploy with {HEALTH_REGION} in regions (-c regions=...)",
    )


def _cloudtrail(cloudtrail: Any, region: str) -> Check:
    trails = cloudtrail.describe_trails(includeShadowTrails=True)["trailList"]
    logging = [
        t["Name"] for t in trails if cloudtrail.get_trail_status(Name=t.get("TrailARN") or t["Name"]).get("IsLogging")
    ]
    if logging:
        return Check("cloudtrail", PASS, f"trail {logging[0]} is logging")
    return Check(
        "cloudtrail",
        FAIL,
        "no trail is logging: the investigation has only the 90-day event history, and no record to keep",
        "create a multi-region trail (aws cloudtrail create-trail --is-multi-region-trail ...; start-logging)",
    )


def _subscriptions(sns: Any, outputs: dict[str, str]) -> list[Check]:
    topic = outputs.get("TopicArn")
    if not topic:
        return []
    subscriptions = [
        s
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic)
        for s in page["Subscriptions"]
        if s["Protocol"] == "email"
    ]
    if not subscriptions:
        return [
            Check(
                "subscriptions",
                WARN,
                "no e-mail subscription: reports reach no one by e-mail",
                "deploy with -c notificationEmails=...",
            )
        ]
    pending = [s["Endpoint"] for s in subscriptions if s["SubscriptionArn"] in ("PendingConfirmation", "Deleted")]
    if pending:
        return [
            Check(
                "subscriptions",
                FAIL,
                f"not confirmed: {', '.join(pending)}",
                "each address must click the link in AWS's 'Subscription Confirmation' e-mail",
            )
        ]
    return [Check("subscriptions", PASS, f"{len(subscriptions)} e-mail subscriptions confirmed")]


def _alarms(cloudwatch: Any, resources: list[dict[str, Any]]) -> list[Check]:
    names = [r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::CloudWatch::Alarm"]
    checks = []
    for start in range(0, len(names), 100):
        for alarm in cloudwatch.describe_alarms(AlarmNames=names[start : start + 100])["MetricAlarms"]:
            state = alarm["StateValue"]
            if state == "ALARM":
                checks.append(
                    Check(
                        f"alarm {alarm['AlarmName']}",
                        FAIL,
                        f"in ALARM: {alarm.get('AlarmDescription', '')}",
                        alarm.get("AlarmDescription", ""),
                    )
                )
            elif state != "OK":
                checks.append(
                    Check(f"alarm {alarm['AlarmName']}", WARN, f"{state} (new alarms start so)", "wait a few minutes")
                )
    if not checks:
        checks.append(Check("alarms", PASS, f"{len(names)} alarms OK"))
    return checks


def _dead_letters(client: ClientFactory, outputs: dict[str, str], covered: list[str], stack_name: str) -> list[Check]:
    queues: list[tuple[str, str, str | None]] = [
        (key, outputs[key], None) for key in ("DeadLetterQueueUrl", "EmailDeadLetterQueueUrl") if key in outputs
    ]
    home = covered[0]
    for covered_region in covered[1:]:
        forwarder = f"{stack_name}Forwarder-{covered_region}"
        try:
            (stack,) = client("cloudformation", covered_region).describe_stacks(StackName=forwarder)["Stacks"]
        except ClientError:
            queues.append((forwarder, "", covered_region))
            continue
        out = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        queues.append((forwarder, out.get("DeadLetterQueueUrl", ""), covered_region))
    checks = []
    for name, url, queue_region in queues:
        if not url:
            checks.append(Check(f"dead-letters {name}", FAIL, "stack or output missing", "make deploy (every stack)"))
            continue
        attributes = client("sqs", queue_region or home).get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        count = int(attributes["ApproximateNumberOfMessages"])
        if count:
            checks.append(
                Check(
                    f"dead-letters {name}",
                    FAIL,
                    f"{count} messages waiting in {url}",
                    "read them (aws sqs receive-message) and start each event by hand (python -m responder try)",
                )
            )
        else:
            checks.append(Check(f"dead-letters {name}", PASS, "empty"))
    return checks


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def render(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"{'check':<{width}}  result  detail"]
    for c in checks:
        lines.append(f"{c.name:<{width}}  {c.status:<6}  {c.detail}")
        if c.status != PASS and c.fix:
            lines.append(f"{'':<{width}}  {'fix:':<6}  {c.fix}")
    failed = sum(c.status == FAIL for c in checks)
    lines.append(
        f"result: {failed} of {len(checks)} checks FAILED" if failed else f"result: all {len(checks)} checks passed"
    )
    return "\n".join(lines)
