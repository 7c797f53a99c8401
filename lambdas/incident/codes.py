"""The event types the responder answers: one list for the EventBridge rules (infra/detection.py)
and the normalizer, so a code the rule matches is never one the normalizer ignores.

No imports: infra/ loads this file as `lambdas.incident.codes`, the functions as `incident.codes`.
"""

from __future__ import annotations

# AWS Health (service RISK) codes naming exposed or compromised access keys.
HEALTH_KEY_CODES = (
    "AWS_RISK_CREDENTIALS_EXPOSED",
    "AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED",
    "AWS_RISK_CREDENTIALS_COMPROMISED",
    "AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED",
    "AWS_RISK_IAM_QUARANTINE",
)
# Console credentials (usually the root user's) compromised: no key to act on, the account owner
# must secure the root user by hand (normalize: Kind.CONSOLE_COMPROMISE).
HEALTH_CONSOLE_CODES = ("AWS_RISK_ACCOUNT_CONSOLE_COMPROMISE",)
HEALTH_CREDENTIAL_CODES = HEALTH_KEY_CODES + HEALTH_CONSOLE_CODES

EXFILTRATION_FINDING_TYPES = (
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS",
    # The name before the 2021 split; older detectors and replays still carry it.
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration",
)
# GuardDuty Extended Threat Detection: the credential sequence (always Critical). The principal is
# read from service.detection.sequence only (normalize: _attack_sequence_incident).
ATTACK_SEQUENCE_TYPES = ("AttackSequence:IAM/CompromisedCredentials",)
# A compromised group of instances (shared instance profile, Auto Scaling group, ...): the shared
# role's sessions revoked when the signals include instance-credential misuse; the instances are
# only listed unless isolateInstanceGroups (normalize: _instance_group_incident).
INSTANCE_GROUP_SEQUENCE_TYPES = ("AttackSequence:EC2/CompromisedInstanceGroup",)
GUARDDUTY_FINDING_TYPES = EXFILTRATION_FINDING_TYPES + ATTACK_SEQUENCE_TYPES + INSTANCE_GROUP_SEQUENCE_TYPES
