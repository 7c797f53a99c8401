"""Turn one EventBridge event into an Intake: an Incident to act on, or a named reason not to.

Pure and total: any input (wrong types, missing fields, foreign events) yields an Intake;
nothing here raises. Supported:
- AWS Health `AWS_RISK_CREDENTIALS_*` / `AWS_RISK_IAM_QUARANTINE` (service RISK): exposed keys.
- AWS Health `AWS_RISK_ACCOUNT_CONSOLE_COMPROMISE`: an incident with no key (reported, never acted on).
- GuardDuty `UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration[.OutsideAWS|.InsideAWS]`.
- GuardDuty `AttackSequence:IAM/CompromisedCredentials`: principals from service.detection.sequence only.
- GuardDuty `AttackSequence:EC2/CompromisedInstanceGroup`: the group's instances and shared role, likewise.
"""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple

from pydantic import ValidationError

from common.times import iso
from incident import codes, essentials
from incident.events import Finding, GuardDutyEvent, HealthEvent
from incident.model import (
    AffectedKey,
    Incident,
    Intake,
    IntakeStatus,
    Kind,
    NetworkInterface,
    RemoteCaller,
)

HEALTH_CREDENTIAL_CODES = frozenset(codes.HEALTH_CREDENTIAL_CODES)
HEALTH_CONSOLE_CODES = frozenset(codes.HEALTH_CONSOLE_CODES)
EXFILTRATION_FINDING_TYPES = frozenset(codes.EXFILTRATION_FINDING_TYPES)
ATTACK_SEQUENCE_TYPES = frozenset(codes.ATTACK_SEQUENCE_TYPES)
INSTANCE_GROUP_SEQUENCE_TYPES = frozenset(codes.INSTANCE_GROUP_SEQUENCE_TYPES)
# A sequence lists up to 100 signals; each FINDING one is a record to look up (record.store).
MAX_RELATED_FINDINGS = 20
DEFAULT_ATTACK_SEQUENCE_MAX_ACTORS = 3
# isolateInstanceGroups: a larger group is only listed (the workflow isolates the members one at a
# time, and its timeout counts this many: infra.workflow.GROUP_MAX_MEMBERS).
MAX_GROUP_ISOLATION = 10
# Validation rules, account resolution and incident ids are shared with the containing functions'
# first read of the event (incident.essentials), so the two never disagree on what is contained.
_ACCESS_KEY_ID = essentials.ACCESS_KEY_ID
_IP = re.compile(r"^[0-9a-fA-F:.]{2,45}$")
# Public samples carry placeholders (ACCESS_KEY_ID_HERE, GeneratedFindingAccessKeyId); accepted
# only when the deployment opts in to sample findings.
_SAMPLE_ACCESS_KEY_ID = re.compile(r"^[A-Za-z0-9_]{8,128}$")
_ACCOUNT_ID = essentials.ACCOUNT_ID
_IAM_NAME = essentials.IAM_NAME
_REGION = essentials.REGION
_INSTANCE_ID = essentials.INSTANCE_ID
_PAGE = essentials.PAGE
_TOKEN = essentials.TOKEN
_HEALTH_EVENT_ARN = essentials.HEALTH_EVENT_ARN
_Invalid = essentials.Invalid
_accounts = essentials.resolve_accounts
_region = essentials.region
_page = essentials.page_number
_safe = essentials.safe
# GuardDuty's finding types (ThreatPurpose:ResourceType/ThreatFamilyName.DetectionMechanism!Artifact) use `&`
# and `!` ("Backdoor:EC2/C&CActivity.B!DNS"); shown as '?' they would read as a mangled name.
_FINDING_TYPE = re.compile(r"^[A-Za-z0-9]{1,40}:[A-Za-z0-9]{1,40}/[A-Za-z0-9&!._-]{1,120}$")
_FINDING_ARN = re.compile(
    r"^arn:[a-z-]+:guardduty:[a-z0-9-]+:\d{12}:detector/[A-Za-z0-9]{1,64}/finding/([A-Za-z0-9]{1,64})$"
)
_INSTANCE_PROFILE_ARN = re.compile(r"^arn:[a-z-]+:iam::\d{12}:instance-profile/[A-Za-z0-9_+=,.@/-]{1,512}$")


