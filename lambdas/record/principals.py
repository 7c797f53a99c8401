"""What one delivery names, as the record compares it: pure, from the incident (a dict as
Incident.model_dump(mode="json") or Essentials.as_incident() gives it).

A principal is a string, "key AKIA...", "role NAME" or "instance i-...", the same in every
response entry, so that a repeat is compared with the record by set operations:
* `principals`: what this delivery's response contains: the keys of an exposed-key incident; the
  role of an instance-credential incident (its sessions revoked) and, for an instance group, each
  instance.
* `names`: everything it names, containable or not: the principals, the credentials (an instance
  role's session key "key ASIA..."), the users ("user NAME", informational: a user is contained
  through its keys), and what it could not resolve ("unresolved: <what>", read from
  incident.unresolved without its field path, which moves when GuardDuty adds an actor).
* `deferred_roles`: roles an attack sequence names but does not act on (keys first, or one role per
  response): another response of the incident may have contained them.
* `activity`: GuardDuty's count, eventLastSeen and updatedAt, to tell activity after a cut-off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# incident.normalize words a deferred role "role NAME (keys contained first; ...)" or "role NAME
# (one role per response; ...)"; NAME passed IAM's name pattern before it was written there.
_DEFERRED_ROLE = re.compile(r"^role ([A-Za-z0-9_+=,.@-]{1,64}) \((keys contained first|one role per response)")
KEY_KINDS = ("exposed-access-key",)
ROLE_KINDS = ("instance-credential-exfiltration",)


@dataclass(frozen=True)
class Activity:
    count: int | None = None
    last_seen: str | None = None
    updated_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "last_seen": self.last_seen, "updated_at": self.updated_at}


@dataclass(frozen=True)
class Delivery:
    incident_id: str
    finding_id: str | None
    event_type: str | None
    event_id: str | None
    kind: str
    principals: tuple[str, ...]
    names: tuple[str, ...]
    deferred_roles: tuple[str, ...]
    activity: Activity


def delivery_of(incident: dict[str, Any]) -> Delivery:
    kind = str(incident.get("kind") or "")
    keys = [str(key) for key in incident.get("access_key_ids") or []]
    principals: list[str] = []
    names: list[str] = []
    if kind in KEY_KINDS:
        principals += [f"key {key}" for key in keys]
    elif kind in ROLE_KINDS:
        if incident.get("role_name"):
            principals.append(f"role {incident['role_name']}")
        principals += [f"instance {i}" for i in incident.get("group_instance_ids") or []]
        names += [f"key {key}" for key in keys]  # the session's credentials: contained by the role's revoke
        if incident.get("instance_id"):
            names.append(f"instance {incident['instance_id']}")
    names += [f"user {user}" for user in incident.get("user_names") or []]
    deferred: list[str] = []
    for reason in incident.get("unresolved") or []:
        what = str(reason).split(":", 1)[-1].strip()
        matched = _DEFERRED_ROLE.match(what)
        if matched:
            deferred.append(matched.group(1))
            names.append(f"role {matched.group(1)}")
        else:
            names.append(f"unresolved: {what}")
    count = incident.get("count")
    return Delivery(
        incident_id=str(incident.get("incident_id") or ""),
        finding_id=incident.get("finding_id") or None,
        event_type=incident.get("event_type") or None,
        event_id=incident.get("event_id") or None,
        kind=kind,
        principals=tuple(dict.fromkeys(principals)),
        names=tuple(dict.fromkeys(principals + names)),
        deferred_roles=tuple(dict.fromkeys(deferred)),
        activity=Activity(
            count=int(count) if isinstance(count, int | float) and not isinstance(count, bool) else None,
            last_seen=_text(incident.get("last_seen")),
            updated_at=_text(incident.get("updated_at")),
        ),
    )


def deferred_role(reason: str) -> str | None:
    """The role of an `unresolved` entry that only defers it (keys first, one role per response)."""
    matched = _DEFERRED_ROLE.match(str(reason).split(":", 1)[-1].strip())
    return matched.group(1) if matched else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
