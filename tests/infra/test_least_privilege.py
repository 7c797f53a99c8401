"""Least privilege, checked three ways for every function in the synthesized template:

1. the AWS calls its code makes, found by static analysis from its handler (below);
2. the grants its package declares in lambdas/<package>/permissions.py (GRANTS, for its handler);
3. the actions its role's policies allow in the template.

A call without a grant, a grant without a call, or a policy action nobody declared fails, and the
message says what to add or remove, and where.

The analysis, and why it can be trusted:
* It starts at the function's handler and follows every reference to a function or class of the
  `lambdas/` code (calls, decorators, functions passed as values), into `common` and the other
  packages it imports. So each handler of a package gets only the calls it can reach (report's
  two handlers share a module but not their grants).
* A client's service comes from where it is created (`client("iam")`, `aws.client("ec2", region)`,
  `boto3.client("s3")`, also inline: `client("sns", region).publish(...)`) or from a variable or
  parameter named after its service (`iam`, `ec2`, `autoscaling`, ...), the convention of this
  code. An operation counts whether it is called or only referenced (`authorize =
  ec2.authorize_security_group_ingress`). `get_paginator("list_access_keys")` and
  `get_waiter("image_exists")` count as the operation they call; an EC2 call with
  TagSpecifications also as ec2:CreateTags, which EC2 authorizes for tags given at creation.
  Powertools' `parameters.get_secret` is secretsmanager:GetSecretValue.
* A method call that looks like an AWS operation on a receiver it cannot attribute fails the
  test (add the receiver to ATTRIBUTED, with the reason), and so does an AWS call that no deployed
  handler reaches: the analysis fails loudly rather than miss a call.
* The IAM action is the botocore operation name with the service's signing name as prefix
  (iam:UpdateAccessKey), which holds for every service this code calls.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from contain_key.permissions import DEFAULT_QUARANTINE_POLICY
from infra.actions import actions

pytestmark = pytest.mark.xdist_group("infra")

ROOT = Path(__file__).resolve().parents[2]
LAMBDAS = ROOT / "lambdas"

CLIENT_FACTORIES = {"common.aws.client", "boto3.client"}
FACTORY_MODULE = "common.aws"  # the one place that creates clients for a service given as a variable
UNANALYSED = {"boto3.resource", "boto3.Session", "boto3.session.Session"}
# Receivers named after nothing: (file under lambdas/, variable) -> service, each with its reason.
ATTRIBUTED = {
    # lookup_region(client, ...) gets the clients investigate.handler.cloudtrail_client creates.
    ("investigate/lookup.py", "client"): "cloudtrail",
}
# Code in lambdas/ that no function runs, with who does: these calls need no function grant.
NOT_RUN_BY_A_FUNCTION = {
    ("record.finish", "record_release"): "written by responder/release.py, with the operator's own credentials",
    ("record.responses", "steps_of"): "read by responder/release.py (a response's steps kept in the evidence "
    "bucket), with the operator's own credentials",
}
POWERTOOLS_PARAMETERS = "aws_lambda_powertools.utilities.parameters"
POWERTOOLS_ACTIONS = {"get_secret": "secretsmanager:GetSecretValue"}
CLIENT_HELPERS = {"can_paginate", "close"}
# EC2 authorizes tags given at creation (TagSpecifications=) as a CreateTags call (ec2:CreateAction).
TAG_ON_CREATE = {"ec2": "CreateTags"}
# Added by CDK to every function role: active tracing (X-Ray has no resource scope).
CDK_TRACING = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
MODULE_BODY = "<module>"  # import-time code of a module


class AnalysisError(Exception):
    """The analysis met something it cannot attribute: fail rather than guess."""


@dataclass(frozen=True)
class Call:
    action: str  # "iam:UpdateAccessKey"
    where: str  # "contain_key/actions.py:87"


# --- botocore: operation names, IAM actions ----------------------------------------------------


@cache
def _session() -> Any:
    return botocore.session.get_session()


@cache
def _service_model(service: str) -> Any:
    return _session().get_service_model(service)


@cache
def operations(service: str) -> dict[str, str]:
    """Python method name -> API operation name, e.g. "update_access_key" -> "UpdateAccessKey"."""
    return {xform_name(name): name for name in _service_model(service).operation_names}


def action(service: str, operation: str) -> str:
    return f"{_service_model(service).signing_name}:{operation}"


def waiter_operation(service: str, waiter: str) -> str:
    model = _session().get_waiter_model(service)
    names = {xform_name(name): name for name in model.waiter_names}
    return model.get_waiter(names[waiter]).operation


# --- the code: modules, imports, references ----------------------------------------------------


@dataclass
class Module:
    name: str  # "contain_key.actions"
    file: str  # "contain_key/actions.py"
    tree: ast.Module
    defs: dict[str, ast.AST]  # top-level functions and classes, plus MODULE_BODY
    imports: dict[str, str]  # local name -> dotted name ("client" -> "common.aws.client")


def parse_module(name: str, file: str, source: str) -> Module:
    tree = ast.parse(source, filename=file)
    defs: dict[str, ast.AST] = {
        node.name: node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }
    defs[MODULE_BODY] = ast.Module(body=[node for node in tree.body if node not in defs.values()], type_ignores=[])
    imports: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:  # `import a.b` binds a; `import a.b as c` binds c to a.b
                local = alias.asname or alias.name.split(".")[0]
                imports[local] = alias.name if alias.asname else local
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package of this module
                package = name.split(".")[: -node.level] if not file.endswith("__init__.py") else name.split(".")
                base = ".".join([*package, *([base] if base else [])])
            for alias in node.names:
                imports[alias.asname or alias.name] = f"{base}.{alias.name}"
    return Module(name, file, tree, defs, imports)


@cache
def modules() -> dict[str, Module]:
    found = {}
    for path in sorted(LAMBDAS.glob("*/*.py")):
        file = path.relative_to(LAMBDAS).as_posix()
        name = file.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        found[name] = parse_module(name, file, path.read_text())
    return found


def dotted(module: Module, node: ast.AST) -> str | None:
    """The dotted name an expression stands for, through the module's imports: `aws.client` ->
    "common.aws.client", `parameters.get_secret` -> "aws_lambda_powertools.utilities.parameters.get_secret"."""
    if isinstance(node, ast.Name):
        if node.id in module.imports:
            return module.imports[node.id]
        return f"{module.name}.{node.id}" if node.id in module.defs else None
    if isinstance(node, ast.Attribute):
        base = dotted(module, node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def definition(name: str | None) -> tuple[str, str] | None:
    """("contain_key.actions", "deactivate_key") for a dotted name of a function or class in lambdas/."""
    if not name or "." not in name:
        return None
    module_name, _, attr = name.rpartition(".")
    module = modules().get(module_name)
    return (module_name, attr) if module and attr in module.defs else None


def references(module: Module, node: ast.AST) -> Iterator[tuple[str, str]]:
    """Every function or class of lambdas/ that `node` names: it may call it, decorate with it or pass it on."""
    for child in ast.walk(node):
        if isinstance(child, ast.Name | ast.Attribute):
            found = definition(dotted(module, child))
            if found:
                yield found


def reachable(entry: tuple[str, str]) -> set[tuple[str, str]]:
    seen: set[tuple[str, str]] = set()
    todo = [entry]
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        module = modules()[key[0]]
        todo.append((module.name, MODULE_BODY))  # using a module runs its import-time code
        todo.extend(references(module, module.defs[key[1]]))
    return seen


# --- AWS calls in one function or class --------------------------------------------------------


def created_service(module: Module, call: ast.Call) -> str | None:
    """The service of a client-creating call (`client("iam")`), None for any other call."""
    if dotted(module, call.func) not in CLIENT_FACTORIES:
        return None
    first = call.args[0] if call.args else None
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    if module.name == FACTORY_MODULE:
        return None  # the factory itself: client(service, region)
    raise AnalysisError(f"{module.file}:{call.lineno}: a client of a service named by a variable; name it literally")


@cache
def client_services() -> frozenset[str]:
    """Every service the code creates a client of (also the names a client variable may have)."""
    services = set(ATTRIBUTED.values())
    for module in modules().values():
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Call) and (service := created_service(module, node)):
                services.add(service)
    return frozenset(services)


@cache
def looks_like_aws() -> frozenset[str]:
    return frozenset({"get_paginator", "get_waiter"}.union(*(operations(s) for s in client_services())))


def client_variables(module: Module, node: ast.AST) -> dict[str, str]:
    """Variable -> service inside one top-level function or class (nested scopes included)."""
    variables: dict[str, str] = {}

    def bind(name: str, service: str, line: int) -> None:
        if variables.setdefault(name, service) != service:
            raise AnalysisError(f"{module.file}:{line}: `{name}` is a {variables[name]} and a {service} client")

    for child in ast.walk(node):
        if isinstance(child, ast.arg) and child.arg in client_services():
            bind(child.arg, child.arg, child.lineno)
        elif isinstance(child, ast.Assign | ast.AnnAssign) and child.value is not None:
            created = {
                service
                for call in ast.walk(child.value)
                if isinstance(call, ast.Call) and (service := created_service(module, call))
            }
            targets = child.targets if isinstance(child, ast.Assign) else [child.target]
            for target in targets:
                if isinstance(target, ast.Name) and (created or target.id in client_services()):
                    for service in created or {target.id}:
                        bind(target.id, service, child.lineno)
    for (file, name), service in ATTRIBUTED.items():
        if file == module.file:
            bind(name, service, 0)
    return variables


def aws_calls(module: Module, node: ast.AST) -> list[Call]:
    variables = client_variables(module, node)
    called = {id(call.func): call for call in ast.walk(node) if isinstance(call, ast.Call)}
    calls = []
    for child in ast.walk(node):
        where = f"{module.file}:{getattr(child, 'lineno', '?')}"
        if isinstance(child, ast.Call):
            calls.extend(_helper_call(module, child, where))
        if not isinstance(child, ast.Attribute):
            continue
        # Any attribute, called or not: `authorize = ec2.authorize_security_group_ingress` is a call later.
        receiver, method, call = child.value, child.attr, called.get(id(child))
        service = None
        if isinstance(receiver, ast.Name):
            service = variables.get(receiver.id)
        elif isinstance(receiver, ast.Call):
            service = created_service(module, receiver)
        if service is None:
            if method in looks_like_aws():
                raise AnalysisError(
                    f"{where}: cannot tell which AWS service `{ast.unparse(child)}` calls: name the client "
                    "variable after its service (iam, ec2, ...) or add it to ATTRIBUTED in this test, with why"
                )
            continue
        for operation in _operations(service, method, call, where):
            calls.append(Call(action(service, operation), where))
            if service in TAG_ON_CREATE and call and any(k.arg == "TagSpecifications" for k in call.keywords):
                calls.append(Call(action(service, TAG_ON_CREATE[service]), where))
    return calls


def _helper_call(module: Module, call: ast.Call, where: str) -> list[Call]:
    """AWS calls made by a library function rather than through a client."""
    name = dotted(module, call.func) or ""
    if name in UNANALYSED:
        raise AnalysisError(f"{where}: {name} is not analysed; use a client (common.aws.client)")
    if name.rpartition(".")[0] != POWERTOOLS_PARAMETERS:
        return []
    helper = name.rpartition(".")[2]
    if helper not in POWERTOOLS_ACTIONS:
        raise AnalysisError(f"{where}: Powertools {helper} calls AWS: add it to POWERTOOLS_ACTIONS")
    return [Call(POWERTOOLS_ACTIONS[helper], where)]


def _operations(service: str, method: str, call: ast.Call | None, where: str) -> list[str]:
    if method in ("get_paginator", "get_waiter"):
        argument = call.args[0] if call and call.args else None
        if not (isinstance(argument, ast.Constant) and isinstance(argument.value, str)):
            raise AnalysisError(f"{where}: {method} needs a literal name for the analysis")
        if method == "get_waiter":
            return [waiter_operation(service, argument.value)]
        method = argument.value
    if method in operations(service):
        return [operations(service)[method]]
    if call is not None and method not in CLIENT_HELPERS:
        raise AnalysisError(f"{where}: `{method}` is no {service} operation")
    return []  # an attribute such as client.exceptions


def calls_of(entry: tuple[str, str]) -> list[Call]:
    return [
        call
        for module_name, name in sorted(reachable(entry))
        for call in aws_calls(modules()[module_name], modules()[module_name].defs[name])
    ]


def entry_point(handler: str) -> tuple[str, str]:
    """ "report.handler.handler_sns" -> ("report.handler", "handler_sns")."""
    module, _, function = handler.rpartition(".")
    return module, function


def code_actions(handler: str) -> dict[str, list[str]]:
    actions: dict[str, list[str]] = {}
    for call in calls_of(entry_point(handler)):
        actions.setdefault(call.action, []).append(call.where)
    return actions


# --- declarations ------------------------------------------------------------------------------


def declared(handler: str, kind: str = "GRANTS") -> list[dict[str, Any]]:
    """The package's GRANTS (or INDIRECT_GRANTS) for one entry point, as infra/functions.py reads them."""
    package = handler.split(".", 1)[0]
    grants = getattr(importlib.import_module(f"{package}.permissions"), kind, ())
    return [grant for grant in grants if grant.get("handler", f"{package}.handler.handler") == handler]


