"""The honest outcome of a run: pure functions from the state machine's state to a verdict.

    collect_steps(state) -> [StepResult]          every task's steps, flattened; a caught task
                                                  failure becomes one failed step named after it
    decide(intake_status, reason, steps) -> Verdict(outcome, reason, steps, attention)

Rules (StepResult.containment marks the steps containment depends on):
* IGNORED / DUPLICATE pass through from intake, with intake's reason. A DUPLICATE that re-contained
  (a repeat showing the credentials still in use: the workflow cut them off again) stays DUPLICATE
  only when that re-containment succeeded, and is judged like any response (FAILED/PARTIAL) when not.
  A repeat that names something new is ACCEPTED (narrowed to what is new) and judged like any
  response; what it brings leads the reason.
* CONTAINED only when there is at least one containment step and every one of them is done or
  already-done, and no step at all failed. Never success after a failure.
* PARTIAL when some containment succeeded but another containment step failed or was skipped,
  or when containment succeeded and a non-containment step (evidence, investigation) failed.
* FAILED when no containment step succeeded, or an accepted incident has no containment step, or only
  back-door evictions (BACKDOOR_STEPS) succeeded: the credential itself is still live.

Skipped containment (dry-run, or an action that chose not to act) counts as *not done*: the
credentials are still live, which is what FAILED means to the reader. So a dry-run reports
FAILED with reason "containment skipped: dry-run", never CONTAINED. We did not add a sixth
"skipped" outcome: every consumer (the state machine's Choice, metrics, the drill) would have
to handle a value whose operational meaning is the same as FAILED; the reason tells them apart.

`attention` lists what a human must finish: failed steps and skipped containment steps, each
with its error and, where the action gave one, the exact manual command.

Only the verdict's rules live here. The commands of the steps a person finishes by hand, and what is left
for a person after the response, are report.next_steps'.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from common.action import by_task, reach_steps
from common.steps import Status, StepResult, step, succeeded
from report import next_steps as runbook

# Tasks whose failure leaves the credentials live. A caught failure of one of these becomes a
# failed *containment* step. Prefix match: "contain", "contain_key", "revoke_sessions"; and the declared actions
# whose steps are containment (common.action), by their tasks' names.
CONTAINMENT_TASKS = ("contain", "revoke")
# Back doors the attacker left (lambdas/evict, lambdas/investigate, and the declared actions on the attacker's
# reach): containment steps, so one left failed or skipped makes the incident PARTIAL, but evicting them alone
# does not contain the credential itself.
BACKDOOR_STEPS = reach_steps() | frozenset(
    {
        "deactivate-backdoor-key",
        "evict-created-user",
        "hold-user",
        "remove-login-profile",
        "quarantine-created-role",
        "quarantine-rewritten-trust",
        "restore-trust",
        "revoke-minted-sessions",
        "evict-backdoors",
    }
)
_KNOWN_STATUSES = {str(status) for status in Status}


class Outcome(StrEnum):
    CONTAINED = "contained"
    PARTIAL = "partial"
    FAILED = "failed"
    IGNORED = "ignored"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str
    steps: list[StepResult] = field(default_factory=list)
    attention: list[StepResult] = field(default_factory=list)


def decide(intake_status: str, intake_reason: str, steps: list[StepResult], repeat: str = "") -> Verdict:
    """`repeat`: for a repeat that brings something new (record.judge), what it brings; it leads
    the reason, so that the one message says what is new."""
    if intake_status == "accepted" and repeat:
        verdict = decide(intake_status, intake_reason, steps)
        return Verdict(verdict.outcome, f"{repeat}; {verdict.reason}", verdict.steps, verdict.attention)
    if intake_status == "ignored":
        return Verdict(Outcome.IGNORED, intake_reason, steps)
    if intake_status == "duplicate":
        if not any(s["containment"] for s in steps):
            return Verdict(Outcome.DUPLICATE, intake_reason, steps)
        again = decide("accepted", intake_reason, steps)
        if again.outcome != Outcome.CONTAINED:
            return Verdict(again.outcome, f"{intake_reason}; re-containment: {again.reason}", steps, again.attention)
        return Verdict(Outcome.DUPLICATE, f"{intake_reason}; cut off again: {again.reason}", steps, again.attention)
    if intake_status != "accepted":
        # Normalization itself failed (the workflow's NormalizeFailed path): nobody acted.
        return Verdict(Outcome.FAILED, f"intake {intake_status or 'missing'}: {lambda_message(intake_reason)}", steps)

    containment = [s for s in steps if s["containment"]]
    contained = [s for s in containment if succeeded(s)]
    attention = [s for s in steps if _failed(s) or (s["containment"] and s["status"] == Status.SKIPPED)]

    if not containment:
        return Verdict(Outcome.FAILED, _join("no containment step ran", attention), steps, attention)
    if not [s for s in contained if s["name"] not in BACKDOOR_STEPS]:
        skipped = [s for s in containment if s["status"] == Status.SKIPPED]
        if len(skipped) == len(containment):
            details = sorted({s["detail"] for s in skipped})
            return Verdict(Outcome.FAILED, f"containment skipped: {'; '.join(details)}", steps, attention)
        lead = "the credential itself was not contained" if contained else "no containment step succeeded"
        return Verdict(Outcome.FAILED, _join(lead, attention), steps, attention)
    if attention:
        if len(contained) == len(containment):
            lead = f"contained ({_names(contained)}), but a follow-up step did not finish"
        else:
            lead = f"contained only in part ({_names(contained)} succeeded)"
        return Verdict(Outcome.PARTIAL, _join(lead, attention), steps, attention)
    return Verdict(Outcome.CONTAINED, f"every containment step succeeded: {_names(contained)}", steps, attention)


def _failed(s: StepResult) -> bool:
    # An unknown status is not evidence of success: count it as failed.
    return s["status"] == Status.FAILED or s["status"] not in _KNOWN_STATUSES


def _names(steps: list[StepResult]) -> str:
    return ", ".join(dict.fromkeys(s["name"] for s in steps))


def _join(lead: str, attention: list[StepResult]) -> str:
    if not attention:
        return lead
    first = attention[0]
    more = f" (+{len(attention) - 1} more)" if len(attention) > 1 else ""
    return f"{lead}; {first['name']} {first['status']} on {first['target']}: {first['detail']}{more}"


# -- collecting the steps from the state --------------------------------------------------------


def collect_steps(state: dict[str, Any]) -> list[StepResult]:
    """Flatten `results` (a task's {"steps": [...]} or a Map's list of them) and turn each caught
    failure (`failures`, or a Map item that is itself {"Error", "Cause"}) into a failed step.

    `branches` is a Parallel state's output: one copy of the state per branch, each with the
    results and failures written inside it. They are merged by task name, so the results that
    every copy inherited from before the Parallel appear once."""
    incident = (state.get("intake") or {}).get("incident")
    execution_arn = (state.get("execution") or {}).get("id")
    results = dict(state.get("results") or {})
    failures = dict(state.get("failures") or {})
    for branch in state.get("branches") or []:
        if isinstance(branch, dict):
            results.update(branch.get("results") or {})
            failures.update(branch.get("failures") or {})

    steps: list[StepResult] = []
    for task, result in results.items():
        for item in result if isinstance(result, list) else [result]:
            if not isinstance(item, dict):
                continue
            if "Error" in item:
                steps.append(failure_step(task, item, incident, execution_arn))
            for raw in item.get("steps") or []:
                steps.append(_normalize(raw, task, incident or {}))
            # A member of an instance group (the IsolateInstanceGroup Map): its own tasks' results.
            member = {**(incident or {}), "instance_id": item.get("instance_id")} if "instance_id" in item else None
            for sub_task, sub_result in (item.get("results") or {}).items() if member else ():
                for raw in (sub_result or {}).get("steps") or [] if isinstance(sub_result, dict) else []:
                    steps.append(_normalize(raw, sub_task, member or {}))
            for sub_task, failure in (item.get("failures") or {}).items() if member else ():
                steps.append(failure_step(sub_task, failure or {}, member, execution_arn))
    for task, failure in failures.items():
        steps.append(failure_step(task, failure or {}, incident, execution_arn))
    if (incident or {}).get("kind") == "console-compromise":
        steps.append(console_step(incident or {}))
    for reason in (incident or {}).get("unresolved") or []:
        steps.append(unresolved_step(incident or {}, str(reason)))
    if (incident or {}).get("report_only"):
        steps.append(report_only_step(incident or {}))
    steps += contained_elsewhere_steps(incident or {}, (state.get("intake") or {}).get("record"))
    if not (incident or {}).get("isolate_group"):
        steps += [instance_group_step(incident or {}, str(i)) for i in (incident or {}).get("group_instance_ids") or []]
    return steps


JOINED_STEP = "already-contained"
PENDING_STEP = "contained-by-another-response"


def contained_elsewhere_steps(incident: dict[str, Any], record: dict[str, Any] | None) -> list[StepResult]:
    """What this delivery names that another response of the incident handles (intake.record, from
    record.judge): a principal contained earlier and inactive since its cut-off is reported as
    already done, naming that response; one a response still running contains is reported as that
    response's (it reports its own outcome). This response's own read-backs are its own steps."""
    if not isinstance(record, dict):
        return []
    acted = {f"role {incident['role_name']}"} if incident.get("role_name") else set()
    acted |= {f"key {key}" for key in incident.get("access_key_ids") or []}
    acted |= {f"role {role}" for role in incident.get("contain_roles") or []}
    steps = [
        step(
            JOINED_STEP,
            Status.ALREADY_DONE,
            str(known.get("principal")),
            f"contained by the response to finding {known.get('finding_id')} (incident {record.get('incident_id')}, "
            f"response {known.get('response')}, cut-off at {known.get('at')}, outcome {known.get('outcome')}); "
            "GuardDuty shows no activity after that cut-off, so it is not changed again",
            containment=True,
        )
        for known in record.get("known") or []
        if isinstance(known, dict) and known.get("principal") not in acted
    ]
    steps += [
        step(
            PENDING_STEP,
            Status.SKIPPED,
            str(pending.get("principal")),
            f"being contained by the response to finding {pending.get('finding_id')} (execution "
            f"{pending.get('execution_arn')}, started at {pending.get('started_at')}), which reports its own outcome",
        )
        for pending in record.get("pending") or []
        if isinstance(pending, dict) and pending.get("principal") not in acted
    ]
    return steps


GROUP_STEP = "isolate-instance-group"


def instance_group_step(incident: dict[str, Any], instance_id: str) -> StepResult:
    """AttackSequence:EC2/CompromisedInstanceGroup: an instance of the group, left running as it is
    (isolateInstanceGroups is off: a whole group is a bigger blast radius than one instance). A
    skipped containment step: its instance profile still hands out new credentials of the role, so
    the outcome cannot be CONTAINED; the commands image it and cut it off by hand."""
    return step(
        GROUP_STEP,
        Status.SKIPPED,
        instance_id,
        "isolateInstanceGroups=false: the instance of the compromised group was not imaged or isolated; it can "
        "still obtain new credentials from its instance profile",
        containment=True,
        manual=runbook.instance_group_commands(incident, instance_id),
    )


UNRESOLVED_STEP = "contain-sequence-principal"


def unresolved_step(incident: dict[str, Any], reason: str) -> StepResult:
    """A principal an attack sequence names that was not contained automatically (another account's,
    root, no key id, another type): a failed containment step, never a guess."""
    field_path = reason.split(":", 1)[0]
    return step(
        UNRESOLVED_STEP,
        Status.FAILED,
        field_path,
        f"not contained automatically: {reason.split(':', 1)[-1].strip()}",
        containment=True,
        manual=runbook.sequence_principal_manual(incident, reason),
    )


REPORT_ONLY_STEP = "report-only"


def report_only_step(incident: dict[str, Any]) -> StepResult:
    """The configuration said to only report this incident (the workflow ran no containment): a
    skipped containment step, so the outcome is FAILED (the credentials are still live) and the
    reason and the manual containment are in the report."""
    return step(
        REPORT_ONLY_STEP,
        Status.SKIPPED,
        _principal_target(incident),
        str(incident.get("report_only")),
        containment=True,
        manual=runbook.containment_commands(incident),
    )


CONSOLE_STEP = "secure-console-credentials"


def console_step(incident: dict[str, Any]) -> StepResult:
    """AWS Health AWS_RISK_ACCOUNT_CONSOLE_COMPROMISE: the console password (usually the root
    user's) is in the attacker's hands. No key, no role: nothing the responder may change, and it
    must not pretend otherwise. A skipped containment step, so the outcome is FAILED and the alarm
    fires, with the steps only the account owner can take."""
    account = incident.get("account") or "this account"
    return step(
        CONSOLE_STEP,
        Status.SKIPPED,
        f"account {account}",
        "console credentials (usually the root user's) cannot be contained automatically: the account owner "
        "must secure the root user",
        containment=True,
        manual=runbook.root_account_steps(account),
    )


def _normalize(raw: dict[str, Any], task: str, incident: dict[str, Any]) -> StepResult:
    """The report is the last resort: a malformed step must not crash it. Missing fields get
    values that read as 'unknown', and a missing status reads as failed."""
    result: StepResult = {
        "name": str(raw.get("name") or task),
        "status": str(raw.get("status") or Status.FAILED),
        "target": str(raw.get("target") or "?"),
        # A Catch that copies $.error.Cause into the detail hands us Lambda's error JSON.
        "detail": lambda_message(str(raw.get("detail") or "")),
        "containment": bool(raw.get("containment")),
    }
    for key in ("undo", "manual", "data"):
        if raw.get(key):
            result[key] = raw[key]  # type: ignore[literal-required]
    if result["containment"] and _failed(result) and not result.get("manual"):
        # The one thing that must not be left without instructions.
        result["manual"] = runbook.containment_commands(incident, only_key=result["target"])
    return result


def failure_step(
    task: str, failure: dict[str, Any], incident: dict[str, Any] | None, execution_arn: str | None
) -> StepResult:
    """A task failed as a whole (caught by the state machine): its steps are unknown, so report
    one failed step named after the task, with what to do by hand."""
    declared = by_task(task)
    containment = task.startswith(CONTAINMENT_TASKS) or (declared is not None and declared.containment)
    incident = incident or {}
    return step(
        task,
        Status.FAILED,
        _principal_target(incident),
        f"task failed, its steps are unknown: {error_text(failure)}",
        containment=containment,
        manual=runbook.task_manual(task, containment, incident, execution_arn),
    )


def error_text(failure: dict[str, Any]) -> str:
    """`Error: message` from a caught failure {"Error", "Cause"}."""
    error = str(failure.get("Error") or "Error")
    message = lambda_message(str(failure.get("Cause") or ""), with_type=False)
    return f"{error}: {message}" if message else error


def lambda_message(text: str, with_type: bool = True) -> str:
    """A Lambda error's Cause is JSON with errorType, errorMessage and a stack trace we do not
    want in a chat message; reduce it to `errorType: errorMessage`. Other text passes through."""
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        message = str(parsed["errorMessage"])
        if with_type and parsed.get("errorType"):
            message = f"{parsed['errorType']}: {message}"
        text = message
    # Whole: a channel that cannot hold it cuts it at a word boundary, with a marker (report.render).
    return " ".join(text.split())


def _principal_target(incident: dict[str, Any]) -> str:
    keys = incident.get("access_key_ids") or []
    if incident.get("kind") == "exposed-access-key" and keys:
        return ", ".join(keys)
    return incident.get("role_name") or incident.get("instance_id") or ", ".join(keys) or "?"
