"""Synthesize the CDK app once and read what the drill needs out of the template."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

STACK_NAME = "CredentialResponder"


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler: str
    environment: dict[str, Any]
    timeout: float
    # The Deny statements of the function's role (unresolved intrinsics), which moto does not enforce.
    denies: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Synthesized:
    template: dict[str, Any]
    outdir: str
    # The context overrides it was synthesized with (`synthesize`'s argument), as JSON.
    context_json: str = "{}"

    def configured(self, environment: dict[str, str]) -> Synthesized:
        """This deployment with the configuration `environment` says (the drill's environment stands for
        the configuration): synthesized again when a setting the state machine itself depends on
        differs (infra/intake.py: the in-state containment, its role's Denies), since the functions'
        environment alone would leave the state machine configured otherwise. Cached per context."""
        overrides = context_of(environment)
        if not overrides:
            return self
        return synthesize({**json.loads(self.context_json), **overrides})

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.template["Resources"].items()
            if resource["Type"] == resource_type
        }

    @property
    def functions(self) -> list[FunctionSpec]:
        return [
            FunctionSpec(
                logical_id=logical_id,
                handler=resource["Properties"]["Handler"],
                environment=resource["Properties"].get("Environment", {}).get("Variables", {}),
                timeout=float(resource["Properties"].get("Timeout", 3)),
                denies=self._role_denies(resource["Properties"].get("Role")),
            )
            for logical_id, resource in self.resources("AWS::Lambda::Function").items()
        ]

    def _role_denies(self, role: Any) -> tuple[dict[str, Any], ...]:
        if not (isinstance(role, dict) and "Fn::GetAtt" in role):
            return ()
        role_id = role["Fn::GetAtt"][0]
        return tuple(
            statement
            for policy in self.resources("AWS::IAM::Policy").values()
            if {"Ref": role_id} in policy["Properties"].get("Roles", [])
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            if statement.get("Effect") == "Deny"
        )

    @property
    def state_machine_denies(self) -> tuple[dict[str, Any], ...]:
        """The Deny statements of the state machine's role: its integration Tasks call AWS as that role."""
        (machine,) = self.resources("AWS::StepFunctions::StateMachine").values()
        return self._role_denies(machine["Properties"].get("RoleArn"))

    @property
    def state_machine_definition(self) -> Any:
        (machine,) = self.resources("AWS::StepFunctions::StateMachine").values()
        return machine["Properties"]["DefinitionString"]


def synthesize(context: dict[str, Any] | None = None) -> Synthesized:
    """Synthesize the app with optional context overrides (as `cdk synth -c` would)."""
    key = json.dumps(context or {}, sort_keys=True)
    return _synthesize_cached(key)


@cache
def _synthesize_cached(context_json: str) -> Synthesized:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from app import build_app  # deferred: importing CDK starts a node process

    context = {**_cdk_json_context(), **json.loads(context_json)}
    outdir = tempfile.mkdtemp(prefix="responder-synth-")
    assembly = build_app(context=context, outdir=outdir).synth()
    template = assembly.get_stack_by_name(STACK_NAME).template
    return Synthesized(template=template, outdir=outdir, context_json=context_json)


def context_of(environment: dict[str, str]) -> dict[str, Any]:
    """The cdk context keys behind the environment settings the state machine depends on."""
    from infra.config import DRY_RUN_ACTIONS

    context: dict[str, Any] = {}
    true = {"1", "true", "yes", "on"}
    if "DRY_RUN" in environment:
        context["dryRun"] = environment["DRY_RUN"].strip().lower() in true
    actions = [action for action, switch in DRY_RUN_ACTIONS.items() if environment.get(switch, "").lower() in true]
    if actions:
        context["dryRunActions"] = actions
    if "EXEMPT_PRINCIPAL_ARNS" in environment:
        context["exemptPrincipalArns"] = [
            a.strip() for a in environment["EXEMPT_PRINCIPAL_ARNS"].split(",") if a.strip()
        ]
    if "AFFILIATED_INSIDE_AWS" in environment:
        context["affiliatedInsideAws"] = environment["AFFILIATED_INSIDE_AWS"]
    if "REVOKE_SCOPE" in environment:
        context["revokeScope"] = environment["REVOKE_SCOPE"]
    return context


def _cdk_json_context() -> dict[str, Any]:
    path = Path(__file__).resolve().parent.parent / "cdk.json"
    return dict(json.loads(path.read_text())["context"])


def resolve(value: Any, refs: dict[str, str], attrs: dict[tuple[str, str], str]) -> Any:
    """Resolve the intrinsic functions the drill meets: Ref, Fn::GetAtt, Fn::Join, pseudo params."""
    if isinstance(value, dict) and len(value) == 1:
        ((name, argument),) = value.items()
        if name == "Ref":
            return refs[argument]
        if name == "Fn::GetAtt":
            return attrs[(argument[0], argument[1])]
        if name == "Fn::Join":
            separator, parts = argument
            return separator.join(str(resolve(part, refs, attrs)) for part in parts)
    if isinstance(value, list):
        return [resolve(item, refs, attrs) for item in value]
    if isinstance(value, dict):
        return {key: resolve(item, refs, attrs) for key, item in value.items()}
    return value
