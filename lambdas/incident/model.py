"""The one incident model: what every step after normalization works from.

Normalization (incident.normalize) turns a supported AWS Health or GuardDuty event into an
Incident; everything unsupported becomes an Intake with status "ignored" and a named reason.
Later states receive `Incident.model_dump(mode="json")` (or a slice of it).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, computed_field


class Kind(StrEnum):
    EXPOSED_ACCESS_KEY = "exposed-access-key"
    INSTANCE_CREDENTIAL_EXFILTRATION = "instance-credential-exfiltration"
    # AWS Health AWS_RISK_ACCOUNT_CONSOLE_COMPROMISE: nothing to act on, reported as failed with
    # the root-account steps (report/outcome.py).
    CONSOLE_COMPROMISE = "console-compromise"
    # A GuardDuty attack sequence that names no principal the responder can contain.
    ATTACK_SEQUENCE = "attack-sequence"


class IntakeStatus(StrEnum):
    ACCEPTED = "accepted"
    IGNORED = "ignored"
    DUPLICATE = "duplicate"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class AffectedKey(_Frozen):
    access_key_id: str
    user_name: str | None = None


class NetworkInterface(_Frozen):
    network_interface_id: str
    vpc_id: str | None = None
    subnet_id: str | None = None
    security_group_ids: list[str] = Field(default_factory=list)
    public_ip: str | None = None
    private_ip: str | None = None


class RemoteCaller(_Frozen):
    ip: str | None = None
    country: str | None = None
    organization: str | None = None
    account_id: str | None = None
    affiliated: bool | None = None


class JoinedIncident(_Frozen):
    """The earlier incident a later finding of the same attack joined (its record keeps both)."""

    incident_id: str
    finding_id: str | None = None
    event_type: str | None = None
    status: str | None = None
    first_received_at: str | None = None
    # Principals an earlier response of that incident contained, with no activity after its
    # cut-off, as "role NAME" / "key AKIA...": reported as already contained, not acted on again.
    already_contained: list[str] = Field(default_factory=list)
    # Where this response is recorded on the earlier record (its `responses` list).
    entry: int = 0


class KnownPrincipal(_Frozen):
    """A principal an earlier response contained, left as it is: no activity after its cut-off."""

    principal: str
    finding_id: str | None = None
    incident_id: str | None = None
    response: int | None = None
    at: str | None = None
    outcome: str | None = None


class AgainPrincipal(_Frozen):
    """A principal contained again (a new cut-off), and why: activity after the earlier cut-off,
    fresh credentials, a rising count, or an earlier response that failed."""

    principal: str
    why: str


class PendingPrincipal(_Frozen):
    """A principal a response still running contains: that response reports."""

    principal: str
    finding_id: str | None = None
    execution_arn: str | None = None
    started_at: str | None = None


class ResponseRef(_Frozen):
    """Where this execution's response is recorded (record.responses), and, for a repeat, how what
    the delivery names compared with the record: the report says it and stores the outcome there."""

    incident_id: str = Field(description="the record's incident id (an earlier incident's, when joined)")
    response: int
    kind: str = "first"
    new: list[str] = Field(default_factory=list)
    again: list[AgainPrincipal] = Field(default_factory=list)
    known: list[KnownPrincipal] = Field(default_factory=list)
    pending: list[PendingPrincipal] = Field(default_factory=list)
    summary: str | None = Field(default=None, description="what the repeat brings, for the report's reason")


class Incident(_Frozen):
    incident_id: str = Field(description="stable dedupe key: account + Health communication/event or finding id")
    kind: Kind
    source: str
    event_type: str
    event_id: str = Field(description="the EventBridge envelope id")
    event_arn: str | None = None
    account: str = Field(description="the account of the credential: where to act")
    delivered_to: str | None = Field(
        default=None, description="the account the event was delivered to (envelope), when it differs from `account`"
    )
    account_conflict: str | None = Field(
        default=None, description="set when the event's account fields disagree: nothing may be changed"
    )
    region: str = Field(description="where to act: the finding's region; the delivery region for Health")
    detected_at: str = Field(description="ISO-8601 time AWS emitted the event")
    first_seen: str | None = Field(default=None, description="ISO-8601 start of the activity, when known")
    affected_keys: list[AffectedKey] = Field(default_factory=list)
    # AWS Health
    communication_id: str | None = None
    page: int | None = None
    total_pages: int | None = None
    exposed_url: str | None = None
    # GuardDuty
    finding_id: str | None = None
    severity: float | None = None
    updated_at: str | None = None
    last_seen: str | None = Field(default=None, description="GuardDuty's eventLastSeen: the latest activity")
    count: int | None = None
    sample: bool = False
    role_name: str | None = None
    principal_id: str | None = None
    instance_id: str | None = None
    instance_profile_arn: str | None = None
    network_interfaces: list[NetworkInterface] = Field(default_factory=list)
    remote: RemoteCaller | None = None
    # Set when configuration says this incident is only reported: the workflow routes it straight
    # to the report, which gives the reason as a skipped containment step (outcome failed).
    report_only: str | None = None
    # Which configured policy applied to this incident, and why (shown in the report).
    decision: str | None = None
    # Attack sequences: principals named but not contained automatically, each with the reason
    # (reported as failed containment steps with the manual route), and the sequence's uid.
    unresolved: list[str] = Field(default_factory=list)
    attack_sequence_uid: str | None = None
    # Addresses the finding names as the attacker's (an attack sequence's endpoints): attacker evidence when the
    # reach judges a call (reach.judge), beside `remote`.
    attacker_ips: list[str] = Field(default_factory=list)
    # GuardDuty findings this one belongs with (one incident per attack): an attack sequence's
    # FINDING signals (signals[].uid), or the sequence an ordinary finding names
    # (associatedAttackSequenceArn). record.store.join_earlier looks them up.
    related_finding_ids: list[str] = Field(default_factory=list)
    # Set by record.store.join_earlier when a related finding was already handled: this response is
    # recorded on that incident's record, and the report names it.
    joined: JoinedIncident | None = None
    # AttackSequence:EC2/CompromisedInstanceGroup: every instance the group names
    # (iamInstanceProfile / autoscalingAutoScalingGroup ec2InstanceUids, EC2_INSTANCE resources).
    group_instance_ids: list[str] = Field(default_factory=list)
    # isolateInstanceGroups on (and the group small enough): each instance of the group is imaged,
    # cut off and isolated (the workflow's IsolateInstanceGroup Map); off: only listed, with commands.
    isolate_group: bool = False
    # Roles an attack sequence named but did not act on (keys first) that another response of the
    # incident contained and that show activity after its cut-off: the workflow revokes their
    # sessions again (ContainRoles / RecontainRoles), set by incident.repeat.
    contain_roles: list[str] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def access_key_ids(self) -> list[str]:
        return [key.access_key_id for key in self.affected_keys]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def user_names(self) -> list[str]:
        return sorted({key.user_name for key in self.affected_keys if key.user_name})


class Intake(BaseModel):
    """The first task's output: an incident to act on, or the named reason not to."""

    status: IntakeStatus
    reason: str
    incident: Incident | None = None
    # False only for a repeat in which nothing changed: the workflow then ends without a message.
    notify: bool = True
    # Where the response is recorded (None: no record, or a repeat that brings nothing new).
    record: ResponseRef | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def roles_to_contain(self) -> bool:
        """Route's test for incident.contain_roles (a Choice cannot test a list for emptiness)."""
        return bool(self.incident and self.incident.contain_roles)
