"""What is left for a person, derived from what happened in this response: pure functions of the incident,
the verdict and the CloudTrail summary.

    left_for_a_person(incident, verdict, investigation) -> [Action]

Every line is true for this incident: it comes from a step's result (a key deactivated, a key IAM says is
gone, the root user's key left alone, an instance isolated, a back door held on doubt), from the incident
(its account, its source, the attacker's address, the subnets) or from the investigation (regions not
searched, changes the responder does not act on). Nothing is offered for a path this response did not take:
no key is "kept as evidence" unless the responder deactivated it, the root user is never an IAM user, no
command holds a placeholder for the reader to fill in.

The work is grouped as GuardDuty's own countermeasures are (Investigations, `Countermeasures[].DefenseTactic`):
Isolate, Evict, Restore, Harden, Detect; each with GuardDuty's priority (IMMEDIATE, SHORT_TERM, STRATEGIC),
written "now", "soon", "later". The owner's changes the investigation found are reported (the steps), never
listed as work.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from common.action import actions as declared_actions
from common.action import by_task
from common.cutoff import deny_older_sessions
from common.steps import Status, StepResult, succeeded
from reach.graph import DERIVING_CALLS
from report import links
from report.links import Link

if TYPE_CHECKING:  # report.outcome builds its steps' manual commands from this module
    from report.outcome import Verdict

# The marker lambdas/evict writes into the detail of an item it held because its verdict is unknown.
HELD_ON_DOUBT = "held on doubt (unknownChanges=hold; its undo command releases it): "
# What IAM calls create or change that the reach follows and acts on: any other mutating call is the reader's to
# check.
ACTED_ON = frozenset(DERIVING_CALLS)
# Steps that change the network position or the state of an instance (the declared actions that are not on the
# attacker's reach), and their tasks' names for a task that failed whole: what is left of them is isolation.
_ISOLATION_STEPS = tuple(
    name for action in declared_actions() if not action.reach for name in (*action.steps, action.package)
)
MAX_LISTED_CALLS = 8
ROOT_CREDENTIALS_PAGE = "https://console.aws.amazon.com/iam/home#/security_credentials"


class Tactic(StrEnum):
    ISOLATE = "Isolate"
    EVICT = "Evict"
    RESTORE = "Restore"
    HARDEN = "Harden"
    DETECT = "Detect"


class Priority(StrEnum):
    NOW = "now"  # GuardDuty IMMEDIATE
    SOON = "soon"  # SHORT_TERM
    LATER = "later"  # STRATEGIC


@dataclass(frozen=True)
class Action:
    tactic: Tactic
    priority: Priority
    text: str
    command: str | None = None
    link: Link | None = None


def left_for_a_person(
    incident: dict[str, Any] | None, verdict: Verdict, investigation: dict[str, Any] | None = None
) -> list[Action]:
    """The work a person must still do, in GuardDuty's order of tactics, the most urgent first in each."""
    if not incident or (verdict.outcome in ("ignored", "duplicate") and not verdict.attention):
        return []
    facts = Facts(incident, verdict.steps)
    actions = [
        *_unfinished(facts, verdict.attention),
        *_held_on_doubt(verdict.steps),
        *_keys(facts),
        *_instance(facts),
        *_by_kind(facts),
        *_investigation(facts, investigation),
    ]
    unique = list(dict.fromkeys(actions))
    order = {tactic: n for n, tactic in enumerate(Tactic)}
    urgency = {priority: n for n, priority in enumerate(Priority)}
    return _commands_once(sorted(unique, key=lambda a: (order[a.tactic], urgency[a.priority])))


def _commands_once(actions: list[Action]) -> list[Action]:
    """A command shown once: an item whose command an earlier item already gives points at that item (a user
    held whole covers its console password too)."""
    first: dict[str, int] = {}
    result = []
    for number, action in enumerate(actions, 1):
        if action.command and action.command in first:
            action = replace(
                action, text=f"{action.text} The command of item {first[action.command]} does it.", command=None
            )
        elif action.command:
            first[action.command] = number
        result.append(action)
    return result


