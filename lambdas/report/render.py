"""One renderer, two channels: the e-mail (SNS subject + plain text) and the Slack Block Kit message.

Pure functions of (incident dict, Verdict, links, execution): the same input always renders the
same bytes, which is what the golden-file tests pin. Both channels carry the same facts in the
same order, written for someone woken at 3 a.m. First: what happened, whose credential it was, the
outcome, the time to containment and what is left for a person; then what is left, grouped as
GuardDuty's countermeasures are (Isolate, Evict, Restore, Harden, Detect; report.next_steps), each
with its exact command. The details after: the event, every step, what the credential did, how to
undo what was done, console links.

Everything dynamic is data, much of it attacker-written (names, tags, CloudTrail parameters): before
either channel renders, every string of the incident, the investigation and the steps' name,
target and detail is made one line (no line break, no control character) and capped
(`clean`), so the only line breaks in a message are the renderer's own (and the product's
multi-line commands). Slack text is then escaped (`escape`) everywhere, the top-level `text` too;
the only `<...>` in a Slack message are the renderer's own links.

Limits honoured: SNS Subject < 100 chars, one line; the message <= 256 KB. Slack: <= 50 blocks,
header plain_text <= 150, section text <= 3000, <= 10 fields of <= 2000, always a top-level `text`
(the push-notification fallback). Reasoning (the outcome's reason, each step's detail) is never cut
mid-word: the e-mail carries it whole, and where a Slack limit forces a cut, it falls on a word
boundary and says that the incident record holds the full text (common.text.IN_RECORD). Links
are mrkdwn `<url|label>`, not URL buttons: a button still sends an interaction payload, and there
is no endpoint to acknowledge it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from common.steps import Status, StepResult, succeeded
from common.text import IN_RECORD, cut
from report.links import Link
from report.next_steps import Action, Tactic, count_line, left_for_a_person
from report.outcome import Outcome, Verdict

SUBJECT_MAX = 99  # SNS: "less than 100 characters"
HEADER_MAX = 150
SECTION_MAX = 3000
FIELD_MAX = 2000
MAX_FIELDS = 10
MAX_BLOCKS = 50
# Slack refuses a message whose blocks hold more than about 13,000 characters (msg_blocks_too_long,
# undocumented); an incident with many steps (evictions, back-door keys) reaches that.
MESSAGE_TEXT_MAX = 11_500
SLACK_LINE_MAX = 600  # keeps one noisy error from crowding out the rest of the message
# SNS refuses a message over 262,144 bytes; the subject and attributes are counted apart.
EMAIL_MAX_BYTES = 256_000

EMOJI = {
    Outcome.CONTAINED: ":large_green_circle:",
    Outcome.PARTIAL: ":large_orange_circle:",
    Outcome.FAILED: ":red_circle:",
    Outcome.IGNORED: ":white_circle:",
    Outcome.DUPLICATE: ":white_circle:",
}
STEP_EMOJI: dict[str, str] = {
    Status.DONE: ":white_check_mark:",
    Status.ALREADY_DONE: ":ballot_box_with_check:",
    Status.SKIPPED: ":fast_forward:",
    Status.FAILED: ":x:",
}
KIND_TITLE = {
    "exposed-access-key": "Exposed access key",
    "instance-credential-exfiltration": "Instance credential exfiltration",
    "console-compromise": "Console credentials compromised",
    "attack-sequence": "Attack sequence",
}
# GuardDuty's generated (sample) findings carry these instead of a country or an organization.
_GENERATED = re.compile(r"^Generated[A-Z]\w*$")


# -- shared content -----------------------------------------------------------------------------


def one_line(text: str) -> str:
    """No newlines or control characters (SNS rejects them in a subject)."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in str(text)).split())


def truncate(text: str, limit: int, marker: str = "…", *, words: bool = True) -> str:
    """At most `limit` characters, cut at a word boundary (`words`; an identifier such as the
    subject's principal is cut where the room ends) and ended by `marker` (IN_RECORD where the cut
    text is reasoning: the record holds it whole). Never cuts an escaped entity (`&amp;`) or a Slack
    link in two: half of one would leave a bare `&` or `<` that Slack reads as markup."""
    if len(text) <= limit:
        return text
    kept = cut(text, limit, marker)[: -len(marker) or None] if words else text[: limit - len(marker)]
    for opener, closer in (("&", ";"), ("<", ">")):
        at = kept.rfind(opener)
        if at != -1 and closer not in kept[at:]:
            kept = kept[:at]
    return kept.rstrip() + marker