def _finding_type(value: Any) -> str:
    """A finding type as GuardDuty writes it, whole; anything else as any event value is shown (`safe`)."""
    return f"'{value}'" if isinstance(value, str) and _FINDING_TYPE.match(value) else _safe(value, 120)


def _ignored(reason: str) -> Intake:
    return Intake(status=IntakeStatus.IGNORED, reason=reason)


def normalize(
    event: Any,
    *,
    accept_samples: bool = False,
    affiliated_inside_aws: str = "contain",
    attack_sequence_max_actors: int = DEFAULT_ATTACK_SEQUENCE_MAX_ACTORS,
    isolate_groups: bool = False,
) -> Intake:
    if not isinstance(event, dict):
        return _ignored(f"malformed-event: expected a JSON object, got {type(event).__name__}")
    source = event.get("source")
    try:
        if source == "aws.health":
            return _normalize_health(event, accept_samples=accept_samples)
        if source == "aws.guardduty":
            return _normalize_guardduty(
                event,
                accept_samples=accept_samples,
                affiliated_inside_aws=affiliated_inside_aws,
                max_actors=attack_sequence_max_actors,
                isolate_groups=isolate_groups,
            )
    except _Invalid as exc:
        # Before any action and before any text of the event reaches a message.
        return _ignored(str(exc))
    if "source" not in event and "detail" not in event and "type" in event and "service" in event:
        return _ignored("not-an-event-envelope: a bare GuardDuty finding body; EventBridge always wraps findings")
    return _ignored(f"unsupported-source: {_safe(source)} is neither aws.health nor aws.guardduty")


def _normalize_health(event: dict[str, Any], *, accept_samples: bool) -> Intake:
    try:
        parsed = HealthEvent.model_validate(event)
    except ValidationError as exc:
        return _ignored(f"malformed-event: AWS Health event does not parse ({_first_error(exc)})")
    detail = parsed.detail
    if parsed.detail_type != "AWS Health Event":
        return _ignored(f"unsupported-detail-type: {_safe(parsed.detail_type)}")
    if detail.service != "RISK" or detail.event_type_code not in HEALTH_CREDENTIAL_CODES:
        return _ignored(
            f"not-a-credential-event: Health {_safe(detail.service)}/{_safe(detail.event_type_code, 100)} "
            "is not an exposed-credential risk event"
        )
    if detail.event_type_code in HEALTH_CONSOLE_CODES:
        return _console_compromise(parsed)
    metadata = detail.event_metadata
    candidates = [entity.entity_value for entity in detail.affected_entities or []]
    candidates += list(parsed.resources or [])
    if metadata and metadata.public_key:
        candidates.append(metadata.public_key)
    pattern = _SAMPLE_ACCESS_KEY_ID if accept_samples else _ACCESS_KEY_ID
    key_ids = essentials.health_key_ids(candidates, pattern)
    if not key_ids:
        if any(candidates):
            # resources[] may also hold ARNs; say which field held the nearest thing to a key.
            raise _Invalid(
                "detail.affectedEntities[].entityValue",
                "an access key id (AKIA/ASIA + 16)",
                next(filter(None, candidates)),
            )
        return _ignored("no-access-key: the event names no access key id (affectedEntities, resources, eventMetadata)")
    # eventMetadata.userName names the owner of publicKey; other keys get resolved by IAM later.
    # Either way ContainKey verifies the owner with IAM: a name from the event is never trusted.
    owner = metadata.user_name if metadata and metadata.user_name else None
    if owner is not None and not _IAM_NAME.match(owner):
        raise _Invalid("detail.eventMetadata.userName", "an IAM user name", owner)
    named_key = metadata.public_key if metadata else None
    keys = [
        AffectedKey(access_key_id=key_id, user_name=owner if (key_id == named_key or len(key_ids) == 1) else None)
        for key_id in key_ids
    ]
    fields = _health_fields(parsed, [("detail.eventMetadata.accountId", metadata.account_id if metadata else None)])
    page, total_pages = _page(detail.page, "detail.page"), _page(detail.total_pages, "detail.totalPages")
    incident_id = essentials.health_incident_id(
        fields["account"],
        key_ids,
        communication_id=detail.communication_id,
        event_arn=detail.event_arn,
        page=page,
        total_pages=total_pages,
    )
    return Intake(
        status=IntakeStatus.ACCEPTED,
        reason=f"{detail.event_type_code}: {len(keys)} exposed access key(s)",
        incident=Incident(
            **fields,
            incident_id=incident_id,
            kind=Kind.EXPOSED_ACCESS_KEY,
            affected_keys=keys,
            page=page,
            total_pages=total_pages,
            exposed_url=metadata.exposed_url if metadata else None,
        ),
    )