def count_line(actions: list[Action]) -> str:
    """`2 now (Evict 2); 4 later (Restore 2, Harden 1, Detect 1)`, or `nothing`."""
    if not actions:
        return "nothing"
    parts = []
    for priority in Priority:
        mine = [a for a in actions if a.priority == priority]
        if mine:
            by = {tactic: sum(a.tactic == tactic for a in mine) for tactic in Tactic}
            tactics = ", ".join(f"{tactic} {n}" for tactic, n in by.items() if n)
            parts.append(f"{len(mine)} {priority} ({tactics})")
    return "; ".join(parts)


class Facts:
    """What the steps say happened, read once."""

    def __init__(self, incident: dict[str, Any], steps: list[StepResult]) -> None:
        self.incident = incident
        self.steps = steps
        self.region = str(incident.get("region") or links.GLOBAL_EVENTS_REGION)
        self.account = str(incident.get("account") or "")
        deactivations = [s for s in steps if s["name"] == "deactivate-access-key"]
        self.root_keys = [s["target"] for s in deactivations if _data(s).get("owner") == "root"]
        self.gone_keys = [s["target"] for s in deactivations if _data(s).get("key") == "deleted" and succeeded(s)]
        # Each key the responder left Inactive, with the user IAM named as its owner.
        self.inactive_keys = [
            (s["target"], str(_data(s)["user_name"]))
            for s in deactivations
            if succeeded(s) and _data(s).get("user_name") and _data(s).get("key") != "deleted"
        ]
        self.isolated = any(s["name"] == "isolate-instance" and succeeded(s) for s in steps)
        # This response tried to remove the instance profile and could not (a repeat's response does not try).
        self.profile_left = any(
            s["name"] == "remove-instance-profile" and not succeeded(s) and "terminated" not in s["detail"]
            for s in steps
        )
        self.images = [str(_data(s)["image_id"]) for s in steps if succeeded(s) and _data(s).get("image_id")]
        self.instance_gone = any(
            s["name"].startswith(_ISOLATION_STEPS) and "terminated" in s["detail"] and not succeeded(s) for s in steps
        ) or any("terminated" in s["detail"] and s["status"] == Status.SKIPPED for s in steps)
        self.roles_revoked = sorted(
            {s["target"] for s in steps if s["name"] == "revoke-role-sessions" and succeeded(s)}
        )

    def elsewhere(self) -> str:
        """` in account X` when the credential is another account's than the one that received the event."""
        delivered = self.incident.get("delivered_to")
        return f" in account {self.account}" if delivered and delivered != self.account else ""


def _data(s: StepResult) -> dict[str, Any]:
    data = s.get("data")
    return data if isinstance(data, dict) else {}


# -- what the response could not finish ---------------------------------------------------------------


def _unfinished(facts: Facts, attention: list[StepResult]) -> Iterable[Action]:
    """Each failed step and each containment step left undone: now, with the command that finishes it."""
    for s in attention:
        if s["name"] == "deactivate-access-key" and s["target"] in facts.root_keys:
            yield Action(
                Tactic.EVICT,
                Priority.NOW,
                f"Deactivate, then delete, the root user's access key {s['target']}{facts.elsewhere()}: the responder "
                "never acts on the root user, and only the root user can, signed in.",
                s.get("manual"),
                Link("Root user's security credentials", ROOT_CREDENTIALS_PAGE),
            )
            continue
        tactic = Tactic.ISOLATE if s["name"].startswith(_ISOLATION_STEPS) else Tactic.EVICT
        if s["name"].startswith("investigate"):
            tactic = Tactic.DETECT
        what = "did not finish" if s["status"] == Status.FAILED else "was not done"
        yield Action(tactic, Priority.NOW, f"{s['name']} on {s['target']} {what}: {s['detail']}", s.get("manual"))


