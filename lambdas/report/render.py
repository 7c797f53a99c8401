"""One renderer, two channels: the e-mail (SNS subject + plain text) and the Slack Block Kit message.

Pure functions of (incident dict, Verdict, links, execution): the same input always renders the
same bytes, which is what the golden-file tests pin. Both channels carry the same facts in the
same order, written for someone woken at 3 a.m.: outcome and why, who/what/where/when, what needs
a human now (with the exact command), every step, the next steps for this kind of incident, how
to undo what was done, and console links.

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

import shlex
from collections.abc import Iterable
from typing import Any, NamedTuple

from common.steps import Status, StepResult, succeeded
from common.text import IN_RECORD, cut
from report.links import Link, cloudtrail_regions, support_center
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
# What AWS itself may already have done to the account when it reports an exposed key.
AWS_HOLDS = (
    "AWS itself may already have acted: it may have attached the AWSCompromisedKeyQuarantineV3 policy to the "
    "key's user (Health AWS_RISK_IAM_QUARANTINE) and put account-level holds in place, such as blocked "
    "ec2:RunInstances across the account, until the Support case it opened is answered. Answer the case in "
    "the Support Center once the account is clean, so AWS lifts them."
)


class NextStep(NamedTuple):
    text: str
    command: str | None = None
    link: Link | None = None


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


def summary(incident: dict[str, Any]) -> str:
    """`Exposed access key AKIA... of user ci-deployer` / `Stolen instance credentials of role r on i-1`."""
    if incident.get("kind") == "console-compromise":
        return "Console credentials compromised"
    if incident.get("kind") == "attack-sequence":
        return f"Attack sequence {incident.get('event_type') or ''}, no principal contained".replace("  ", " ")
    if incident.get("kind") == "exposed-access-key":
        keys = incident.get("access_key_ids") or []
        users = incident.get("user_names") or []
        text = f"Exposed access key{'s' if len(keys) > 1 else ''} {', '.join(keys)}".rstrip()
        if users:
            text += f" of user{'s' if len(users) > 1 else ''} {', '.join(users)}"
        return text
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
        users = ", ".join(incident.get("user_names") or []) or "unknown (look up the key's owner)"
        rows.append(("Who", f"user {users}; key {', '.join(incident.get('access_key_ids') or []) or '?'}"))
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
        parts = [p for p in (remote.get("ip"), remote.get("country"), remote.get("organization")) if p]
        if remote.get("account_id"):
            # GuardDuty rates an unrelated account higher than one in the same organization.
            affiliated = {True: "affiliated", False: "not affiliated"}.get(remote.get("affiliated"))  # type: ignore[arg-type]
            parts.append(f"AWS account {remote['account_id']} ({affiliated or 'affiliation unknown'})")
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


def next_steps(incident: dict[str, Any] | None, verdict: Verdict) -> list[NextStep]:
    """What is left to do for this kind of incident, in the order a responder should do it."""
    if not incident or verdict.outcome in (Outcome.IGNORED, Outcome.DUPLICATE):
        return []
    region = incident.get("region") or "us-east-1"
    where = " and ".join(cloudtrail_regions(incident))
    if incident.get("kind") == "exposed-access-key":
        keys = incident.get("access_key_ids") or ["<access-key-id>"]
        affected = incident.get("affected_keys") or [{"access_key_id": keys[0]}]
        return [
            NextStep(
                "Find out what the key did, in every region: regional calls are logged only in their own "
                f"region, IAM calls in us-east-1. The console links below cover {where}; the command covers all.",
                "\n".join(_lookup_all_regions("AccessKeyId", key) for key in keys),
            ),
            NextStep(
                "Remove what the attacker created, in every region: IAM users, access keys, login profiles, "
                "roles and policies; EC2 instances and Spot requests; Lambda functions; anything unfamiliar."
            ),
            NextStep(AWS_HOLDS, link=Link("AWS Support Center", support_center())),
            NextStep(
                "Rotate, then delete the key: give the application a new credential (better: a role), deploy "
                "it, then delete the exposed key. The deactivated key is kept until then as evidence.",
                "\n".join(
                    f"aws iam delete-access-key --user-name {_q(k.get('user_name')) or '<UserName>'} "
                    f"--access-key-id {_q(k['access_key_id'])}"
                    for k in affected
                ),
            ),
            NextStep(
                "Fix the root cause: no long-lived access keys. Use roles, IAM Identity Center or OIDC "
                "federation; where a key must exist, one per application, rotated, never in code."
            ),
        ]
    if incident.get("kind") == "attack-sequence":
        return [
            NextStep(
                "Read the sequence's actors and resources in the GuardDuty console and contain each principal by "
                "hand (the step under 'Needs action now' says how); the finding's title and description are free "
                "text and may name another account."
            ),
            NextStep(AWS_HOLDS, link=Link("AWS Support Center", support_center())),
        ]
    if incident.get("kind") == "console-compromise":
        return [
            NextStep(
                "Secure the root user first (the steps under 'Needs action now'): sign in, change the password, "
                "turn on MFA."
            ),
            NextStep(
                "Find what was done with the console sign-in, in every region: ConsoleLogin events, then the "
                "calls of the root user and of any user or role created since.",
                _lookup_all_regions("EventName", "ConsoleLogin"),
            ),
            NextStep(AWS_HOLDS, link=Link("AWS Support Center", support_center())),
        ]
    role = _q(incident.get("role_name")) or "<role-name>"
    instance = _q(incident.get("instance_id")) or "<instance-id>"
    return [
        NextStep(
            "Fix the application flaw that let the credentials out (SSRF, open proxy, command injection) and "
            "require IMDSv2. Until the flaw is fixed the attacker can fetch fresh credentials: the revoke "
            "denies only sessions issued before it.",
            f"aws ec2 modify-instance-metadata-options --region {shlex.quote(region)} --instance-id {instance} "
            "--http-tokens required --http-endpoint enabled",
        ),
        NextStep(
            f"Investigate CloudTrail for the role session (session name = instance id {instance}), in every "
            "region: reads of S3, Secrets Manager and Parameter Store; changes; new IAM users, keys or roles.",
            _lookup_all_regions("Username", incident.get("instance_id") or "<instance-id>"),
        ),
        NextStep(
            f"Review what role {role} can do: its attached and inline policies.",
            f"aws iam list-attached-role-policies --role-name {role}; aws iam list-role-policies --role-name {role}",
        ),
        NextStep(
            "Reduce the role to least privilege (IAM Access Analyzer can generate a policy from its CloudTrail "
            "activity). Other instances using this role may get AccessDenied until they receive fresh "
            "credentials from the instance metadata service."
        ),
        _what_isolation_leaves(incident, region, instance),
        NextStep(
            "Keep the isolated instance and its evidence AMI until the investigation is done; then terminate "
            "the instance or restore its security groups (see Undo)."
        ),
    ]


def _what_isolation_leaves(incident: dict[str, Any], region: str, instance: str) -> NextStep:
    """Security groups do not end tracked connections and do not filter DNS, IMDS or Time Sync."""
    remote = (incident.get("remote") or {}).get("ip")
    quoted = {"region": shlex.quote(region), "instance": shlex.quote(instance)}
    commands = [
        f"aws ec2 modify-instance-metadata-options --region {quoted['region']} --instance-id {quoted['instance']} "
        "--http-endpoint disabled"
    ]
    if remote:
        cidr = shlex.quote(f"{remote}/32" if ":" not in remote else f"{remote}/128")
        flag = "--cidr-block" if ":" not in remote else "--ipv6-cidr-block"
        commands += [
            f"aws ec2 create-network-acl-entry --region {quoted['region']} --network-acl-id <acl of the subnet> "
            f"--{direction} --rule-number 1 --protocol -1 --rule-action deny {flag} {cidr}"
            for direction in ("ingress", "egress")
        ]
    return NextStep(
        "Isolation replaced the security groups, which does not end connections already tracked (the detour "
        "through the all-open group helps only flows that were untracked), and security groups never filter DNS "
        "to the VPC resolver, the instance metadata service or Time Sync. To end existing connections, add a "
        "network ACL deny (stateless: it ends them, for the whole subnet); turn the metadata service off while "
        "you investigate (no new role credentials); block DNS exfiltration with Route 53 Resolver DNS Firewall.",
        "\n".join(commands),
    )


def _lookup_all_regions(attribute: str, value: str) -> str:
    return (
        "for r in $(aws ec2 describe-regions --query 'Regions[].RegionName' --output text); do "
        f'echo "== $r"; aws cloudtrail lookup-events --region "$r" '
        f"--lookup-attributes {shlex.quote(f'AttributeKey={attribute},AttributeValue={value}')} "
        "--query 'Events[].[EventTime,EventName,EventSource]' --output text; done"
    )


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
    out: list[str] = [title, "", f"{verdict.outcome.upper()}: {verdict.reason}"]

    if rows := facts(incident, execution):
        width = max(len(label) for label, _ in rows) + 1
        out += ["", "WHAT HAPPENED"] + [f"  {(label + ':').ljust(width)} {value}" for label, value in rows]

    if verdict.attention:
        out += ["", "NEEDS ACTION NOW"]
        for s in verdict.attention:
            out.append(f"  * {s['name']} {s['status']} on {s['target']}: {s['detail']}")
            if s.get("manual"):
                out += ["    Do it by hand:", *_indent(s.get("manual") or "", 6)]

    if verdict.steps:
        out += ["", "STEPS"]
        for s in verdict.steps:
            mark = s["status"].upper() if s["status"] != Status.DONE else s["status"]
            tag = " [containment]" if s["containment"] else ""
            out.append(f"  [{mark}] {s['name']}{tag} on {s['target']}: {s['detail']}")
            if restore := (s.get("data") or {}).get("restore_trust"):  # lambdas/evict: a rewritten trust policy
                out += ["    Once a person has checked it, restore the previous trust policy:", *_indent(restore, 6)]

    if found := investigation_lines(investigation):
        out += ["", "WHAT THE CREDENTIAL DID (CloudTrail)"] + [f"  {line}" for line in found]

    if todo := next_steps(incident, verdict):
        out += ["", "NEXT STEPS"]
        for number, item in enumerate(todo, 1):
            out.append(f"  {number}. {item.text}")
            if item.command:
                out += _indent(item.command, 6)
            if item.link:
                out.append(f"      {item.link.label}: {item.link.url}")

    if undo := undo_steps(verdict.steps):
        out += ["", "UNDO (reverses what the responder did)"]
        for s in undo:
            out.append(f"  * {s['name']} on {s['target']}:")
            out += _indent(s["undo"] or "", 6)

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


def _code(text: str) -> str:
    return f"```{escape(truncate(text, SLACK_LINE_MAX * 2, IN_RECORD))}```"


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
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": truncate(f"{EMOJI[verdict.outcome]} {title}", HEADER_MAX),
                "emoji": True,
            },
        },
        _section(f"*{verdict.outcome.upper()}*: {escape(truncate(verdict.reason, SLACK_LINE_MAX, IN_RECORD))}"),
    ]
    if rows := facts(incident, execution):
        fields = [
            {"type": "mrkdwn", "text": truncate(f"*{label}*\n{escape(value)}", FIELD_MAX, IN_RECORD)}
            for label, value in rows
        ]
        blocks.append({"type": "section", "fields": fields[:MAX_FIELDS]})

    if verdict.attention:
        items = []
        for s in verdict.attention:
            line = (
                f"{STEP_EMOJI.get(s['status'], ':x:')} *{escape(s['name'])}* {escape(s['status'])} "
                f"on `{escape(s['target'])}`: {escape(truncate(s['detail'], SLACK_LINE_MAX, IN_RECORD))}"
            )
            if s.get("manual"):
                line += "\nDo it by hand:\n" + _code(s.get("manual") or "")
            items.append(line)
        blocks += _sections(":rotating_light: Needs action now", items)

    blocks.append({"type": "divider"})
    if verdict.steps:
        blocks += _sections(
            "Steps",
            [
                f"{STEP_EMOJI.get(s['status'], ':grey_question:')} `{escape(s['name'])}` {escape(s['status'])}"
                f"{' (containment)' if s['containment'] else ''} on `{escape(s['target'])}`: "
                f"{escape(truncate(s['detail'], SLACK_LINE_MAX, IN_RECORD))}"
                for s in verdict.steps
            ],
        )

    if found := investigation_lines(investigation):
        blocks += _sections(
            ":mag: What the credential did (CloudTrail)", [escape(truncate(line, SLACK_LINE_MAX)) for line in found]
        )

    if todo := next_steps(incident, verdict):
        items = []
        for number, item in enumerate(todo, 1):
            line = f"{number}. {escape(item.text)}"
            if item.link:
                line += f" {mrkdwn_link(item.link)}"
            if item.command:
                line += "\n" + _code(item.command)
            items.append(line)
        blocks += _sections("Next steps", items)

    if undo := undo_steps(verdict.steps):
        blocks += _sections(
            "Undo", [f"`{escape(s['name'])}` on `{escape(s['target'])}`:\n{_code(s['undo'] or '')}" for s in undo]
        )

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


def _q(value: Any) -> str:
    """A value for a copy-paste command, shell-quoted; "" when there is none (the caller's placeholder)."""
    return shlex.quote(str(value)) if value else ""