def _console_compromise(parsed: HealthEvent) -> Intake:
    """Console credentials (usually the root user's): no key, nothing the responder may change.
    Accepted, so that the report runs and fails loudly with the root-account steps."""
    detail = parsed.detail
    fields = _health_fields(parsed, [])
    if detail.communication_id is not None and not _TOKEN.match(detail.communication_id):
        raise _Invalid("detail.communicationId", "a Health communication id", detail.communication_id)
    if detail.event_arn is not None and not _HEALTH_EVENT_ARN.match(detail.event_arn):
        raise _Invalid("detail.eventArn", "a Health event ARN", detail.event_arn)
    if not _TOKEN.match(parsed.id):
        raise _Invalid("id", "an EventBridge event id", parsed.id)
    dedupe = detail.communication_id or detail.event_arn or parsed.id
    return Intake(
        status=IntakeStatus.ACCEPTED,
        reason=f"{detail.event_type_code}: the account's console credentials are compromised",
        incident=Incident(**fields, incident_id=f"{fields['account']}:health:{dedupe}", kind=Kind.CONSOLE_COMPROMISE),
    )


def _health_fields(parsed: HealthEvent, other_accounts: list[tuple[str, str | None]]) -> dict[str, Any]:
    """What every Health incident carries, read and validated the same way whatever its code."""
    detail = parsed.detail
    account, delivered_to, conflict = _accounts(
        parsed.account, [("detail.affectedAccount", detail.affected_account), *other_accounts]
    )
    return {
        "source": "aws.health",
        "event_type": str(detail.event_type_code),
        "event_id": parsed.id,
        "event_arn": detail.event_arn,
        "account": account,
        "delivered_to": delivered_to,
        "account_conflict": conflict,
        "region": _region(parsed.region, "region"),
        "detected_at": iso(parsed.time),
        "first_seen": _rfc1123_to_iso(detail.start_time),
        "communication_id": detail.communication_id,
    }


def _normalize_guardduty(
    event: dict[str, Any],
    *,
    accept_samples: bool,
    affiliated_inside_aws: str,
    max_actors: int,
    isolate_groups: bool = False,
) -> Intake:
    try:
        parsed = GuardDutyEvent.model_validate(event)
    except ValidationError as exc:
        return _ignored(f"malformed-event: GuardDuty event does not parse ({_first_error(exc)})")
    finding = parsed.detail
    if parsed.detail_type != "GuardDuty Finding":
        return _ignored(f"unsupported-detail-type: {_safe(parsed.detail_type)}")
    if finding.type not in EXFILTRATION_FINDING_TYPES | ATTACK_SEQUENCE_TYPES | INSTANCE_GROUP_SEQUENCE_TYPES:
        return _ignored(f"unsupported-finding-type: {_finding_type(finding.type)} is not one the responder answers")
    service = finding.service
    sample = bool(service and service.additional_info and service.additional_info.get("sample") is True)
    if sample and not accept_samples:
        return _ignored(
            "sample-finding: GuardDuty sample findings carry placeholder ids (service.additionalInfo.sample)"
        )
    if service and service.archived:
        return _ignored("archived-finding: the finding was archived in GuardDuty")
    if finding.type in ATTACK_SEQUENCE_TYPES:
        return _attack_sequence_incident(parsed, finding, sample=sample, max_actors=max_actors)
    if finding.type in INSTANCE_GROUP_SEQUENCE_TYPES:
        return _instance_group_incident(parsed, finding, sample=sample, isolate_groups=isolate_groups)
    intake = _exfiltration_incident(parsed, finding, sample=sample)
    if intake.incident is not None:
        intake.incident = _affiliated(intake.incident, affiliated_inside_aws)
    return intake