def _held_on_doubt(steps: list[StepResult]) -> Iterable[Action]:
    """Each item the eviction held because nobody could tell whose it is: a person decides, once per item."""
    seen: set[tuple[str, str]] = set()
    for s in steps:
        if HELD_ON_DOUBT not in s["detail"] or not succeeded(s) or (s["name"], s["target"]) in seen:
            continue
        seen.add((s["name"], s["target"]))
        why = s["detail"].split(HELD_ON_DOUBT, 1)[1]
        text = (
            f"Decide whose {s['target']} is ({s['name']}, held on doubt): {why}. If it is the attacker's, leave it "
            "held; if it is the owner's, release it"
        )
        yield Action(Tactic.EVICT, Priority.SOON, text + (":" if s.get("undo") else "."), s.get("undo"))


# -- the exposed keys ---------------------------------------------------------------------------------


def _keys(facts: Facts) -> Iterable[Action]:
    for key, user in facts.inactive_keys:
        yield Action(
            Tactic.RESTORE,
            Priority.SOON,
            f"Replace access key {key} of IAM user {user}{facts.elsewhere()}: give its application a new credential "
            "(better: a role), deploy it, then delete the key, which the responder left Inactive as evidence.",
            f"aws iam delete-access-key --user-name {_q(user)} --access-key-id {_q(key)}",
        )
    for key in facts.gone_keys:
        yield Action(
            Tactic.DETECT,
            Priority.SOON,
            f"Access key {key} no longer existed when the responder acted (IAM: NoSuchEntity): find out who deleted "
            "it, and when (IAM's calls are logged in us-east-1).",
            "aws cloudtrail lookup-events --region us-east-1 --lookup-attributes "
            "AttributeKey=EventName,AttributeValue=DeleteAccessKey "
            f"--query {_q(f'Events[?contains(CloudTrailEvent, `{key}`)].[EventTime,Username]')} --output text",
        )
    if facts.root_keys:
        yield Action(
            Tactic.HARDEN,
            Priority.LATER,
            "The root user should hold no access key at all: once this one is deleted, check that no other is "
            "left, and that the root user has MFA.",
        )
    if facts.inactive_keys:
        yield Action(
            Tactic.HARDEN,
            Priority.LATER,
            "Remove long-lived access keys where you can: roles, IAM Identity Center or OIDC federation; where a "
            "key must exist, one per application, rotated, never in code.",
        )


# -- the instance ---------------------------------------------------------------------------------------


def _instance(facts: Facts) -> Iterable[Action]:
    incident = facts.incident
    instance = incident.get("instance_id")
    if not instance or incident.get("group_instance_ids"):
        return
    region, remote = facts.region, (incident.get("remote") or {}).get("ip")
    if facts.isolated and remote:
        yield Action(
            Tactic.ISOLATE,
            Priority.NOW,
            f"End the connections isolation leaves open: security groups do not end connections already tracked, "
            f"so deny the attacker's address {remote} in the network ACL of the instance's subnet (stateless: it "
            "ends them, for every instance of the subnet).",
            _nacl_deny(region, str(instance), _subnets(incident), str(remote)),
        )
    if facts.isolated:
        yield Action(
            Tactic.ISOLATE,
            Priority.SOON,
            "Security groups never filter DNS to the VPC resolver, the instance metadata service or Time Sync: block "
            "DNS exfiltration from the VPC with Route 53 Resolver DNS Firewall while you investigate.",
        )
    where = facts.elsewhere()
    if facts.profile_left:
        yield Action(
            Tactic.ISOLATE,
            Priority.SOON,
            f"The instance's profile is still attached: turn the metadata service off on {instance}{where} while you "
            "investigate, so that it hands out no new role credentials.",
            f"aws ec2 modify-instance-metadata-options --region {_q(region)} --instance-id {_q(instance)} "
            "--http-endpoint disabled",
        )
    if facts.isolated or facts.images:
        images = f" and its evidence image {', '.join(facts.images)}" if facts.images else ""
        yield Action(
            Tactic.RESTORE,
            Priority.LATER,
            f"Keep instance {instance}{images} until the investigation is done; then terminate the instance, or "
            f"put it back with `python -m responder release {incident.get('incident_id')}` (see Undo).",
        )
    if not facts.instance_gone:
        yield Action(
            Tactic.HARDEN,
            Priority.SOON,
            "Fix the application flaw that let the credentials out (SSRF, an open proxy, command injection) and "
            f"require IMDSv2 on {instance}{where}: until the flaw is fixed, the attacker can fetch fresh credentials.",
            f"aws ec2 modify-instance-metadata-options --region {_q(region)} --instance-id {_q(instance)} "
            "--http-tokens required",
        )


