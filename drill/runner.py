"""Run one event through the synthesized workflow in a fresh simulated account, and describe it
in the drill's JSON contract (docs/drill.md, "The drill's JSON")."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drill.account import ExecutionRecord, Fault, SimulatedAccount
from drill.history import History, HistoryError
from drill.observe import incident_records, observe
from drill.scenario import install_cloudtrail, load_cloudtrail
from drill.staging import Staged, event_account, stage, wrap_bare_finding
from drill.state import AccountState, apply_account_state, load_account_state
from drill.template import Synthesized

# Never contacted: the drill replaces the transport and records what would have been posted.
DRILL_WEBHOOK = "https://hooks.slack.com/services/TDRILL000/BDRILL000/drill-webhook-never-contacted"

CONTAINING_CALLS = {("iam", "UpdateAccessKey"), ("iam", "PutRolePolicy")}

Setup = Callable[[SimulatedAccount, Staged], None]


def run_event_file(
    path: str | Path,
    synthesized: Synthesized,
    *,
    include_samples: bool = False,
    time_scale: float = 0.001,
    setup: Setup | None = None,
    environment: dict[str, str] | None = None,
    cloudtrail: str | Path | History | None = None,
    faults: list[Fault] | None = None,
    deliveries: int = 1,
    redeliver: Callable[[Any], Any] | None = None,
    between: Setup | None = None,
    after: Callable[[SimulatedAccount, Staged], Any] | None = None,
    account_state: str | Path | AccountState | None = None,
    on_record: Callable[[ExecutionRecord, dict[str, str]], None] | None = None,
) -> dict[str, Any]:
    """Stage what the event names, deliver it `deliveries` times (a re-delivery, as EventBridge and
    GuardDuty do), and describe the last delivery with the state read back afterwards."""
    raw = json.loads(Path(path).read_text())
    env = dict(environment or {})
    if include_samples:
        env["ACCEPT_SAMPLE_FINDINGS"] = "true"
    state = _state(account_state)
    trail = _cloudtrail(cloudtrail, state)
    account_id = (state.account_id if state else None) or event_account(wrap_bare_finding(raw, []))
    with SimulatedAccount(synthesized, account_id=account_id, time_scale=time_scale, environment=env) as account:
        base = apply_account_state(account, state) if state else None
        staged = stage(account, raw, include_samples=include_samples, base=base)
        recorders = _install_recorders(account, staged, trail)
        if setup is not None:
            setup(account, staged)
        account.faults.extend(faults or [])
        observed_before = observe(account, staged) if after is not None else None
        handlers = {name: f"{module}.{attribute}" for name, (module, attribute) in account.functions.items()}
        earlier = []
        event = staged.event
        for _ in range(deliveries - 1):
            previous = account.run(event)
            earlier.append(describe_outcome(previous, handlers)[0])
            event = redeliver(event) if redeliver else event
            if between is not None:
                between(account, staged)
        record = account.run(event)
        observed = observe(account, staged)
        if on_record is not None:
            on_record(record, handlers)
        if after is not None:
            after_result = after(account, staged)
            observed_after = observe(account, staged)
    result = describe(Path(path).name, staged, record, observed, recorders, handlers)
    if earlier:
        result["earlier_deliveries"] = earlier
    if after is not None:
        result.update(observed_before=observed_before, after=after_result, observed_after=observed_after)
    return result


def run_sequence(
    paths: list[str | Path],
    synthesized: Synthesized,
    *,
    include_samples: bool = False,
    time_scale: float = 0.001,
    environment: dict[str, str] | None = None,
    cloudtrail: str | Path | History | None = None,
    account_state: str | Path | AccountState | None = None,
) -> list[dict[str, Any]]:
    """Deliver the events in order to ONE simulated account and deployment (one incident table),
    as a real account sees a finding's life: one result per delivery, each with the state read
    back after it. Staging of a later event reuses what earlier ones staged (same ids, same objects)."""
    raws = [json.loads(Path(path).read_text()) for path in paths]
    env = dict(environment or {})
    if include_samples:
        env["ACCEPT_SAMPLE_FINDINGS"] = "true"
    state = _state(account_state)
    trail = _cloudtrail(cloudtrail, state)
    account_id = (state.account_id if state else None) or event_account(wrap_bare_finding(raws[0], []))
    results: list[dict[str, Any]] = []
    with SimulatedAccount(synthesized, account_id=account_id, time_scale=time_scale, environment=env) as account:
        base = apply_account_state(account, state) if state else None
        handlers = {name: f"{module}.{attribute}" for name, (module, attribute) in account.functions.items()}
        recorders: dict[str, Any] | None = None
        for path, raw in zip(paths, raws, strict=True):
            staged = stage(account, raw, include_samples=include_samples, base=base)
            if recorders is None:
                recorders = _install_recorders(account, staged, trail)
            already_posted = len(recorders["slack"])
            record = account.run(staged.event)
            observed = observe(account, staged)
            delivered = {"slack": recorders["slack"][already_posted:]}
            result = describe(Path(path).name, staged, record, observed, delivered, handlers)
            result["delivery"] = len(results) + 1
            result["incident_records"] = incident_records(account)
            results.append(result)
            base = staged
    return results


def _cloudtrail(
    cloudtrail: str | Path | History | None, state: AccountState | None
) -> list[dict[str, Any]] | History | None:
    """The CloudTrail scenario: --cloudtrail's, or the account file's own history (one of the two)."""
    declared = state.history() if state else None
    if cloudtrail is not None and declared is not None:
        raise HistoryError("--cloudtrail and the account file's cloudtrail both give the history: give one")
    if isinstance(cloudtrail, History):
        return cloudtrail
    return load_cloudtrail(cloudtrail) if cloudtrail is not None else declared


def _state(account_state: str | Path | AccountState | None) -> AccountState | None:
    if account_state is None or isinstance(account_state, AccountState):
        return account_state
    return load_account_state(account_state)


def describe_outcome(record: ExecutionRecord, handlers: dict[str, str]) -> tuple[str, str, list[Any], list[Any]]:
    """The workflow's own account of what happened: its report, or the intake when no report ran."""
    intake = intake_of(record, handlers) or {}
    report = _result_of(record, handlers, "report.handler.handler_sns")
    if report is not None:
        return report["outcome"], report["reason"], report.get("steps", []), report.get("notifications", [])
    if intake.get("status") == "duplicate" and not intake.get("notify", True):
        return "duplicate", intake["reason"], [], []
    return "failed", _report_failure(record), [], []