def _finding_fields(parsed: GuardDutyEvent, finding: Finding, *, sample: bool) -> dict[str, Any]:
    """What every GuardDuty incident carries, read and validated the same way whatever its type."""
    if not _TOKEN.match(finding.id):
        raise _Invalid("detail.id", "a GuardDuty finding id", finding.id)
    account, delivered_to, conflict = _accounts(parsed.account, [("detail.accountId", finding.account_id)])
    service = finding.service
    return {
        "incident_id": f"{account}:guardduty:{finding.id}",
        "source": "aws.guardduty",
        "event_type": finding.type,
        "event_id": parsed.id,
        "event_arn": finding.arn,
        "account": account,
        "delivered_to": delivered_to,
        "account_conflict": conflict,
        # The envelope region is where EventBridge delivered it, which is the finding's region even
        # after cross-region forwarding; detail.region disagrees in real data.
        "region": _region(parsed.region, "region"),
        "detected_at": iso(parsed.time),
        "first_seen": service.event_first_seen if service else None,
        "finding_id": finding.id,
        "severity": finding.severity,
        "updated_at": finding.updated_at,
        "last_seen": service.event_last_seen if service else None,
        "count": service.count if service else None,
        "sample": sample,
    }


def _signal_findings(finding: Finding) -> list[str]:
    """The findings an attack sequence is built on (signals[] of type FINDING, uid = finding id)."""
    service = finding.service
    sequence = service.detection.sequence if service and service.detection else None
    uids = [
        signal.uid
        for signal in (sequence.signals or [] if sequence else [])
        if signal.type == "FINDING" and isinstance(signal.uid, str) and _TOKEN.match(signal.uid)
    ]
    return [uid for uid in list(dict.fromkeys(uids)) if uid != finding.id][:MAX_RELATED_FINDINGS]


def _associated_sequence(finding: Finding) -> list[str]:
    """An ordinary finding that GuardDuty tied to an attack sequence names it by ARN."""
    matched = _FINDING_ARN.match(finding.associated_attack_sequence_arn or "")
    return [matched.group(1)] if matched else []


INSIDE_AWS = essentials.INSIDE_AWS


def _affiliated(incident: Incident, setting: str) -> Incident:
    """`...InsideAWS` from an account of the same organization: GuardDuty rates it Medium (it may
    be the organization's own tooling); `affiliatedInsideAws` says whether it is contained."""
    remote = incident.remote
    if incident.event_type != INSIDE_AWS or remote is None or remote.affiliated is not True:
        return incident
    caller = f"account {remote.account_id}" if remote.account_id else "an account"
    why = f"the credentials were used from {caller} of the same organization (remoteAccountDetails.affiliated)"
    if setting == "notify":
        return incident.model_copy(
            update={
                "report_only": f"affiliatedInsideAws=notify: {why}; reported only, nothing changed",
                "decision": f"affiliatedInsideAws=notify: {why}, so the response only reports",
            }
        )
    # Anything but "notify" (infra/config.py validates the value) contains: the safe side.
    return incident.model_copy(
        update={"decision": f"affiliatedInsideAws=contain: {why}; contained as any stolen instance credentials"}
    )