VALUE_MAX = 300  # any one value from an event or a CloudTrail record


def clean(value: Any, limit: int = VALUE_MAX) -> Any:
    """Every string in `value` (keys too) made one line and capped; other values unchanged."""
    if isinstance(value, str):
        return truncate(one_line(value), limit)
    if isinstance(value, dict):
        return {clean(key, limit): clean(item, limit) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [clean(item, limit) for item in value]
    return value


def clean_links(links: list[Link]) -> list[Link]:
    """A label may name what the attacker named; the URL is built from quoted values (links.py)."""
    return [Link(clean(link.label), link.url) for link in links]


def clean_verdict(verdict: Verdict) -> Verdict:
    """The verdict's reason and each step's name, target and detail, one line each. The reason and
    the details are reasoning and stay whole (a channel that cannot hold one cuts it at a word
    boundary with IN_RECORD). Commands (manual, undo) keep their own lines: the product writes
    them, with every value quoted."""

    def step(s: StepResult) -> StepResult:
        return {  # type: ignore[return-value]
            **s,
            "name": clean(s["name"]),
            "target": clean(s["target"]),
            "detail": one_line(s["detail"]),
        }

    return Verdict(
        verdict.outcome,
        one_line(verdict.reason),
        [step(s) for s in verdict.steps],
        [step(s) for s in verdict.attention],
    )


def merged(steps: list[StepResult]) -> list[tuple[StepResult, int]]:
    """Each step once, with how many times it was reported: the second CloudTrail pass reports what the first
    found again, word for word, and a reader needs it once."""
    counts: dict[tuple[str, str, str, str], list[Any]] = {}
    for s in steps:
        key = (s["name"], s["status"], s["target"], s["detail"])
        if key in counts:
            counts[key][1] += 1
        else:
            counts[key] = [s, 1]
    return [(s, n) for s, n in counts.values()]


def summary(incident: dict[str, Any]) -> str:
    """`Exposed access key AKIA... of user ci-deployer` / `Stolen instance credentials of role r on i-1`; an attack
    sequence's names the sequence first."""
    text = _principal_summary(incident)
    event_type = str(incident.get("event_type") or "")
    if event_type.startswith("AttackSequence:") and incident.get("kind") == "exposed-access-key":
        return "Attack sequence: " + text.replace("Exposed access key", "access key", 1)
    return text


def _principal_summary(incident: dict[str, Any]) -> str:
    if incident.get("kind") == "console-compromise":
        return "Console credentials compromised"
    if incident.get("kind") == "attack-sequence":
        return f"Attack sequence {incident.get('event_type') or ''}, no principal contained".replace("  ", " ")
    if incident.get("kind") == "exposed-access-key":
        keys = incident.get("access_key_ids") or []
        users = incident.get("user_names") or []
        text = f"Exposed access key{'s' if len(keys) > 1 else ''} {', '.join(keys)}".rstrip()
        owners = [f"user{'s' if len(users) > 1 else ''} {', '.join(users)}"] if users else []
        if incident.get("root_keys"):
            owners.append("the root user")
        return text + (f" of {' and '.join(owners)}" if owners else "")
    if incident.get("group_instance_ids"):
        text = f"Compromised instance group ({len(incident['group_instance_ids'])} instances)"
        return text + (f", role {incident['role_name']}" if incident.get("role_name") else "")
    text = "Stolen instance credentials"
    if incident.get("role_name"):
        text += f" of role {incident['role_name']}"
    if incident.get("instance_id"):
        text += f" on {incident['instance_id']}"
    return text


def subject(incident: dict[str, Any] | None, verdict: Verdict) -> str:
    """`[CONTAINED] Exposed access key AKIA... of user ci-deployer in 111122223333`, < 100 chars.
    When too long, the middle (the principal) is shortened, never the outcome or the account."""
    prefix = f"[{verdict.outcome.upper()}] "
    if not incident:
        return truncate(one_line(prefix + verdict.reason), SUBJECT_MAX)
    suffix = " in " + one_line(incident.get("account") or "?")
    middle = one_line(summary(incident))
    return prefix + truncate(middle, SUBJECT_MAX - len(prefix) - len(suffix), words=False) + suffix


def facts(incident: dict[str, Any] | None, execution: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs: who, what, where, when, alert source, remote caller, incident."""
    if not incident:
        return [("Execution started", execution["start_time"])] if execution.get("start_time") else []
    kind = incident.get("kind", "")
    rows: list[tuple[str, str]] = []

    if kind == "console-compromise":
        rows.append(("Who", "the account's console sign-in (usually the root user)"))
    elif kind == "attack-sequence":
        rows.append(("Who", "no principal in service.detection.sequence that can be contained (see the steps)"))
    elif kind == "exposed-access-key":
        rows.append(("Who", whose(incident)))
    else:
        who = f"role {incident.get('role_name') or '?'}"
        if incident.get("instance_id"):
            who += f", session {incident['instance_id']}"
        if incident.get("access_key_ids"):
            who += f"; key {', '.join(incident['access_key_ids'])}"
        rows.append(("Who", who))

    what = f"{KIND_TITLE.get(kind, kind)} ({incident.get('event_type', '?')})"
    if incident.get("severity") is not None:
        what += f", severity {incident['severity']}"
    rows.append(("What", what))

    where = f"account {incident.get('account', '?')}, region {incident.get('region', '?')}"
    if incident.get("instance_id"):
        where += f", instance {incident['instance_id']}"
    rows.append(("Where", where))

    when = f"detected {incident.get('detected_at', '?')}"
    if incident.get("first_seen"):
        when += f"; activity since {incident['first_seen']}"
    if execution.get("start_time"):
        when += f"; response started {execution['start_time']}"
    rows.append(("When", when))

    source = f"{incident.get('source', '?')}"
    if incident.get("finding_id"):
        source += f" finding {incident['finding_id']}"
    else:
        source += f" event {incident.get('event_id', '?')}"
    if incident.get("sample"):
        source += " (SAMPLE finding: not a real identity)"
    if incident.get("exposed_url"):
        source += f"; exposed at {incident['exposed_url']}"
    rows.append(("Alert source", source))

    remote = incident.get("remote") or {}
    if any(remote.values()):
        parts = [
            str(p)
            for p in (remote.get("ip"), remote.get("country"), remote.get("organization"))
            if p and not _GENERATED.match(str(p))
        ]
        if remote.get("account_id"):
            # GuardDuty rates an unrelated account higher than one in the same organization.
            affiliated = {True: "affiliated", False: "not affiliated"}.get(remote.get("affiliated"))  # type: ignore[arg-type]
            parts.append(f"AWS account {remote['account_id']} ({affiliated or 'affiliation unknown'})")
        if parts:
            rows.append(("Remote caller", ", ".join(parts)))

    if incident.get("decision"):
        rows.append(("Decision", incident["decision"]))
    if incident.get("group_instance_ids"):
        rows.append(("Instance group", ", ".join(incident["group_instance_ids"])))
    joined = incident.get("joined")
    if isinstance(joined, dict):
        already = ", ".join(joined.get("already_contained") or []) or "none of this finding's principals"
        rows.append(
            (
                "Same attack as",
                f"finding {joined.get('finding_id')} ({joined.get('event_type')}), incident "
                f"{joined.get('incident_id')}, first received at {joined.get('first_received_at')}, outcome "
                f"{joined.get('status')}; this response is recorded on that incident. Already contained by its "
                f"responses: {already}",
            )
        )
    response: dict[str, Any] = incident["response"] if isinstance(incident.get("response"), dict) else {}
    if response and (response.get("kind") not in (None, "first") or joined):
        rows.append(("Response", _response_row(response)))
    # The record's id: the one `responder release` takes (a joined finding's own id works too).
    record_id = response.get("incident_id") or incident.get("incident_id", "?")
    own = incident.get("incident_id")
    rows.append(("Incident", record_id if own in (None, record_id) else f"{record_id} (this finding: {own})"))
    return [(label, one_line(value)) for label, value in rows]


def _response_row(response: dict[str, Any]) -> str:
    """Which response of the incident this is, and what the repeat brought compared with the others."""
    parts = [f"response {int(response.get('response') or 0) + 1} of the incident ({response.get('kind')})"]
    if response.get("new"):
        parts.append(f"new: {', '.join(response['new'])}")
    # Why each is contained again is in the reason: here only which.
    again = [str(a.get("principal")) for a in response.get("again") or [] if isinstance(a, dict)]
    if again:
        parts.append(f"contained again: {', '.join(again)}")
    known = [str(k.get("principal")) for k in response.get("known") or [] if isinstance(k, dict)]
    if known:
        parts.append(f"already contained, left as they are: {', '.join(known)}")
    return "; ".join(parts)


def whose(incident: dict[str, Any]) -> str:
    """Whose credential it was, as IAM named it to the response (never a name the event gave alone)."""
    kind = incident.get("kind")
    account = incident.get("account") or "?"
    delivered = incident.get("delivered_to")
    of_account = f"account {account}"
    if delivered and delivered != account:
        of_account += f" (the event was delivered to {delivered})"
    if kind == "console-compromise":
        return f"the console sign-in of {of_account} (usually the root user's)"
    if kind == "attack-sequence":
        return f"no principal of the sequence that the responder could contain, in {of_account}"
    if kind == "exposed-access-key":
        owners = []
        users = incident.get("user_names") or []
        if users:
            owners.append(f"IAM user{'s' if len(users) > 1 else ''} {', '.join(users)}")
        if incident.get("root_keys"):
            owners.append(f"the root user (key {', '.join(incident['root_keys'])})")
        known = {k for k in incident.get("root_keys") or []} | {
            k["access_key_id"] for k in incident.get("affected_keys") or [] if k.get("user_name")
        }
        unknown = [k for k in incident.get("access_key_ids") or [] if k not in known]
        if unknown:
            owners.append(f"an owner IAM did not name (key {', '.join(unknown)})")
        return f"{' and '.join(owners)}, {of_account}"
    who = f"role {incident.get('role_name') or '(not named)'}"
    if incident.get("instance_id"):
        who += f", the credentials of instance {incident['instance_id']}"
    return f"{who}, {of_account}"


def happened(incident: dict[str, Any] | None, verdict: Verdict) -> str:
    """What happened, in one sentence: who reported what, about which credential."""
    if not incident:
        return f"an event the responder does not act on ({verdict.reason})"
    kind, event_type = incident.get("kind"), incident.get("event_type") or "?"
    severity = f", severity {incident['severity']}" if incident.get("severity") is not None else ""
    source = "AWS Health" if incident.get("source") == "aws.health" else "GuardDuty"
    at = f" at {incident['detected_at']}" if incident.get("detected_at") else ""
    if kind == "console-compromise":
        return f"{source} reported the account's console credentials compromised ({event_type}){at}"
    if kind == "exposed-access-key" and incident.get("source") == "aws.health":
        keys = ", ".join(incident.get("access_key_ids") or [])
        exposed = f"; exposed at {incident['exposed_url']}" if incident.get("exposed_url") else ""
        return f"{source} reported access key{'s' if ',' in keys else ''} {keys} exposed ({event_type}){at}{exposed}"
    if event_type.startswith("AttackSequence:IAM") and kind == "exposed-access-key":
        keys = ", ".join(incident.get("access_key_ids") or [])
        plural = "s" if "," in keys else ""
        return f"{source} reported an attack sequence using access key{plural} {keys} ({event_type}{severity}){at}"
    if incident.get("group_instance_ids"):
        count = len(incident["group_instance_ids"])
        return f"{source} reported a compromised group of {count} instances ({event_type}{severity}){at}"
    if kind == "instance-credential-exfiltration":
        remote = (incident.get("remote") or {}).get("ip")
        used = f" used from {remote}" if remote else " used elsewhere"
        instance = incident.get("instance_id") or "an instance"
        return f"{source} reported the credentials of {instance}{used} ({event_type}{severity}){at}"
    return f"{source} reported {event_type}{severity}{at}: {summary(incident)}"


def duration(seconds: float) -> str:
    """As a person says it: 412 ms, 4.2 s, 3 min 12 s, 5 h 3 min, 12 days."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"
    return f"{int(seconds // 86400):,} days"


def _moment(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def containment_time(incident: dict[str, Any] | None, verdict: Verdict, execution: dict[str, Any]) -> str | None:
    """When the credential was cut off, from the execution's history (execution.contained_at, read by the
    handler): after the response's start, and after AWS's event."""
    if not incident or verdict.outcome in (Outcome.IGNORED,):
        return None
    if verdict.outcome == Outcome.FAILED:
        return "not contained (see what is left for a person)"
    contained = _moment(execution.get("contained_at"))
    if contained is None:
        why = execution.get("contained_at_unknown") or "the execution's history was not read"
        return f"not measured ({why})"
    parts = []
    if started := _moment(execution.get("start_time")):
        parts.append(f"{duration(max(0.0, (contained - started).total_seconds()))} after the response started")
    if detected := _moment(incident.get("detected_at")):
        parts.append(f"{duration(max(0.0, (contained - detected).total_seconds()))} after AWS's event")
    at = f"contained at {execution['contained_at']}"
    return f"{', '.join(parts)} ({at})" if parts else at


def headline(
    incident: dict[str, Any] | None, verdict: Verdict, execution: dict[str, Any], todo: list[Action]
) -> list[tuple[str, str]]:
    """The report's first lines: what happened, whose credential, the outcome, the time to containment,
    what is left for a person."""
    rows = [("What happened", happened(incident, verdict))]
    if incident:
        rows.append(("Whose", whose(incident)))
    rows.append(("Outcome", f"{verdict.outcome.upper()}: {verdict.reason}"))
    if (contained := containment_time(incident, verdict, execution)) is not None:
        rows.append(("Time to containment", contained))
    if incident and verdict.outcome not in (Outcome.IGNORED,):
        rows.append(("Left for a person", count_line(todo) + (" (below)" if todo else "")))
    return [(label, one_line(value)) for label, value in rows]


def _given(todo: list[Action]) -> set[str]:
    return {action.command for action in todo if action.command}


def _released(steps: list[StepResult]) -> str:
    """The undo of an item held on doubt is its release command, given with it above: said once, not twice."""
    names = ", ".join(f"{s['name']} on {s['target']}" for s in steps)
    return f"{names}: the release command given above, under what is left for a person"


def by_tactic(todo: list[Action]) -> list[tuple[Tactic, list[tuple[int, Action]]]]:
    """The work numbered in reading order, grouped as GuardDuty groups its countermeasures."""
    numbered = list(enumerate(todo, 1))
    return [
        (tactic, [(n, a) for n, a in numbered if a.tactic == tactic])
        for tactic in Tactic
        if any(a.tactic == tactic for a in todo)
    ]


def undo_steps(steps: list[StepResult]) -> list[StepResult]:
    """Steps that changed something and say how to reverse it. `already-done` counts too: after a
    Step Functions retry our own earlier change reads back as already done, and its undo must
    not disappear from the report."""
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for s in steps:
        # The second CloudTrail pass finds the first pass's back-door keys already done: one undo each.
        key = (s["name"], s["target"], s.get("undo") or "")
        if s.get("undo") and succeeded(s) and key not in seen:
            seen.add(key)
            unique.append(s)
    return unique


# -- e-mail -------------------------------------------------------------------------------------


def investigation_lines(investigation: dict[str, Any] | None, limit: int = 10) -> list[str]:
    """What the credential did, from the CloudTrail look-up's summary: persistence first."""
    if not investigation:
        return []
    regions = investigation.get("regions") or {}
    searched, missing = regions.get("searched") or [], regions.get("not_searched") or {}
    lines = [
        f"{investigation.get('event_count', 0)} call(s) found in {len(searched)} region(s) searched"
        + (f"; not searched: {', '.join(sorted(missing))}" if missing else "")
    ]
    if by_service := investigation.get("by_service"):
        lines.append("by service: " + ", ".join(f"{name} {count}" for name, count in by_service.items()))
    if ips := investigation.get("source_ips"):
        lines.append("source IPs: " + ", ".join(f"{ip} ({count})" for ip, count in ips.items()))
    first, last = investigation.get("first_call"), investigation.get("last_call")
    if first and last:
        lines.append(
            f"first call {first.get('time')} ({first.get('event_name')}), "
            f"last call {last.get('time')} ({last.get('event_name')})"
        )
    persistence = investigation.get("persistence_calls") or []
    for call in persistence[:limit]:
        # Everything here came from CloudTrail records, whose request parameters the caller wrote.
        created = ", ".join(f"{key} {value}" for key, value in (call.get("created") or {}).items())
        outcome = "succeeded" if call.get("succeeded") else f"failed ({call.get('error_code', 'error')})"
        new = " [new in the second look-up]" if call.get("new") else ""
        by = {"workload": " [by the instance's own workload]", "unknown": " [source unknown]"}.get(
            call.get("source"), ""
        )
        lines.append(
            truncate(
                one_line(
                    f"PERSISTENCE {call.get('event_name')} {created} in {call.get('region')} at "
                    f"{call.get('time')}: {outcome}{new}{by}"
                ),
                400,
            )
        )
    persistence_total = investigation.get("persistence_total", len(persistence))
    if persistence_total > min(limit, len(persistence)):
        counts = investigation.get("persistence_by_name") or {}
        by_name = ", ".join(
            f"{name} {c.get('succeeded', 0)} ok/{c.get('failed', 0)} failed" for name, c in counts.items()
        )
        lines.append(
            f"... {persistence_total} persistence call(s) in all{f' ({by_name})' if by_name else ''}; "
            "every one in the evidence file"
        )
    if total := investigation.get("mutating_total"):
        names = sorted({call.get("event_name") for call in investigation.get("mutating_calls") or []})
        lines.append(f"{total} mutating call(s): {', '.join(str(name) for name in names)}")
    if (late := investigation.get("new_since_previous_pass")) is not None:
        lines.append(f"second look-up (after CloudTrail's delivery lag): {late.get('count', 0)} new call(s)")
    if evidence := investigation.get("evidence"):
        lines.append(f"every event: {evidence}")
    lines.append(
        "not covered: LookupEvents returns management events only; S3 object reads and other data events "
        "(a trail with data events, or S3 server access logs, has them)"
    )
    return lines


def render_email(
    incident: dict[str, Any] | None,
    verdict: Verdict,
    links: list[Link],
    execution: dict[str, Any] | None = None,
    delivery: Iterable[dict[str, Any]] = (),
    investigation: dict[str, Any] | None = None,
) -> dict[str, str]:
    """{"subject", "text"} for SNS. `delivery`: the other channels' notification entries, so the
    reader knows whether a Slack message went out too."""
    execution = clean(execution or {})
    incident, verdict, investigation = clean(incident), clean_verdict(verdict), clean(investigation)
    delivery, links = clean(list(delivery)), clean_links(links)
    title = subject(incident, verdict)
    todo = left_for_a_person(incident, verdict, investigation)
    rows = headline(incident, verdict, execution, todo)
    width = max(len(label) for label, _ in rows) + 1
    out: list[str] = [f"{(label + ':').ljust(width)} {value}" for label, value in rows]

    if todo:
        out += ["", "WHAT IS LEFT FOR A PERSON"]
        for tactic, actions in by_tactic(todo):
            out.append(f"  {tactic}")
            for number, action in actions:
                out.append(f"    {number}. [{action.priority}] {action.text}")
                if action.command:
                    out += _indent(action.command, 8)
                if action.link:
                    out.append(f"        {action.link.label}: {action.link.url}")

    if rows := facts(incident, execution):
        width = max(len(label) for label, _ in rows) + 1
        out += ["", "DETAILS"] + [f"  {(label + ':').ljust(width)} {value}" for label, value in rows]

    if verdict.steps:
        out += ["", "STEPS"]
        for s, times in merged(verdict.steps):
            mark = s["status"].upper() if s["status"] != Status.DONE else s["status"]
            tag = " [containment]" if s["containment"] else ""
            again = f" (reported {times} times: once per look-up)" if times > 1 else ""
            out.append(f"  [{mark}] {s['name']}{tag} on {s['target']}: {s['detail']}{again}")
            if restore := (s.get("data") or {}).get("restore_trust"):  # lambdas/evict: a rewritten trust policy
                out += ["    Once a person has checked it, restore the previous trust policy:", *_indent(restore, 6)]

    if found := investigation_lines(investigation):
        out += ["", "WHAT THE CREDENTIAL DID (CloudTrail)"] + [f"  {line}" for line in found]

    if undo := undo_steps(verdict.steps):
        out += ["", "UNDO (reverses what the responder did)"]
        released = [s for s in undo if s["undo"] in _given(todo)]
        for s in undo:
            if s not in released:
                out.append(f"  * {s['name']} on {s['target']}:")
                out += _indent(s["undo"] or "", 6)
        if released:
            out.append(f"  * {_released(released)}")

    if links:
        out += ["", "LINKS"] + [f"  {link.label}: {link.url}" for link in links]

    if delivered := list(delivery):
        out += ["", "DELIVERY"] + [f"  {d['channel']}: {d['status']} ({d['detail']})" for d in delivered]

    return {"subject": title, "text": _fit_email("\n".join(out) + "\n")}


def _fit_email(text: str) -> str:
    """SNS takes a message of at most 256 KB: a longer one is cut at the last whole line (a word
    boundary, when one line alone is too long) that fits, and says where the rest is."""
    if len(text.encode()) <= EMAIL_MAX_BYTES:
        return text
    marker = f"\n{IN_RECORD.strip()} (this e-mail stops at SNS's 256 KB)\n"
    room = EMAIL_MAX_BYTES - len(marker.encode())
    kept = text.encode()[:room].decode(errors="ignore")
    kept = kept[: kept.rfind("\n")] if "\n" in kept else cut(kept, len(kept) - 1, "")
    return kept + marker


def _indent(text: str, spaces: int) -> list[str]:
    return [" " * spaces + line for line in text.splitlines()]


# -- Slack --------------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Slack mrkdwn control characters; everything dynamic goes through this."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn_link(link: Link) -> str:
    return f"<{link.url}|{escape(link.label)}>"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, SECTION_MAX, IN_RECORD)}}


