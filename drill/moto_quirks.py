"""Where moto diverges from AWS in ways our product code meets, and patches that make moto behave
like AWS. They live here, never in lambdas/: product code is written against AWS.

Each patch is a context manager, so the drill can wrap a whole run and a pytest fixture can
`with ...: yield`. `aws_semantics()` applies all of them. They patch moto's model classes for
the duration only, and nest safely.

    from drill.moto_quirks import aws_semantics
    with mock_aws(), aws_semantics():
        ...
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import lru_cache
from typing import Any


@contextmanager
def snapshot_tag_specifications() -> Iterator[None]:
    """CreateImage with TagSpecifications ResourceType=snapshot.

    AWS tags every snapshot the image creates; moto 5.2.5 raises NotImplementedError (in-process,
    or States.Runtime inside its Step Functions). The patch passes the image specs on and puts the
    snapshot tags on the image's snapshot, so tests can assert them.
    """
    from moto.ec2.models.amis import AmiBackend

    original = AmiBackend.create_image

    def create_image(
        self: Any, instance_id: str, name: str, description: str, tag_specifications: list[dict[str, Any]]
    ) -> Any:
        snapshot_tags = {
            tag["Key"]: tag["Value"]
            for spec in tag_specifications
            if spec["ResourceType"] == "snapshot"
            for tag in spec.get("Tags", [])
        }
        others = [spec for spec in tag_specifications if spec["ResourceType"] != "snapshot"]
        image = original(self, instance_id, name, description, tag_specifications=others)
        if snapshot_tags:
            self.create_tags([image.ebs_snapshot.id], snapshot_tags)
        return image

    AmiBackend.create_image = create_image  # type: ignore[method-assign]
    try:
        yield
    finally:
        AmiBackend.create_image = original  # type: ignore[method-assign]


@contextmanager
def eni_groups_are_their_own() -> Iterator[None]:
    """The security groups of an attached network interface.

    In AWS an ENI's groups are exactly the ones last set on it (ModifyNetworkInterfaceAttribute
    replaces them). moto 5.2.5 reports the union of the ENI's groups and the instance-level
    SecurityGroups, in DescribeNetworkInterfaces and in DescribeInstances' NetworkInterfaces, so
    an isolated ENI would still show its original groups. (moto puts the launch groups on the
    primary ENI itself, so dropping the union loses nothing.)
    """
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface

    original = NetworkInterface.__dict__["group_set"]
    NetworkInterface.group_set = property(lambda self: list(self._group_set))  # type: ignore[assignment,method-assign]
    try:
        yield
    finally:
        NetworkInterface.group_set = original  # type: ignore[method-assign]


@contextmanager
def shutdown_behavior_attribute() -> Iterator[None]:
    """ModifyInstanceAttribute InstanceInitiatedShutdownBehavior={"Value": ...}.

    moto 5.2.5 does not recognise it: the call falls through to its security-group handler with
    no groups, which leaves the shutdown behaviour unchanged and empties the instance-level
    SecurityGroups, silently. The patch sets the attribute, as AWS does, and touches nothing else.
    """
    from moto.core.responses import EmptyResult
    from moto.ec2.responses.instances import InstanceResponse

    original = InstanceResponse.modify_instance_attribute

    def modify_instance_attribute(self: Any) -> Any:
        value = self._get_param("InstanceInitiatedShutdownBehavior.Value")
        if value is None:
            return original(self)
        self.error_on_dryrun()
        self.ec2_backend.modify_instance_attribute(
            self._get_param("InstanceId"), "instance_initiated_shutdown_behavior", value
        )
        return EmptyResult()

    InstanceResponse.modify_instance_attribute = modify_instance_attribute  # type: ignore[method-assign]
    try:
        yield
    finally:
        InstanceResponse.modify_instance_attribute = original  # type: ignore[method-assign]


@contextmanager
def config_history_needs_a_recorder() -> Iterator[None]:
    """AWS Config's GetResourceConfigHistory.

    AWS returns what a configuration recorder recorded, before `laterTime`; with no recorder, nothing was
    recorded (ResourceNotDiscoveredException). moto 5.2.5 ignores the times and returns the resource as it
    is now, and its IAM role item does not even parse in botocore. The patch answers as AWS does when
    nothing records: the drill's account has no recorder.
    """
    from moto.config.exceptions import ResourceNotDiscoveredException
    from moto.config.models import ConfigBackend

    original = ConfigBackend.get_resource_config_history

    def history(self: Any, resource_type: str, resource_id: str, backend_region: str) -> Any:
        if not self.recorders:
            raise ResourceNotDiscoveredException(resource_type, resource_id)
        return original(self, resource_type, resource_id, backend_region)

    ConfigBackend.get_resource_config_history = history  # type: ignore[method-assign]
    try:
        yield
    finally:
        ConfigBackend.get_resource_config_history = original  # type: ignore[method-assign]


# -- Step Functions: what the in-state containment (infra/intake.py) meets in moto's interpreter --------


@contextmanager
def jsonata_evaluator() -> Iterator[None]:
    """JSONata states (QueryLanguage "JSONata").

    AWS evaluates JSONata in every JSONata state. moto 5.2.5 parses those states but ships no
    evaluator: its JVM bridge is stubbed out (`_eval_jsonata` is None), so every expression fails
    with a TypeError, as States.Runtime. The patch evaluates with jsonata-python, a port of the
    jsonata-java implementation moto's upstream (LocalStack) binds. moto also writes each string
    variable into the expression between bare double quotes, unescaped, so a value holding a quote or
    a backslash breaks the expression: the patch binds every value as its JSON instead.

    Bound, not written into the expression: jsonata-python's parser read the whole state ($states.input, every
    variable) as expression text at each evaluation, a tenth of a drill run and more with a large state. Each
    declaration names its value by a digest of its JSON, and the evaluation binds a fresh copy of that JSON, with
    numbers as JSONata's parser reads them (an integral number is an integer); strings keep their characters
    (written into the expression, a character beyond the BMP became two halves of a surrogate pair).
    """
    from moto.stepfunctions.parser.asl.eval import states, variable_store
    from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    bound: dict[str, str] = {}  # token -> the value's JSON, for this account's executions

    def evaluate(expression: str) -> Any:
        values = {
            token: json.loads(bound[token], parse_float=_jsonata_number, parse_int=_jsonata_number)
            for token in set(_BOUND_TOKEN.findall(expression))
        }
        return _parsed_jsonata(expression).evaluate(None, values)

    def declarations(bindings: dict[str, Any]) -> str:
        written = []
        for name, value in bindings.items():
            text = to_json_str(value, separators=(",", ":"))
            token = "drill_bound_" + hashlib.blake2b(text.encode(), digest_size=12).hexdigest()
            bound[token] = text
            written.append(f"{name}:=${token};")
        return "".join(written)

    saved = (
        moto_jsonata._eval_jsonata,
        states.encode_jsonata_variable_declarations,
        variable_store.encode_jsonata_variable_declarations,
    )
    moto_jsonata._eval_jsonata = evaluate
    states.encode_jsonata_variable_declarations = declarations  # type: ignore[assignment]
    variable_store.encode_jsonata_variable_declarations = declarations  # type: ignore[assignment]
    try:
        yield
    finally:
        (
            moto_jsonata._eval_jsonata,
            states.encode_jsonata_variable_declarations,
            variable_store.encode_jsonata_variable_declarations,
        ) = saved


_BOUND_TOKEN = re.compile(r"\$(drill_bound_[0-9a-f]{24})\b")


def _jsonata_number(text: str) -> int | float:
    """A JSON number as jsonata-python's tokenizer reads one in an expression (float, then integral -> int)."""
    number = float(text)
    return int(number) if number.is_integer() else number