def _subnets(incident: dict[str, Any]) -> list[str]:
    interfaces = [i for i in incident.get("network_interfaces") or [] if isinstance(i, dict)]
    return list(dict.fromkeys(str(i["subnet_id"]) for i in interfaces if i.get("subnet_id")))


def _nacl_deny(region: str, instance: str, subnets: list[str], remote: str) -> str:
    """The ACL of each subnet is looked up by the command (the report knows the subnet, not its ACL): a deny of
    the address in both directions, as rule 1 (evaluated first; choose another number if 1 is taken)."""
    ec2 = f"aws ec2 --region {_q(region)}"
    v6 = ":" in remote
    cidr = _q(f"{remote}/128" if v6 else f"{remote}/32")
    flag = "--ipv6-cidr-block" if v6 else "--cidr-block"
    lines = []
    if not subnets:
        lines.append(
            f"subnet=$({ec2} describe-instances --instance-ids {_q(instance)} "
            "--query 'Reservations[0].Instances[0].SubnetId' --output text)"
        )
        sources = [("acl", '"$subnet"')]
    else:
        # One variable per subnet: each line of the script says which subnet's ACL it changes.
        sources = [(_variable("acl", subnet), _q(subnet)) for subnet in subnets]
    for variable, subnet in sources:
        lines.append(
            f"{variable}=$({ec2} describe-network-acls --filters Name=association.subnet-id,Values={subnet} "
            "--query 'NetworkAcls[0].NetworkAclId' --output text)"
        )
        lines += [
            f'{ec2} create-network-acl-entry --network-acl-id "${variable}" --{direction} --rule-number 1 '
            f"--protocol -1 --rule-action deny {flag} {cidr}"
            for direction in ("ingress", "egress")
        ]
    return "\n".join(lines)


def _variable(prefix: str, resource_id: str) -> str:
    """A shell variable named after the resource it holds something of: acl_subnet_0a1b2c."""
    return f"{prefix}_" + "".join(ch if ch.isalnum() else "_" for ch in resource_id)


# -- by kind of incident ----------------------------------------------------------------------------


def _by_kind(facts: Facts) -> Iterable[Action]:
    incident = facts.incident
    kind = incident.get("kind")
    if incident.get("source") == "aws.health":
        account = facts.account or "the account"
        # AWS quarantines an IAM user (AWS_RISK_IAM_QUARANTINE); a root key or a console sign-in has none.
        quarantine = (
            "attached its AWSCompromisedKeyQuarantineV3 policy to the key's user (Health AWS_RISK_IAM_QUARANTINE), and "
            if incident.get("user_names") or facts.inactive_keys
            else ""
        )
        yield Action(
            Tactic.RESTORE,
            Priority.SOON,
            f"AWS may already have acted on account {account}: {quarantine}put account-level holds in place (such "
            "as blocked ec2:RunInstances) until the Support case it opened is answered. Answer the case once the "
            "account is clean, so that AWS lifts them.",
            link=Link("AWS Support Center", links.support_center()),
        )
    for role in facts.roles_revoked:
        yield Action(
            Tactic.RESTORE,
            Priority.SOON,
            f"Every session of role {role} issued before the cut-off is denied, the workload's too: check that the "
            "other instances and services using the role got fresh credentials (within minutes) and work.",
        )
        yield Action(
            Tactic.HARDEN,
            Priority.LATER,
            f"Reduce role {role} to what its workload needs (IAM Access Analyzer can generate a policy from its "
            "CloudTrail activity).",
            f"aws iam list-attached-role-policies --role-name {_q(role)}\n"
            f"aws iam list-role-policies --role-name {_q(role)}",
        )
    if kind == "attack-sequence":
        yield Action(
            Tactic.DETECT,
            Priority.SOON,
            "Read the attack sequence in the GuardDuty console, its signals, actors and resources: the responder acted "
            "only on the principals service.detection.sequence names (the title and description are free text); "
            "the link is under Links.",
        )
    if incident.get("group_instance_ids"):
        yield Action(
            Tactic.HARDEN,
            Priority.SOON,
            f"Find how the group's {len(incident['group_instance_ids'])} instances were compromised (the sequence's "
            "signals) and fix it on each, with IMDSv2 required.",
        )
    if kind == "console-compromise":
        yield Action(
            Tactic.DETECT,
            Priority.SOON,
            "Find what was done with the console sign-in, in every region: the ConsoleLogin events, then the calls of "
            "the root user and of any user or role created since.",
            _lookup_all_regions("EventName", "ConsoleLogin"),
        )
        yield Action(
            Tactic.HARDEN,
            Priority.LATER,
            "Keep the root user for the few tasks only it can do: MFA on, no access key, its e-mail address a "
            "mailbox only a few trusted people can read.",
        )


