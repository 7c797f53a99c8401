"""The one typed configuration of the responder, read from CDK context and validated at synth.

Sources, in order of precedence: `cdk synth|deploy -c key=value`, then `cdk.json` "context".
A bad value fails the synth with a message that names the key.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from contain_key.permissions import DEFAULT_QUARANTINE_POLICY
from evict.switches import SWITCHES as EVICTION
from infra.actions import Action, switches

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
_PRINCIPAL_ARN = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:(user|role)/[\w+=,.@/-]+$")
_INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")
_POLICY_ARN = re.compile(r"^arn:aws[\w-]*:iam::(aws|\d{12}):policy/[\w+=,.@/-]+$")
_SECRET_NAME = re.compile(r"^[\w/+=.@-]{1,512}$")


# Actions that can be put in dry-run one by one, and the environment switch each function reads: the core's
# here, every declared action's from its declaration (lambdas/<package>/action.py).
DRY_RUN_ACTIONS = {
    "containKey": "DRY_RUN_CONTAIN_KEY",
    "revokeSessions": "DRY_RUN_REVOKE_SESSIONS",
    **{switch.dry_run: switch.dry_run_env for switch in switches()},
    **{switch.context: switch.dry_run_env for switch in EVICTION},
}

# The evictions' own switches (evict.switches): environment -> attribute.
EVICTION_SWITCHES = {switch.env: switch.attribute for switch in EVICTION}
# What a change nobody can attribute gets (docs/response.md, "Whose work is it"): held like the attacker's, or only
# reported.
UNKNOWN_CHANGES = ("hold", "report")
# Context keys this version no longer reads, with what replaced them: named, never silently ignored.
REPLACED_KEYS = {
    "lookbackHours": "baselineDays and suspicionMarginMinutes (the owner's baseline and the window of suspicion)",
    "detachAttackerPolicies": "nothing: the responder never deletes a policy; a principal the attacker made is "
    "held whole by its deny-all",
}


# What cdk.json's @aws-cdk/core:target-partitions says too. aws-cn and aws-us-gov are not supported:
# the console links, the Powertools public SSM parameter and AWSCompromisedKeyQuarantineV3 are
# not verified there (docs/operations.md, "Supported partitions").
SUPPORTED_PARTITIONS = ("aws",)


class ConfigError(ValueError):
    """A context value is invalid; the message names the key."""


@dataclass(frozen=True)
class ResponderConfig:
    notification_emails: tuple[str, ...] = ()
    slack_secret_name: str | None = None
    dry_run: bool = False
    dry_run_actions: tuple[str, ...] = ()
    quarantine_user: bool = True
    quarantine_policy_arn: str = DEFAULT_QUARANTINE_POLICY
    revoke_scope: str = "role"
    # The declared actions' switches, by cdk.json key (lambdas/<package>/action.py: each action's `switches`).
    action_switches: dict[str, bool] = field(default_factory=lambda: {s.context: s.default for s in switches()})
    investigate: bool = True
    deactivate_backdoor_keys: bool = True
    evict_created_users: bool = True
    remove_login_profiles: bool = True
    quarantine_created_roles: bool = True
    quarantine_rewritten_trust: bool = True
    revoke_minted_sessions: bool = True
    # A change in the attacker's reach that is neither provably the owner's nor the attacker's.
    unknown_changes: str = "hold"
    accept_sample_findings: bool = False
    # GuardDuty ...InsideAWS from an account of the same organization (remoteAccountDetails.affiliated):
    # "contain" as any stolen instance credentials, or "notify" (report only, nothing changed).
    affiliated_inside_aws: str = "contain"
    # An attack sequence naming more principals than this is only reported (a human decides).
    attack_sequence_max_actors: int = 3
    # AttackSequence:EC2/CompromisedInstanceGroup: image, cut off and isolate every instance of the
    # group (off: the shared role's sessions are revoked and the instances only listed, with commands).
    isolate_groups: bool = False
    exempt_principal_arns: tuple[str, ...] = ()
    exempt_instance_ids: tuple[str, ...] = ()
    # The window of suspicion opens this long before the exposure (AWS reports minutes after it happens).
    suspicion_margin_minutes: int = 60
    # The owner's baseline: what the credential did in the days before the window.
    baseline_days: int = 7
    second_lookup_delay_minutes: int = 15
    powertools_version: str = "3.37.0"
    log_retention_days: int = 365
    home_region: str | None = None
    regions: tuple[str, ...] = field(default_factory=tuple)
    health_backup_region: bool = False
    reserved_concurrency: int = 0
    # Lambda SnapStart for the containing functions (published versions; the workflow invokes an alias).
    snap_start: bool = False

    def switched_on(self, context: str) -> bool:
        """A declared action's switch (its cdk.json key)."""
        return self.action_switches[context]

    def action_on(self, action: Action) -> bool:
        """Whether the action runs at all: any of its switches on."""
        return any(self.switched_on(switch.context) for switch in action.switches)

    @classmethod
    def from_context(cls, get: Any, default_region: str | None = None) -> ResponderConfig:
        """`get` is `node.try_get_context`: a missing key keeps the default. `default_region` (the
        CLI's CDK_DEFAULT_REGION) is the home region when `homeRegion` is not set."""
        defaults = cls()
        for key, replacement in REPLACED_KEYS.items():
            if get(key) is not None:
                raise ConfigError(f"{key}: no longer read; replaced by {replacement}")

        def value(key: str, default: Any) -> Any:
            raw = get(key)
            return default if raw is None else raw

        # With forwarders, the home region is baked into every forwarder's target ARN: it must be
        # said, not taken from whichever profile runs the deploy (a second operator's profile would
        # move the home and orphan the forwarders).
        if _str_list("regions", value("regions", [])) and not _optional_str("homeRegion", value("homeRegion", None)):
            raise ConfigError("homeRegion: required when regions is set (e.g. -c homeRegion=eu-west-1)")

        config = cls(
            notification_emails=_str_list("notificationEmails", value("notificationEmails", [])),
            slack_secret_name=_optional_str("slackWebhookSecretName", value("slackWebhookSecretName", None)),
            dry_run=_bool("dryRun", value("dryRun", defaults.dry_run)),
            dry_run_actions=_str_list("dryRunActions", value("dryRunActions", [])),
            quarantine_user=_bool("quarantineUser", value("quarantineUser", defaults.quarantine_user)),
            quarantine_policy_arn=str(value("quarantinePolicyArn", defaults.quarantine_policy_arn)),
            revoke_scope=str(value("revokeScope", defaults.revoke_scope)),
            action_switches={
                switch.context: _bool(switch.context, value(switch.context, switch.default)) for switch in switches()
            },
            investigate=_bool("investigate", value("investigate", defaults.investigate)),
            **{
                switch.attribute: _bool(switch.context, value(switch.context, getattr(defaults, switch.attribute)))
                for switch in EVICTION
            },
            accept_sample_findings=_bool(
                "acceptSampleFindings", value("acceptSampleFindings", defaults.accept_sample_findings)
            ),
            affiliated_inside_aws=str(value("affiliatedInsideAws", defaults.affiliated_inside_aws)),
            attack_sequence_max_actors=_int(
                "attackSequenceMaxActors", value("attackSequenceMaxActors", defaults.attack_sequence_max_actors), 1, 400
            ),
            snap_start=_bool("snapStart", value("snapStart", defaults.snap_start)),
            isolate_groups=_bool("isolateInstanceGroups", value("isolateInstanceGroups", defaults.isolate_groups)),
            exempt_principal_arns=_str_list("exemptPrincipalArns", value("exemptPrincipalArns", [])),
            exempt_instance_ids=_str_list("exemptInstanceIds", value("exemptInstanceIds", [])),
            unknown_changes=str(value("unknownChanges", defaults.unknown_changes)),
            suspicion_margin_minutes=_int(
                "suspicionMarginMinutes", value("suspicionMarginMinutes", defaults.suspicion_margin_minutes), 0, 24 * 60
            ),
            # LookupEvents reaches 90 days back.
            baseline_days=_int("baselineDays", value("baselineDays", defaults.baseline_days), 0, 89),
            second_lookup_delay_minutes=_int(
                "secondLookupDelayMinutes",
                value("secondLookupDelayMinutes", defaults.second_lookup_delay_minutes),
                0,
                120,
            ),
            powertools_version=str(value("powertoolsVersion", defaults.powertools_version)),
            log_retention_days=_int(
                "logRetentionDays", value("logRetentionDays", defaults.log_retention_days), 1, 3653
            ),
            home_region=_optional_str("homeRegion", value("homeRegion", None)) or default_region or None,
            regions=_str_list("regions", value("regions", [])),
            health_backup_region=_bool(
                "healthBackupRegion", value("healthBackupRegion", defaults.health_backup_region)
            ),
            # Reserved for each containment function (Normalize, ContainKey, RevokeSessions); 0 = off.
            # Lambda keeps 100 of the account's concurrency unreserved, so the deploy fails when the
            # quota cannot hold 3 x this value + 100 (a new account's quota is 10: keep it off there).
            reserved_concurrency=_int(
                "reservedConcurrency", value("reservedConcurrency", defaults.reserved_concurrency), 0, 1000
            ),
        )
        config.validate()
        return config

    def validate(self) -> None:
        for action in self.dry_run_actions:
            if action not in DRY_RUN_ACTIONS:
                raise ConfigError(f"dryRunActions: {action!r} is not one of {', '.join(DRY_RUN_ACTIONS)}")
        for email in self.notification_emails:
            if not _EMAIL.match(email):
                raise ConfigError(f"notificationEmails: {email!r} is not an email address")
        # Never echo this value: given by mistake, it is the webhook URL, a secret (terminal, CI logs).
        if self.slack_secret_name is not None and (
            "://" in self.slack_secret_name or "hooks.slack.com" in self.slack_secret_name
        ):
            raise ConfigError(
                "slackWebhookSecretName: this looks like the webhook URL itself; store the URL in Secrets "
                "Manager and give the secret's NAME (e.g. responder/slack), never the URL"
            )
        if self.slack_secret_name is not None and not _SECRET_NAME.match(self.slack_secret_name):
            raise ConfigError(
                "slackWebhookSecretName: not a Secrets Manager name (letters, digits and /_+=.@-, "
                "1-512 characters; the value is not shown in case it is a secret)"
            )
        if not _POLICY_ARN.match(self.quarantine_policy_arn):
            raise ConfigError(f"quarantinePolicyArn: {self.quarantine_policy_arn!r} is not an IAM policy ARN")
        if self.revoke_scope not in ("role", "instance"):
            raise ConfigError(f"revokeScope: {self.revoke_scope!r} must be 'role' or 'instance'")
        if self.isolate_groups and not self.switched_on("isolateInstances"):
            # Normalize would mark a group for isolation that the workflow has no step for.
            raise ConfigError("isolateInstanceGroups: true needs isolateInstances true (the group is isolated by it)")
        if self.unknown_changes not in UNKNOWN_CHANGES:
            raise ConfigError(f"unknownChanges: {self.unknown_changes!r} must be 'hold' or 'report'")
        if self.affiliated_inside_aws not in ("contain", "notify"):
            raise ConfigError(f"affiliatedInsideAws: {self.affiliated_inside_aws!r} must be 'contain' or 'notify'")
        for arn in self.exempt_principal_arns:
            if not _PRINCIPAL_ARN.match(arn):
                raise ConfigError(f"exemptPrincipalArns: {arn!r} is not an IAM user or role ARN")
        for instance_id in self.exempt_instance_ids:
            if not _INSTANCE_ID.match(instance_id):
                raise ConfigError(f"exemptInstanceIds: {instance_id!r} is not an EC2 instance id")
        if not re.match(r"^\d+\.\d+\.\d+$", self.powertools_version):
            raise ConfigError(f"powertoolsVersion: {self.powertools_version!r} must be a pinned X.Y.Z version")
        for key, region in [("homeRegion", self.home_region), *[("regions", r) for r in self.regions]]:
            if region is not None and not _REGION.match(region):
                raise ConfigError(f"{key}: {region!r} is not an AWS region name")
        if self.home_region is not None and partition_of(self.home_region) not in SUPPORTED_PARTITIONS:
            raise ConfigError(
                f"homeRegion: {self.home_region} is in the {partition_of(self.home_region)} partition; the "
                f"responder supports {', '.join(SUPPORTED_PARTITIONS)} only (console links, the Powertools "
                "layer parameter and the quarantine policy are commercial-partition facts)"
            )
        if self.health_backup_region and "us-west-2" not in (self.home_region, *self.regions):
            raise ConfigError(
                "healthBackupRegion: true forwards AWS Health's backup copy from us-west-2, which is not "
                "covered: add us-west-2 to regions (or set healthBackupRegion=false)"
            )
        self._validate_regions()

    def _validate_regions(self) -> None:
        if not self.regions:
            return
        # The forwarders target the home bus by an ARN built here: the home region must be concrete.
        if self.home_region is None:
            raise ConfigError("homeRegion: required when regions is set (set it, or deploy with a default region)")
        if self.home_region in self.regions:
            raise ConfigError(
                f"regions: {self.home_region!r} is the home region; list only the other regions "
                "(the home stack already has the rules)"
            )
        duplicates = sorted({region for region in self.regions if self.regions.count(region) > 1})
        if duplicates:
            raise ConfigError(f"regions: {', '.join(duplicates)} listed more than once")
        # EventBridge routes events between regions of one partition only.
        foreign = [region for region in self.regions if partition_of(region) != partition_of(self.home_region)]
        if foreign:
            raise ConfigError(
                f"regions: {', '.join(foreign)} not in the partition of homeRegion "
                f"{self.home_region} ({partition_of(self.home_region)})"
            )