def _sections(title: str, items: list[str]) -> list[dict[str, Any]]:
    """Pack items under a bold title into as few sections as fit the 3000-char limit."""
    blocks, current = [], f"*{title}*"
    for item in items:
        item = truncate(item, SECTION_MAX - len(title) - 10, IN_RECORD)
        if len(current) + 1 + len(item) > SECTION_MAX:
            blocks.append(_section(current))
            current = f"*{title} (cont.)*"
        current += "\n" + item
    blocks.append(_section(current))
    return blocks


CODE_MAX = SLACK_LINE_MAX * 2
CODE_CUT = "# the e-mail has the rest of these commands"


def _code(text: str) -> str:
    """A code block of whole lines: a command cut in the middle would run as another command when pasted.
    What does not fit is left to the e-mail, and the block says so."""
    lines, room = [], CODE_MAX - len(CODE_CUT) - 1
    for line in text.splitlines():
        if len(line) + 1 > room:
            lines.append(CODE_CUT)
            break
        lines.append(line)
        room -= len(line) + 1
    return f"```{escape(chr(10).join(lines) or CODE_CUT)}```"


TACTIC_EMOJI = {
    Tactic.ISOLATE: ":no_entry:",
    Tactic.EVICT: ":door:",
    Tactic.RESTORE: ":recycle:",
    Tactic.HARDEN: ":shield:",
    Tactic.DETECT: ":mag:",
}


