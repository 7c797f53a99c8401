"""Turn one EventBridge event into an Intake: an Incident to act on, or a named reason not to.

Pure and total: any input (wrong types, missing fields, foreign events) yields an Intake;
nothing here raises. Supported:
- AWS Health `AWS_RISK_CREDENTIALS_*` / `AWS_RISK_IAM_QUARANTINE` (service RISK): exposed keys.
- GuardDuty `UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration[.OutsideAWS|.InsideAWS]`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from pydantic import ValidationError

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

HEALTH_CREDENTIAL_CODES = frozenset(
    {
        "AWS_RISK_CREDENTIALS_EXPOSED",
        "AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED",
        "AWS_RISK_CREDENTIALS_COMPROMISED",
        "AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED",
        "AWS_RISK_IAM_QUARANTINE",
    }
)
EXFILTRATION_FINDING_TYPES = frozenset(
    {
        "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
        "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS",
        # The name before the 2021 split; older detectors and replays still carry it.
        "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration",
    }
)
# IAM's own constraint on access key ids is [\w]+, 16-128 chars; sanitised public samples are
# shorter, so accept word characters only (that rules out instance ids, ARNs and prose).
_ACCESS_KEY_ID = re.compile(r"^\w{8,128}$")
_ACCOUNT_ID = re.compile(r"^\d{1,12}$")


def _ignored(reason: str) -> Intake:
    return Intake(status=IntakeStatus.IGNORED, reason=reason)


def normalize(event: Any, *, accept_samples: bool = False) -> Intake:
    if not isinstance(event, dict):
        return _ignored(f"malformed-event: expected a JSON object, got {type(event).__name__}")
    source = event.get("source")
    if source == "aws.health":
        return _normalize_health(event)
    if source == "aws.guardduty":
        return _normalize_guardduty(event, accept_samples=accept_samples)
    if "source" not in event and "detail" not in event and "type" in event and "service" in event:
        return _ignored("not-an-event-envelope: a bare GuardDuty finding body; EventBridge always wraps findings")
    return _ignored(f"unsupported-source: {_short(source)} is neither aws.health nor aws.guardduty")


def _normalize_health(event: dict[str, Any]) -> Intake:
    try:
        parsed = HealthEvent.model_validate(event)
    except ValidationError as exc:
        return _ignored(f"malformed-event: AWS Health event does not parse ({_first_error(exc)})")
    detail = parsed.detail
    if parsed.detail_type != "AWS Health Event":
        return _ignored(f"unsupported-detail-type: {_short(parsed.detail_type)}")
    if detail.service != "RISK" or detail.event_type_code not in HEALTH_CREDENTIAL_CODES:
        return _ignored(
            f"not-a-credential-event: Health {_short(detail.service)}/{_short(detail.event_type_code)} "
            "is not an exposed-credential risk event"
        )
    metadata = detail.event_metadata
    candidates = [entity.entity_value for entity in detail.affected_entities or []]
    candidates += list(parsed.resources or [])
    if metadata and metadata.public_key:
        candidates.append(metadata.public_key)
    key_ids = _unique(candidate for candidate in candidates if candidate and _ACCESS_KEY_ID.match(candidate))
    if not key_ids:
        return _ignored("no-access-key: the event names no access key id (affectedEntities, resources, eventMetadata)")
    # eventMetadata.userName names the owner of publicKey; other keys get resolved by IAM later.
    owner = metadata.user_name if metadata and metadata.user_name else None
    named_key = metadata.public_key if metadata else None
    keys = [
        AffectedKey(access_key_id=key_id, user_name=owner if (key_id == named_key or len(key_ids) == 1) else None)
        for key_id in key_ids
    ]
    account = parsed.account if _ACCOUNT_ID.match(parsed.account) else (metadata.account_id if metadata else None)
    if not account:
        return _ignored("malformed-event: no account id")
    dedupe = detail.communication_id or f"{detail.event_arn}:{','.join(sorted(key_ids))}"
    return Intake(
        status=IntakeStatus.ACCEPTED,
        reason=f"{detail.event_type_code}: {len(keys)} exposed access key(s)",
        incident=Incident(
            incident_id=f"{account}:health:{dedupe}",
            kind=Kind.EXPOSED_ACCESS_KEY,
            source="aws.health",
            event_type=detail.event_type_code,
            event_id=parsed.id,
            event_arn=detail.event_arn,
            account=account,
            region=parsed.region,
            detected_at=_iso(parsed.time),
            first_seen=_rfc1123_to_iso(detail.start_time),
            affected_keys=keys,
            communication_id=detail.communication_id,
            exposed_url=metadata.exposed_url if metadata else None,
        ),
    )


def _normalize_guardduty(event: dict[str, Any], *, accept_samples: bool) -> Intake:
    try:
        parsed = GuardDutyEvent.model_validate(event)
    except ValidationError as exc:
        return _ignored(f"malformed-event: GuardDuty event does not parse ({_first_error(exc)})")
    finding = parsed.detail
    if parsed.detail_type != "GuardDuty Finding":
        return _ignored(f"unsupported-detail-type: {_short(parsed.detail_type)}")
    if finding.type not in EXFILTRATION_FINDING_TYPES:
        return _ignored(f"unsupported-finding-type: {_short(finding.type)} is not instance credential exfiltration")
    service = finding.service
    if service and service.additional_info and service.additional_info.get("sample") is True and not accept_samples:
        return _ignored(
            "sample-finding: GuardDuty sample findings carry placeholder ids (service.additionalInfo.sample)"
        )
    if service and service.archived:
        return _ignored("archived-finding: the finding was archived in GuardDuty")
    return _exfiltration_incident(parsed, finding)


def _exfiltration_incident(parsed: GuardDutyEvent, finding: Finding) -> Intake:
    resource = finding.resource
    key_details = resource.access_key_details if resource else None
    instance = resource.instance_details if resource else None
    role_name = None
    if key_details and key_details.user_type == "AssumedRole" and key_details.user_name:
        role_name = key_details.user_name
    instance_id = instance.instance_id if instance and instance.instance_id else None
    if not role_name and not instance_id:
        return _ignored("no-principal: the finding names neither the role nor the instance")
    account = finding.account_id or parsed.account
    service = finding.service
    keys = []
    if key_details and key_details.access_key_id and _ACCESS_KEY_ID.match(key_details.access_key_id):
        keys.append(AffectedKey(access_key_id=key_details.access_key_id, user_name=None))
    return Intake(
        status=IntakeStatus.ACCEPTED,
        reason=f"{finding.type}: credentials of instance {instance_id or '?'} used elsewhere",
        incident=Incident(
            incident_id=f"{account}:guardduty:{finding.id}",
            kind=Kind.INSTANCE_CREDENTIAL_EXFILTRATION,
            source="aws.guardduty",
            event_type=finding.type,
            event_id=parsed.id,
            event_arn=finding.arn,
            account=account,
            # The envelope region is where EventBridge delivered it, which is the finding's
            # region even after cross-region forwarding; detail.region disagrees in real data.
            region=parsed.region,
            detected_at=_iso(parsed.time),
            first_seen=service.event_first_seen if service else None,
            affected_keys=keys,
            finding_id=finding.id,
            severity=finding.severity,
            updated_at=finding.updated_at,
            count=service.count if service else None,
            sample=bool(service and service.additional_info and service.additional_info.get("sample") is True),
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
        ),
    )


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


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rfc1123_to_iso(value: str | None) -> str | None:
    """Health's detail.*Time fields are RFC 1123 ('Wed, 12 Feb 2025 00:37:54 GMT'), not ISO."""
    if not value:
        return None
    try:
        return _iso(parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError):
        return None


def _unique(values: Any) -> list[str]:
    return list(dict.fromkeys(values))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit] + "…"


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    location = ".".join(str(part) for part in error.get("loc", ()))
    return _short(f"{location}: {error.get('msg', 'invalid')}")