@lru_cache(maxsize=4096)
def _parsed_jsonata(expression: str) -> Any:
    """An expression parsed once per process: with the values bound, the same few recur in every run. Each
    evaluation binds in a frame of its own, so executions sharing it share no variables."""
    import jsonata

    return jsonata.Jsonata(expression)


def aws_timestamp(moment: Any) -> str:
    """A time as Step Functions' context object writes it: UTC, milliseconds, "Z"."""
    from datetime import UTC, datetime

    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@contextmanager
def context_object_times() -> Iterator[None]:
    """$$.Execution.StartTime and $$.State.EnteredTime.

    AWS gives both as ISO 8601 strings in UTC with milliseconds ("2026-12-05T20:49:00.192Z"). moto
    5.2.5 puts a Python datetime in Execution.StartTime (an intrinsic function on it raises a
    TypeError, as States.Runtime) and EnteredTime with microseconds and "+00:00". The patch writes both
    as AWS does.
    """
    import datetime as real_datetime
    from types import SimpleNamespace

    from moto.stepfunctions.parser.asl.component.state import state as state_module
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    original_environment = ExecutionWorker._get_evaluation_environment

    def environment(self: Any) -> Any:
        env = original_environment(self)
        execution = env.states.context_object.context_object_data["Execution"]
        execution["StartTime"] = aws_timestamp(execution["StartTime"])
        return env

    def now(tz: Any = None) -> Any:
        # moto writes EnteredTime as datetime.datetime.now(tz=utc).isoformat()
        return SimpleNamespace(isoformat=lambda: aws_timestamp(real_datetime.datetime.now(tz=tz)))

    clock = SimpleNamespace(datetime=SimpleNamespace(now=now), timezone=real_datetime.timezone)
    saved_datetime = state_module.datetime
    ExecutionWorker._get_evaluation_environment = environment  # type: ignore[method-assign]
    state_module.datetime = clock  # type: ignore[assignment]
    try:
        yield
    finally:
        ExecutionWorker._get_evaluation_environment = original_environment  # type: ignore[method-assign]
        state_module.datetime = saved_datetime