def render_slack(
    incident: dict[str, Any] | None,
    verdict: Verdict,
    links: list[Link],
    execution: dict[str, Any] | None = None,
    investigation: dict[str, Any] | None = None,
) -> dict[str, Any]:
    execution = clean(execution or {})
    incident, verdict, investigation = clean(incident), clean_verdict(verdict), clean(investigation)
    links = clean_links(links)
    title = subject(incident, verdict)
    todo = left_for_a_person(incident, verdict, investigation)
    lines = [
        f"*{label}:* {escape(truncate(value, SLACK_LINE_MAX, IN_RECORD))}"
        for label, value in headline(incident, verdict, execution, todo)
    ]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": truncate(f"{EMOJI[verdict.outcome]} {title}", HEADER_MAX),
                "emoji": True,
            },
        },
        _section("\n".join(lines)),
    ]
    for tactic, actions in by_tactic(todo):
        items = []
        for number, action in actions:
            line = f"{number}. *[{action.priority}]* {escape(truncate(action.text, SLACK_LINE_MAX, IN_RECORD))}"
            if action.link:
                line += f" {mrkdwn_link(action.link)}"
            if action.command:
                line += "\n" + _code(action.command)
            items.append(line)
        blocks += _sections(f"{TACTIC_EMOJI[tactic]} {tactic}", items)

    blocks.append({"type": "divider"})
    if rows := facts(incident, execution):
        fields = [
            {"type": "mrkdwn", "text": truncate(f"*{label}*\n{escape(value)}", FIELD_MAX, IN_RECORD)}
            for label, value in rows
        ]
        blocks.append({"type": "section", "fields": fields[:MAX_FIELDS]})
    if verdict.steps:
        blocks += _sections(
            "Steps",
            [
                f"{STEP_EMOJI.get(s['status'], ':grey_question:')} `{escape(s['name'])}` {escape(s['status'])}"
                f"{' (containment)' if s['containment'] else ''} on `{escape(s['target'])}`: "
                f"{escape(truncate(s['detail'], SLACK_LINE_MAX, IN_RECORD))}"
                + (f" (reported {times} times: once per look-up)" if times > 1 else "")
                for s, times in merged(verdict.steps)
            ],
        )

    if found := investigation_lines(investigation):
        blocks += _sections(
            ":mag: What the credential did (CloudTrail)", [escape(truncate(line, SLACK_LINE_MAX)) for line in found]
        )

    if undo := undo_steps(verdict.steps):
        released = [s for s in undo if s["undo"] in _given(todo)]
        items = [
            f"`{escape(s['name'])}` on `{escape(s['target'])}`:\n{_code(s['undo'] or '')}"
            for s in undo
            if s not in released
        ]
        blocks += _sections("Undo", items + ([escape(_released(released))] if released else []))

    if links:
        blocks += _sections("Links", [f"• {mrkdwn_link(link)}" for link in links])

    if incident:
        # Last line: the id to quote in a ticket or search logs for (it is the correlation id).
        context = f"Incident `{escape(incident.get('incident_id', '?'))}`"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})

    blocks = _fit(blocks)
    # The push-notification text: the subject line and why (without an incident they are the same).
    fallback = f"{title}: {verdict.reason}" if incident else f"[{verdict.outcome.upper()}] {verdict.reason}"
    return {"text": escape(truncate(fallback, SECTION_MAX // 2)), "blocks": blocks}


def _block_text(block: dict[str, Any]) -> int:
    parts = [block.get("text") or {}, *(block.get("fields") or []), *(block.get("elements") or [])]
    return sum(len(part.get("text") or "") for part in parts if isinstance(part, dict))


def _fit(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep Slack's limits (50 blocks, ~12,000 characters in all): the blocks that come first (the
    outcome, the facts, what needs action, the steps) stay; the rest is cut, the incident id kept and
    the cut said. The e-mail always carries everything."""
    last = blocks[-1] if blocks and blocks[-1].get("type") == "context" else None
    body = blocks[:-1] if last else blocks
    note = {
        "type": "context",
        "elements": [
            {"type": "mrkdwn", "text": "Message truncated: the e-mail and the incident record have everything."}
        ],
    }
    reserve = _block_text(note) + (_block_text(last) if last else 0)
    room_blocks = MAX_BLOCKS - 1 - (1 if last else 0)
    kept: list[dict[str, Any]] = []
    total = 0
    for block in body:
        size = _block_text(block)
        if len(kept) >= room_blocks or total + size + reserve > MESSAGE_TEXT_MAX:
            return [*kept, note, *([last] if last else [])]
        kept.append(block)
        total += size
    return blocks
