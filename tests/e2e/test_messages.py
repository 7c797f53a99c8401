"""Every message a person reads, of every bundled event, crafted event and fault drill, passes the message lint
(tests/message_lint.py): no placeholder, no Python value, no mangled name, no cut without a marker, no
duplicated line, no dangling sentence, no command bash cannot parse.

Linted per run: the e-mail as SNS would have sent it and the Slack message as it was posted (the drill records
both), the incident record's texts rendered from the state the workflow passed to the report (the verdict's
reason, every step with its undo and its manual command), and the drill's own human output (short and --full).
The texts the messages must show whole, or cut with a marker, are the verdict's reason and every step's detail.

Each run happens once per session (tests/e2e/conftest.py), shared with tests/e2e/test_faults.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from drill.faults import SCENARIOS
from tests.e2e.conftest import EVENTS, Run
from tests.message_lint import problems, record_texts, slack_text

# No module-wide group: xdist joins every group a test carries into one of its own. Each test names the group that
# holds the runs it reads.
pytestmark = [pytest.mark.drill]
ROOT = Path(__file__).resolve().parents[2]
RUNS = [
    *(("event", str(path.relative_to(EVENTS))) for path in sorted(EVENTS.glob("*.json"))),
    *(("event", str(path.relative_to(EVENTS))) for path in sorted((EVENTS / "crafted").glob("*.json"))),
    *(("fault", name) for name in SCENARIOS),
]


def messages(run: Run) -> list[tuple[str, str, list[str], bool]]:
    """(channel, text, the texts it must show whole or cut with a marker, whether it is Slack mrkdwn)."""
    from drill.__main__ import render, tally
    from report.handler import prepare

    sources: list[str] = []
    found: list[tuple[str, str, list[str], bool]] = []
    for state in run.report_inputs:
        if not state:
            continue
        _, verdict, _, _ = prepare(state)
        sources += [verdict.reason, *(s["detail"] for s in verdict.steps)]
        record = {"reason": verdict.reason, "steps": verdict.steps}
        found += [("record", text, [], False) for text in record_texts(record)]
    for note in run.result["notifications"]:
        if note.get("channel") == "email" and note.get("text"):
            found.append(("e-mail", f"{note['subject']}\n{note['text']}", sources, False))
    for request in run.result["slack_requests"]:
        found.append(("slack", slack_text(request["payload"]), sources, True))
    found.append(("drill", render(run.result) + "\n" + tally([run.result]), [], False))
    found.append(("drill --full", render(run.result, full=True), [], False))
    return found


def lint(run: Run) -> list[str]:
    return [
        f"{run.name} {channel}: {problem}"
        for channel, text, sources, slack in messages(run)
        for problem in problems(text, sources=sources, slack=slack)
    ]


def run_of(drill_runs: Any, kind: str, name: str) -> Run:
    return drill_runs.fault(name) if kind == "fault" else drill_runs.event(name)


# Each run is read where it is shared: an event's with the event tests, a fault drill's with test_faults*.py.
PARAMS = [
    pytest.param(
        kind,
        name,
        id=f"{kind}:{name}",
        marks=[pytest.mark.xdist_group("drill-faults" if kind == "fault" else "drill-events")],
    )
    for kind, name in RUNS
]


@pytest.mark.parametrize(("kind", "name"), PARAMS)
def test_every_message_passes_the_lint(drill_runs, kind: str, name: str) -> None:
    run = run_of(drill_runs, kind, name)
    assert messages(run), f"{run.name}: nothing to read"
    found = lint(run)
    assert not found, "\n".join(found[:40])


@pytest.mark.xdist_group("drill-events")
def test_the_root_users_key_is_never_an_iam_users(drill_runs) -> None:
    """The crafted root-key event, run on its own: IAM names the owner <root_account>; nothing is changed, and
    the report gives the root user's own steps, never an IAM user's."""
    run = drill_runs.event("crafted/health_root_key_exposed.json")
    result = run.result
    assert result["outcome"] == "failed", result["reason"]
    assert set(result["observed"]["access_keys"].values()) == {"Active"}
    assert not any(result["observed"]["user_policies"].values())
    (email,) = [n for n in result["notifications"] if n["channel"] == "email"]
    text = f"{email['subject']}\n{email['text']}"
    assert "the root user" in email["subject"] and "of user root" not in email["subject"]
    assert "--user-name root" not in text and "iam/home#/users/details/root" not in text
    assert "IAM user root" not in text
    assert "Sign in as the root user" in text


@pytest.mark.xdist_group("drill-faults")
@pytest.mark.parametrize(
    ("fault", "absent"),
    [
        ("root-key", "Inactive as evidence"),  # nothing was deactivated
        ("exempted-principal", "Inactive as evidence"),
        ("exempt-automation", "Inactive as evidence"),
        ("org-view-member-key", "Inactive as evidence"),
        ("unknown-key", "delete-access-key"),  # IAM says the key is gone: nothing to delete
    ],
)
def test_no_next_step_assumes_a_path_the_response_did_not_take(drill_runs, fault: str, absent: str) -> None:
    result = drill_runs.fault(fault).result
    (email,) = [n for n in result["notifications"] if n["channel"] == "email"]
    assert absent not in email["text"]


@pytest.mark.xdist_group("drill-faults")
def test_the_member_accounts_key_is_reported_for_that_account(drill_runs) -> None:
    result = drill_runs.fault("org-view-member-key").result
    (email,) = [n for n in result["notifications"] if n["channel"] == "email"]
    head = email["text"].split("\nDETAILS\n", 1)[0]
    assert "account 210987654321" in head
    assert "not account 210987654321's" in head  # the look-up read this account's CloudTrail, and says so


@pytest.mark.xdist_group("drill-events")
def test_the_drill_shows_each_kind_the_readme_lists_with_the_outcome_it_states(drill_runs) -> None:
    """`make drill`'s events (drill.__main__.SHOWCASE) against README's "What it answers": one of each row, the
    outcome the row states."""
    from drill.__main__ import SHOWCASE

    text = (ROOT / "README.md").read_text()
    table = text.split("## What it answers", 1)[1].split("\n\n", 2)[1]
    rows = [line.split(" | ") for line in table.splitlines()[2:]]
    answered, ignored = rows[:-1], rows[-1]
    shown = [(kind, path) for kind, path in SHOWCASE if not kind.startswith("ignored")]
    assert len(shown) == len(answered), "one event of each kind the README lists"
    for (kind, path), row in zip(shown, answered, strict=True):
        outcome = drill_runs.event(path).result["outcome"]
        assert re.search(rf"\b{outcome}\b", row[-1]), f"{kind} ({path}): {outcome}, README says {row[-1]}"
    for kind, path in SHOWCASE:
        if kind.startswith("ignored"):
            assert drill_runs.event(path).result["outcome"] == "ignored"
    assert "ignored" in ignored[-1]
