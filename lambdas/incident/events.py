"""Pydantic shapes of the two event sources, lenient where AWS is inconsistent.

Only the fields the responder reads are modelled; everything else is allowed and ignored.
Field paths and their quirks: AWS Health (detail.affectedEntities[].entityValue, resources[],
detail.eventMetadata.publicKey/userName) and GuardDuty (detail.resource.accessKeyDetails,
detail.resource.instanceDetails, detail.service.*).

The EventBridge envelope is modelled here rather than taken from Powertools Parser: importing
Parser (its `parse` or its models package, which loads all 64 models) adds 55-120 ms to the cold
start of Normalize, the task every containment waits for (measured, see docs/benchmarks.md).
The envelope is eight documented fields; Powertools' EventBridgeModel has the same shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class EventBridgeModel(_Lenient):
    """The EventBridge envelope (as Powertools' EventBridgeModel, without its import cost)."""

    version: str | None = None
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str] = Field(default_factory=list)
    detail_type: str = Field(alias="detail-type")
    detail: Any


class HealthEntity(_Lenient):
    entity_value: str | None = Field(default=None, alias="entityValue")


class HealthMetadata(_Lenient):
    public_key: str | None = Field(default=None, alias="publicKey")
    user_name: str | None = Field(default=None, alias="userName")
    account_id: str | None = Field(default=None, alias="accountId")
    exposed_url: str | None = Field(default=None, alias="exposedUrl")


class HealthDetail(_Lenient):
    event_arn: str | None = Field(default=None, alias="eventArn")
    service: str | None = None
    event_type_code: str | None = Field(default=None, alias="eventTypeCode")
    event_type_category: str | None = Field(default=None, alias="eventTypeCategory")
    communication_id: str | None = Field(default=None, alias="communicationId")
    start_time: str | None = Field(default=None, alias="startTime")
    affected_entities: list[HealthEntity] | None = Field(default=None, alias="affectedEntities")
    event_metadata: HealthMetadata | None = Field(default=None, alias="eventMetadata")
    # Organizational view: the member account the event is about (the envelope's `account` is
    # then the management or delegated-admin account that received it).
    affected_account: str | None = Field(default=None, alias="affectedAccount")
    # A large entity list is split into pages that share the communicationId; strings in real data.
    page: str | int | None = None
    total_pages: str | int | None = Field(default=None, alias="totalPages")


class HealthEvent(EventBridgeModel):
    detail: HealthDetail  # type: ignore[assignment]


class AccessKeyDetails(_Lenient):
    access_key_id: str | None = Field(default=None, alias="accessKeyId")
    principal_id: str | None = Field(default=None, alias="principalId")
    user_type: str | None = Field(default=None, alias="userType")
    user_name: str | None = Field(default=None, alias="userName")


class SecurityGroupRef(_Lenient):
    group_id: str | None = Field(default=None, alias="groupId")


class FindingNetworkInterface(_Lenient):
    network_interface_id: str | None = Field(default=None, alias="networkInterfaceId")
    vpc_id: str | None = Field(default=None, alias="vpcId")
    subnet_id: str | None = Field(default=None, alias="subnetId")
    security_groups: list[SecurityGroupRef] | None = Field(default=None, alias="securityGroups")
    public_ip: str | None = Field(default=None, alias="publicIp")
    private_ip_address: str | None = Field(default=None, alias="privateIpAddress")


class InstanceProfileRef(_Lenient):
    arn: str | None = None


class InstanceDetails(_Lenient):
    instance_id: str | None = Field(default=None, alias="instanceId")
    iam_instance_profile: InstanceProfileRef | None = Field(default=None, alias="iamInstanceProfile")
    network_interfaces: list[FindingNetworkInterface] | None = Field(default=None, alias="networkInterfaces")


class FindingResource(_Lenient):
    resource_type: str | None = Field(default=None, alias="resourceType")
    access_key_details: AccessKeyDetails | None = Field(default=None, alias="accessKeyDetails")
    instance_details: InstanceDetails | None = Field(default=None, alias="instanceDetails")