def declared_actions(handler: str, kind: str = "GRANTS") -> set[str]:
    return {action for grant in declared(handler, kind) for action in grant["actions"]}


# --- the template ------------------------------------------------------------------------------


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class DeployedFunction:
    logical_id: str
    handler: str
    role: str
    log_group: str | None


def deployed_functions(template: dict[str, Any]) -> list[DeployedFunction]:
    functions = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        properties = resource["Properties"]
        role = properties["Role"]["Fn::GetAtt"][0]  # an ARN from anywhere else would be a role we cannot read
        log_group = properties.get("LoggingConfig", {}).get("LogGroup", {}).get("Ref")
        functions.append(DeployedFunction(logical_id, properties["Handler"], role, log_group))
    return functions


def role_statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """Every statement of every policy attached to the role, inline or separate."""
    resources = template["Resources"]
    managed = resources[role]["Properties"].get("ManagedPolicyArns")
    assert not managed, f"{role}: managed policies {managed} grant actions nobody declared"
    statements = [
        statement
        for policy in resources[role]["Properties"].get("Policies", [])
        for statement in as_list(policy["PolicyDocument"]["Statement"])
    ]
    for resource in resources.values():
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and {"Ref": role} in resource[
            "Properties"
        ].get("Roles", []):
            statements.extend(as_list(resource["Properties"]["PolicyDocument"]["Statement"]))
    return statements


