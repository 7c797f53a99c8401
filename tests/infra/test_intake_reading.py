"""The in-state containment (infra/intake.py) reads events, writes the record and builds the cut-off
as the Lambdas do: each JSONata expression pinned to the Python it stands for.

* a reading: whatever the state reads, incident.essentials reads the same way (the same incident id,
  keys, users, role, counts), on every bundled event and on events changed at random; the state may
  leave an event to the Lambda (stricter), never read one the Lambda would not, and never raise (a
  JSONata error in the Intake Choice would end the execution unreported);
* the record: the item record.store.register puts for that incident at the execution's start;
* the cut-off: common.cutoff.cutoff_at(the execution's start), in revoke_sessions' document.

JSONata is evaluated with jsonata-python (the drill's evaluator, drill/moto_quirks.py), bound as
Step Functions binds $states.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonata
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.cutoff import cutoff_at
from incident.essentials import exfiltration_essentials, health_essentials
from infra.intake import CUTOFF, CUTOFF_POLICY, HEALTH_READING, KEYS, ONE_NAMED_KEY, RECORD_ITEM, session_reading
from record.store import register
from revoke_sessions.actions import older_sessions_policy

EVENTS = Path(__file__).resolve().parents[1] / "events"
BUNDLED = sorted([*EVENTS.glob("*.json"), *(EVENTS / "crafted").glob("*.json")])
OWN = "123456789012"
START = "2026-12-05T20:49:00.192Z"
EXECUTION = f"arn:aws:states:us-east-1:{OWN}:execution:CredentialResponder:drill-1"
# Placeholders in AWS's published samples that are not ids (the drill's staging replaces them too).
PLACEHOLDERS = {
    "AKIAXXXXXXXXXX": "AKIAIOSFODNN7EXAMPLE",
    "ACCESS_KEY_ID_HERE": "AKIAI44QH8DHBEXAMPLE",
    "1234567890": OWN,
    # 19 characters: the drill stages real ids for them
    "AKIAEXPOSEDTWO00001": "AKIAEXPOSEDTWO000001",
    "AKIAEXPOSEDTWO00002": "AKIAEXPOSEDTWO000002",
}


def evaluate(expression: str, event: Any, *, account: str = OWN, start: str = START, **variables: Any) -> Any:
    states = {
        "input": event,
        "context": {
            "StateMachine": {"Id": f"arn:aws:states:us-east-1:{account}:stateMachine:CredentialResponder"},
            "Execution": {"Id": EXECUTION, "StartTime": start},
        },
    }
    bindings = {"states": states, **variables}
    declarations = "".join(f"${name}:={json.dumps(value)};" for name, value in bindings.items())
    return jsonata.Jsonata(f"({declarations}{expression})").evaluate(None)


def bundled(path: Path) -> Any:
    text = path.read_text()
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(f'"{placeholder}"', f'"{value}"')
    return json.loads(text)


READERS = {
    "health": (HEALTH_READING, health_essentials),
    "session": (session_reading("contain"), exfiltration_essentials),
    "session-notify": (
        session_reading("notify"),
        lambda event: exfiltration_essentials(event, affiliated_inside_aws="notify"),
    ),
}


def check(event: Any, reader: str, account: str = OWN) -> Any:
    """The state's reading of `event`, after checking it against incident.essentials'."""
    expression, essentials_of = READERS[reader]
    reading = evaluate(expression, event, account=account)
    essentials = essentials_of(copy.deepcopy(event))
    if reading is None:
        return None
    assert essentials is not None, f"the state reads an event incident.essentials does not: {reading}"
    incident = essentials.as_incident()
    for field in ("incident_id", "kind", "source", "event_type", "event_id", "account", "region"):
        assert reading[field] == incident[field], field
    assert reading["keys"] == essentials.affected_keys
    assert reading["count"] == essentials.count
    if essentials.kind == "instance-credential-exfiltration":
        assert (reading["last_seen"], reading["updated_at"]) == (
            essentials.last_seen or None,
            essentials.updated_at or None,
        )
    # What the state contains on its own: this account's, named without contradiction.
    assert essentials.account == account and not essentials.account_conflict and not essentials.delivered_to
    if essentials.kind == "instance-credential-exfiltration":
        for field in ("finding_id", "role_name", "instance_id"):
            assert reading[field] == incident[field], field
    return reading


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_the_state_reads_each_bundled_event_as_the_lambda_does(path: Path) -> None:
    event = bundled(path)
    account = event.get("account") if isinstance(event, dict) else OWN
    for reader in READERS:
        reading = check(event, reader, account=account)
        essentials = READERS[reader][1](copy.deepcopy(event))
        in_state = (
            essentials is not None
            and essentials.account == account
            and not essentials.account_conflict
            and len(essentials.affected_keys) <= 10
        )
        # Both ways on the bundled events: every one the Lambda contains on its own, the state does too.
        assert (reading is not None) == in_state, (reader, reading, essentials)


REALISTIC = [
    "health_exposed_key_2025_event_metadata.json",
    "health_exposed_key_classic.json",
    "health_exposed_key_new_arn_layout.json",
    "guardduty_exfil_outside_realistic.json",
]


@pytest.mark.parametrize("name", REALISTIC)
def test_the_realistic_events_are_contained_in_the_state(name: str) -> None:
    event = bundled(EVENTS / name)
    reader = "health" if event["source"] == "aws.health" else "session"
    assert check(event, reader, account=event["account"]) is not None


def test_the_intake_routes_one_named_key_without_a_map_and_others_through_it() -> None:
    named = bundled(EVENTS / "health_exposed_key_2025_event_metadata.json")
    unnamed = bundled(EVENTS / "health_exposed_key_classic.json")
    assert evaluate(ONE_NAMED_KEY, named, account=named["account"]) is True
    assert evaluate(ONE_NAMED_KEY, unnamed, account=unnamed["account"]) is False
    assert evaluate(KEYS, unnamed, account=unnamed["account"]) is True


@pytest.mark.parametrize(
    "event", [None, "aws.health", 42, [], [{"source": "aws.health"}], {"source": ["aws.health"]}, {"detail": []}]
)
def test_no_input_makes_the_intake_choice_raise(event: Any) -> None:
    for expression in (ONE_NAMED_KEY, KEYS, f"$type({session_reading('contain')}) = 'object'"):
        assert evaluate(expression, event) is False


# -- events changed at random: the state never reads more than the Lambda, never raises ---------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 10**6)
    # A float written 3.0 is an integer to JSONata and not to incident.essentials (documented in
    # infra.intake.session_reading); GuardDuty and Health never write one.
    | st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer())
    | st.sampled_from(["", "AKIAIOSFODNN7EXAMPLE", OWN, "210987654321", "x y", "2026-02-30T00:00:00Z", "0", "12"])
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _changed(event: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    changed = copy.deepcopy(event)
    parent = changed
    for step in path[:-1]:
        parent = parent[step]
    if delete and isinstance(parent, dict):
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = value
    return changed


FUZZED = [
    ("health", "health_exposed_key_2025_event_metadata.json"),
    ("health", "health_exposed_key_classic.json"),
    ("health", "crafted/health_two_keys_one_user.json"),
    ("session", "guardduty_exfil_outside_realistic.json"),
    ("session-notify", "crafted/guardduty_exfil_inside_affiliated.json"),
]


@pytest.mark.parametrize(("reader", "name"), FUZZED)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_changed_event_is_read_in_the_state_only_as_the_lambda_reads_it(reader: str, name: str, data: Any) -> None:
    event = bundled(EVENTS / name)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(event)))
        event = _changed(event, path, data.draw(JSON_VALUES), data.draw(st.booleans()))
    check(event, reader, account=OWN if reader == "health" else "111122223333")


# -- the record and the cut-off ------------------------------------------------------------------------


class _Table:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def put_item(self, **kwargs: Any) -> dict[str, Any]:
        self.items.append(kwargs)
        return {}


@pytest.mark.parametrize("name", [*REALISTIC, "crafted/health_two_keys_one_user.json"])
def test_the_record_is_the_item_register_writes(name: str) -> None:
    event = bundled(EVENTS / name)
    reader = "health" if event["source"] == "aws.health" else "session"
    reading = check(event, reader, account=event["account"])
    essentials = READERS[reader][1](event)
    table = _Table()
    register(table, "incidents", essentials.as_incident(), execution_arn=EXECUTION, now=_parse(START))
    (put,) = table.items
    assert put["ConditionExpression"] == "attribute_not_exists(id)"
    assert evaluate(RECORD_ITEM, event, account=event["account"], incident=reading) == put["Item"]


@pytest.mark.parametrize(
    "start",
    [
        "2026-12-05T20:49:00.000Z",
        "2026-12-05T20:49:00.001Z",
        "2026-12-05T20:49:00.999Z",
        "2026-12-31T23:59:59.500Z",
        "2028-02-28T23:59:59.001Z",
        "2028-02-29T23:59:59.999Z",
    ],
)
def test_the_cutoff_is_common_cutoffs_from_the_execution_start(start: str) -> None:
    cutoff = cutoff_at(_parse(start))
    assert evaluate(CUTOFF, None, start=start) == cutoff
    # The document the state writes is the one revoke_sessions writes and reads back.
    assert json.loads(evaluate(CUTOFF_POLICY, None, start=start)) == older_sessions_policy(cutoff)


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