def describe(
    event_file: str,
    staged: Staged,
    record: ExecutionRecord,
    observed: dict[str, Any],
    recorders: dict[str, Any],
    handlers: dict[str, str],
) -> dict[str, Any]:
    intake = intake_of(record, handlers)
    incident = (intake or {}).get("incident")
    outcome, reason, steps, notifications = describe_outcome(record, handlers)
    # A containing call that failed (NoSuchEntity on a user the event merely named, throttling) contained nothing.
    containing = [
        call.at for call in record.api_calls if (call.service, call.operation) in CONTAINING_CALLS and not call.error
    ]
    return {
        "event_file": event_file,
        "outcome": outcome,
        "reason": reason,
        "incident": None
        if not incident
        else {
            "kind": incident["kind"],
            "account": incident["account"],
            "region": incident["region"],
            "access_key_ids": incident["access_key_ids"],
            "user_names": incident["user_names"],
            "role_name": incident.get("role_name"),
            "instance_id": incident.get("instance_id"),
            # The keys' owners as IAM named them to the containment (the event may name none, or another).
            "owners": sorted(
                {
                    str(s["data"]["user_name"])
                    for s in steps
                    if s.get("name") == "deactivate-access-key" and (s.get("data") or {}).get("user_name")
                }
            ),
        },
        "steps": [
            {
                "name": s["name"],
                "status": s["status"],
                "target": s["target"],
                "detail": s["detail"],
                "containment": bool(s.get("containment")),
            }
            for s in steps
        ],
        "observed": observed,
        "staged": staged.mapping,
        "staging_notes": staged.notes,
        "notifications": notifications,
        "slack_requests": recorders.get("slack", []),
        "execution": {"status": record.status, "states": record.states, "transitions": record.transitions},
        "timings_ms": {
            "to_containment": round((min(containing) - record.started) * 1000, 2) if containing else None,
            "total": round((record.ended - record.started) * 1000, 2),
        },
        "api_calls": [{"service": c.service, "operation": c.operation, "error": c.error} for c in record.api_calls],
        "investigation": _investigation(record, handlers),
    }


