"""What containment needs from an event, read before anything else and without pydantic.

The containing functions are the first Lambdas an execution invokes (issue "One cold start"): they
read the event's essentials here, record the incident (dedupe), make the containing call, and only
then run the full normalizer (incident.normalize, pydantic) for every other field. So that the two
can never disagree on what is contained, the normalizer takes its validation rules, account
resolution and incident ids from this module.

`health_essentials` and `exfiltration_essentials` answer only the common, unambiguous cases: an
AWS Health exposed-key event, and a GuardDuty instance-credential finding that names its role. For
everything else (a field AWS would never write, a sample or archived finding, a setting that says
"report only", no role named) they return None, and the containing function leaves the decision to
the full normalizer and the workflow's regular route. Pure and total: nothing here raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from common.times import iso
from incident import codes

# What AWS itself issues: a long-term (AKIA) or temporary (ASIA) key id, 20 characters
# (review L11: the old `\w{8,128}` was Unicode-aware and also took account ids and names).
ACCESS_KEY_ID = re.compile(r"^(AKIA|ASIA)[A-Z0-9]{16}$")
ACCOUNT_ID = re.compile(r"^\d{12}$")
# IAM's own pattern for user and role names, ASCII (IAM's \w is not Unicode's), 64 characters.
IAM_NAME = re.compile(r"^[A-Za-z0-9_+=,.@-]{1,64}$")
# Every partition's regions: us-east-1, eu-central-2, us-gov-west-1, cn-north-1, us-iso-east-1.
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")
PAGE = re.compile(r"^\d{1,4}$")
# The parts of the incident id (the record's key, shown in messages): AWS's ids are plain tokens.
TOKEN = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
HEALTH_EVENT_ARN = re.compile(r"^arn:[a-z-]+:health:[a-z0-9-]*::event/[A-Za-z0-9_./-]{1,200}$")
# What a value from the event may show of itself in a reason: nothing a channel would interpret.
_SAFE_CHARACTER = re.compile(r"[A-Za-z0-9 _.:/=+@,-]")
INSIDE_AWS = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS"


class Invalid(Exception):
    """A field holds what AWS would never put there: the event is ignored, naming the field."""

    def __init__(self, field: str, what: str, value: Any) -> None:
        super().__init__(f"invalid-field: {field} is not {what} (got {safe(value)})")


@dataclass(frozen=True)
class Essentials:
    """The incident as far as containment and the dedupe record need it (field names as Incident's)."""

    incident_id: str
    kind: str
    source: str
    event_type: str
    event_id: str
    account: str
    region: str
    detected_at: str
    delivered_to: str | None = None
    account_conflict: str | None = None
    # [{"access_key_id", "user_name"}] as Incident.affected_keys
    affected_keys: list[dict[str, str | None]] = field(default_factory=list)
    finding_id: str | None = None
    role_name: str | None = None
    instance_id: str | None = None
    instance_profile_arn: str | None = None
    count: int | None = None
    # What the record compares a repeat's activity with (record.judge).
    updated_at: str | None = None
    last_seen: str | None = None

    def as_incident(self) -> dict[str, Any]:
        """The fields as Incident.model_dump(mode="json") names them, for the record and the actions."""
        return {
            **{name: getattr(self, name) for name in self.__dataclass_fields__},
            "access_key_ids": [key["access_key_id"] for key in self.affected_keys],
            "user_names": sorted({str(key["user_name"]) for key in self.affected_keys if key["user_name"]}),
        }


def health_essentials(event: Any) -> Essentials | None:
    """An AWS Health exposed-key event's keys and accounts, or None (the full normalizer decides)."""
    try:
        return _health(event)
    except (Invalid, AttributeError, TypeError, ValueError):
        return None


def exfiltration_essentials(event: Any, *, affiliated_inside_aws: str = "contain") -> Essentials | None:
    """A GuardDuty instance-credential finding that names its role, or None (the full normalizer decides)."""
    try:
        return _exfiltration(event, affiliated_inside_aws)
    except (Invalid, AttributeError, TypeError, ValueError):
        return None


def _health(event: Any) -> Essentials | None:
    if not isinstance(event, dict) or event.get("source") != "aws.health":
        return None
    detail = event.get("detail")
    if event.get("detail-type") != "AWS Health Event" or not isinstance(detail, dict):
        return None
    code = detail.get("eventTypeCode")
    if detail.get("service") != "RISK" or code not in codes.HEALTH_KEY_CODES:
        return None
    metadata = detail.get("eventMetadata") or {}
    if not isinstance(metadata, dict):
        return None
    entities = detail.get("affectedEntities") or []
    resources = event.get("resources") or []
    if not isinstance(entities, list) or not isinstance(resources, list):
        return None
    candidates = [entity.get("entityValue") for entity in entities if isinstance(entity, dict)]
    candidates += [*resources, metadata.get("publicKey")]
    key_ids = health_key_ids(candidates, ACCESS_KEY_ID)
    if not key_ids:
        return None
    owner = _optional_text(metadata.get("userName"))
    if owner is not None and not IAM_NAME.match(owner):
        return None
    account, delivered_to, conflict = resolve_accounts(
        _text(event.get("account")),
        [
            ("detail.affectedAccount", _optional_text(detail.get("affectedAccount"))),
            ("detail.eventMetadata.accountId", _optional_text(metadata.get("accountId"))),
        ],
    )
    event_id = _text(event.get("id"))
    incident_id = health_incident_id(
        account,
        key_ids,
        communication_id=_optional_text(detail.get("communicationId")),
        event_arn=_optional_text(detail.get("eventArn")),
        page=page_number(detail.get("page"), "detail.page"),
        total_pages=page_number(detail.get("totalPages"), "detail.totalPages"),
    )
    named_key = _optional_text(metadata.get("publicKey"))
    return Essentials(
        incident_id=incident_id,
        kind="exposed-access-key",
        source="aws.health",
        event_type=code,
        event_id=event_id,
        account=account,
        delivered_to=delivered_to,
        account_conflict=conflict,
        region=region(event.get("region"), "region"),
        detected_at=iso(_parse_time(event.get("time"))),
        affected_keys=[
            {"access_key_id": key_id, "user_name": owner if (key_id == named_key or len(key_ids) == 1) else None}
            for key_id in key_ids
        ],
    )


def _exfiltration(event: Any, affiliated_inside_aws: str) -> Essentials | None:
    if not isinstance(event, dict) or event.get("source") != "aws.guardduty":
        return None
    finding = event.get("detail")
    if event.get("detail-type") != "GuardDuty Finding" or not isinstance(finding, dict):
        return None
    finding_type = finding.get("type")
    if finding_type not in codes.EXFILTRATION_FINDING_TYPES:
        return None
    if finding.get("associatedAttackSequenceArn"):
        return None  # part of an attack sequence: the normalizer's route joins the two into one incident
    service = finding.get("service") or {}
    additional = service.get("additionalInfo") or {}
    if additional.get("sample") is True or service.get("archived") is True:
        return None  # ignored, or accepted only by configuration: the full normalizer says which
    resource = finding.get("resource") or {}
    key_details = resource.get("accessKeyDetails") or {}
    instance = resource.get("instanceDetails") or {}
    role_name = _optional_text(key_details.get("userName"))
    if key_details.get("userType") != "AssumedRole" or not role_name or not IAM_NAME.match(role_name):
        return None  # the role must be found from the instance first: the regular route does that
    instance_id = _optional_text(instance.get("instanceId"))
    if instance_id is not None and not INSTANCE_ID.match(instance_id):
        return None
    finding_id = _text(finding.get("id"))
    if not TOKEN.match(finding_id):
        return None
    action = service.get("action") or {}
    call = action.get("awsApiCallAction") or {}
    remote_account = call.get("remoteAccountDetails") or {}
    if finding_type == INSIDE_AWS and remote_account.get("affiliated") is True and affiliated_inside_aws == "notify":
        return None  # configuration says report only
    account, delivered_to, conflict = resolve_accounts(
        _text(event.get("account")), [("detail.accountId", _optional_text(finding.get("accountId")))]
    )
    key_id = _optional_text(key_details.get("accessKeyId"))
    if key_id and not ACCESS_KEY_ID.match(key_id):
        return None
    count = service.get("count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
        return None  # the dedupe record compares counts: only the normalizer's reading of an odd one
    profile = instance.get("iamInstanceProfile") or {}
    return Essentials(
        incident_id=f"{account}:guardduty:{finding_id}",
        kind="instance-credential-exfiltration",
        source="aws.guardduty",
        event_type=finding_type,
        event_id=_text(event.get("id")),
        account=account,
        delivered_to=delivered_to,
        account_conflict=conflict,
        region=region(event.get("region"), "region"),
        detected_at=iso(_parse_time(event.get("time"))),
        affected_keys=[{"access_key_id": key_id, "user_name": None}] if key_id else [],
        finding_id=finding_id,
        role_name=role_name,
        instance_id=instance_id,
        instance_profile_arn=_optional_text(profile.get("arn")),
        count=count,
        # Read leniently: only a repeat's judgement uses them, never the containment of this one.
        updated_at=_lenient_text(finding.get("updatedAt")),
        last_seen=_lenient_text(service.get("eventLastSeen")),
    )


# -- shared with incident.normalize: one rule for each, whichever reads the event -------------------


def health_key_ids(candidates: list[Any], pattern: re.Pattern[str]) -> list[str]:
    return list(dict.fromkeys(c for c in candidates if isinstance(c, str) and c and pattern.match(c)))


def health_incident_id(
    account: str,
    key_ids: list[str],
    *,
    communication_id: str | None,
    event_arn: str | None,
    page: int | None,
    total_pages: int | None,
) -> str:
    if communication_id is not None and not TOKEN.match(communication_id):
        raise Invalid("detail.communicationId", "a Health communication id", communication_id)
    if event_arn is not None and not HEALTH_EVENT_ARN.match(event_arn):
        raise Invalid("detail.eventArn", "a Health event ARN", event_arn)
    dedupe = communication_id or f"{event_arn}:{','.join(sorted(key_ids))}"
    if (total_pages or 1) > 1 or (page or 1) > 1:
        # Each page is its own delivery with its own keys; backup-region copies of one page still
        # carry the same communicationId and page, so they still collapse into one incident.
        dedupe += f":page-{page or 1}"
    return f"{account}:health:{dedupe}"


def resolve_accounts(envelope: str, detail: list[tuple[str, str | None]]) -> tuple[str, str | None, str | None]:
    """The credential's account, the account the event was delivered to, and any disagreement.

    The detail's fields name the account the credential is in (organizational view and delegated
    administrators deliver members' events to another account) and win over the envelope. Values
    that are not account ids (the 2025 sample holds a key id in affectedAccount) are not accounts
    and take no part."""
    if not ACCOUNT_ID.match(envelope):
        # EventBridge itself sets the envelope's account: anything else was made by hand.
        raise Invalid("account", "a 12-digit account id", envelope)
    named = [(field, value) for field, value in detail if value and ACCOUNT_ID.match(value)]
    account = named[0][1] if named else envelope
    disagreeing = sorted({f"{field} {value}" for field, value in [*named, ("account", envelope)] if value != account})
    conflict = f"{named[0][0]} names account {account}, but " + ", ".join(disagreeing) if disagreeing else None
    return str(account), envelope if envelope != account else None, conflict


def region(value: Any, field: str) -> str:
    if not isinstance(value, str) or not REGION.match(value):
        raise Invalid(field, "an AWS region", value)
    return value


def page_number(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if not PAGE.match(str(value)):
        raise Invalid(field, "a page number", value)
    return int(value)


def safe(value: Any, limit: int = 40) -> str:
    """A value from the event as a reason may show it: quoted, every character a channel could
    read as markup, a command or a line break shown as '?', truncated."""
    text = value if isinstance(value, str) else repr(value)
    shown = "".join(ch if _SAFE_CHARACTER.fullmatch(ch) else "?" for ch in text[:limit])
    return f"'{shown}'" + ("…" if len(text) > limit else "")


def _parse_time(value: Any) -> datetime:
    return datetime.fromisoformat(_text(value).replace("Z", "+00:00"))


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _lenient_text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _optional_text(value: Any) -> str | None:
    if value is None:
        return None
    return _text(value)
