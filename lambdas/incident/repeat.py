"""The record's answer applied to the intake: what the workflow acts on, and what the report says.

A first delivery, or a re-run, acts on the whole incident. A repeat that brings something new acts
on that alone: the incident is narrowed to the principals the record has not contained (`new`)
and those it contains again (`again`: activity after the earlier cut-off), so that the containing
tasks, the investigation and the report are about exactly that, and `intake.record` says the rest
(what is already contained and by which response, what another running response contains).

A role an attack sequence named but deferred (keys first) is no failure when another response of
the incident contained it and shows no activity since (already contained, reported as such), and
is revoked again when it does (`contain_roles`); otherwise it stays `unresolved`, with the manual
route. "Already contained" is never read from an earlier outcome alone (record.judge).
"""

from __future__ import annotations

from typing import Any

from incident.model import Incident, Intake, IntakeStatus, JoinedIncident, Kind, ResponseRef
from record.principals import deferred_role
from record.registration import Registration


def apply(intake: Intake, registration: Registration | None, joined: dict[str, Any] | None = None) -> bool:
    """Set the intake's status, reason, record and (for a repeat) narrowed incident from the
    registration; return whether the workflow re-contains (`recontain`)."""
    if registration is None or intake.incident is None:
        return False
    incident = intake.incident
    if joined is not None:
        incident = incident.model_copy(update={"joined": JoinedIncident(**joined)})
    if registration.response is not None:
        intake.record = ResponseRef(
            incident_id=registration.record_id or incident.incident_id,
            response=registration.response,
            kind=registration.kind or "first",
            new=list(registration.new),
            again=[dict(item) for item in registration.again],  # type: ignore[misc]
            known=_reported(registration.known, registration, incident),  # type: ignore[arg-type]
            pending=_reported(registration.pending, registration, incident),  # type: ignore[arg-type]
            summary=registration.reason if registration.narrow else None,
        )
        intake.incident = narrowed(incident, registration)
    else:
        intake.incident = incident
    if registration.duplicate:
        intake.status = IntakeStatus.DUPLICATE
        intake.reason = registration.reason
        intake.notify = registration.changed
        return registration.recontain
    if registration.reason:
        intake.reason += f" ({registration.reason})"
    return False


def narrowed(incident: Incident, registration: Registration) -> Incident:
    """The incident as this response acts on it."""
    again = {str(item["principal"]) for item in registration.again}
    settled = again | {str(item["principal"]) for item in (*registration.known, *registration.pending)}
    unresolved = [r for r in incident.unresolved if f"role {deferred_role(r)}" not in settled]
    contain_roles = [r for r in (deferred_role(u) for u in incident.unresolved) if r and f"role {r}" in again]
    update: dict[str, Any] = {"unresolved": unresolved, "contain_roles": contain_roles}
    if registration.narrow:
        fresh = set(registration.new) | again
        if incident.kind == "exposed-access-key":
            update["affected_keys"] = [k for k in incident.affected_keys if f"key {k.access_key_id}" in fresh]
        elif incident.kind == Kind.INSTANCE_CREDENTIAL_EXFILTRATION and incident.group_instance_ids:
            update["group_instance_ids"] = [i for i in incident.group_instance_ids if f"instance {i}" in fresh]
    return incident.model_copy(update=update)


def _reported(
    items: tuple[dict[str, Any], ...], registration: Registration, incident: Incident
) -> list[dict[str, Any]]:
    """What the report shows as contained elsewhere: for a repeat, every principal it leaves as it
    is; for a whole response (first, re-run), only the deferred roles (it acts on the rest itself)."""
    if registration.narrow:
        return [dict(item) for item in items]
    deferred = {f"role {r}" for r in (deferred_role(u) for u in incident.unresolved) if r}
    return [dict(item) for item in items if item["principal"] in deferred]