# -- what the investigation leaves ------------------------------------------------------------------


def _investigation(facts: Facts, investigation: dict[str, Any] | None) -> Iterable[Action]:
    incident = facts.incident
    credential = _credential(incident)
    if not investigation:
        if credential and incident.get("kind") in ("exposed-access-key", "instance-credential-exfiltration"):
            yield Action(
                Tactic.DETECT,
                Priority.SOON,
                f"No CloudTrail look-up ran: find out what {credential[1]} did{facts.elsewhere()}, in every region.",
                _lookup_all_regions(*credential),
            )
        return
    if facts.elsewhere():
        yield Action(
            Tactic.DETECT,
            Priority.SOON,
            f"The look-up read this account's CloudTrail ({incident.get('delivered_to')}), not account "
            f"{facts.account}'s: run it there, with that account's credentials.",
            _lookup_all_regions(*credential) if credential else None,
        )
    regions = investigation.get("regions") or {}
    missing = sorted((regions.get("not_searched") or {}).items())
    if missing and credential:
        names = ", ".join(f"{region} ({why})" for region, why in missing)
        yield Action(
            Tactic.DETECT,
            Priority.SOON,
            f"CloudTrail was not searched in {names}: run the look-up there.",
            "\n".join(_lookup(_q(region), *credential) for region, _ in missing),
        )
    unhandled = _not_acted_on(investigation)
    if unhandled and credential:
        total = sum(unhandled.values())
        listed = ", ".join(f"{name} ({count})" for name, count in list(unhandled.items())[:MAX_LISTED_CALLS])
        more = f" and {len(unhandled) - MAX_LISTED_CALLS} more kinds" if len(unhandled) > MAX_LISTED_CALLS else ""
        yield Action(
            Tactic.RESTORE,
            Priority.SOON,
            f"The credential made {total} change(s) the responder does not act on: {listed}{more}. Check each, and "
            "undo what is the attacker's (the evidence file has every call).",
            _lookup_all_regions(*credential),
        )
    yield Action(
        Tactic.DETECT,
        Priority.LATER,
        "CloudTrail's LookupEvents holds management events only: what the credential read in S3, and other data "
        "events, are only in a trail that records data events (or in S3 server access logs).",
    )


