"""The reach: from the compromised credential, every credential and principal derived from it, each judged.

Input: the seeds (the incident's keys, its instance's role session, an attack sequence's principals), the
calls the look-ups found, the window, the finding's signals and the owner's baseline. Output: a Reach, whose
items say what was derived (a session, a key, a user, a role, a password, a trust rewrite, another long-term
credential, a grant), by which call, from which credential, and whose work it is. Pure.

What is followed: the seeds' calls are judged (reach.judge); a credential or principal they made inherits the
verdict of the call that made it, and so do its own calls, to `max_depth` hops. What the owner made is
reported and not followed. Users are followed by their unique id (AIDA...), so a rename (UpdateUser) hides
nothing; keys by their id. Roles are followed through the sessions minted for them (AssumeRole into them,
found by the role's ARN). The reach never grows past `max_items`; what is cut is named in `cut`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from reach.calls import Call, as_dict, text
from reach.judge import Baseline, Judgement, Signals, Verdict, Window, inherited, judge
from reach.trust import document, principals

DEFAULT_MAX_DEPTH = 3
DEFAULT_MAX_ITEMS = 40
MAX_CUT_LISTED = 20
SESSION_CALLS = ("AssumeRole", "GetSessionToken", "GetFederationToken", "GetScopedCredentials")
USER_POLICY_CALLS = ("AttachUserPolicy", "PutUserPolicy")
ROLE_POLICY_CALLS = ("AttachRolePolicy", "PutRolePolicy")
GROUP_CALLS = ("AttachGroupPolicy", "PutGroupPolicy", "AddUserToGroup")
POLICY_VERSION_CALLS = ("CreatePolicyVersion", "SetDefaultPolicyVersion")
USER_CREDENTIAL_CALLS = {
    "UploadSSHPublicKey": ("ssh-public-key", "sSHPublicKey", "sSHPublicKeyId"),
    "CreateServiceSpecificCredential": (
        "service-specific-credential",
        "serviceSpecificCredential",
        "serviceSpecificCredentialId",
    ),
    "UploadSigningCertificate": ("signing-certificate", "certificate", "certificateId"),
}
# The calls that can make something the reach follows or reports: the investigation looks these up by name
# where a credential's own look-up was cut (its newest events pushed the oldest out).
DERIVING_CALLS = (
    "CreateAccessKey",
    "UpdateAccessKey",
    "CreateUser",
    "UpdateUser",
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "CreateRole",
    "UpdateAssumeRolePolicy",
    *USER_POLICY_CALLS,
    *ROLE_POLICY_CALLS,
    *GROUP_CALLS,
    *POLICY_VERSION_CALLS,
    *USER_CREDENTIAL_CALLS,
    *SESSION_CALLS,
)
_AWS_QUARANTINE_PREFIX = ":iam::aws:policy/AWSCompromisedKeyQuarantine"


class Kind(StrEnum):
    ACCESS_KEY = "access-key"  # a long-term key the attacker made, or set Active again
    SESSION = "session"  # temporary credentials minted from a credential in the reach
    USER = "user"  # a user the attacker made
    ROLE = "role"  # a role the attacker made
    LOGIN_PROFILE = "login-profile"  # a console password made or changed on a user
    TRUST = "trust"  # a role's trust policy rewritten
    USER_CREDENTIAL = "user-credential"  # an SSH key, a service-specific credential, a signing certificate
    GRANT = "grant"  # more rights for a principal the attacker did not make (policy, group, policy version)
    RENAME = "rename"  # a user the attacker did not make, renamed
    NAMED_ROLE = "named-role"  # a role the attack sequence itself names beside its keys: its sessions end


# Items that are credentials the attacker can use, and so are looked up in turn (their own calls).
FOLLOWED = frozenset({Kind.ACCESS_KEY, Kind.SESSION, Kind.USER, Kind.ROLE, Kind.TRUST, Kind.NAMED_ROLE})


@dataclass(frozen=True)
class Seed:
    """A credential the incident itself names: contained by the first task, the start of the reach."""

    kind: str  # "access-key", "instance-session", "role"
    id: str  # the key id; the instance id (the session name EC2 gives); the role name
    label: str
    user: str = ""
    role: str = ""


@dataclass
class Item:
    kind: Kind
    id: str
    label: str
    judgement: Judgement
    depth: int
    made_at: str = ""
    made_by: str = ""  # the label of the credential that made it
    event_id: str = ""
    event_name: str = ""
    user: str = ""  # the user it belongs to, by its current name (renames followed)
    user_id: str = ""
    names: list[str] = field(default_factory=list)  # every name the user had, oldest first
    role: str = ""
    role_arn: str = ""
    session_issued_at: str = ""
    outside: bool = False  # a role in another account: nothing here can contain it
    root: str = ""  # the seed the chain that made it started from (its id)
    details: dict[str, Any] = field(default_factory=dict)  # attacker data (documents): evidence, not state

    @property
    def followed(self) -> bool:
        return self.kind in FOLLOWED and self.judgement.verdict != Verdict.OWNER and not self.outside

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "id": self.id,
            "label": self.label,
            **self.judgement.as_dict(),
            "depth": self.depth,
            "made_at": self.made_at,
            "made_by": self.made_by,
            "event_id": self.event_id,
            "event_name": self.event_name,
            "user": self.user,
            "user_id": self.user_id,
            "names": list(self.names),
            "role": self.role,
            "role_arn": self.role_arn,
            "session_issued_at": self.session_issued_at,
            "outside": self.outside,
            "root": self.root,
            "details": self.details,
        }


@dataclass
class Reach:
    seeds: list[Seed]
    items: list[Item]
    max_depth: int
    max_items: int
    cut: list[str] = field(default_factory=list)  # what the bounds left out, named

    def followed(self) -> list[Item]:
        return [item for item in self.items if item.followed]

    def bound(self) -> str:
        return (
            f"the reach is followed {self.max_depth} hop(s) from the compromised credential and holds at most "
            f"{self.max_items} items"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "seeds": [seed.__dict__ for seed in self.seeds],
            "items": [item.as_dict() for item in self.items],
            "bound": self.bound(),
            "cut": self.cut,
        }


class _Builder:
    def __init__(
        self,
        seeds: list[Seed],
        window: Window,
        signals: Signals,
        baseline: Baseline,
        max_depth: int,
        max_items: int,
    ) -> None:
        self.reach = Reach(seeds, [], max_depth, max_items)
        self.window, self.signals, self.baseline = window, signals, baseline
        self.items: dict[tuple[Kind, str], Item] = {}
        self.seed_keys = {seed.id for seed in seeds if seed.kind == "access-key"}
        self.seed_sessions = {seed.id for seed in seeds if seed.kind == "instance-session"}
        self.seed_roles = {seed.role for seed in seeds if seed.role}
        self.root = ""  # the seed of the call being derived
        # Every trust document the look-ups saw set, by role, in time order: what a rewrite replaced.
        self.trust_history: dict[str, dict[str, Any]] = {}

    # -- who made a call -----------------------------------------------------------------------------
    def maker(self, call: Call) -> tuple[Item | Seed | None, Judgement | None, int]:
        caller = call.caller
        if caller.access_key_id in self.seed_keys:
            seed = next(s for s in self.reach.seeds if s.id == caller.access_key_id)
            return seed, judge(call, self.window, self.signals, self.baseline), 0
        if (
            caller.type == "AssumedRole"
            and caller.session_name in self.seed_sessions
            and (not self.seed_roles or caller.role_name in self.seed_roles)
        ):
            seed = next(s for s in self.reach.seeds if s.id == caller.session_name)
            return seed, judge(call, self.window, self.signals, self.baseline), 0
        for item in self.items.values():
            if not item.followed:
                continue
            if item.kind in (Kind.ACCESS_KEY, Kind.SESSION) and caller.access_key_id == item.id:
                return item, inherited(call, item.label, item.judgement), item.depth
            if (
                item.kind == Kind.USER
                and caller.type == "IAMUser"
                and ((item.user_id and caller.principal_id == item.user_id) or caller.user_name in item.names)
            ):
                return item, inherited(call, item.label, item.judgement), item.depth
        if call.event_name == "AssumeRole":
            # Someone (often another account) assumed a role the attacker made or opened: the role's work.
            target = text(call.request.get("roleArn"))
            for item in self.items.values():
                if item.kind in (Kind.ROLE, Kind.TRUST, Kind.NAMED_ROLE) and item.followed and target == item.role_arn:
                    return item, inherited(call, item.label, item.judgement), item.depth
        return None, None, 0

    # -- what a call made ----------------------------------------------------------------------------
    def add(self, item: Item) -> Item | None:
        key = (item.kind, item.id)
        if key in self.items:
            return self.items[key]
        if len(self.items) >= self.reach.max_items:
            self.cut(f"{item.label} ({item.event_name} at {item.made_at}): over {self.reach.max_items} items")
            return None
        self.items[key] = item
        self.reach.items.append(item)
        return item

    def item(
        self, kind: Kind, item_id: str, label: str, call: Call, judgement: Judgement, depth: int, by: str, **kw: Any
    ) -> Item | None:
        return self.add(
            Item(
                kind=kind,
                id=item_id,
                label=label,
                judgement=judgement,
                depth=depth,
                made_at=call.time,
                made_by=by,
                event_id=call.event_id,
                event_name=call.event_name,
                root=self.root,
                **kw,
            )
        )

    def cut(self, what: str) -> None:
        if len(self.reach.cut) < MAX_CUT_LISTED:
            self.reach.cut.append(what)
        elif len(self.reach.cut) == MAX_CUT_LISTED:
            self.reach.cut.append("and more (every call is in the evidence object)")

    def remember_trust(self, call: Call) -> None:
        role = text(call.request.get("roleName"), 64)
        trust = call.request.get("assumeRolePolicyDocument" if call.event_name == "CreateRole" else "policyDocument")
        if role and call.event_name in ("CreateRole", "UpdateAssumeRolePolicy") and document(trust) is not None:
            self.trust_history[role] = {"document": document(trust), "event_name": call.event_name, "time": call.time}

    def caller_user(self, call: Call) -> str:
        return call.caller.user_name

    def user_item(self, name: str) -> Item | None:
        for item in self.items.values():
            if item.kind == Kind.USER and name in item.names:
                return item
        return None

    def role_item(self, name: str) -> Item | None:
        return self.items.get((Kind.ROLE, name))

    def held_user(self, name: str) -> Item | None:
        """A user the reach holds whole (made by the attacker or on doubt): what is done to it is noted on it."""
        item = self.user_item(name)
        return item if item is not None and item.judgement.verdict != Verdict.OWNER else None

    def held_role(self, name: str) -> Item | None:
        item = self.role_item(name)
        return item if item is not None and item.judgement.verdict != Verdict.OWNER else None

    def derive(self, call: Call, judgement: Judgement, depth: int, by: str) -> None:
        name, request, response = call.event_name, call.request, call.response
        account = self.signals.account
        if name == "CreateAccessKey":
            key = as_dict(response.get("accessKey"))
            key_id = text(key.get("accessKeyId"), 128)
            user = text(key.get("userName") or request.get("userName"), 64) or self.caller_user(call)
            if key_id:
                self.item(
                    Kind.ACCESS_KEY,
                    key_id,
                    f"access key {key_id} of user {user}",
                    call,
                    judgement,
                    depth + 1,
                    by,
                    user=user,
                )
        elif name == "UpdateAccessKey" and str(request.get("status", "")).lower() == "active":
            key_id = text(request.get("accessKeyId"), 128)
            user = text(request.get("userName"), 64) or self.caller_user(call)
            if key_id and key_id not in self.seed_keys:
                self.item(
                    Kind.ACCESS_KEY, key_id, f"access key {key_id} of user {user}, set Active again", call, judgement,
                    depth + 1, by, user=user, details={"reactivated": True},
                )  # fmt: skip
        elif name == "CreateUser":
            made = as_dict(response.get("user"))
            user_name = text(made.get("userName") or request.get("userName"), 64)
            if user_name:
                self.item(
                    Kind.USER, text(made.get("userId"), 128) or user_name, f"user {user_name}", call, judgement,
                    depth + 1, by, user=user_name, user_id=text(made.get("userId"), 128), names=[user_name],
                    details={"arn": text(made.get("arn"))},
                )  # fmt: skip
        elif name == "UpdateUser" and request.get("newUserName"):
            self.rename(call, judgement, depth, by)
        elif name in ("CreateLoginProfile", "UpdateLoginProfile"):
            user = text(request.get("userName"), 64) or self.caller_user(call)
            if user:
                verb = "made" if name == "CreateLoginProfile" else "changed"
                self.item(
                    Kind.LOGIN_PROFILE, user, f"console password of user {user} ({verb})", call, judgement, depth + 1,
                    by, user=user, details={"created": name == "CreateLoginProfile"},
                )  # fmt: skip
        elif name == "CreateRole":
            role = as_dict(response.get("role"))
            role_name = text(role.get("roleName") or request.get("roleName"), 64)
            trust = request.get("assumeRolePolicyDocument")
            if role_name:
                arn = text(role.get("arn")) or (f"arn:aws:iam::{account}:role/{role_name}" if account else "")
                self.item(
                    Kind.ROLE, role_name, f"role {role_name}", call, judgement, depth + 1, by, role=role_name,
                    role_arn=arn, details={"role_id": text(role.get("roleId"), 128), "trust": document(trust),
                                           "trusts": sorted(principals(trust))},
                )  # fmt: skip
        elif name == "UpdateAssumeRolePolicy":
            role_name = text(request.get("roleName"), 64)
            if role_name and not self.held_role(role_name):
                arn = f"arn:aws:iam::{account}:role/{role_name}" if account else ""
                details: dict[str, Any] = {"document": document(request.get("policyDocument"))}
                if role_name in self.trust_history:
                    details["previous"] = self.trust_history[role_name]
                self.item(
                    Kind.TRUST, role_name, f"trust policy of role {role_name}", call, judgement, depth + 1, by,
                    role=role_name, role_arn=arn, details=details,
                )  # fmt: skip
        elif name in SESSION_CALLS:
            self.session(call, judgement, depth, by)
        elif name in USER_CREDENTIAL_CALLS:
            kind, container, id_field = USER_CREDENTIAL_CALLS[name]
            made = as_dict(response.get(container))
            credential_id = text(made.get(id_field), 128)
            user = text(made.get("userName") or request.get("userName"), 64) or self.caller_user(call)
            if credential_id:
                self.item(
                    Kind.USER_CREDENTIAL, credential_id, f"{kind} {credential_id} of user {user}", call, judgement,
                    depth + 1, by, user=user,
                    details={"type": kind, "service": text(made.get("serviceName") or request.get("serviceName"), 128)},
                )  # fmt: skip
        elif name in (*USER_POLICY_CALLS, *ROLE_POLICY_CALLS, *GROUP_CALLS, *POLICY_VERSION_CALLS):
            self.grant(call, judgement, depth, by)

    def rename(self, call: Call, judgement: Judgement, depth: int, by: str) -> None:
        old, new = text(call.request.get("userName"), 64), text(call.request.get("newUserName"), 64)
        item = self.held_user(old)
        if item is not None:
            item.names.append(new)
            item.user = new
            item.label = f"user {new} (made as {item.names[0]})"
            return
        self.item(
            Kind.RENAME, old, f"user {old} renamed to {new}", call, judgement, depth + 1, by, user=new, names=[old, new]
        )

    def session(self, call: Call, judgement: Judgement, depth: int, by: str) -> None:
        credentials = as_dict(call.response.get("credentials"))
        key_id = text(credentials.get("accessKeyId"), 128)
        if not key_id:
            return
        if call.event_name == "AssumeRole":
            role_arn = text(call.request.get("roleArn"))
            role = role_arn.rpartition("/")[2]
            other = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
            outside = bool(other and self.signals.account and other != self.signals.account)
            session = text(call.request.get("roleSessionName"), 64)
            label = f"session {key_id} of role {role} ({session})" + (f" in account {other}" if outside else "")
            self.item(
                Kind.SESSION, key_id, label, call, judgement, depth + 1, by, role=role, role_arn=role_arn,
                session_issued_at=call.time, outside=outside,
                details={"assumed_role_arn": text(as_dict(call.response.get("assumedRoleUser")).get("arn"))},
            )  # fmt: skip
            return
        user = self.caller_user(call) or call.caller.session_name
        federated = as_dict(call.response.get("federatedUser"))
        label = f"session {key_id} ({call.event_name}) of user {user}"
        self.item(
            Kind.SESSION, key_id, label, call, judgement, depth + 1, by, user=user, session_issued_at=call.time,
            details={"federated_user": text(federated.get("arn"))} if federated else {},
        )  # fmt: skip

    def grant(self, call: Call, judgement: Judgement, depth: int, by: str) -> None:
        request = call.request
        policy = text(request.get("policyArn") or request.get("policyName") or request.get("groupName"), 2048)
        if call.event_name.startswith("Attach") and _AWS_QUARANTINE_PREFIX in policy:
            return  # AWS's own quarantine of the exposed user: no grant
        if call.event_name.startswith("Put") and _deny_only(request.get("policyDocument")):
            return  # a policy that only denies grants nothing, whatever its name
        user = text(request.get("userName"), 64)
        role = text(request.get("roleName"), 64)
        target = self.held_user(user) if user else self.held_role(role) if role else None
        if target is not None:
            # On a principal the attacker made: it is held whole; the grant is noted on it.
            target.details.setdefault("grants", []).append(f"{call.event_name} {policy}")
            return
        principal = f"user {user}" if user else f"role {role}" if role else f"group {request.get('groupName', '?')}"
        if call.event_name in POLICY_VERSION_CALLS:
            principal = f"managed policy {policy}"
        self.item(
            Kind.GRANT, f"{call.event_name}:{principal}:{policy}", f"{call.event_name} {policy} on {principal}", call,
            judgement, depth + 1, by, user=user, role=role,
            details={"policy": policy, "document": document(request.get("policyDocument"))},
        )  # fmt: skip


def _deny_only(value: Any) -> bool:
    policy = document(value)
    statements = (policy or {}).get("Statement")
    statements = [statements] if isinstance(statements, dict) else statements
    return (
        bool(statements)
        and isinstance(statements, list)
        and all(isinstance(s, dict) and s.get("Effect") == "Deny" for s in statements)
    )


# Within one second CloudTrail's order is not the calls' order: what makes a principal comes before what is
# done to it (CreateUser and AttachUserPolicy of one script often share a second).
_FIRST = {"CreateUser": 0, "CreateRole": 0, "CreateAccessKey": 1, "CreateLoginProfile": 1, "AssumeRole": 1}


def _order(call: Call) -> tuple[str, int, str]:
    return (call.time, _FIRST.get(call.event_name, 2), call.event_id)


def build(
    seeds: list[Seed],
    calls: Iterable[Call],
    window: Window,
    signals: Signals,
    baseline: Baseline,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_items: int = DEFAULT_MAX_ITEMS,
) -> Reach:
    """The reach from `calls` (any order; each judged in time order so a credential exists before it acts)."""
    builder = _Builder(seeds, window, signals, baseline, max_depth, max_items)
    for seed in seeds:
        if seed.kind == "role":
            arn = f"arn:aws:iam::{signals.account}:role/{seed.id}" if signals.account else ""
            builder.add(
                Item(
                    Kind.NAMED_ROLE,
                    seed.id,
                    seed.label,
                    seed_judgement(seed),
                    0,
                    role=seed.id,
                    role_arn=arn,
                    root=seed.id,
                )
            )
    for call in sorted(calls, key=_order):
        if not call.succeeded or call.event_name not in DERIVING_CALLS:
            continue
        maker, judgement, depth = builder.maker(call)
        if maker is not None and judgement is not None:
            if depth >= max_depth:
                builder.cut(f"{call.event_name} at {call.time} by {maker.label}: beyond {max_depth} hop(s)")
            else:
                builder.root = maker.id if isinstance(maker, Seed) else maker.root
                builder.derive(call, judgement, depth, maker.label)
        builder.remember_trust(call)
    return builder.reach


def seed_judgement(seed: Seed) -> Judgement:
    return Judgement(Verdict.ATTACKER, "finding-names-it", f"{seed.label}: the finding itself names it")