def _exfiltration_incident(parsed: GuardDutyEvent, finding: Finding, *, sample: bool) -> Intake:
    resource = finding.resource
    key_details = resource.access_key_details if resource else None
    instance = resource.instance_details if resource else None
    role_name = None
    if key_details and key_details.user_type == "AssumedRole" and key_details.user_name:
        role_name = key_details.user_name
        if not _IAM_NAME.match(role_name):
            raise _Invalid("detail.resource.accessKeyDetails.userName", "an IAM role name", role_name)
    instance_id = instance.instance_id if instance and instance.instance_id else None
    if instance_id and not _INSTANCE_ID.match(instance_id):
        raise _Invalid("detail.resource.instanceDetails.instanceId", "an EC2 instance id", instance_id)
    if not role_name and not instance_id:
        return _ignored("no-principal: the finding names neither the role nor the instance")
    common = _finding_fields(parsed, finding, sample=sample)
    keys = []
    if key_details and key_details.access_key_id:
        pattern = _SAMPLE_ACCESS_KEY_ID if sample else _ACCESS_KEY_ID
        if not pattern.match(key_details.access_key_id):
            raise _Invalid(
                "detail.resource.accessKeyDetails.accessKeyId",
                "an access key id (ASIA + 16)",
                key_details.access_key_id,
            )
        keys.append(AffectedKey(access_key_id=key_details.access_key_id, user_name=None))
    return Intake(
        status=IntakeStatus.ACCEPTED,
        reason=f"{finding.type}: credentials of instance {instance_id or '?'} used elsewhere",
        incident=Incident(
            **common,
            kind=Kind.INSTANCE_CREDENTIAL_EXFILTRATION,
            affected_keys=keys,
            role_name=role_name,
            principal_id=key_details.principal_id if key_details else None,
            instance_id=instance_id,
            instance_profile_arn=(
                instance.iam_instance_profile.arn if instance and instance.iam_instance_profile else None
            ),
            network_interfaces=[
                NetworkInterface(
                    network_interface_id=eni.network_interface_id,
                    vpc_id=eni.vpc_id,
                    subnet_id=eni.subnet_id,
                    security_group_ids=[sg.group_id for sg in eni.security_groups or [] if sg.group_id],
                    public_ip=eni.public_ip,
                    private_ip=eni.private_ip_address,
                )
                for eni in (instance.network_interfaces or [] if instance else [])
                if eni.network_interface_id
            ],
            remote=_remote_caller(finding),
            related_finding_ids=_associated_sequence(finding),
        ),
    )


class _Principal(NamedTuple):
    kind: str  # "key" (an IAM user's long-term key) or "role" (an assumed-role session)
    name: str  # the user or role name
    key_id: str | None
    principal_id: str | None
    where: str  # the structured field it was read from