def granted_actions(template: dict[str, Any], function: DeployedFunction) -> set[str]:
    """What the role allows, without what CDK adds for the function itself: writing its own log
    group, and tracing."""
    own_log_group = {"Fn::GetAtt": [function.log_group, "Arn"]}
    actions = set()
    for statement in role_statements(template, function.role):
        if statement["Effect"] == "Deny":
            continue  # a fence takes away, never grants: the fence tests below check them
        assert statement["Effect"] == "Allow", f"{function.role}: unexpected {statement['Effect']} statement"
        for action in as_list(statement["Action"]):
            if action.startswith("logs:") and as_list(statement["Resource"]) == [own_log_group]:
                continue
            if action in CDK_TRACING and statement["Resource"] == "*":
                continue
            actions.add(action)
    return actions


def policy_documents(value: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every policy document anywhere in the template (roles, policies, key and resource policies)."""
    if isinstance(value, dict):
        if "Statement" in value:
            yield path, value
        for key, item in value.items():
            yield from policy_documents(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from policy_documents(item, f"{path}/{index}")


# --- tests -------------------------------------------------------------------------------------


def test_the_analysis_finds_the_known_calls() -> None:
    """If the analysis lost track of clients, every comparison below would pass vacuously."""
    contain_key = code_actions("contain_key.handler.handler")
    assert set(contain_key) >= {
        "iam:GetAccessKeyLastUsed",
        "iam:ListAccessKeys",
        "iam:UpdateAccessKey",  # ListAccessKeys: a paginator
        "iam:ListAttachedUserPolicies",
        "iam:AttachUserPolicy",
        "iam:GetUserPolicy",
        "iam:PutUserPolicy",
    }
    assert "common/keys.py" in contain_key["iam:UpdateAccessKey"][0]  # followed into common
    report_sns, report_slack = code_actions("report.handler.handler_sns"), code_actions("report.handler.handler_slack")
    assert "sns:Publish" in report_sns  # client("sns", region).publish(...): a client used inline
    assert "dynamodb:UpdateItem" in report_sns and "dynamodb:PutItem" not in report_sns  # only what it reaches
    assert "secretsmanager:GetSecretValue" in report_slack  # Powertools parameters.get_secret
    assert "sns:Publish" not in report_slack and "secretsmanager:GetSecretValue" not in report_sns
    preserve = code_actions("preserve_evidence.handler.handler")
    assert {"ec2:DescribeImages", "ec2:CreateImage", "ec2:CreateTags"} <= set(preserve)  # waiter; tags at creation
    isolate = code_actions("isolate_instance.handler.handler")
    assert {"ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress"} <= set(isolate)  # referenced
    assert {"cloudtrail:LookupEvents", "ec2:DescribeRegions", "s3:PutObject"} <= set(
        code_actions("investigate.handler.handler")
    )


@pytest.mark.parametrize(
    ("source", "complaint"),
    [
        ("def f(c):\n    c.update_access_key(UserName='u')\n", "cannot tell which AWS service"),
        ("def f(iam):\n    iam.no_such_operation()\n", "no iam operation"),
        ("import boto3\ndef f():\n    return boto3.resource('s3')\n", "not analysed"),
        ("def f(ec2, name):\n    return ec2.get_paginator(name)\n", "needs a literal name"),
        (
            "from aws_lambda_powertools.utilities import parameters\ndef f():\n    parameters.get_parameter('p')\n",
            "POWERTOOLS_ACTIONS",
        ),
    ],
)
def test_the_analysis_fails_loudly_on_what_it_cannot_attribute(source: str, complaint: str) -> None:
    module = parse_module("probe.code", "probe/code.py", source)
    with pytest.raises(AnalysisError, match=complaint):
        aws_calls(module, module.defs["f"])


def test_every_aws_call_is_reached_from_a_deployed_handler(template: dict[str, Any]) -> None:
    """A call that no handler reaches is dead code, or a path the analysis does not follow."""
    reached = set().union(*(reachable(entry_point(fn.handler)) for fn in deployed_functions(template)))
    reached |= set(NOT_RUN_BY_A_FUNCTION)
    # Each declared action's undo is run by responder/release.py, with the operator's own credentials.
    reached |= set().union(*(reachable((action.undo, "reversals")) for action in actions()))
    lost = [
        f"{call.where}: {call.action}"
        for module in modules().values()
        for name, node in module.defs.items()
        if (module.name, name) not in reached
        for call in aws_calls(module, node)
    ]
    assert not lost, (
        "AWS calls that no deployed handler reaches: dead code, or a path the analysis does not "
        "follow (a client stored on an object, a handler that is not deployed). Code that only tooling "
        "runs goes into NOT_RUN_BY_A_FUNCTION, with who runs it:\n  " + "\n  ".join(lost)
    )


def test_each_function_has_its_own_role(template: dict[str, Any]) -> None:
    roles = [fn.role for fn in deployed_functions(template)]
    assert len(roles) == len(set(roles)), f"functions share a role: {sorted(roles)}"


def test_code_declaration_and_policy_agree_for_every_function(template: dict[str, Any]) -> None:
    functions = deployed_functions(template)
    assert functions
    problems = []
    for fn in functions:
        package = fn.handler.split(".", 1)[0]
        permissions = f"lambdas/{package}/permissions.py"
        shared = sum(other.handler.startswith(package + ".") for other in functions) > 1
        target = f' with "handler": "{fn.handler}"' if shared else ""
        calls, grants = code_actions(fn.handler), declared_actions(fn.handler)
        indirect = declared_actions(fn.handler, "INDIRECT_GRANTS")
        policy = granted_actions(template, fn)
        for missing in sorted(set(calls) - grants):
            problems.append(
                f"{fn.handler} calls {missing} ({', '.join(calls[missing])}) but {permissions} does not "
                f"grant it: add it to GRANTS{target}, with its resources and why"
            )
        for unused in sorted(grants - set(calls)):
            problems.append(
                f"{permissions} grants {unused} to {fn.handler}, whose code never calls it: remove it "
                "(or, if AWS calls it on the function's behalf, move it to INDIRECT_GRANTS)"
            )
        for lost in sorted((grants | indirect) - policy):
            problems.append(
                f"{permissions} declares {lost} for {fn.handler}, but its role {fn.role} does not allow "
                "it: infra/functions.py skipped the grant (a resource placeholder left empty?)"
            )
        for extra in sorted(policy - grants - indirect):
            problems.append(
                f"the role {fn.role} of {fn.handler} allows {extra}, which {permissions} does not "
                "declare: remove whatever grants it in infra/ (or declare it, with the call that needs it)"
            )
    assert not problems, "\n".join(problems)


def test_no_policy_allows_every_action(template: dict[str, Any]) -> None:
    found = [
        f"{path}: Action {statement.get('Action', statement.get('NotAction'))!r}"
        for path, document in policy_documents(template["Resources"])
        for statement in as_list(document["Statement"])
        if statement.get("Effect") == "Allow"
        and ("*" in as_list(statement.get("Action", [])) or "NotAction" in statement)
    ]
    assert not found, "Allow statements with Action '*' (or NotAction):\n  " + "\n  ".join(found)


def test_every_wildcard_resource_is_declared_with_a_reason(template: dict[str, Any]) -> None:
    problems = []
    for fn in deployed_functions(template):
        grants = declared(fn.handler) + declared(fn.handler, "INDIRECT_GRANTS")
        explained = {
            action
            for grant in grants
            if grant["resources"] == ["*"] and grant["why"].strip()
            for action in grant["actions"]
        }
        for statement in role_statements(template, fn.role):
            if "*" not in as_list(statement["Resource"]):
                continue
            for action in as_list(statement["Action"]):
                if action not in explained | CDK_TRACING:
                    problems.append(
                        f"the role {fn.role} of {fn.handler} allows {action} on any resource ('*'), but "
                        f"no grant of lambdas/{fn.handler.split('.')[0]}/permissions.py declares "
                        "resources ['*'] for it with a why"
                    )
    assert not problems, "\n".join(problems)


# -- fences on what a function's code could do if it ran someone else's code --------------------


def attach_user_policy_unfenced(statements: list[dict[str, Any]], policy_arn: str) -> list[str]:
    """Allow statements with iam:AttachUserPolicy that do not pin iam:PolicyARN to `policy_arn`."""
    problems = []
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        if not any(
            action in ("iam:AttachUserPolicy", "iam:Attach*", "iam:*") for action in as_list(statement["Action"])
        ):
            continue
        condition = statement.get("Condition") or {}
        pinned = as_list((condition.get("ArnEquals") or {}).get("iam:PolicyARN", []))
        if pinned != [policy_arn] or set(condition) != {"ArnEquals"}:
            problems.append(f"iam:AttachUserPolicy allowed with Condition {condition!r}, not ArnEquals {policy_arn}")
    return problems


def test_attach_user_policy_is_fenced_to_the_quarantine_policy(template: dict[str, Any]) -> None:
    problems = []
    attaching = []
    for fn in deployed_functions(template):
        statements = role_statements(template, fn.role)
        if any("iam:AttachUserPolicy" in as_list(s["Action"]) for s in statements):
            attaching.append(fn.handler)
        problems += [f"{fn.handler}: {p}" for p in attach_user_policy_unfenced(statements, DEFAULT_QUARANTINE_POLICY)]
    assert attaching == ["contain_key.handler.handler"]
    assert not problems, "\n".join(problems)


def test_the_attach_fence_check_can_fail(template: dict[str, Any]) -> None:
    (fn,) = [f for f in deployed_functions(template) if f.handler == "contain_key.handler.handler"]
    statements = role_statements(template, fn.role)
    (fenced,) = [s for s in statements if "iam:AttachUserPolicy" in as_list(s["Action"])]
    assert attach_user_policy_unfenced([fenced], DEFAULT_QUARANTINE_POLICY) == []
    unconditioned = {key: value for key, value in fenced.items() if key != "Condition"}
    other_policy = {
        **fenced,
        "Condition": {"ArnEquals": {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}},
    }
    any_policy = {**fenced, "Condition": {"ArnLike": {"iam:PolicyARN": "*"}}}
    wildcard = {"Effect": "Allow", "Action": ["iam:Attach*"], "Resource": "*"}
    for probe in (unconditioned, other_policy, any_policy, wildcard):
        assert attach_user_policy_unfenced([probe], DEFAULT_QUARANTINE_POLICY), probe


# --- fences: code execution in one function must not become account admin ----------------------

SG_RULE_ACTIONS = {
    "ec2:AuthorizeSecurityGroupEgress": {"untrack"},
    "ec2:AuthorizeSecurityGroupIngress": {"untrack"},
    "ec2:RevokeSecurityGroupEgress": {"untrack", "isolation"},
    "ec2:RevokeSecurityGroupIngress": {"untrack", "isolation"},
}
PURPOSE_KEY = "aws:ResourceTag/credential-responder:purpose"


def _text(value: Any) -> str:
    import json

    return json.dumps(value)


def own_role_fence_problems(
    statements: list[dict[str, Any]], writes: list[str], own_roles: list[str] | None = None
) -> list[str]:
    """Each IAM write on roles must be explicitly denied on every one of the responder's own roles, by the exact
    ARN of each (`own_roles`: their logical ids), never by a path anyone may create roles under."""
    denies = [s for s in statements if s.get("Effect") == "Deny" and not s.get("Condition")]
    problems = []
    for action in writes:
        covering = [s for s in denies if action in as_list(s["Action"])]
        if not covering:
            problems.append(f"{action} is not explicitly denied on the responder's own roles")
            continue
        resources = [
            r for s in covering for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
        ]
        if any(isinstance(r, str) and "*" in r for r in resources):
            problems.append(f"{action}: the fence names roles by a pattern ({_text(resources)}), not by exact ARN")
        fenced = {r["Fn::GetAtt"][0] for r in resources if isinstance(r, dict) and "Fn::GetAtt" in r}
        missing = sorted(set(own_roles or []) - fenced)
        if missing:
            problems.append(f"{action} is not denied on the responder's own role(s) {', '.join(missing)}")
    return problems


def security_group_fence_problems(statements: list[dict[str, Any]]) -> list[str]:
    """Rule changes on security groups only where the responder's purpose tag says so."""
    problems = []
    for statement in statements:
        if statement.get("Effect") != "Allow" or ":security-group/" not in _text(statement["Resource"]):
            continue
        for action in set(as_list(statement["Action"])) & set(SG_RULE_ACTIONS):
            allowed = (statement.get("Condition") or {}).get("StringEquals", {}).get(PURPOSE_KEY)
            purposes = set(as_list(allowed)) if allowed else set()
            if not purposes or not purposes <= SG_RULE_ACTIONS[action]:
                problems.append(f"{action} on security groups not limited to {sorted(SG_RULE_ACTIONS[action])}")
    return problems


def test_every_iam_write_on_roles_is_denied_on_the_responders_own_roles(template: dict[str, Any]) -> None:
    from infra.functions import own_role_writes

    own_roles = [logical_id for logical_id, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"]
    fenced, problems = [], []
    for fn in deployed_functions(template):
        writes = own_role_writes(declared(fn.handler))
        if writes:
            fenced.append(fn.handler)
        statements = role_statements(template, fn.role)
        problems += [f"{fn.role}: {p}" for p in own_role_fence_problems(statements, writes, own_roles)]
    assert "revoke_sessions.handler.handler" in fenced  # PutRolePolicy on role/*: the check is not vacuous
    assert not problems, "\n".join(problems)


def test_the_own_role_fence_check_can_fail(template: dict[str, Any]) -> None:
    from infra.functions import own_role_writes

    probe = [{"actions": ["iam:GetRole", "iam:PutRolePolicy", "ec2:CreateTags"], "resources": ["arn:x:iam::1:role/*"]}]
    assert own_role_writes(probe) == ["iam:PutRolePolicy"]
    (fn,) = [f for f in deployed_functions(template) if f.handler == "revoke_sessions.handler.handler"]
    without_deny = [s for s in role_statements(template, fn.role) if s["Effect"] != "Deny"]
    assert own_role_fence_problems(without_deny, ["iam:PutRolePolicy"])
    by_path = [
        {"Effect": "Deny", "Action": "iam:PutRolePolicy", "Resource": "arn:aws:iam::1:role/credential-responder/*"}
    ]
    assert "by a pattern" in own_role_fence_problems(by_path, ["iam:PutRolePolicy"])[0]
    one_short = [{"Effect": "Deny", "Action": "iam:PutRolePolicy", "Resource": [{"Fn::GetAtt": ["A", "Arn"]}]}]
    assert own_role_fence_problems(one_short, ["iam:PutRolePolicy"], ["A", "B"]) == [
        "iam:PutRolePolicy is not denied on the responder's own role(s) B"
    ]


def test_security_group_rule_changes_only_on_the_responders_groups(template: dict[str, Any]) -> None:
    (fn,) = [f for f in deployed_functions(template) if f.handler == "isolate_instance.handler.handler"]
    statements = role_statements(template, fn.role)
    assert any(set(as_list(s["Action"])) & set(SG_RULE_ACTIONS) for s in statements)
    assert not security_group_fence_problems(statements)
    for grant in declared("isolate_instance.handler.handler"):
        if set(grant["actions"]) & set(SG_RULE_ACTIONS) and any(":security-group/" in r for r in grant["resources"]):
            assert not security_group_fence_problems(
                [
                    {
                        "Effect": "Allow",
                        "Action": grant["actions"],
                        "Resource": grant["resources"],
                        "Condition": grant.get("conditions"),
                    }
                ]
            )


def test_the_security_group_fence_check_can_fail() -> None:
    open_any = {
        "Effect": "Allow",
        "Action": ["ec2:AuthorizeSecurityGroupIngress"],
        "Resource": "arn:x:security-group/*",
    }
    assert security_group_fence_problems([open_any])
    wrong_purpose = {**open_any, "Condition": {"StringEquals": {PURPOSE_KEY: ["untrack", "isolation"]}}}
    assert security_group_fence_problems([wrong_purpose])  # Authorize on the isolation group: refused
