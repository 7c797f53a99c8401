"""The lint every message a person reads must pass: the e-mail, the Slack message, the incident record's
text and the drill's human output. Not a test module: tests/unit/test_message_lint.py shows each rule
failing on a crafted bad message; tests/e2e/test_messages.py runs it on every bundled event, crafted event
and fault drill.

    problems(text, sources=...) -> ["rule: the offending text", ...]

The rules (each a defect a reader met in a real message, issue 26):
- placeholder: a `<...>` left for the reader to fill in (`<acl of the subnet>`, `--user-name <UserName>`),
  or a GuardDuty sample's `Generated...` value (`GeneratedFindingCountryName`);
- python: a Python value where a person reads (`None`, `{'SUCCEEDED': 10}`, `['a', 'b']`, `True`), or a raw
  JSON object in prose (a state dumped on one line);
- mangled: a character of a name shown as `?` (`C?CActivity.B?DNS`);
- cut: a text of the sources (a step's detail, the reason) shown only in part without a marker (`…`, or the
  words that say the record holds the rest);
- duplicate: the same line twice in one message, or a name followed by its own ARN
  (`AdministratorAccess: arn:aws:iam::aws:policy/AdministratorAccess`);
- dangling: a sentence that stops before its verb's object (`a person must`);
- shell: a command line that bash cannot parse (`bash -n`).

Slack text is read as Slack shows it: its links `<url|label>` are the renderer's and are left out, and
`&amp;`, `&lt;`, `&gt;` are read as the characters they escape.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections import Counter
from collections.abc import Iterable
from functools import cache
from typing import Any

MARKERS = ("…", "[…cut here", "Message truncated")

_PLACEHOLDER = re.compile(r"<[^<>\n]{1,60}>")
# Not placeholders: what AWS itself writes in angle brackets (IAM's name for the root user).
LITERALS = ("<root_account>",)
_GENERATED = re.compile(r"\bGenerated[A-Z]\w+")
_PYTHON = re.compile(
    r"\bNone\b|\{'[^'\n]*': |\['[^'\n]*'(?:, '|\])|[:=] (?:True|False)\b"
    r"|\bdatetime\.\w+\(|\bDecimal\('|<\w+ object at 0x"
)
_RAW_JSON = re.compile(r"\{\"[\w-]+\": ")
_MANGLED = re.compile(r"[A-Za-z0-9]\?[A-Za-z0-9]")
_URL = re.compile(r"https?://\S+")
_ARN_REPEATED = re.compile(r"\b([\w+=,.@-]{4,}): (arn:[\w-]+:[^\s]*[:/]\1)\b")
_DANGLING = re.compile(r"\b(?:must|should|can|cannot|will|to|the|a|an|of|and|or)\s*(?:[;]|$)", re.MULTILINE)
# A line that is a command for the reader to run: the product's commands start with one of these.
_COMMAND = re.compile(r"^(?:aws |for \w+ in |[a-z_]+=\$\(|make |\.venv/bin/python |python -m )")
_SLACK_LINK = re.compile(r"<(?:https?://|mailto:)[^<>|\s]+(?:\|[^<>]*)?>")
DUPLICATE_MIN_CHARS = 30
CUT_MIN_CHARS = 24


def problems(text: str, *, sources: Iterable[str] = (), slack: bool = False) -> list[str]:
    """Every rule's findings in one message. `sources`: the texts the message must show whole or cut with a
    marker (the steps' details, the reason). `slack`: read `text` as Slack mrkdwn."""
    if slack:
        text = slack_as_shown(text).replace("```", "\n")  # a code block's lines are lines
    found: list[str] = []
    prose = [line for line in text.splitlines() if not is_command(line)]
    commands = [_unquoted(line) for line in text.splitlines() if is_command(line)]
    for line in text.splitlines():
        without_urls = _URL.sub("", line)
        placeholders = [m.group(0) for m in _PLACEHOLDER.finditer(without_urls)]
        found += [f"placeholder: {text}" for text in placeholders if text not in LITERALS]
        found += [f"placeholder: {m.group(0)}" for m in _GENERATED.finditer(line)]
        found += [f"python: {m.group(0)!r} in {line.strip()[:120]!r}" for m in _PYTHON.finditer(without_urls)]
        found += [f"mangled: {m.group(0)!r} in {line.strip()[:120]!r}" for m in _MANGLED.finditer(without_urls)]
        found += [f"duplicate: {m.group(0)}" for m in _ARN_REPEATED.finditer(line)]
    for line in prose:
        if _RAW_JSON.search(line):
            found.append(f"python: raw JSON in prose: {line.strip()[:120]!r}")
        for sentence in re.split(r"(?<=[.:!?])\s", line):
            if _DANGLING.search(_URL.sub("", sentence).rstrip(" .")):
                found.append(f"dangling: {sentence.strip()[-80:]!r}")
    # A shell comment (`# the e-mail has the rest ...`) is a marker a code block repeats, not a line of text.
    counted = Counter(
        line.strip()
        for line in text.splitlines()
        if len(line.strip()) >= DUPLICATE_MIN_CHARS and not line.strip().startswith("# ")
    )
    found += [f"duplicate: line {line[:120]!r} x{count}" for line, count in counted.items() if count > 1]
    found += [f"cut: {cut_text!r}" for cut_text in cuts(text, sources)]
    found += [f"shell: {command[:160]!r}: {error}" for command in commands if (error := shell_error(command))]
    return found


def is_command(line: str) -> bool:
    return bool(_COMMAND.match(_unquoted(line)))


def _unquoted(line: str) -> str:
    """A line of a quoted message (the drill quotes the e-mail as `      | ...`) read as the message's line."""
    text = line.strip()
    return text[1:].strip() if text.startswith("|") else text


def slack_as_shown(text: str) -> str:
    """The text as a reader sees it: the renderer's own links dropped, the escapes read back."""
    text = _SLACK_LINK.sub("", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def cuts(text: str, sources: Iterable[str]) -> list[str]:
    """The sources a line shows only in part, ending where the source goes on, with no marker: the longest start
    of the source (at least CUT_MIN_CHARS) that a line of the message holds, when that line ends right after it.
    A line that goes on with other words shows another text that begins the same way, not a cut."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    found = []
    for source in sources:
        source = " ".join(str(source).split())
        if len(source) < CUT_MIN_CHARS or any(source in line for line in lines):
            continue
        holding = [line for line in lines if source[:CUT_MIN_CHARS] in line]
        if not holding:
            continue  # not shown at all: nothing cut (which texts must be shown is another test's)
        low, high = CUT_MIN_CHARS, len(source) - 1
        while low < high:  # the longest start a line holds
            middle = (low + high + 1) // 2
            if any(source[:middle] in line for line in holding):
                low = middle
            else:
                high = middle - 1
        shown = source[:low]
        for line in holding:
            for at in _all(line, shown):
                rest = line[at + len(shown) :].strip()
                if rest.startswith(MARKERS):
                    continue
                if not rest or rest.startswith(("`", "*")):  # the line (or Slack's code or bold) ends there
                    found.append(f"{shown[-60:]}| (of {len(source)} characters, {len(shown)} shown)")
    return sorted(set(found))


def _all(text: str, part: str) -> list[int]:
    return [m.start() for m in re.finditer(re.escape(part), text)]


@cache
def shell_error(command: str) -> str:
    """Why bash cannot parse `command` ("" when it can), and shlex's view of its words."""
    try:
        shlex.split(command)
    except ValueError as exc:
        return f"shlex: {exc}"
    parsed = subprocess.run(["bash", "-n", "-c", command], capture_output=True, text=True, check=False)
    return parsed.stderr.strip() if parsed.returncode else ""


# -- what a channel holds, as text ------------------------------------------------------------------


def slack_text(payload: dict[str, Any]) -> str:
    """Every text of a Block Kit message, in order: the fallback, then each block's."""
    parts = [str(payload.get("text") or "")]
    for block in payload.get("blocks") or []:
        for part in [block.get("text"), *(block.get("fields") or []), *(block.get("elements") or [])]:
            if isinstance(part, dict) and part.get("text"):
                parts.append(str(part["text"]))
    return "\n".join(parts)


def slack_commands(payload: dict[str, Any]) -> list[str]:
    """The lines of the code blocks (```...```): the commands Slack shows."""
    text = slack_as_shown(slack_text(payload))
    return [line for block in re.findall(r"```(.*?)```", text, re.DOTALL) for line in block.splitlines() if line]


def record_texts(report: dict[str, Any]) -> list[str]:
    """What the incident record keeps for a person to read, one text each: the reason, then every step (its
    line, its undo and its manual command). The record is a list of steps, not one message: two steps may
    rightly carry the same command (two keys of one user share the user's undo)."""
    texts = [str(report.get("reason") or "")]
    for step in report.get("steps") or []:
        lines = [f"{step.get('name')} {step.get('status')} on {step.get('target')}: {step.get('detail')}"]
        lines += [line for key in ("undo", "manual") if step.get(key) for line in str(step[key]).splitlines()]
        texts.append("\n".join(lines))
    return texts


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