def _investigation(record: ExecutionRecord, handlers: dict[str, str]) -> dict[str, Any] | None:
    """What the look-up found, per pass (the workflow's summary; the events themselves are in S3)."""
    passes = [
        inv.result["investigation"]
        for inv in record.invocations
        if handlers.get(inv.function) == "investigate.handler.handler" and inv.result and "investigation" in inv.result
    ]
    if not passes:
        return None
    last = passes[-1]

    def calls(kind: str) -> list[dict[str, Any]]:
        return [
            {
                "event_name": c.get("event_name"),
                "region": c.get("region"),
                "created": c.get("created"),
                "succeeded": c.get("succeeded"),
            }
            for c in last.get(kind, [])
        ]

    return {
        "passes": len(passes),
        "regions_searched": sorted(last.get("regions", {}).get("searched", [])),
        "regions_not_searched": last.get("regions", {}).get("not_searched", {}),
        "events_found": last.get("event_count", 0),
        "by_service": last.get("by_service"),
        "source_ips": last.get("source_ips"),
        "persistence_calls": calls("persistence_calls"),
        "mutating_calls": calls("mutating_calls"),
        "mutating_total": last.get("mutating_total", 0),
        "new_since_first_pass": (last.get("new_since_previous_pass") or {}).get("count") if len(passes) > 1 else None,
        "evidence": last.get("evidence"),
    }


def report_input(record: ExecutionRecord, handlers: dict[str, str]) -> Any:
    """The exact state the workflow passed to the e-mail report (None when no report ran)."""
    events = [inv.event for inv in record.invocations if handlers.get(inv.function) == "report.handler.handler_sns"]
    return events[-1] if events else None


# The containing functions, which are also the execution's first task (infra.workflow's Intake
# Choice routes to them); bench.coldstart measures these as the critical path's cold starts.
FIRST_TASKS = ("contain_key.handler.handler", "revoke_sessions.handler.handler")


def intake_of(record: ExecutionRecord, handlers: dict[str, str]) -> dict[str, Any] | None:
    """The intake: Normalize's output, or a containing function's as the execution's first task
    (its input is the raw event, its output holds the intake)."""
    intakes = [
        inv.result if handlers.get(inv.function) == "incident.handler.handler" else inv.result["intake"]
        for inv in record.invocations
        if isinstance(inv.result, dict)
        and (
            handlers.get(inv.function) == "incident.handler.handler"
            or (handlers.get(inv.function) in FIRST_TASKS and "event" in (inv.event or {}) and "intake" in inv.result)
        )
    ]
    return intakes[-1] if intakes else None


def _result_of(record: ExecutionRecord, handlers: dict[str, str], handler: str) -> Any:
    results = [inv.result for inv in record.invocations if handlers.get(inv.function) == handler]
    return results[-1] if results else None


def _install_recorders(
    account: SimulatedAccount, staged: Staged, records: list[dict[str, Any]] | History | None
) -> dict[str, Any]:
    """The drill's stand-ins at the product's seams: the Slack transport and CloudTrail."""
    slack_requests: list[dict[str, Any]] = []
    secret_name = os.environ.get("SLACK_SECRET_NAME", "")
    if secret_name:
        account.client("secretsmanager").create_secret(Name=secret_name, SecretString=DRILL_WEBHOOK)
    from report import slack  # the fresh module of this simulated account

    def record_post(url: str, payload: dict[str, Any]) -> tuple[int, str]:
        slack_requests.append({"url_is_the_secret": url == DRILL_WEBHOOK, "payload": payload})
        return 200, "ok"

    slack.post_json = record_post  # type: ignore[assignment]
    install_cloudtrail(account, staged, records)
    return {"slack": slack_requests}


def _report_failure(record: ExecutionRecord) -> str:
    errors = [inv.error for inv in record.invocations if inv.error]
    return "the report did not run: " + ("; ".join(errors) if errors else f"execution {record.status}")
