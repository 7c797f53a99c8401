"""Whose work is a call: the attacker's, the owner's, or unknown. Each verdict names its rule and the inputs it
used, so the report can print why. Pure.

Nothing is judged by the event's time alone. AWS reports an exposure minutes after it happens and harvested
keys have been used about a minute after harvest, so the window of suspicion opens a margin before the
exposure moment, and calls inside the margin are judged like the later ones. What the credential did before
the window is its owner's baseline.

The rules, in order (the first that applies decides):
1. before-window: a call before the window opens is the baseline: the owner's.
2. finding-remote: made from the finding's remote address or account (GuardDuty), or an address the attack
   sequence names: the attacker's.
3. instance-own: for stolen instance credentials, from the instance's own addresses or its VPC's endpoints:
   the workload's (the owner's), except a call that creates a credential or lets an outside principal in,
   which is unknown: after the theft the instance itself may be in the attacker's hands.
4. same-source-same-change: the same source (network and client family) made the same kind of change before
   the window: the owner's. Owner evidence is positive: a user agent alone never makes a call the owner's
   (the attacker writes it), and a new address alone never makes it the attacker's (hosted CI runners get
   one per job).
5. unexplained-source: inside the window, from a network AND a client family that the baseline (at least one
   call) never used: the attacker's.
6. otherwise unknown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from common.times import iso, parse
from reach.calls import Call, short
from reach.trust import outside_principals


class Verdict(StrEnum):
    ATTACKER = "attacker"
    OWNER = "owner"
    UNKNOWN = "unknown"


RULES = {
    "before-window": "before the window of suspicion: the owner's baseline",
    "finding-remote": "from the finding's remote address or account: the attacker's",
    "instance-own": "from the instance's own address or its VPC's endpoint: the workload's",
    "instance-creates": "from the instance itself, but it creates a credential or lets an outside principal in "
    "after the theft: unknown (the instance may be in the attacker's hands)",
    "same-source-same-change": "the same source made the same kind of change before the window: the owner's",
    "unexplained-source": "neither the network nor the client family was ever used before the window: the attacker's",
    "inherited": "made with a credential the reach already judged",
    "finding-names-it": "the finding itself names it as the attacker's",
    "unknown": "no rule gives it to the owner or the attacker: unknown",
}

# Calls that make a new way in: a credential, or trust for someone else.
CREDENTIAL_CALLS = frozenset(
    {
        "CreateAccessKey",
        "UpdateAccessKey",
        "CreateLoginProfile",
        "UpdateLoginProfile",
        "CreateUser",
        "CreateServiceSpecificCredential",
        "UploadSSHPublicKey",
        "UploadSigningCertificate",
        "GetSessionToken",
        "GetFederationToken",
    }
)


@dataclass(frozen=True)
class Window:
    exposed_at: str  # ISO: Health's startTime, GuardDuty's first activity
    opens_at: str  # the margin before it
    margin_minutes: int
    baseline_from: str  # how far back the baseline is read

    @classmethod
    def around(cls, exposed_at: Any, *, margin_minutes: int, baseline_days: float) -> Window:
        moment = parse(exposed_at)
        if moment is None:
            raise ValueError(f"not a time: {exposed_at!r}")
        opens = moment - timedelta(minutes=margin_minutes)
        return cls(iso(moment), iso(opens), margin_minutes, iso(opens - timedelta(days=baseline_days)))

    def describe(self) -> str:
        return (
            f"the window of suspicion opens {self.opens_at} "
            f"({self.margin_minutes} min before the exposure {self.exposed_at})"
        )


@dataclass(frozen=True)
class Signals:
    """What the finding itself says about the attacker and the instance (empty for an exposed key)."""

    attacker_ips: frozenset[str] = frozenset()
    attacker_accounts: frozenset[str] = frozenset()
    own_ips: frozenset[str] = frozenset()
    own_endpoints: frozenset[str] = frozenset()
    instance: bool = False
    account: str = ""  # the account of the credential: any other is "outside"


@dataclass
class Baseline:
    """What the seed credentials did before the window: their sources, and which changes each source made."""

    calls: int = 0
    networks: set[str] = field(default_factory=set)
    families: set[str] = field(default_factory=set)
    changes: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    cut: str | None = None  # set when the look-up that read the baseline was cut (what was not read)

    @classmethod
    def of(cls, calls: Iterable[Call], window: Window, cut: str | None = None) -> Baseline:
        baseline = cls(cut=cut)
        for call in calls:
            if call.time >= window.opens_at or call.time < window.baseline_from:
                continue
            baseline.calls += 1
            source = (call.source.network, call.source.family)
            baseline.networks.add(source[0])
            baseline.families.add(source[1])
            if call.succeeded:
                made = baseline.changes.setdefault(source, {})
                made[call.event_name] = made.get(call.event_name, 0) + 1
        return baseline

    def describe(self) -> str:
        if not self.calls:
            text = "no call before the window"
        else:
            text = (
                f"{self.calls} call(s) before the window from {len(self.networks)} network(s) "
                f"({', '.join(sorted(self.networks)[:4])}) with client(s) {', '.join(sorted(self.families)[:4])}"
            )
        return text + (f"; baseline cut: {self.cut}" if self.cut else "")


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    rule: str  # a key of RULES
    evidence: str  # the rule's inputs, one line

    def explain(self) -> str:
        return f"{self.verdict}'s ({self.rule}): {self.evidence}"

    def as_dict(self) -> dict[str, str]:
        return {"verdict": str(self.verdict), "rule": self.rule, "evidence": self.evidence}


def creates_way_in(call: Call, account: str) -> bool:
    """A call that creates a credential, or lets a principal outside the account (or anyone) in."""
    if call.event_name == "UpdateAccessKey":
        return str(call.request.get("status", "")).lower() == "active"
    if call.event_name in CREDENTIAL_CALLS:
        return True
    if call.event_name == "CreateRole":
        return bool(outside_principals(call.request.get("assumeRolePolicyDocument"), account))
    if call.event_name == "UpdateAssumeRolePolicy":
        return bool(outside_principals(call.request.get("policyDocument"), account))
    return False


def judge(call: Call, window: Window, signals: Signals, baseline: Baseline) -> Judgement:
    source = call.source
    where = f"{call.event_name} at {call.time} from {short(source.describe())}"
    if call.time < window.opens_at:
        return Judgement(Verdict.OWNER, "before-window", f"{where}; {window.describe()}")
    if source.ip in signals.attacker_ips or (source.account and source.account in signals.attacker_accounts):
        return Judgement(Verdict.ATTACKER, "finding-remote", f"{where}; the finding names {source.ip} as the caller")
    if source.vpc_endpoint_account and source.vpc_endpoint_account in signals.attacker_accounts:
        return Judgement(Verdict.ATTACKER, "finding-remote", f"{where}; through the remote account's endpoint")
    if signals.instance and (source.ip in signals.own_ips or (source.vpc_endpoint in signals.own_endpoints)):
        if creates_way_in(call, signals.account):
            return Judgement(Verdict.UNKNOWN, "instance-creates", f"{where}; {window.describe()}")
        return Judgement(Verdict.OWNER, "instance-own", f"{where}: one of the instance's own addresses or endpoints")
    made = baseline.changes.get((source.network, source.family), {})
    if made.get(call.event_name):
        return Judgement(
            Verdict.OWNER,
            "same-source-same-change",
            f"{where}; the same network and client made {call.event_name} {made[call.event_name]} time(s) before "
            f"the window ({baseline.describe()})",
        )
    if not baseline.calls:
        why = "the credential made no call before the window to compare with" + (
            f" ({baseline.cut})" if baseline.cut else ""
        )
        return Judgement(Verdict.UNKNOWN, "unknown", f"{where}; {why}")
    if source.network not in baseline.networks and source.family not in baseline.families:
        return Judgement(Verdict.ATTACKER, "unexplained-source", f"{where}; {baseline.describe()}")
    known = [
        part
        for part, seen in (
            ("network", source.network in baseline.networks),
            ("client", source.family in baseline.families),
        )
        if seen
    ]
    why = f"its {' and '.join(known)} used before the window, but never for {call.event_name}"
    return Judgement(Verdict.UNKNOWN, "unknown", f"{where}; {why} ({baseline.describe()})")


def inherited(call: Call, credential: str, parent: Judgement) -> Judgement:
    """A call made with a credential the reach derived: it is whoever made that credential's."""
    return Judgement(
        parent.verdict,
        "inherited",
        f"{call.event_name} at {call.time}, made with {credential}, which is {parent.verdict}'s ({parent.rule})",
    )