def partition_of(region: str) -> str:
    """Which partition a (validated) region name is in; enough to tell partitions apart."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    iso = region.split("-")[1]
    return f"aws-{iso}" if iso.startswith("iso") else "aws"


def _parse(key: str, raw: Any) -> Any:
    # `-c key=value` always arrives as a string; cdk.json values arrive typed.
    if isinstance(raw, str) and raw.strip()[:1] in ("[", "{"):
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{key}: not valid JSON ({exc.msg})") from exc
    return raw


def _bool(key: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise ConfigError(f"{key}: expected true or false, got {raw!r}")


def _int(key: str, raw: Any, low: int, high: int) -> int:
    try:
        number = int(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key}: expected a whole number, got {raw!r}") from exc
    if isinstance(raw, bool) or not low <= number <= high:
        raise ConfigError(f"{key}: {raw!r} is outside {low}..{high}")
    return number


def _str_list(key: str, raw: Any) -> tuple[str, ...]:
    raw = _parse(key, raw)
    if isinstance(raw, str):
        raw = [item for item in (part.strip() for part in raw.split(",")) if item]
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise ConfigError(f"{key}: expected a list of strings, got {raw!r}")
    return tuple(raw)


def _optional_str(key: str, raw: Any) -> str | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise ConfigError(f"{key}: expected a string, got {raw!r}")
    return raw
