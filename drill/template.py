"""Synthesize the CDK app once and read what the drill needs out of the template."""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import json
import os
import shutil
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
    context = {**_cdk_json_context(), **json.loads(context_json)}
    kept = _kept_assembly(context)
    if kept is None:
        return _synthesize_now(context, context_json, None)
    kept.parent.mkdir(parents=True, exist_ok=True)
    with (kept.parent / f".{kept.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a process synthesizing this one: wait for it rather than do it again
        if (kept / f"{STACK_NAME}.template.json").is_file():
            template = json.loads((kept / f"{STACK_NAME}.template.json").read_text())
            return Synthesized(template=template, outdir=str(kept), context_json=context_json)
        return _synthesize_now(context, context_json, kept)


def _synthesize_now(context: dict[str, Any], context_json: str, kept: Path | None) -> Synthesized:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from app import build_app  # deferred: importing CDK starts a node process

    outdir = tempfile.mkdtemp(prefix="responder-synth-")
    atexit.register(shutil.rmtree, outdir, ignore_errors=True)
    assembly = build_app(context=context, outdir=outdir).synth()
    template = assembly.get_stack_by_name(STACK_NAME).template
    if kept is not None:
        _keep_assembly(Path(outdir), kept)
    return Synthesized(template=template, outdir=outdir, context_json=context_json)


# `make test` names a directory here (DRILL_SYNTH_CACHE): the suite's workers and the `make drill` commands it runs
# then synthesize each configuration once between them (5-10 s each), instead of once per process.
SYNTH_CACHE = "DRILL_SYNTH_CACHE"
REPOSITORY = Path(__file__).resolve().parent.parent
_KEPT_ASSEMBLIES = 20
_SYNTH_INPUTS = ("app.py", "cdk.json", "infra", "lambdas")


def _kept_assembly(context: dict[str, Any]) -> Path | None:
    """Where the cloud assembly of this app, as its files are now and with this context, is kept (None: no cache).
    The key covers everything synthesis reads: the app's own files, the context, the environment CDK reads, and the
    versions of the libraries that write the template."""
    root = os.environ.get(SYNTH_CACHE)
    if not root:
        return None
    from importlib.metadata import version

    digest = hashlib.sha256()
    digest.update(json.dumps(context, sort_keys=True).encode())
    for name in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION"):
        digest.update(f"{name}={os.environ.get(name)}".encode())
    for package in ("aws-cdk-lib", "constructs", "cdk-nag"):
        digest.update(f"{package}={version(package)}".encode())
    for top in _SYNTH_INPUTS:
        paths = [REPOSITORY / top] if (REPOSITORY / top).is_file() else sorted((REPOSITORY / top).rglob("*"))
        for path in paths:
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(REPOSITORY)).encode() + b"\0" + path.read_bytes() + b"\0")
    return Path(root) / digest.hexdigest()[:32]


def _keep_assembly(outdir: Path, kept: Path) -> None:
    """Copied whole (the nag report and the assets are read from it too), then renamed into place: a process that
    reads the cache never sees half of one; of two processes that synthesized it together, the first rename stands."""
    kept.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{kept.name}-", dir=kept.parent))
    shutil.copytree(outdir, partial, dirs_exist_ok=True)
    try:
        partial.rename(kept)
    except OSError:  # already kept by another process
        shutil.rmtree(partial, ignore_errors=True)
    assemblies = [entry for entry in kept.parent.iterdir() if entry.is_dir() and not entry.name.startswith(".")]
    for old in sorted(assemblies, key=lambda entry: entry.stat().st_mtime)[:-_KEPT_ASSEMBLIES]:
        shutil.rmtree(old, ignore_errors=True)
        (old.parent / f".{old.name}.lock").unlink(missing_ok=True)


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
    path = REPOSITORY / "cdk.json"
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