def _not_acted_on(investigation: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for call in investigation.get("mutating_calls") or []:
        name = str(call.get("event_name") or "")
        if name and name not in ACTED_ON and call.get("succeeded", True) is not False:
            counts[name] = counts.get(name, 0) + 1
    return counts


def _credential(incident: dict[str, Any]) -> tuple[str, str] | None:
    """The CloudTrail look-up attribute that finds the credential's calls, and its value."""
    keys = incident.get("access_key_ids") or []
    if incident.get("kind") == "exposed-access-key" and keys:
        return ("AccessKeyId", str(keys[0])) if len(keys) == 1 else None
    if incident.get("instance_id"):
        return ("Username", str(incident["instance_id"]))  # EC2 role sessions are named after the instance
    return ("AccessKeyId", str(keys[0])) if len(keys) == 1 else None


def _lookup(region: str, attribute: str, value: str) -> str:
    """`region`: shell text (a quoted name, or "$r" in the all-regions loop)."""
    return (
        f"aws cloudtrail lookup-events --region {region} "
        f"--lookup-attributes {_q(f'AttributeKey={attribute},AttributeValue={value}')} "
        "--query 'Events[].[EventTime,EventName,EventSource]' --output text"
    )


def _lookup_all_regions(attribute: str, value: str) -> str:
    return (
        "for r in $(aws ec2 describe-regions --query 'Regions[].RegionName' --output text); do "
        f'echo "== $r"; {_lookup(chr(34) + "$r" + chr(34), attribute, value)}; done'
    )


def _q(value: Any) -> str:
    return shlex.quote(str(value))


# -- the commands of the steps a person finishes by hand (report.outcome's synthetic steps) ---------------


def instance_group_commands(incident: dict[str, Any], instance_id: str) -> str:
    """Protect, image, cut off from the role, isolate (the primary interface; others likewise)."""
    region = _q(incident.get("region") or links.GLOBAL_EVENTS_REGION)
    instance = _q(instance_id)
    ec2 = f"aws ec2 --region {region}"
    no_egress = _q(json.dumps([{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]))
    # Variables named after the instance: the group's instances each have their block, and no line of one
    # block reads as another's.
    association, vpc, group = (_variable(name, instance_id) for name in ("association", "vpc", "sg"))
    return "\n".join(
        [
            f"{ec2} modify-instance-attribute --instance-id {instance} --disable-api-termination",
            f"{ec2} create-image --instance-id {instance} --no-reboot --name {_q(f'forensic-{instance_id}')}",
            f"{association}=$({ec2} describe-iam-instance-profile-associations --filters "
            f"{_q(f'Name=instance-id,Values={instance_id}')} "
            "--query 'IamInstanceProfileAssociations[0].AssociationId' --output text)",
            f'{ec2} disassociate-iam-instance-profile --association-id "${association}"',
            f"{vpc}=$({ec2} describe-instances --instance-ids {instance} "
            "--query 'Reservations[0].Instances[0].VpcId' --output text)",
            f'{group}=$({ec2} create-security-group --vpc-id "${vpc}" --group-name {_q(f"isolation-{instance_id}")} '
            "--description 'isolation: no rules' --query GroupId --output text)",
            f'{ec2} revoke-security-group-egress --group-id "${group}" --ip-permissions {no_egress}',
            f'{ec2} modify-instance-attribute --instance-id {instance} --groups "${group}"',
        ]
    )


_ROLE_IN_REASON = re.compile(r"\brole ([\w+=,.@-]{1,64})\b")
_USER_IN_REASON = re.compile(r"\b(?:IAM )?user ([\w+=,.@-]{1,64})\b")


def sequence_principal_manual(incident: dict[str, Any], reason: str) -> str:
    """How to contain by hand a principal an attack sequence names that the responder did not contain, from
    the reason normalize gave (lambdas/incident/normalize.py): the principal's own commands where the reason
    names it, the console route otherwise."""
    finding = links.guardduty_finding(str(incident.get("region") or ""), str(incident.get("finding_id") or ""))
    account = str(incident.get("account") or "")
    if "root user" in reason:
        return root_account_steps(account)
    where = reason.split(":", 1)[-1]
    if "in account" not in where:
        if role := _ROLE_IN_REASON.search(where):
            return "\n".join(revoke_older_sessions("role", role.group(1)))
        if (user := _USER_IN_REASON.search(where)) and "temporary credentials" in where:
            return "\n".join(revoke_older_sessions("user", user.group(1)))
        if (user := _USER_IN_REASON.search(where)) and "no access key id" in where:
            return (
                f"aws iam list-access-keys --user-name {_q(user.group(1))}\n"
                f"(then deactivate the key the sequence used, with aws iam update-access-key --user-name "
                f"{_q(user.group(1))} --status Inactive and its --access-key-id; the finding: {finding})"
            )
    return (
        "Open the attack sequence in the GuardDuty console, read the principal under 'Actors' and 'Resources', and "
        "contain it in the account it belongs to: an IAM user's access key, deactivate it (IAM console, the user, "
        "'Security credentials'); a role, revoke its sessions (IAM console, the role, 'Revoke sessions'); the root "
        f"user, sign in as the root user, change the password, turn on MFA and delete its access keys. {finding}"
    )


def revoke_older_sessions(kind: str, name: str) -> list[str]:
    """The IAM console's 'Revoke active sessions' as commands: every session issued before now denied."""
    # In double quotes, so that the shell puts the time in: the document's own quotes escaped.
    document = json.dumps(deny_older_sessions("$cutoff"), separators=(",", ":")).replace('"', '\\"')
    return [
        "cutoff=$(date -u +%Y-%m-%dT%H:%M:%SZ)",
        f"aws iam put-{kind}-policy --{kind}-name {_q(name)} --policy-name AWSRevokeOlderSessions "
        f'--policy-document "{document}"',
    ]


def root_account_steps(account: str) -> str:
    return "\n".join(
        [
            f"1. Sign in as the root user of account {account} (https://console.aws.amazon.com/, 'Root user'); "
            "if the password no longer works, use 'Forgot password' (the reset goes to the root e-mail address).",
            "2. Change the root password (Account menu, Security credentials, 'Edit password'), and the "
            "password of the root e-mail mailbox.",
            "3. Turn on MFA for the root user (Security credentials, 'Assign MFA device'); remove MFA devices "
            "you do not recognize, and any root access key.",
            "4. Check the AWS Support case AWS opened about the account and answer it when done: "
            f"{links.support_center()}",
            "5. Review CloudTrail for ConsoleLogin and root activity in every region, and IAM for users, roles "
            "and keys you do not recognize.",
        ]
    )


def containment_commands(incident: dict[str, Any], only_key: str | None = None) -> str:
    """The one thing that must happen by hand when automated containment did not. `only_key`: when a step
    names the key it failed on, the command for that key alone."""
    if incident.get("kind") == "exposed-access-key":
        keys = incident.get("affected_keys") or []
        keys = [k for k in keys if k["access_key_id"] == only_key] or keys
        commands = []
        for key in keys:
            key_id, user = key["access_key_id"], key.get("user_name")
            if user:
                commands.append(
                    f"aws iam update-access-key --user-name {_q(user)} --access-key-id {_q(key_id)} --status Inactive"
                )
            else:
                # A Health event may not name the user; IAM names the owner of any key of the account.
                commands += [
                    f"user=$(aws iam get-access-key-last-used --access-key-id {_q(key_id)} --query UserName "
                    "--output text)",
                    f'aws iam update-access-key --user-name "$user" --access-key-id {_q(key_id)} --status Inactive',
                ]
        return "\n".join(commands) or "Deactivate the exposed access key in the IAM console"
    if incident.get("kind") == "attack-sequence":
        return sequence_principal_manual(incident, "")
    role = incident.get("role_name")
    if role:
        return "\n".join(
            [
                f"IAM console, role {role}, tab 'Revoke sessions', 'Revoke active sessions': "
                f"{links.iam_role(str(role))}",
                "or with the AWS CLI:",
                *revoke_older_sessions("role", str(role)),
            ]
        )
    return "Revoke the role's active sessions in the IAM console (the role's page, 'Revoke sessions')"


def task_manual(task: str, containment: bool, incident: dict[str, Any], execution_arn: str | None) -> str:
    """What to do by hand when a whole task failed (its steps are unknown)."""
    region = str(incident.get("region") or links.GLOBAL_EVENTS_REGION)
    instance = incident.get("instance_id")
    if containment:
        return containment_commands(incident)
    declared = by_task(task)
    if declared is not None:
        values = {"region": _q(region)}
        if instance:
            values |= {"instance": _q(str(instance)), "instance_link": links.ec2_instance(region, str(instance))}
        with contextlib.suppress(KeyError):  # its manual needs what this incident does not name
            return declared.manual.format(**values)
    where = links.sfn_execution(execution_arn) if execution_arn else None
    return (
        f"See the task's error in the Step Functions execution: {where}"
        if where
        else "See the task's error in the execution history"
    )