def _attack_sequence_incident(parsed: GuardDutyEvent, finding: Finding, *, sample: bool, max_actors: int) -> Intake:
    """The principals of an attack sequence, from service.detection.sequence only: actors[].user
    (type, name, uid, credentialUid, account) and resources[] of type ACCESS_KEY. Never from the
    title or description (free text: the published body names another account there).

    Keys of IAM users become an exposed-key incident (ContainKey verifies each owner with IAM); one
    assumed role becomes a role-session revoke. What cannot be resolved (no structured principal,
    another account, root, another type, a second role, or roles mixed with keys) is named in
    `unresolved` and reported as a failed containment step with the manual route."""
    common = _finding_fields(parsed, finding, sample=sample)
    account = common["account"]
    service = finding.service
    sequence = service.detection.sequence if service and service.detection else None
    principals: dict[tuple[str, str, str | None], _Principal] = {}
    unresolved: list[str] = []
    key_pattern = _SAMPLE_ACCESS_KEY_ID if sample else _ACCESS_KEY_ID

    def add(principal: _Principal) -> None:
        # Several keys of one user are several credentials: a key is known by its id, and a principal named
        # without one is only its placeholder until a key of the same user turns up.
        if principal.kind == "key" and principal.key_id:
            principals.pop((principal.kind, principal.name, None), None)
            principals[(principal.kind, principal.name, principal.key_id)] = principal
            return
        if principal.kind == "key" and any(k[0] == "key" and k[1] == principal.name for k in principals):
            return
        principals.setdefault((principal.kind, principal.name, None), principal)

    for index, actor in enumerate(sequence.actors or [] if sequence else []):
        where = f"service.detection.sequence.actors[{index}].user"
        user = actor.user
        if user is None or not user.type:
            unresolved.append(f"{where}: no user type")
            continue
        other = user.account.uid if user.account else None
        if other and other != account:
            unresolved.append(f"{where}: {_safe(user.name)} is in account {_safe(other)}, not {account}")
            continue
        if user.type == "Root":
            unresolved.append(f"{where}: the root user (never acted on: secure it by hand)")
            continue
        if not user.name or not _IAM_NAME.match(user.name):
            unresolved.append(f"{where}.name: {_safe(user.name)} is not an IAM name")
            continue
        credential = user.credential_uid if user.credential_uid and key_pattern.match(user.credential_uid) else None
        if user.type == "IAMUser":
            if credential and credential.startswith("ASIA"):
                # A user's temporary credentials (GetSessionToken): ContainKey resolves their owner
                # too, but only the user's long-term keys can be deactivated; say so.
                unresolved.append(f"{where}: user {user.name} used temporary credentials {credential}")
                continue
            add(_Principal("key", user.name, credential, user.uid, where))
        elif user.type == "AssumedRole":
            add(_Principal("role", user.name, credential, user.uid, where))
        else:
            unresolved.append(f"{where}: principal type {_safe(user.type)} is not contained automatically")
    for index, resource in enumerate(sequence.resources or [] if sequence else []):
        if resource.resource_type != "ACCESS_KEY":
            continue
        where = f"service.detection.sequence.resources[{index}]"
        data = resource.data.access_key if resource.data else None
        key_id = next((v for v in (resource.uid, resource.name) if v and key_pattern.match(v)), None)
        if resource.account_id and resource.account_id != account:
            unresolved.append(f"{where}: an access key in account {_safe(resource.account_id)}, not {account}")
            continue
        if data is None or not data.user_name or not _IAM_NAME.match(data.user_name):
            if key_id:
                add(_Principal("key", f"owner-of-{key_id}", key_id, None, where))  # IAM names the owner
            continue
        if data.user_type == "IAMUser" and (key_id is None or key_id.startswith("AKIA")):
            add(_Principal("key", data.user_name, key_id, data.principal_id, where))
        elif data.user_type == "AssumedRole":
            add(_Principal("role", data.user_name, key_id, data.principal_id, where))
        elif data.user_type == "Root":
            unresolved.append(f"{where}: the root user's key (never acted on: secure it by hand)")
    keys = [p for p in principals.values() if p.kind == "key"]
    roles = [p for p in principals.values() if p.kind == "role"]
    for principal in keys:
        if principal.key_id is None:
            unresolved.append(f"{principal.where}: IAM user {principal.name} is named, but no access key id")
    keys = [p for p in keys if p.key_id]
    if roles and keys:
        # The keys are the first task's; the roles are contained beside them (the workflow's ContainRoles, from
        # record.principals' deferred roles), unless an earlier response of the same attack contained them.
        unresolved += [f"{p.where}: role {p.name} (keys contained first; revoke its sessions by hand)" for p in roles]
        roles = []
    if len(roles) > 1:
        extra = roles[1:]
        unresolved += [f"{p.where}: role {p.name} (one role per response; revoke its sessions by hand)" for p in extra]
        roles = roles[:1]
    contained = len(keys) + len(roles)
    report_only = None
    if not contained:
        report_only = "the attack sequence names no principal that can be contained automatically" + (
            "" if sequence and (sequence.actors or sequence.resources) else " (no service.detection.sequence actors)"
        )
    elif contained + len(unresolved) > max_actors:
        report_only = (
            f"attackSequenceMaxActors={max_actors}: the sequence names {contained + len(unresolved)} principals; "
            "a sequence with more is only reported"
        )
    names = ", ".join([f"user {p.name} key {p.key_id}" for p in keys] + [f"role {p.name}" for p in roles])
    decision = f"attack sequence: {names or 'no principal'} from service.detection.sequence" + (
        f"; {report_only}" if report_only else ""
    )
    role = roles[0] if roles else None
    kind = Kind.INSTANCE_CREDENTIAL_EXFILTRATION if role else Kind.EXPOSED_ACCESS_KEY
    if not role and not keys:
        kind = Kind.ATTACK_SEQUENCE
    return Intake(
        status=IntakeStatus.ACCEPTED,
        reason=f"{finding.type}: {contained} principal(s) to contain, {len(unresolved)} not resolved",
        incident=Incident(
            **common,
            kind=kind,
            affected_keys=[AffectedKey(access_key_id=str(p.key_id), user_name=_user_name(p.name)) for p in keys]
            if not role
            else ([AffectedKey(access_key_id=role.key_id)] if role.key_id else []),
            role_name=role.name if role else None,
            principal_id=role.principal_id if role else None,
            report_only=report_only,
            decision=decision,
            unresolved=unresolved,
            attacker_ips=[
                endpoint.ip
                for endpoint in (sequence.endpoints or [] if sequence else [])[:MAX_RELATED_FINDINGS]
                if endpoint.ip and _IP.match(endpoint.ip)
            ],
            attack_sequence_uid=_text(sequence.uid) if sequence else None,
            related_finding_ids=_signal_findings(finding),
        ),
    )


