"""A simulated AWS account (moto) running the synthesized state machine.

Lambda tasks are dispatched in-process to the real handlers; every AWS call the handlers make
is recorded (service, operation, time) so the drill and the benchmark can tell when the
containing call happened. Retry intervals and Wait states are scaled down (moto sleeps in real
time); the definition itself keeps its production values.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import botocore.client
import botocore.exceptions
from moto import mock_aws

from drill import LAMBDAS_DIR
from drill.emulation import Emulations
from drill.iam_semantics import IamEnforcement
from drill.moto_quirks import aws_semantics
from drill.speed import drill_client, once_per_process
from drill.template import Synthesized, resolve

# The product's packages (lambdas/*): fresh for each simulated account, so no module keeps another's state.
PRODUCT_PACKAGES = tuple(sorted(path.parent.name for path in LAMBDAS_DIR.glob("*/__init__.py")))
HOME_REGION = "us-east-1"
# Services whose calls are the workflow's plumbing, not the response's own AWS calls.
PLUMBING = {"lambda", "stepfunctions", "sfn", "states"}
# Who makes an integration Task's calls: the state machine's role (its Denies, for IamEnforcement).
STATE_MACHINE = "states"


def _as_raised_by(client: Any, error: Exception, operation: str) -> Exception:
    """An error the drill makes (IAM's refusal, a fault) as botocore raises it to Step Functions: its
    modeled class when the service has one, and the response metadata every real reply carries."""
    if not isinstance(error, botocore.exceptions.ClientError):
        return error
    response = dict(error.response)
    response.setdefault("ResponseMetadata", {"HTTPStatusCode": 400, "RequestId": "drill"})
    code = str(response.get("Error", {}).get("Code", ""))
    return client.exceptions.from_code(code)(response, operation)  # type: ignore[no-any-return]


@dataclass
class ApiCall:
    at: float
    service: str
    operation: str
    error: str | None = None
    # The Task state that made the call through a Step Functions integration (dynamodb:putItem, an
    # aws-sdk task), or None for a call a handler made.
    state: str | None = None


@dataclass
class Invocation:
    function: str
    started: float
    ended: float
    event: Any
    result: Any
    error: str | None = None


@dataclass
class ExecutionRecord:
    status: str
    started: float
    ended: float
    states: list[str]
    transitions: int
    history: list[dict[str, Any]]
    invocations: list[Invocation] = field(default_factory=list)
    api_calls: list[ApiCall] = field(default_factory=list)


@dataclass
class FakeLambdaContext:
    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/drill"
    log_stream_name: str = "drill"

    timeout_seconds: float = 30.0
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000)


Fault = Callable[[str, str, dict[str, Any]], Exception | None]


class SimulatedAccount:
    """Use as a context manager; `run(event)` executes the workflow on one event."""

    def __init__(
        self,
        synthesized: Synthesized,
        *,
        account_id: str = "123456789012",
        time_scale: float = 0.001,
        environment: dict[str, str] | None = None,
    ) -> None:
        # The environment stands for the deployment's configuration: the state machine is synthesized
        # with it too where it depends on it (drill.template.Synthesized.configured).
        self.synthesized = synthesized.configured(environment or {})
        self.account_id = account_id
        self.time_scale = time_scale
        self.extra_environment = environment or {}
        self.functions: dict[str, tuple[str, str]] = {}  # function name -> (module, attribute)
        self.function_arns: dict[str, str] = {}
        self.timeouts: dict[str, float] = {}
        self.refs: dict[str, str] = {}
        self.attrs: dict[tuple[str, str], str] = {}
        self.state_machine_arn = ""
        self.faults: list[Fault] = []
        self.iam: IamEnforcement | None = None
        self._lock = threading.Lock()
        self._recording: dict[str, ExecutionRecord] = {}
        self._current: threading.local = threading.local()
        self._saved_env: dict[str, str | None] = {}
        self._patches: list[tuple[Any, str, Any]] = []
        # What moto lacks (service-specific credentials, a role's recorded Config history), answered by the drill.
        self.emulations = Emulations()

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> SimulatedAccount:
        self._set_env(
            {
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                "AWS_DEFAULT_REGION": HOME_REGION,
                "AWS_REGION": HOME_REGION,
                "MOTO_ACCOUNT_ID": self.account_id,
                "POWERTOOLS_METRICS_NAMESPACE": "CredentialResponder",
                "POWERTOOLS_METRICS_DISABLED": "true",  # the Report's EMF lines would break --json
                "POWERTOOLS_LOG_LEVEL": "WARNING",
                # LookupEvents pacing (2 calls/s/region in AWS), scaled like every other wait.
                "LOOKUP_MIN_INTERVAL_SECONDS": str(0.5 * self.time_scale),
            }
        )
        self._few_images()
        self._faster = once_per_process()
        self._faster.__enter__()
        self._mock = mock_aws(
            config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
        )
        self._mock.start()
        # moto diverges from AWS on ENI groups, snapshot tags and shutdown behaviour (aws-facts §8):
        # the drill corrects moto, never the product.
        self._semantics = aws_semantics()
        self._semantics.__enter__()
        # Entered before the account's own hook (_install_patches), so denies, faults and the call record
        # see the emulated calls like any other.
        self._emulating = self.emulations.installed()
        self._emulating.__enter__()
        self._fresh_product_modules()
        self._install_patches()
        self._create_resources()
        return self

    def __exit__(self, *exc: Any) -> None:
        for owner, name, original in reversed(self._patches):
            setattr(owner, name, original)
        self._emulating.__exit__(None, None, None)
        self._semantics.__exit__(None, None, None)
        self._mock.stop()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._moto_amis.AMIS = self._all_images
        self._faster.__exit__(None, None, None)
        self._restore_product_modules()

    def _few_images(self) -> None:
        """moto loads its ~9,000 default AMIs into each region's EC2 backend at every reset, and serializes every one
        for a DescribeImages: about 3 s of a drill run. The simulated account has the first of them only, which is all
        staging launches from (speed only: nothing the product reads changes). Set before moto starts, so that its
        resets read it too; put back after it stops."""
        import moto.ec2.models.amis as moto_amis

        self._moto_amis, self._all_images = moto_amis, moto_amis.AMIS
        moto_amis.AMIS = self._all_images[:1]
        # Present: moto then loads AMIS only, not its per-region "latest" lists (read at import, which is past).
        self._set_env({"MOTO_AMIS_PATH": "drill/account.py: the first of moto's default AMIs"})

    def client(self, service: str, region: str = HOME_REGION) -> Any:
        """The drill's own client (staging, read-back): one per service and region for the process (drill.speed)."""
        return drill_client(service, region)

    # -- running ---------------------------------------------------------------------------
    def run(self, event: dict[str, Any], *, timeout: float = 120.0) -> ExecutionRecord:
        sfn = self.client("stepfunctions")
        name = f"drill-{uuid.uuid4()}"
        record = ExecutionRecord(status="RUNNING", started=0.0, ended=0.0, states=[], transitions=0, history=[])
        execution_arn = f"{self.state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"
        with self._lock:
            self._recording[execution_arn] = record
        record.started = time.perf_counter()
        sfn.start_execution(stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(event))
        deadline = time.monotonic() + timeout
        while True:
            description = sfn.describe_execution(executionArn=execution_arn)
            if description["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {name} still running after {timeout}s")
            time.sleep(0.005)
        record.ended = time.perf_counter()
        record.status = description["status"]
        history: list[dict[str, Any]] = []
        page: dict[str, Any] = {}
        while True:  # every page: a long run has more than one
            token = {"nextToken": page["nextToken"]} if page.get("nextToken") else {}
            page = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000, **token)
            history.extend(page["events"])
            if not page.get("nextToken"):
                break
        record.history = history
        record.states = [
            event["stateEnteredEventDetails"]["name"] for event in history if "stateEnteredEventDetails" in event
        ]
        record.transitions = len(record.states)
        with self._lock:
            self._recording.pop(execution_arn, None)
        return record

    # -- set-up ----------------------------------------------------------------------------
    def _set_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _fresh_product_modules(self) -> None:
        """Handlers build clients and caches at import: each simulated account gets fresh ones,
        and on exit the process gets back the modules it had (tests hold references to them). The drill's own
        modules keep the few pure helpers they imported (common.times)."""
        self._saved_modules = {
            name: module for name, module in sys.modules.items() if name.split(".")[0] in PRODUCT_PACKAGES
        }
        for module_name in self._saved_modules:
            del sys.modules[module_name]

    def _restore_product_modules(self) -> None:
        for module_name in [name for name in sys.modules if name.split(".")[0] in PRODUCT_PACKAGES]:
            del sys.modules[module_name]
        sys.modules.update(self._saved_modules)

    def _patch(self, owner: Any, name: str, replacement: Any) -> None:
        self._patches.append((owner, name, getattr(owner, name)))
        setattr(owner, name, replacement)

    def _install_patches(self) -> None:
        from moto.awslambda_simple.models import LambdaSimpleBackend
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
            StateTaskServiceAwsSdk,
        )
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_dynamodb import (
            StateTaskServiceDynamoDB,
        )
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

        account = self

        def invoke(
            backend: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: dict[str, str]
        ) -> bytes:
            # arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER] (an alias, with snapStart)
            name = function_name.split(":")[6] if function_name.startswith("arn:") else function_name.split(":")[0]
            return account._invoke(name, body, response_headers)

        self._patch(LambdaSimpleBackend, "invoke", invoke)

        scale = self.time_scale
        real_sleep = time.sleep

        class _ScaledTime:
            def __getattr__(self, name: str) -> Any:
                return getattr(time, name)

            @staticmethod
            def sleep(seconds: float) -> None:
                real_sleep(seconds * scale)

        self._patch(retrier_decl, "time", _ScaledTime())

        def wait_interval(self_: Any, env: Any, wait_seconds: int) -> None:
            if wait_seconds > 0:
                env.program_state_event.wait(wait_seconds * scale)

        self._patch(WaitFunction, "_wait_interval", wait_interval)

        original_call = botocore.client.BaseClient._make_api_call

        def recorded_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            service = client.meta.service_model.service_name
            record = account._current_record()
            # Step Functions' own calls (an integration Task) are the response's calls too: recorded,
            # judged by IAM against the state machine's role, and open to faults, like a handler's.
            integration = getattr(account._current, "integration", None)
            # Faults see every call a handler makes, also in bursts, where no single record is
            # attributed (the burst counts its containing calls through a fault hook).
            in_scope = (getattr(account._current, "in_handler", False) or integration) and service not in PLUMBING
            principal = STATE_MACHINE if integration else getattr(account._current, "function", None)
            call = ApiCall(time.perf_counter(), service, operation_name, state=integration)

            def refuse(error: Exception) -> Exception:
                if record is not None:
                    with account._lock:
                        record.api_calls.append(
                            ApiCall(time.perf_counter(), service, operation_name, type(error).__name__, integration)
                        )
                return _as_raised_by(client, error, operation_name) if integration else error

            if in_scope and account.iam is not None:
                refused = account.iam.check(principal, service, operation_name, api_params)
                if refused is not None:
                    raise refuse(refused)
            if in_scope:
                for fault in account.faults:
                    if getattr(fault, "after_call", False):
                        continue
                    error = fault(service, operation_name, api_params)
                    if error is not None:
                        raise refuse(error)
                if record is not None:
                    with account._lock:
                        record.api_calls.append(call)
            response = original_call(client, operation_name, api_params)
            # A fault marked `after_call` raises once the call has applied, as when its reply is lost.
            for fault in account.faults if in_scope else ():
                if getattr(fault, "after_call", False) and (error := fault(service, operation_name, api_params)):
                    call.error = f"{type(error).__name__} (after the call applied)"
                    raise _as_raised_by(client, error, operation_name) if integration else error
            return response

        def in_integration(original: Any) -> Any:
            def evaluate(task: Any, env: Any, *args: Any, **kwargs: Any) -> Any:
                account._current.integration = task.name
                account._current.record = account._record_for_thread()
                try:
                    return original(task, env, *args, **kwargs)
                finally:
                    account._current.integration = None
                    account._current.record = None

            return evaluate

        for integration_task in (StateTaskServiceAwsSdk, StateTaskServiceDynamoDB):
            self._patch(integration_task, "_eval_service_task", in_integration(integration_task._eval_service_task))
        self._patch(botocore.client.BaseClient, "_make_api_call", recorded_call)

    def _current_record(self) -> ExecutionRecord | None:
        return getattr(self._current, "record", None)

    def _create_resources(self) -> None:
        iam = self.client("iam")
        role_arn = iam.create_role(
            RoleName="drill-lambda-role",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]["Arn"]
        self.refs.update(
            {
                "AWS::AccountId": self.account_id,
                "AWS::Region": HOME_REGION,
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
            }
        )
        # The responder's own roles, as IAM holds them (their path, their ARN): the functions fence them by ARN.
        for logical_id, resource in self.synthesized.resources("AWS::IAM::Role").items():
            properties = resource["Properties"]
            made = iam.create_role(
                RoleName=str(properties.get("RoleName") or logical_id)[:64],
                Path=properties.get("Path", "/"),
                AssumeRolePolicyDocument=json.dumps(properties["AssumeRolePolicyDocument"]),
            )["Role"]
            self.refs[logical_id] = made["RoleName"]
            self.attrs[(logical_id, "Arn")] = made["Arn"]
            self.attrs[(logical_id, "RoleId")] = made["RoleId"]
        for logical_id in self.synthesized.resources("AWS::KMS::Key"):
            key = self.client("kms").create_key(Description=logical_id)["KeyMetadata"]
            self.refs[logical_id] = key["KeyId"]
            self.attrs[(logical_id, "Arn")] = key["Arn"]
        for logical_id in self.synthesized.resources("AWS::SNS::Topic"):
            arn = self.client("sns").create_topic(Name=logical_id)["TopicArn"]
            self.refs[logical_id] = arn
            self.attrs[(logical_id, "TopicArn")] = arn
        for logical_id in self.synthesized.resources("AWS::S3::Bucket"):
            # The same name in every run (moto starts each account empty), so the definition naming it is the same too.
            name = f"drill-{logical_id.lower()[:40]}-{self.account_id}"
            self.client("s3").create_bucket(Bucket=name)
            self.refs[logical_id] = name
            self.attrs[(logical_id, "Arn")] = f"arn:aws:s3:::{name}"
        for logical_id in self.synthesized.resources("AWS::DynamoDB::Table"):
            name = f"drill-{logical_id}"[:255]
            self.client("dynamodb").create_table(
                TableName=name,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            )
            self.refs[logical_id] = name
            self.attrs[(logical_id, "Arn")] = f"arn:aws:dynamodb:{HOME_REGION}:{self.account_id}:table/{name}"

        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("placeholder.py", "# the drill runs the real handlers in-process\n")
        lambda_client = self.client("lambda")
        environment: dict[str, str] = {}
        for spec in self.synthesized.functions:
            name = spec.logical_id[:64]
            arn = lambda_client.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=role_arn,
                Handler=spec.handler,
                Code={"ZipFile": code.getvalue()},
            )["FunctionArn"]
            self.refs[spec.logical_id] = name
            self.attrs[(spec.logical_id, "Arn")] = arn
            self.function_arns[name] = arn
            module, attribute = spec.handler.rsplit(".", 1)
            self.functions[name] = (module, attribute)
            self.timeouts[name] = spec.timeout
            for key, value in spec.environment.items():
                resolved = str(resolve(value, self.refs, self.attrs))
                if key in environment and environment[key] != resolved:
                    raise ValueError(f"functions disagree on environment {key}: the drill sets one process env")
                environment[key] = resolved
        self._set_env({**environment, **self.extra_environment})
        # snapStart: the workflow invokes an alias on a published version; moto runs the function itself.
        for logical_id, resource in self.synthesized.resources("AWS::Lambda::Version").items():
            function = self.refs[resource["Properties"]["FunctionName"]["Ref"]]
            self.refs[logical_id] = f"{self.function_arns[function]}:1"
            self.attrs[(logical_id, "Version")] = "1"
        for logical_id, resource in self.synthesized.resources("AWS::Lambda::Alias").items():
            function = self.refs[resource["Properties"]["FunctionName"]["Ref"]]
            self.refs[logical_id] = f"{self.function_arns[function]}:{resource['Properties']['Name']}"
        self.iam = IamEnforcement(
            self.account_id,
            {
                **{
                    spec.logical_id[:64]: resolve(list(spec.denies), self.refs, self.attrs)
                    for spec in self.synthesized.functions
                },
                STATE_MACHINE: resolve(list(self.synthesized.state_machine_denies), self.refs, self.attrs),
            },
        )

        definition = resolve(self.synthesized.state_machine_definition, self.refs, self.attrs)
        self.state_machine_arn = self.client("stepfunctions").create_state_machine(
            name="CredentialResponder",
            definition=definition,
            roleArn=role_arn,
        )["stateMachineArn"]

    def _invoke(self, function_name: str, body: Any, response_headers: dict[str, str]) -> bytes:
        module_name, attribute = self.functions[function_name]
        event = json.loads(body) if body else {}
        record = self._record_for_thread()
        self._current.record = record
        self._current.in_handler = True
        self._current.function = function_name
        started = time.perf_counter()
        try:
            handler = getattr(importlib.import_module(module_name), attribute)
            context = FakeLambdaContext(
                function_name, self.function_arns[function_name], timeout_seconds=self.timeouts[function_name]
            )
            result = handler(event, context)
            payload = json.dumps(result).encode()
            error = None
        except Exception as exc:  # a handler error becomes a Lambda function error, as in AWS
            response_headers["x-amz-function-error"] = "Unhandled"
            payload = json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}).encode()
            result, error = None, f"{type(exc).__name__}: {exc}"
        finally:
            self._current.record = None
            self._current.in_handler = False
        if record is not None:
            with self._lock:
                record.invocations.append(Invocation(function_name, started, time.perf_counter(), event, result, error))
        return payload

    def _record_for_thread(self) -> ExecutionRecord | None:
        # moto runs each execution in its own thread (and Map/Parallel branches in more); the
        # drill runs executions one after another except in bursts, where calls are attributed
        # to the one running execution or, with several, to none.
        with self._lock:
            running = list(self._recording.values())
        return running[0] if len(running) == 1 else None