@contextmanager
def sdk_error_names() -> Iterator[None]:
    """The error an aws-sdk task raises for a service's exception.

    AWS names it `<Service>.<Exception>` with the service in PascalCase (`Iam.NoSuchEntityException`);
    moto 5.2.5 knows only DynamoDB's and Step Functions' spellings and keeps the lower-case service name
    for every other (`iam.NoSuchEntityException`), so a Catch or Retry on AWS's name would not match.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as aws_sdk,
    )

    added = {"iam": "Iam", "ec2": "Ec2", "sts": "Sts"}
    missing = {name: value for name, value in added.items() if name not in aws_sdk._SERVICE_ERROR_NAMES}
    aws_sdk._SERVICE_ERROR_NAMES.update(missing)
    try:
        yield
    finally:
        for name in missing:
            aws_sdk._SERVICE_ERROR_NAMES.pop(name, None)


@contextmanager
def parser_scopes_per_parse() -> Iterator[None]:
    """Parsing a definition that mixes JSONata and JSONPath states.

    moto parses the definition anew for each execution, and its parser keeps the stack of query
    languages it is in as a class attribute, shared by every parse: executions started together (a
    burst) interleave their scopes and fail with "Unsupported declaration in QueryLanguage=JSONPath
    block", the execution left RUNNING. AWS parses once, at CreateStateMachine. The patch gives each
    parse its own stack.
    """
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    had_init = "__init__" in Preprocessor.__dict__
    original = Preprocessor.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._query_language_per_scope = []

    Preprocessor.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        if had_init:
            Preprocessor.__init__ = original  # type: ignore[method-assign]
        else:
            del Preprocessor.__init__


@contextmanager
def iam_user_ids_as_aws_mints_them() -> Iterator[None]:
    """An IAM user's unique id.

    AWS mints `AIDA` followed by 17 upper-case letters and digits, and CloudTrail writes it as the IAMUser's
    `principalId`; moto 5.2.5 mints 20 lower-case characters, so a record written with the user's real id
    would not look like one. The patch gives each new user an id of AWS's form.
    """
    import random
    import string

    from moto.iam.models import User

    original = User.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.id = "AIDA" + "".join(random.choices(string.ascii_uppercase + string.digits, k=17))

    User.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        User.__init__ = original  # type: ignore[method-assign]


@contextmanager
def renamed_user_keeps_its_credentials() -> Iterator[None]:
    """UpdateUser with NewUserName (or NewPath).

    In AWS the user keeps its id, keys, password, policies, SSH keys, certificates and tags, and every API
    names it by its new name. moto 5.2.5 renames the user but its access keys (GetAccessKeyLastUsed,
    ListAccessKeys), SSH keys and signing certificates still carry the old name, and its tags stay on the old
    ARN. The patch moves them with the user.
    """
    from moto.iam.models import IAMBackend

    original = IAMBackend.update_user

    def update_user(self: Any, user_name: str, new_path: str | None = None, new_user_name: str | None = None) -> None:
        user = self.users.get(user_name)
        old_arn = user.arn if user is not None else None
        original(self, user_name, new_path, new_user_name)
        if user is None:
            return
        for credential in (*user.access_keys, *user.ssh_public_keys, *user.signing_certificates.values()):
            credential.user_name = user.name
        if old_arn != user.arn and self.tagger.has_tags(old_arn):
            self.tagger.tag_resource(user.arn, self.tagger.list_tags_for_resource(old_arn)["Tags"])
            self.tagger.delete_all_tags_for_resource(old_arn)

    IAMBackend.update_user = update_user  # type: ignore[method-assign]
    try:
        yield
    finally:
        IAMBackend.update_user = original  # type: ignore[method-assign]


@contextmanager
def login_profile_has_its_own_date() -> Iterator[None]:
    """A login profile's CreateDate.

    AWS reports when the password was created; moto 5.2.5 reports the user's creation date, so a password an
    attacker added to an old user would read as old. The patch stamps the profile when it is created and
    answers CreateLoginProfile and GetLoginProfile with that date.
    """
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.iam.models import IAMBackend
    from moto.iam.responses import IamResponse

    original_create = IAMBackend.create_login_profile
    originals = {name: getattr(IamResponse, name) for name in ("create_login_profile", "get_login_profile")}

    def create_login_profile(self: Any, user_name: str, password: str) -> Any:
        user = original_create(self, user_name, password)
        user.login_profile_create_date = utcnow()
        return user

    def answer(backend_call: str) -> Any:
        def respond(self: Any) -> Any:
            user_name = self._get_param("UserName")
            if backend_call == "create":
                user = self.backend.create_login_profile(user_name, self._get_param("Password"))
                reset = self._get_param("PasswordResetRequired")
                if reset is not None:
                    user.password_reset_required = str(reset).lower() == "true"
            else:
                user = self.backend.get_login_profile(user_name)
            created = getattr(user, "login_profile_create_date", None) or user.create_date
            return ActionResult(
                {
                    "LoginProfile": {
                        "UserName": user.name,
                        "CreateDate": created,
                        "PasswordResetRequired": user.password_reset_required,
                    }
                }
            )

        return respond

    IAMBackend.create_login_profile = create_login_profile  # type: ignore[method-assign]
    IamResponse.create_login_profile = answer("create")  # type: ignore[method-assign]
    IamResponse.get_login_profile = answer("get")  # type: ignore[method-assign]
    try:
        yield
    finally:
        IAMBackend.create_login_profile = original_create  # type: ignore[method-assign]
        for name, method in originals.items():
            setattr(IamResponse, name, method)


@contextmanager
def aws_semantics() -> Iterator[None]:
    """Every patch above."""
    with ExitStack() as stack:
        stack.enter_context(snapshot_tag_specifications())
        stack.enter_context(eni_groups_are_their_own())
        stack.enter_context(shutdown_behavior_attribute())
        stack.enter_context(config_history_needs_a_recorder())
        stack.enter_context(iam_user_ids_as_aws_mints_them())
        stack.enter_context(renamed_user_keeps_its_credentials())
        stack.enter_context(login_profile_has_its_own_date())
        stack.enter_context(jsonata_evaluator())
        stack.enter_context(context_object_times())
        stack.enter_context(sdk_error_names())
        stack.enter_context(parser_scopes_per_parse())
        yield