_GROUP_RESOURCES = {
    "IAM_INSTANCE_PROFILE": ("iam_instance_profile", "iamInstanceProfile"),
    "AUTOSCALING_AUTO_SCALING_GROUP": ("autoscaling_auto_scaling_group", "autoscalingAutoScalingGroup"),
}


def _instance_group_incident(parsed: GuardDutyEvent, finding: Finding, *, sample: bool, isolate_groups: bool) -> Intake:
    """AttackSequence:EC2/CompromisedInstanceGroup, from service.detection.sequence only: the
    group's instances (resources[] of type IAM_INSTANCE_PROFILE / AUTOSCALING_AUTO_SCALING_GROUP,
    data.*.ec2InstanceUids; EC2_INSTANCE resources whose uid is an instance id) and the shared role
    (actors[].user of type AssumedRole, ACCESS_KEY resources of an AssumedRole).

    The role's sessions are revoked only when a signal is instance-credential misuse (a FINDING
    signal of an InstanceCredentialExfiltration type): otherwise there is no credential to act on
    and the sequence is only reported. The instances are imaged, cut off and isolated only with
    isolateInstanceGroups (a whole group is a bigger blast radius than one instance) and at most
    MAX_GROUP_ISOLATION of them; otherwise the report lists each with the commands."""
    common = _finding_fields(parsed, finding, sample=sample)
    account = common["account"]
    service = finding.service
    sequence = service.detection.sequence if service and service.detection else None
    instances: list[str] = []
    roles: dict[str, tuple[str | None, str]] = {}  # name -> (principal id, where)
    unresolved: list[str] = []
    profile_arn = None
    for index, resource in enumerate(sequence.resources or [] if sequence else []):
        where = f"service.detection.sequence.resources[{index}]"
        kind = resource.resource_type
        if kind not in _GROUP_RESOURCES and kind not in ("EC2_INSTANCE", "ACCESS_KEY"):
            continue
        if resource.account_id and resource.account_id != account:
            unresolved.append(f"{where}: a {kind} in account {_safe(resource.account_id)}, not {account}")
            continue
        if kind == "ACCESS_KEY":
            data = resource.data.access_key if resource.data else None
            if data and data.user_type == "AssumedRole" and data.user_name and _IAM_NAME.match(data.user_name):
                roles.setdefault(data.user_name, (data.principal_id, where))
            continue
        if kind == "EC2_INSTANCE":
            # Whether uid is the instance id is not documented: taken only when it is one.
            if resource.uid and _INSTANCE_ID.match(resource.uid):
                instances.append(resource.uid)
            continue
        attribute, json_name = _GROUP_RESOURCES[kind]
        group = getattr(resource.data, attribute, None) if resource.data else None
        for position, uid in enumerate(group.ec2_instance_uids or [] if group else []):
            if not isinstance(uid, str) or not _INSTANCE_ID.match(uid):
                raise _Invalid(f"{where}.data.{json_name}.ec2InstanceUids[{position}]", "an EC2 instance id", uid)
            instances.append(uid)
        if kind == "IAM_INSTANCE_PROFILE" and resource.uid and _INSTANCE_PROFILE_ARN.match(resource.uid):
            profile_arn = resource.uid
    for index, actor in enumerate(sequence.actors or [] if sequence else []):
        where = f"service.detection.sequence.actors[{index}].user"
        user = actor.user
        if user is None or user.type != "AssumedRole":
            continue
        other = user.account.uid if user.account else None
        if other and other != account:
            unresolved.append(f"{where}: {_safe(user.name)} is in account {_safe(other)}, not {account}")
        elif user.name and _IAM_NAME.match(user.name):
            roles.setdefault(user.name, (user.uid, where))
        else:
            unresolved.append(f"{where}.name: {_safe(user.name)} is not an IAM name")
    instances = list(dict.fromkeys(instances))
    misuse = [
        signal.name
        for signal in (sequence.signals or [] if sequence else [])
        if signal.type == "FINDING" and signal.name in EXFILTRATION_FINDING_TYPES
    ]
    named = list(roles)
    role = named[0] if named and misuse else None
    unresolved += (
        [
            f"{where}: role {name} (one shared role per response; revoke its sessions by hand)"
            for name, (_, where) in list(roles.items())[1:]
        ]
        if misuse
        else []
    )
    report_only = None
    if not misuse:
        report_only = (
            "the sequence's signals include no instance-credential misuse (no InstanceCredentialExfiltration "
            "finding signal): no credential to revoke; the group's instances are listed"
        )
    elif role is None:
        unresolved.append(
            "service.detection.sequence.actors: no assumed role named (the group's instance-profile role "
            "must be found and its sessions revoked by hand)"
        )
    group = f"{len(instances)} instance(s) ({', '.join(instances) or 'none named'})"
    isolate = bool(isolate_groups and role and instances and len(instances) <= MAX_GROUP_ISOLATION)
    if isolate:
        handling = "isolateInstanceGroups=true: each instance is imaged, cut off and isolated"
    elif isolate_groups and len(instances) > MAX_GROUP_ISOLATION:
        handling = (
            f"isolateInstanceGroups=true, but the group has more than {MAX_GROUP_ISOLATION} instances: they are not "
            "imaged or isolated, the report lists the commands"
        )
    else:
        handling = (
            f"isolateInstanceGroups={'true' if isolate_groups else 'false'}: the instances are not imaged or "
            "isolated, the report lists the commands"
        )
    decision = (
        f"instance group: {group}; "
        + (f"shared role {role}'s sessions revoked" if role else "no shared role revoked")
        + f"; {handling}"
    )
    return Intake(
        status=IntakeStatus.ACCEPTED,
        reason=f"{finding.type}: {group}, role {role or 'none'}",
        incident=Incident(
            **common,
            kind=Kind.INSTANCE_CREDENTIAL_EXFILTRATION if role else Kind.ATTACK_SEQUENCE,
            role_name=role,
            principal_id=roles[role][0] if role else None,
            # Informational: the revoke is the role's; no single instance is the incident's.
            instance_profile_arn=profile_arn,
            report_only=report_only,
            decision=decision,
            unresolved=unresolved,
            attacker_ips=[
                endpoint.ip
                for endpoint in (sequence.endpoints or [] if sequence else [])[:MAX_RELATED_FINDINGS]
                if endpoint.ip and _IP.match(endpoint.ip)
            ],
            attack_sequence_uid=_text(sequence.uid) if sequence else None,
            related_finding_ids=_signal_findings(finding),
            group_instance_ids=instances,
            isolate_group=isolate,
        ),
    )


def _user_name(name: str) -> str | None:
    return None if name.startswith("owner-of-") else name


def _remote_caller(finding: Finding) -> RemoteCaller | None:
    action = finding.service.action if finding.service else None
    call = action.aws_api_call_action if action else None
    if not call:
        return None
    ip = call.remote_ip_details
    remote_account = call.remote_account_details
    return RemoteCaller(
        ip=ip.ip_address_v4 if ip else None,
        country=_text((ip.country or {}).get("countryName")) if ip else None,
        organization=_text((ip.organization or {}).get("asnOrg")) if ip else None,
        account_id=remote_account.account_id if remote_account else None,
        affiliated=remote_account.affiliated if remote_account else None,
    )


def _rfc1123_to_iso(value: str | None) -> str | None:
    """Health's detail.*Time fields are RFC 1123 ('Wed, 12 Feb 2025 00:37:54 GMT'), not ISO."""
    if not value:
        return None
    try:
        return iso(parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError):
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    location = ".".join(str(part) for part in error.get("loc", ()))
    return f"{_safe(location, 80)}: {_safe(error.get('msg', 'invalid'), 80)}"
