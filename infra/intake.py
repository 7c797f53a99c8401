"""The execution's first states: containment made by Step Functions itself, no Lambda before it.

For the events incident.essentials reads (an AWS Health exposed-key event, a GuardDuty
instance-credential finding that names its role), the Intake Choice reads the same essentials in
JSONata, and the execution then makes two calls through Step Functions' own integrations:

    Intake (Choice, JSONata: the event read in the state, `$incident`)
      one key, its user named    -> RecordKeyIncident -> DeactivateKey                -> KeyContained
      other keys (several, or    -> RecordKeysIncident -> DeactivateKeys (Map, per key:
        no user named)                KeyNamesItsUser? -> DeactivateNamedKey
                                      | FindKeyOwner -> OwnerIsAUser? -> DeactivateOwnersKey)
                                                                                      -> KeyContained
      a role named               -> RecordSessionIncident -> RevokeRoleSessions      -> SessionContained
      anything else: the Lambda first tasks (KeyIntake, SessionIntake) or Normalize, as before.

* Record*: DynamoDB's putItem, conditional on no record (`attribute_not_exists(id)`): the item
  record.store.register writes, built from the execution's own start time and id.
* Deactivate* / RevokeRoleSessions: the AWS SDK integration, iam:UpdateAccessKey and
  iam:PutRolePolicy (the cut-off: every session issued before the execution's start, rounded up to
  the second, as common.cutoff.cutoff_at rounds).
* *Contained: the containing function, after the containing call: it reads back what was set,
  quarantines, and normalizes the event in full (incident.intake.after_containment).

Every error of these states (a failed condition: a repeat; NoSuchEntity; AccessDenied; throttling)
goes to the Lambda first task with the raw event, which makes the same calls again under every rule
of the record and the containing functions. The guards that need a read in the Lambdas are explicit
Denies on the state machine's role (infra.workflow): the responder's own roles (their path) and the
exempted principals; IAM itself refuses service-linked roles.

tests/infra/test_intake_reading.py pins each reading, the record item and the cut-off document to
incident.essentials, record.store and common.cutoff.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import Aws, Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from common.cutoff import OLDER_SESSIONS_POLICY, deny_older_sessions
from infra.functions import exempt_resources

_CODES_FILE = Path(__file__).resolve().parent.parent / "lambdas" / "incident" / "codes.py"


def _codes() -> dict[str, Any]:
    # lambdas/incident/codes.py has no imports, so infra reads it without the functions' sys.path.
    namespace: dict[str, Any] = {}
    exec(compile(_CODES_FILE.read_text(), str(_CODES_FILE), "exec"), namespace)  # noqa: S102
    return namespace


CODES = _codes()
# As incident.essentials and record.store have them (pinned by tests/infra/test_intake_reading.py).
MAX_KEYS_IN_STATE = 10  # incident.intake.MAX_KEYS_AT_INTAKE
RETENTION_SECONDS = 730 * 86400  # record.store.RETENTION_DAYS
INSIDE_AWS = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS"
# An SDK call that hangs must not hold the execution: past this it fails, and the Lambda path takes over.
SDK_TASK_TIMEOUT_SECONDS = 30
# The longest the in-state states can take before the Lambda path starts (state_machine_timeout_seconds):
# the record, then a key's owner look-up and its deactivation (a Map's keys run at once).
IN_STATE_WORST_SECONDS = 3 * SDK_TASK_TIMEOUT_SECONDS

# incident.essentials' patterns, in JSONata's (JavaScript's) regex syntax, ASCII classes only: where
# JavaScript and Python differ ($ before a final newline, Unicode \d), these are the stricter.
ACCESS_KEY_ID = r"/^(AKIA|ASIA)[A-Z0-9]{16}$/"
ACCOUNT_ID = r"/^[0-9]{12}$/"
IAM_NAME = r"/^[A-Za-z0-9_+=,.@-]{1,64}$/"
REGION = r"/^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$/"
INSTANCE_ID = r"/^i-[0-9a-f]{8,17}$/"
PAGE = r"/^[0-9]{1,4}$/"
# incident.essentials.TOKEN: the parts of an incident id
PLAIN_ID = r"/^[A-Za-z0-9_.:-]{1,128}$/"
HEALTH_EVENT_ARN = r"/^arn:[a-z-]+:health:[a-z0-9-]*::event\/[A-Za-z0-9_.\/-]{1,200}$/"
# EventBridge's own time format (seconds, optional fraction, UTC); the calendar is checked below.
EVENT_TIME = (
    r"/^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]{1,6})?Z$/"
)

# Shared by every reading. Nothing here may raise for any input: a JSONata error in a Choice cannot
# be caught, and would end the execution unreported. So every function call is guarded by a type test,
# through `? :` (evaluated lazily by every JSONata implementation, unlike `and`).
_PRELUDE = f"""
  $absent := function($v) {{ $not($exists($v)) or $type($v) = 'null' }};
  $text := function($v) {{ $absent($v) or $type($v) = 'string' }};
  $matches := function($v, $pattern) {{ $type($v) = 'string' ? $contains($v, $pattern) : false }};
  $optional := function($v, $pattern) {{ $absent($v) or $matches($v, $pattern) }};
  $objectOrAbsent := function($v) {{ $absent($v) or $type($v) = 'object' }};
  $validTime := function($t) {{ $matches($t, {EVENT_TIME}) ? (
    $year := $number($substring($t, 0, 4));
    $month := $number($substring($t, 5, 2));
    $leap := ($year % 4 = 0 and $year % 100 != 0) or $year % 400 = 0;
    $days := [31, $leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    $year >= 1 and $number($substring($t, 8, 2)) <= $days[$month - 1]
  ) : false }};
  $own := $split($states.context.StateMachine.Id, ':')[4];
  $e := $states.input;
"""


def _list(values: tuple[str, ...]) -> str:
    return json.dumps(list(values))


# incident.essentials.health_essentials, for the events it reads with every field as AWS writes it;
# anything else (null: the Lambda first task reads it) includes another account's key or accounts
# that disagree (the Lambda reports them) and more than MAX_KEYS_IN_STATE keys.
HEALTH_READING = f"""(
{_PRELUDE}
  $d := $e.detail;
  $m := $d.eventMetadata;
  $shape := $type($e) = 'object' and $e.source = 'aws.health' and $e.`detail-type` = 'AWS Health Event'
    and $type($d) = 'object' and $d.service = 'RISK' and $d.eventTypeCode in {_list(CODES["HEALTH_KEY_CODES"])}
    and $objectOrAbsent($m)
    and ($absent($d.affectedEntities) or $type($d.affectedEntities) = 'array')
    and ($absent($e.resources) or $type($e.resources) = 'array');
  $shape ? (
    $entities := $type($d.affectedEntities) = 'array' ? $d.affectedEntities : [];
    $resources := $type($e.resources) = 'array' ? $e.resources : [];
    $named := [$map($entities, function($x) {{
      $type($x) = 'object' and $type($x.entityValue) = 'string' ? $x.entityValue : null }})];
    $candidates := $append($append($named, $resources), [$text($m.publicKey) ? $m.publicKey : null]);
    $keys := [$distinct([$filter($candidates, function($c) {{ $matches($c, {ACCESS_KEY_ID}) }})])];
    $owner := $m.userName;
    $ok := $count($keys) >= 1 and $count($keys) <= {MAX_KEYS_IN_STATE}
      and $text($m.publicKey) and $optional($owner, {IAM_NAME})
      and $matches($e.account, {ACCOUNT_ID}) and $e.account = $own
      and $text($d.affectedAccount) and $text($m.accountId)
      and $count([$filter([$d.affectedAccount, $m.accountId], function($a) {{
        $matches($a, {ACCOUNT_ID}) ? $a != $e.account : false }})]) = 0
      and $matches($e.id, {PLAIN_ID})
      and $optional($d.communicationId, {PLAIN_ID}) and $optional($d.eventArn, {HEALTH_EVENT_ARN})
      and $optional($d.page, {PAGE}) and $optional($d.totalPages, {PAGE})
      and $matches($e.region, {REGION}) and $validTime($e.time);
    $ok ? (
      $page := $absent($d.page) ? 1 : ($number($d.page) = 0 ? 1 : $number($d.page));
      $pages := $absent($d.totalPages) ? 1 : ($number($d.totalPages) = 0 ? 1 : $number($d.totalPages));
      $dedupe := ($absent($d.communicationId)
          ? ($absent($d.eventArn) ? 'None' : $d.eventArn) & ':' & $join($sort($keys), ',')
          : $d.communicationId)
        & ($pages > 1 or $page > 1 ? ':page-' & $string($page) : '');
      {{
        "incident_id": $e.account & ':health:' & $dedupe,
        "kind": "exposed-access-key",
        "source": "aws.health",
        "event_type": $d.eventTypeCode,
        "event_id": $e.id,
        "account": $e.account,
        "region": $e.region,
        "count": null,
        "keys": [$map($keys, function($k) {{ {{
          "access_key_id": $k,
          "user_name": ($k = $m.publicKey or $count($keys) = 1) ? ($absent($owner) ? null : $owner) : null
        }} }})]
      }}
    ) : null
  ) : null
)"""


def session_reading(affiliated_inside_aws: str) -> str:
    """incident.essentials.exfiltration_essentials, for findings whose every field is as GuardDuty
    writes it (`affiliated_inside_aws`: the configuration, as AFFILIATED_INSIDE_AWS). Known difference,
    on the safe side: a count written 3.0 is an integer here (JSONata has one number type), and None there,
    so such a finding is contained here and normalized in full there; GuardDuty writes integers."""
    skip_affiliated = "true" if affiliated_inside_aws == "notify" else "false"
    return f"""(
{_PRELUDE}
  $f := $e.detail;
  $shape := $type($e) = 'object' and $e.source = 'aws.guardduty' and $e.`detail-type` = 'GuardDuty Finding'
    and $type($f) = 'object' and $f.type in {_list(CODES["EXFILTRATION_FINDING_TYPES"])}
    and $absent($f.associatedAttackSequenceArn)
    and $objectOrAbsent($f.service) and $objectOrAbsent($f.service.additionalInfo)
    and $objectOrAbsent($f.service.action) and $objectOrAbsent($f.service.action.awsApiCallAction)
    and $objectOrAbsent($f.service.action.awsApiCallAction.remoteAccountDetails)
    and $objectOrAbsent($f.resource) and $objectOrAbsent($f.resource.accessKeyDetails)
    and $objectOrAbsent($f.resource.instanceDetails)
    and $objectOrAbsent($f.resource.instanceDetails.iamInstanceProfile);
  $shape ? (
    $key := $f.resource.accessKeyDetails;
    $instance := $f.resource.instanceDetails;
    $count := $f.service.count;
    $affiliated := {skip_affiliated} and $f.type = '{INSIDE_AWS}'
      and $f.service.action.awsApiCallAction.remoteAccountDetails.affiliated = true;
    $ok := ($absent($f.service.additionalInfo.sample) or $f.service.additionalInfo.sample = false)
      and ($absent($f.service.archived) or $f.service.archived = false)
      and $key.userType = 'AssumedRole' and $matches($key.userName, {IAM_NAME})
      and $optional($instance.instanceId, {INSTANCE_ID}) and $matches($f.id, {PLAIN_ID})
      and $not($affiliated)
      and $matches($e.account, {ACCOUNT_ID}) and $e.account = $own
      and $text($f.accountId) and ($matches($f.accountId, {ACCOUNT_ID}) ? $f.accountId = $e.account : true)
      and $optional($key.accessKeyId, {ACCESS_KEY_ID})
      and ($absent($count) or ($type($count) = 'number' ? $count = $floor($count) : false))
      and $text($instance.iamInstanceProfile.arn)
      and $matches($e.id, {PLAIN_ID}) and $matches($e.region, {REGION}) and $validTime($e.time);
    $ok ? {{
      "incident_id": $e.account & ':guardduty:' & $f.id,
      "kind": "instance-credential-exfiltration",
      "source": "aws.guardduty",
      "event_type": $f.type,
      "event_id": $e.id,
      "account": $e.account,
      "region": $e.region,
      "finding_id": $f.id,
      "role_name": $key.userName,
      "instance_id": $absent($instance.instanceId) ? null : $instance.instanceId,
      "count": $absent($count) ? null : $count,
      "last_seen": $type($f.service.eventLastSeen) = 'string' and $f.service.eventLastSeen != ''
        ? $f.service.eventLastSeen : null,
      "updated_at": $type($f.updatedAt) = 'string' and $f.updatedAt != '' ? $f.updatedAt : null,
      "keys": $absent($key.accessKeyId) ? [] : [{{"access_key_id": $key.accessKeyId, "user_name": null}}]
    }} : null
  ) : null
)"""


# record.store.register's item for `$incident`, at the execution's start (its `now`): the dedupe write.
RECORD_ITEM = f"""(
  $i := $incident;
  $t := $states.context.Execution.StartTime;
  $moment := {{"S": $substring($t, 0, 19) & 'Z'}};
  $keys := [$map($i.keys, function($k) {{ $k.access_key_id }})];
  $isKey := $i.kind = 'exposed-access-key';
  $principals := $isKey
    ? [$map($keys, function($k) {{ 'key ' & $k }})]
    : ($type($i.role_name) = 'string' ? ['role ' & $i.role_name] : []);
  $credentials := $isKey ? [] : $append(
    [$map($keys, function($k) {{ 'key ' & $k }})],
    $type($i.instance_id) = 'string' ? ['instance ' & $i.instance_id] : []
  );
  $users := $sort($distinct([$filter([$map($i.keys, function($k) {{ $k.user_name }})], function($u) {{
    $type($u) = 'string' }})]));
  $names := $distinct($append($append($principals, $credentials), [$map($users, function($u) {{ 'user ' & $u }})]));
  $list := function($values) {{ {{"L": [$map($values, function($v) {{ {{"S": $v}} }})]}} }};
  $activity := $merge([
    $type($i.count) = 'number' ? {{"count": {{"N": $string($i.count)}}}} : {{}},
    $type($i.last_seen) = 'string' ? {{"last_seen": {{"S": $i.last_seen}}}} : {{}},
    $type($i.updated_at) = 'string' ? {{"updated_at": {{"S": $i.updated_at}}}} : {{}}
  ]);
  $merge([
    {{
      "id": {{"S": 'incident#' & $i.incident_id}},
      "incident_id": {{"S": $i.incident_id}},
      "kind": {{"S": $i.kind}},
      "account": {{"S": $i.account}},
      "region": {{"S": $i.region}},
      "source": {{"S": $i.source}},
      "event_type": {{"S": $i.event_type}},
      "access_key_ids": $list($keys),
      "status": {{"S": "responding"}},
      "sightings": {{"N": "1"}},
      "first_received_at": $moment,
      "last_received_at": $moment,
      "execution_arn": {{"S": $states.context.Execution.Id}},
      "responses": {{"L": [{{"M": $merge([
        {{"kind": {{"S": "first"}}}},
        $type($i.finding_id) = 'string' ? {{"finding_id": {{"S": $i.finding_id}}}} : {{}},
        {{
          "incident_id": {{"S": $i.incident_id}},
          "event_type": {{"S": $i.event_type}},
          "event_id": {{"S": $i.event_id}},
          "execution_arn": {{"S": $states.context.Execution.Id}},
          "started_at": $moment,
          "claim_reason": {{"S": ""}},
          "principals": $list($principals),
          "names": $list($names),
          "activity": {{"M": $activity}}
        }}
      ])}}]}},
      "timeline": {{"L": [{{"M": {{
        "at": $moment,
        "what": {{"S": 'received ' & $i.event_type & ' (event ' & $i.event_id & ')'}}
      }}}}]}},
      "expiration": {{"N": $string($floor($toMillis($t) / 1000) + {RETENTION_SECONDS})}}
    }},
    $type($i.finding_id) = 'string' ? {{"finding_id": {{"S": $i.finding_id}}}} : {{}},
    $type($i.role_name) = 'string' ? {{"role_name": {{"S": $i.role_name}}}} : {{}},
    $type($i.instance_id) = 'string' ? {{"instance_id": {{"S": $i.instance_id}}}} : {{}}
  ])
)"""

# common.cutoff.cutoff_at(the execution's start): rounded up, never down, to the second.
CUTOFF = (
    "$fromMillis($ceil($toMillis($states.context.Execution.StartTime) / 1000) * 1000, "
    "'[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01]Z')"
)
# revoke_sessions.actions.older_sessions_policy(cutoff), as IAM stores it: common.cutoff's document, written as a
# JSONata object whose time is CUTOFF.
_AT = "cutoff"
CUTOFF_POLICY = "$string(" + json.dumps(deny_older_sessions(_AT)).replace(json.dumps(_AT), CUTOFF) + ")"

ONE_NAMED_KEY = (
    f"$type({HEALTH_READING}) = 'object' and $count(({HEALTH_READING}).keys) = 1 "
    f"and $type(({HEALTH_READING}).keys[0].user_name) = 'string'"
)
KEYS = f"$type({HEALTH_READING}) = 'object'"
KEEP_INPUT = "{% $states.input %}"


def jsonata(expression: str) -> str:
    return "{% " + expression + " %}"


@dataclass(frozen=True)
class InStateOptions:
    """What the in-state path needs from the deployment; None for a kind turns its path off (dry-run,
    a revoke scoped to the instance: the Lambda first task decides those)."""

    table: dynamodb.ITable
    exempt_principal_arns: tuple[str, ...]
    affiliated_inside_aws: str
    keys: bool
    sessions: bool


@dataclass
class Fallbacks:
    """Where each kind goes when it is not read in the state, or when a state fails."""

    keys: sfn.State
    sessions: sfn.State
    # the Lambda task that failed after containment hands the raw event to (Normalize)
    normalize: sfn.IChainable


class InStateIntake:
    """Builds the Intake Choice and the states above, in `scope` (the Workflow construct)."""

    def __init__(
        self,
        scope: Construct,
        *,
        options: InStateOptions | None,
        contain_key: lambda_.IFunction,
        revoke_sessions: lambda_.IFunction,
        fallbacks: Fallbacks,
        route: sfn.IChainable,
        retries: Callable[[tasks.LambdaInvoke], None],
    ) -> None:
        self.scope = scope
        self.options = options
        self.fallbacks = fallbacks
        self.route = route
        self.retries = retries
        self.contain_key = contain_key
        self.revoke_sessions = revoke_sessions

    def choice(self, *, health_fallback_condition: str, session_fallback_condition: str) -> sfn.Choice:
        intake = sfn.Choice.jsonata(
            self.scope,
            "Intake",
            comment="by the event's own fields: read in the state, contained by Step Functions itself; "
            "otherwise the containing function first",
        )
        options = self.options
        if options is not None and options.keys:
            key_contained = self._contained("KeyContained", self.contain_key)
            intake.when(
                sfn.Condition.jsonata(jsonata(ONE_NAMED_KEY)),
                self._record("RecordKeyIncident", self.fallbacks.keys).next(self._deactivate_one(key_contained)),
                assign={"incident": jsonata(HEALTH_READING)},
            )
            intake.when(
                sfn.Condition.jsonata(jsonata(KEYS)),
                self._record("RecordKeysIncident", self.fallbacks.keys).next(self._deactivate_keys(key_contained)),
                assign={"incident": jsonata(HEALTH_READING)},
            )
        intake.when(sfn.Condition.jsonata(jsonata(health_fallback_condition)), self.fallbacks.keys)
        if options is not None and options.sessions:
            reading = session_reading(options.affiliated_inside_aws)
            intake.when(
                sfn.Condition.jsonata(jsonata(f"$type({reading}) = 'object'")),
                self._record("RecordSessionIncident", self.fallbacks.sessions).next(
                    self._revoke(self._contained("SessionContained", self.revoke_sessions))
                ),
                assign={"incident": jsonata(reading)},
            )
        intake.when(sfn.Condition.jsonata(jsonata(session_fallback_condition)), self.fallbacks.sessions)
        intake.otherwise(self.fallbacks.normalize)
        return intake

    def grant(self, role: iam.IRole, key: kms.IKey) -> None:
        """What the in-state states call, and the Denies that stand for the Lambdas' guards (the
        aws-sdk Tasks grant their own calls)."""
        options = self.options
        if options is None or not (options.keys or options.sessions):
            return
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["dynamodb:PutItem"], resources=[options.table.table_arn])
        )
        # As record.permissions.FIRST_TASK_RECORD_KEY: DynamoDB uses the table's key on the caller's behalf.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                resources=[key.key_arn],
                conditions={"StringLike": {"kms:ViaService": "dynamodb.*.amazonaws.com"}},
            )
        )
        for kind, action, on in (
            ("user", "iam:UpdateAccessKey", options.keys),
            ("role", "iam:PutRolePolicy", options.sessions),
        ):
            exempted = exempt_resources(options.exempt_principal_arns, kind)
            if on and exempted:
                # The exempted principals, by name at any path, as the containing functions' own Denies.
                role.add_to_principal_policy(
                    iam.PolicyStatement(effect=iam.Effect.DENY, actions=[action], resources=exempted)
                )

    def fence_own_roles(self, role: iam.IRole, role_arns: list[str]) -> None:
        """Whatever else may be written on roles, never on the responder's own, by their exact ARNs (the stack
        knows them once every role is made; a path would let anyone who may create roles hide one under it)."""
        if self.options is not None and self.options.sessions and role_arns:
            role.add_to_principal_policy(
                iam.PolicyStatement(effect=iam.Effect.DENY, actions=["iam:PutRolePolicy"], resources=role_arns)
            )

    # -- states ----------------------------------------------------------------------------------

    def _record(self, name: str, fallback: sfn.State) -> sfn.CustomState:
        assert self.options is not None
        state = sfn.CustomState(
            self.scope,
            name,
            state_json={
                "Type": "Task",
                "QueryLanguage": "JSONata",
                "Comment": "the dedupe write: record the incident unless it is recorded (a repeat goes to "
                "the Lambda, which lets the record decide)",
                "Resource": "arn:aws:states:::dynamodb:putItem",
                "Arguments": {
                    "TableName": self.options.table.table_name,
                    "Item": jsonata(RECORD_ITEM),
                    "ConditionExpression": "attribute_not_exists(id)",
                },
                "TimeoutSeconds": SDK_TASK_TIMEOUT_SECONDS,
                "Output": KEEP_INPUT,
                # Written here, not by add_catch: CDK renders a CustomState's catchers as JSONPath ones,
                # without Output, and the fallback must get the raw event, not the error.
                "Catch": [{"ErrorEquals": ["States.ALL"], "Output": KEEP_INPUT, "Next": fallback.state_id}],
            },
        )
        return state

    def _iam(
        self, name: str, action: str, arguments: dict[str, Any], resources: list[str], **kwargs: Any
    ) -> tasks.CallAwsService:
        return tasks.CallAwsService.jsonata(
            self.scope,
            name,
            service="iam",
            action=action,
            iam_action=f"iam:{action[0].upper()}{action[1:]}",
            iam_resources=resources,
            parameters=arguments,
            task_timeout=sfn.Timeout.duration(Duration.seconds(SDK_TASK_TIMEOUT_SECONDS)),
            **kwargs,
        )

    def _deactivate_one(self, then: sfn.IChainable) -> sfn.IChainable:
        task = self._iam(
            "DeactivateKey",
            "updateAccessKey",
            {
                "UserName": jsonata("$incident.keys[0].user_name"),
                "AccessKeyId": jsonata("$incident.keys[0].access_key_id"),
                "Status": "Inactive",
            },
            [_users()],
            comment="the containing call, on the user the event names",
            assign={"contained": jsonata("[$incident.keys[0]]")},
            outputs=KEEP_INPUT,
        )
        task.add_catch(self.fallbacks.keys, errors=["States.ALL"], outputs=KEEP_INPUT)
        return task.next(then)

    def _deactivate_keys(self, then: sfn.IChainable) -> sfn.IChainable:
        named = self._iam(
            "DeactivateNamedKey",
            "updateAccessKey",
            {
                "UserName": jsonata("$states.input.user_name"),
                "AccessKeyId": jsonata("$states.input.access_key_id"),
                "Status": "Inactive",
            },
            [_users()],
            outputs=KEEP_INPUT,
        )
        find_owner = self._iam(
            "FindKeyOwner",
            "getAccessKeyLastUsed",
            {"AccessKeyId": jsonata("$states.input.access_key_id")},
            [_users()],
            comment="the event names no user: IAM names the key's owner",
            outputs=jsonata("{'access_key_id': $states.input.access_key_id, 'user_name': $states.result.UserName}"),
        )
        owners = self._iam(
            "DeactivateOwnersKey",
            "updateAccessKey",
            {
                "UserName": jsonata("$states.input.user_name"),
                "AccessKeyId": jsonata("$states.input.access_key_id"),
                "Status": "Inactive",
            },
            [_users()],
            outputs=KEEP_INPUT,
        )
        not_a_user = sfn.Fail.jsonata(
            self.scope,
            "KeyOwnerNotAUser",
            error="KeyOwnerNotAUser",
            cause="IAM names no user for the key (a root key, or none): the containing function decides",
        )
        find_owner.next(
            sfn.Choice.jsonata(self.scope, "OwnerIsAUser")
            .when(
                sfn.Condition.jsonata(
                    jsonata(
                        f"($v := $states.input.user_name; $type($v) = 'string' ? $contains($v, {IAM_NAME}) : false)"
                    )
                ),
                owners,
            )
            .otherwise(not_a_user)
        )
        per_key = (
            sfn.Choice.jsonata(self.scope, "KeyNamesItsUser")
            .when(sfn.Condition.jsonata(jsonata("$type($states.input.user_name) = 'string'")), named)
            .otherwise(find_owner)
        )
        keys = sfn.Map.jsonata(
            self.scope,
            "DeactivateKeys",
            items=sfn.ProvideItems.jsonata(jsonata("$incident.keys")),
            max_concurrency=MAX_KEYS_IN_STATE,
            comment="the containing calls, one per key, at once",
            assign={"contained": jsonata("$states.result")},
            outputs=KEEP_INPUT,
        )
        keys.item_processor(per_key)
        keys.add_catch(self.fallbacks.keys, errors=["States.ALL"], outputs=KEEP_INPUT)
        return keys.next(then)

    def _revoke(self, then: sfn.IChainable) -> sfn.IChainable:
        task = self._iam(
            "RevokeRoleSessions",
            "putRolePolicy",
            {
                "RoleName": jsonata("$incident.role_name"),
                "PolicyName": OLDER_SESSIONS_POLICY,
                "PolicyDocument": jsonata(CUTOFF_POLICY),
            },
            [_roles()],
            comment="the containing call: deny every session of the role issued before the execution's start",
            assign={"contained": jsonata(f"{{'role_name': $incident.role_name, 'cutoff': {CUTOFF}}}")},
            outputs=KEEP_INPUT,
        )
        task.add_catch(self.fallbacks.sessions, errors=["States.ALL"], outputs=KEEP_INPUT)
        return task.next(then)

    def _contained(self, name: str, function: lambda_.IFunction) -> tasks.LambdaInvoke:
        """The containing function after the containing call: read back, the rest of containment, the
        full normalizer; it returns what Route expects. If it fails, Normalize takes the raw event."""
        task = tasks.LambdaInvoke.jsonata(
            self.scope,
            name,
            lambda_function=function,
            payload=sfn.TaskInput.from_object(
                {
                    "event": KEEP_INPUT,
                    "execution_id": jsonata("$states.context.Execution.Id"),
                    "incident_id": jsonata("$incident.incident_id"),
                    "contained": jsonata("$contained"),
                }
            ),
            payload_response_only=True,
            retry_on_service_exceptions=False,
        )
        self.retries(task)
        task.add_catch(self.fallbacks.normalize, errors=["States.ALL"], outputs=KEEP_INPUT)
        task.next(self.route)
        return task


def _users() -> str:
    return f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:user/*"


def _roles() -> str:
    return f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/*"