class RemoteIpDetails(_Lenient):
    ip_address_v4: str | None = Field(default=None, alias="ipAddressV4")
    country: dict[str, Any] | None = None
    organization: dict[str, Any] | None = None


class RemoteAccountDetails(_Lenient):
    account_id: str | None = Field(default=None, alias="accountId")
    affiliated: bool | None = None


class AwsApiCallAction(_Lenient):
    remote_ip_details: RemoteIpDetails | None = Field(default=None, alias="remoteIpDetails")
    remote_account_details: RemoteAccountDetails | None = Field(default=None, alias="remoteAccountDetails")


class FindingAction(_Lenient):
    aws_api_call_action: AwsApiCallAction | None = Field(default=None, alias="awsApiCallAction")


# GuardDuty Extended Threat Detection: service.detection.sequence (botocore `Sequence`, the JSON
# names as the API spells them; EventBridge findings use the same camelCase).
class SequenceAccount(_Lenient):
    uid: str | None = None
    # The model's member `Name` is serialized as `account`.
    account: str | None = None


class SequenceUser(_Lenient):
    name: str | None = None
    uid: str | None = None
    type: str | None = None
    credential_uid: str | None = Field(default=None, alias="credentialUid")
    account: SequenceAccount | None = None


class SequenceSession(_Lenient):
    uid: str | None = None
    mfa_status: str | None = Field(default=None, alias="mfaStatus")
    issuer: str | None = None


class SequenceActor(_Lenient):
    id: str | None = None
    user: SequenceUser | None = None
    session: SequenceSession | None = None


class SequenceAccessKey(_Lenient):
    principal_id: str | None = Field(default=None, alias="principalId")
    user_name: str | None = Field(default=None, alias="userName")
    user_type: str | None = Field(default=None, alias="userType")


class SequenceInstanceGroup(_Lenient):
    """IamInstanceProfileV2 / AutoscalingAutoScalingGroup (and the other group shapes): the
    instances of one group."""

    ec2_instance_uids: list[Any] | None = Field(default=None, alias="ec2InstanceUids")


class SequenceResourceData(_Lenient):
    access_key: SequenceAccessKey | None = Field(default=None, alias="accessKey")
    iam_instance_profile: SequenceInstanceGroup | None = Field(default=None, alias="iamInstanceProfile")
    autoscaling_auto_scaling_group: SequenceInstanceGroup | None = Field(
        default=None, alias="autoscalingAutoScalingGroup"
    )


class SequenceResource(_Lenient):
    uid: str | None = None
    name: str | None = None
    account_id: str | None = Field(default=None, alias="accountId")
    resource_type: str | None = Field(default=None, alias="resourceType")
    data: SequenceResourceData | None = None


class SequenceSignal(_Lenient):
    uid: str | None = None
    type: str | None = None
    name: str | None = None


class SequenceEndpoint(_Lenient):
    ip: str | None = None


class Sequence(_Lenient):
    uid: str | None = None
    actors: list[SequenceActor] | None = None
    resources: list[SequenceResource] | None = None
    signals: list[SequenceSignal] | None = None
    endpoints: list[SequenceEndpoint] | None = None


class Detection(_Lenient):
    sequence: Sequence | None = None


class FindingService(_Lenient):
    action: FindingAction | None = None
    additional_info: dict[str, Any] | None = Field(default=None, alias="additionalInfo")
    archived: bool | None = None
    count: int | None = None
    event_first_seen: str | None = Field(default=None, alias="eventFirstSeen")
    event_last_seen: str | None = Field(default=None, alias="eventLastSeen")
    detection: Detection | None = None


class Finding(_Lenient):
    id: str
    type: str
    account_id: str | None = Field(default=None, alias="accountId")
    region: str | None = None
    arn: str | None = None
    severity: float | None = None
    updated_at: str | None = Field(default=None, alias="updatedAt")
    created_at: str | None = Field(default=None, alias="createdAt")
    resource: FindingResource | None = None
    service: FindingService | None = None
    associated_attack_sequence_arn: str | None = Field(default=None, alias="associatedAttackSequenceArn")


class GuardDutyEvent(EventBridgeModel):
    detail: Finding  # type: ignore[assignment]
