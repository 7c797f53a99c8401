"""Every IAM statement of every role, checked offline against AWS's Service Authorization Reference.

moto evaluates no IAM policy, so a grant whose action is misspelt, whose resource ARN is of a type
the action does not take (the statement then never matches: the call is denied in AWS and allowed
in the drill), or whose condition key the action never sets (a condition that never matches) would
first fail in a real incident. For every statement of every role (inline role policies, AWS::IAM::Policy,
AWS::IAM::ManagedPolicy) in every synthesized template (the suite's default synth and each
configuration of tests/infra/configurations.py, home and forwarder stacks):

- each action exists (a wildcard action must match at least one);
- each resource ARN is `*` or matches a resource type the action supports;
- each condition key is one the action (or one of its resource types) supports, or a global `aws:`
  key; tag keys (`aws:RequestTag/…`, `aws:ResourceTag/…`, `aws:TagKeys`) must be listed by the action.

Library: policy_sentry (salesforce/policy_sentry, 0.15.2), chosen over parliament because it ships
the reference as data (`shared/data/iam-definition.json`, scraped from the Service Authorization
Reference) with a query API per action that gives each resource type's ARN format and condition
keys, and it is released more recently (2026-04 vs parliament 1.6.4, 2025-04), so recent actions
are in its data. It needs no network: the data is in the wheel.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.infra.configurations import CONFIGURATIONS, synth_configuration

pytestmark = pytest.mark.xdist_group("synth")

ACCOUNT = "123456789012"
DEFAULT_REGION = "eu-west-1"
# Actions the product grants that the bundled reference lacks: each with why it is right. Empty
# today; an entry here is checked to still be missing (so it cannot outlive the data's update).
NOT_IN_BUNDLED_REFERENCE: dict[str, str] = {}
# Resource formats AWS accepts that the bundled reference does not list for the action, each with
# the reason it is right.
EXTRA_RESOURCE_FORMATS: dict[str, tuple[str, str]] = {
    "lambda:InvokeFunction": (
        "arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}:${Qualifier}",
        "Lambda authorizes an invocation of a version or alias against the qualified function ARN "
        "(Lambda developer guide, 'Understanding Lambda function ARNs'); CDK's LambdaInvoke grant "
        "adds `<function ARN>:*` to the Step Functions role for that reason",
    ),
}
# Findings that are real but harmless and belong to another package's owner: (action, a fragment of
# the resource) -> why it is left. Each must still occur (test below), so a fix removes its entry.
KNOWN_FINDINGS: dict[tuple[str, str], str] = {
    ("ec2:RevokeSecurityGroupEgress", ":security-group-rule/"): (
        "isolate_instance/permissions.py grants Authorize* and Revoke* in one statement; only "
        "Authorize* takes security-group-rule ARNs, so for Revoke* that ARN is inert (the group ARN "
        "in the same statement is what allows it). Owner: isolation (M8 splits these statements)"
    ),
    ("ec2:RevokeSecurityGroupIngress", ":security-group-rule/"): "same as RevokeSecurityGroupEgress",
}
KNOWN_SEEN: set[tuple[str, str]] = set()
# Global condition keys that are not tag keys: valid on every action.
TAG_KEYS = re.compile(r"^aws:(RequestTag/.+|ResourceTag/.+|TagKeys)$")


@cache
def _reference() -> Any:
    from policy_sentry.querying.actions import get_action_data

    return get_action_data


def action_data(action: str) -> list[dict[str, Any]]:
    service, _, name = action.partition(":")
    data = _reference()(service, name) or {}
    return list(data.get(service, []))


# Tokens of an ARN pattern: a literal character, or a wildcard.
_ANY = "ANY"  # the policy's `*`: any string, colons included (IAM globbing)
_ONE = "ONE"  # the policy's `?`: any one character
_VAR = "VAR"  # the reference's `${Name}`: one ARN field's value, which never holds a colon


def _policy_tokens(arn: str) -> list[str]:
    return [_ANY if c == "*" else _ONE if c == "?" else c for c in arn]


def _reference_tokens(reference_format: str) -> list[str]:
    tokens: list[str] = []
    for part in re.split(r"(\$\{[^}]+\})", reference_format):
        tokens += [_VAR] if part.startswith("${") else list(part)
    return tokens


def arn_can_match(policy_arn: str, reference_format: str) -> bool:
    """Whether some real ARN is matched by both: the policy's ARN (with its wildcards) and the
    reference's format of a resource type. A policy ARN no resource of the type can match makes
    its statement do nothing for that action."""
    p, q = _policy_tokens(policy_arn), _reference_tokens(reference_format)

    @cache
    def match(i: int, j: int) -> bool:
        if i == len(p):
            return all(token == _VAR for token in q[j:])  # a field may be empty here (relaxed)
        if j == len(q):
            return all(token == _ANY for token in p[i:])
        a, b = p[i], q[j]
        if a == _ANY:  # ends here, or absorbs q's next character or field
            return match(i + 1, j) or match(i, j + 1)
        if b == _VAR:  # the field ends here, or takes p's next (non-colon) character
            return match(i, j + 1) or (a != ":" and match(i + 1, j))
        return a in (_ONE, b) and match(i + 1, j + 1)

    return match(0, 0)


def _key_pattern(reference_key: str) -> re.Pattern[str]:
    parts = re.split(r"(\$\{[^}]+\})", reference_key)
    return re.compile("^" + "".join(".+" if p.startswith("${") else re.escape(p) for p in parts) + "$", re.I)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class Resolver:
    """A template's intrinsic functions turned into the concrete ARN each stands for in AWS."""

    ARNS = {
        "AWS::DynamoDB::Table": "arn:aws:dynamodb:{region}:{account}:table/{name}",
        "AWS::KMS::Key": "arn:aws:kms:{region}:{account}:key/{name}",
        "AWS::SNS::Topic": "arn:aws:sns:{region}:{account}:{name}",
        "AWS::SQS::Queue": "arn:aws:sqs:{region}:{account}:{name}",
        "AWS::Lambda::Function": "arn:aws:lambda:{region}:{account}:function:{name}",
        "AWS::S3::Bucket": "arn:aws:s3:::{name}",
        "AWS::StepFunctions::StateMachine": "arn:aws:states:{region}:{account}:stateMachine:{name}",
        "AWS::Logs::LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}:*",
        "AWS::IAM::Role": "arn:aws:iam::{account}:role/{name}",
        "AWS::Events::Rule": "arn:aws:events:{region}:{account}:rule/{name}",
    }
    REF_IS_ARN = {"AWS::SNS::Topic", "AWS::StepFunctions::StateMachine"}

    def __init__(self, template: dict[str, Any], region: str) -> None:
        self.resources = template["Resources"]
        self.region = region

    def arn_of(self, logical_id: str) -> str:
        resource_type = self.resources[logical_id]["Type"]
        if resource_type not in self.ARNS:
            raise AssertionError(f"no ARN shape for {resource_type} ({logical_id}): add it to Resolver.ARNS")
        return self.ARNS[resource_type].format(region=self.region, account=ACCOUNT, name=logical_id.lower())

    def __call__(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref":
                pseudo = {
                    "AWS::Partition": "aws",
                    "AWS::AccountId": ACCOUNT,
                    "AWS::Region": self.region,
                    "AWS::URLSuffix": "amazonaws.com",
                }
                if argument in pseudo:
                    return pseudo[argument]
                if self.resources.get(argument, {}).get("Type") in self.REF_IS_ARN:
                    return self.arn_of(argument)
            if name == "Fn::GetAtt" and argument[1] == "Arn":
                return self.arn_of(argument[0])
            if name == "Fn::Join":
                delimiter, items = argument
                return delimiter.join(self(item) for item in items)
        raise AssertionError(f"cannot resolve {json.dumps(value)} to an ARN: teach Resolver")


def role_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(where, statement) for every identity-policy statement in the template."""
    found = []
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents = [properties["PolicyDocument"]]
        elif resource["Type"] == "AWS::IAM::Role":
            documents = [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        else:
            continue
        for document in documents:
            for index, statement in enumerate(document["Statement"]):
                found.append((f"{logical_id}.Statement[{index}]", statement))
    return found


def statement_findings(statement: dict[str, Any], resolve: Resolver) -> list[str]:
    """What in one statement does not match the Service Authorization Reference."""
    problems = []
    if "NotAction" in statement or "NotResource" in statement:
        return ["NotAction/NotResource: not checked here; write the statement positively"]
    resources = [resolve(resource) for resource in _as_list(statement.get("Resource"))]
    condition_keys = [key for block in (statement.get("Condition") or {}).values() for key in block]
    for action in _as_list(statement.get("Action")):
        entries = action_data(action)
        if action in NOT_IN_BUNDLED_REFERENCE:
            if entries:
                problems.append(f"{action}: now in the bundled reference, remove it from NOT_IN_BUNDLED_REFERENCE")
            continue
        if not entries:
            problems.append(f"{action}: no such action in the Service Authorization Reference")
            continue
        # A wildcard action (kms:GenerateDataKey*) is checked as each action it expands to.
        for name in sorted({entry["action"] for entry in entries}):
            rows = [entry for entry in entries if entry["action"] == name]
            formats = [row["resource_arn_format"] for row in rows if row["resource_arn_format"] != "*"]
            if name in EXTRA_RESOURCE_FORMATS:
                formats.append(EXTRA_RESOURCE_FORMATS[name][0])
            for arn in resources:
                if arn == "*":
                    continue
                known = [key for key in KNOWN_FINDINGS if key[0] == name and key[1] in arn]
                if known:
                    KNOWN_SEEN.update(known)
                    continue
                if not any(arn_can_match(arn, reference) for reference in formats):
                    supported = ", ".join(formats) or "only '*' (no resource-level permissions)"
                    problems.append(f"{name}: resource {arn} is no resource type it takes ({supported})")
            supported_keys = [key for row in rows for key in row["condition_keys"]]
            for key in condition_keys:
                if key.startswith("aws:") and not TAG_KEYS.match(key):
                    continue
                if not any(_key_pattern(reference).match(key) for reference in supported_keys):
                    problems.append(f"{name}: condition key {key} is not one it supports")
    return problems


def template_findings(template: dict[str, Any], region: str) -> list[str]:
    resolve = Resolver(template, region)
    return [
        f"{where}: {problem}"
        for where, statement in role_statements(template)
        for problem in statement_findings(statement, resolve)
    ]


def _region(outdir: Path, stack: str) -> str:
    manifest = json.loads((outdir / "manifest.json").read_text())
    environment = manifest["artifacts"][stack]["environment"]  # aws://account/region
    region = environment.rsplit("/", 1)[-1]
    return DEFAULT_REGION if region.startswith("unknown") else region


def test_the_default_synth_matches_the_reference(synthesized) -> None:
    found = template_findings(synthesized.template, DEFAULT_REGION)
    assert not found, "IAM vs the Service Authorization Reference:\n  " + "\n  ".join(found)
    assert role_statements(synthesized.template), "no statement found: the check looked at nothing"
    stale = sorted(set(KNOWN_FINDINGS) - KNOWN_SEEN)
    assert not stale, f"KNOWN_FINDINGS entries that no longer occur (fixed: remove them): {stale}"


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_every_configuration_matches_the_reference(name: str) -> None:
    synth = synth_configuration(name)
    assert synth.templates, f"nothing synthesized: {synth.error}"
    found = []
    for path in synth.templates:
        stack = path.name.removesuffix(".template.json")
        found += [f"{stack}/{f}" for f in template_findings(json.loads(path.read_text()), _region(synth.outdir, stack))]
    assert not found, "IAM vs the Service Authorization Reference:\n  " + "\n  ".join(found)


PROBE_TEMPLATE = {
    "Resources": {
        "Table": {"Type": "AWS::DynamoDB::Table"},
        "Policy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyDocument": {
                    "Statement": [
                        # 0: fine (the probe's control)
                        {
                            "Effect": "Allow",
                            "Action": ["dynamodb:UpdateItem", "kms:GenerateDataKey*"],
                            "Resource": "*",
                        },
                        # 1: misspelt action
                        {"Effect": "Allow", "Action": "iam:UpdateAccessKeys", "Resource": "*"},
                        # 2: a resource type the action does not take
                        {
                            "Effect": "Allow",
                            "Action": "ec2:CreateTags",
                            "Resource": {
                                "Fn::Join": [
                                    "",
                                    ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":user/*"],
                                ]
                            },
                        },
                        # 3: an action with no resource-level permissions, given an ARN
                        {
                            "Effect": "Allow",
                            "Action": "cloudtrail:LookupEvents",
                            "Resource": f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/main",
                        },
                        # 4: a condition key of another service
                        {
                            "Effect": "Allow",
                            "Action": "ec2:ModifyNetworkInterfaceAttribute",
                            "Resource": f"arn:aws:ec2:*:{ACCOUNT}:network-interface/*",
                            "Condition": {"ArnEquals": {"iam:PolicyARN": "arn:aws:iam::aws:policy/X"}},
                        },
                        # 5: a tag condition the action does not support
                        {
                            "Effect": "Allow",
                            "Action": "cloudtrail:LookupEvents",
                            "Resource": "*",
                            "Condition": {"Null": {"aws:RequestTag/x": "false"}},
                        },
                        # 6: a resource the table's action takes, resolved through GetAtt
                        {
                            "Effect": "Allow",
                            "Action": "dynamodb:PutItem",
                            "Resource": {"Fn::GetAtt": ["Table", "Arn"]},
                            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
                        },
                    ]
                }
            },
        },
    }
}


def test_the_check_fails_on_each_kind_of_mismatch() -> None:
    """The probe: deliberately wrong statements, each found once; the right ones pass."""
    found = template_findings(PROBE_TEMPLATE, DEFAULT_REGION)
    by_statement: dict[int, list[str]] = {}
    for finding in found:
        index = int(re.search(r"Statement\[(\d+)\]", finding).group(1))  # type: ignore[union-attr]
        by_statement.setdefault(index, []).append(finding)
    assert sorted(by_statement) == [1, 2, 3, 4, 5], found
    assert "no such action" in by_statement[1][0]
    assert "is no resource type it takes" in by_statement[2][0]
    assert "only '*'" in by_statement[3][0]
    assert "iam:PolicyARN is not one it supports" in by_statement[4][0]
    assert "aws:RequestTag/x is not one it supports" in by_statement[5][0]
