"""The containing functions' first read of the event (incident.essentials) never disagrees with
the full normalizer: what the first read contains is what the normalizer accepts, field for field."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from incident.essentials import exfiltration_essentials, health_essentials
from incident.normalize import normalize

EVENTS = Path(__file__).resolve().parents[1] / "events"
FILES = sorted(p for p in EVENTS.rglob("*.json") if not {"accounts", "cloudtrail"} & set(p.relative_to(EVENTS).parts))


def events(path: Path, *, realistic: bool = False) -> list[Any]:
    text = path.read_text()
    if realistic:  # the published samples' placeholders, as the drill stages real keys for them
        for placeholder in ("ACCESS_KEY_ID_HERE", "AKIAXXXXXXXXXX"):
            text = text.replace(placeholder, "AKIAIOSFODNN7EXAMPLE")
        text = text.replace('"1234567890"', '"123456789012"')
    loaded = json.loads(text)
    return loaded if isinstance(loaded, list) else [loaded]


def first_read(event: Any, affiliated: str = "contain") -> Any:
    return health_essentials(event) or exfiltration_essentials(event, affiliated_inside_aws=affiliated)


def assert_agree(event: Any, affiliated: str = "contain", *, lenient: bool = False) -> bool:
    essentials = first_read(event, affiliated)
    if essentials is None:
        return False
    intake = normalize(event, affiliated_inside_aws=affiliated)
    if lenient and intake.status == "ignored" and intake.reason.startswith(("malformed-event", "invalid-field")):
        # A field the first read does not use is not what AWS sends: the containment stands on the
        # validated essentials, and the first task reports what the normalizer said (incident.intake).
        return True
    assert intake.status == "accepted", intake.reason
    incident = intake.incident.model_dump(mode="json")
    assert incident["report_only"] is None
    for name, value in essentials.as_incident().items():
        assert incident[name] == value, name
    return True


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(EVENTS)))
def test_every_bundled_event_read_first_is_accepted_alike(path: Path) -> None:
    for event in events(path):
        assert_agree(event)
        assert_agree(event, affiliated="notify")


def test_the_realistic_events_are_read_first() -> None:
    for name in (
        "health_exposed_key_classic.json",
        "health_exposed_key_2025_event_metadata.json",
        "guardduty_exfil_outside_realistic.json",
    ):
        assert all(assert_agree(event) for event in events(EVENTS / name, realistic=True)), name


def test_what_the_first_read_leaves_to_the_normalizer() -> None:
    finding = events(EVENTS / "guardduty_exfil_outside_realistic.json")[0]
    sample = copy.deepcopy(finding)
    sample["detail"]["service"]["additionalInfo"] = {"sample": True}
    archived = copy.deepcopy(finding)
    archived["detail"]["service"]["archived"] = True
    no_role = copy.deepcopy(finding)
    del no_role["detail"]["resource"]["accessKeyDetails"]["userName"]
    bad_account = copy.deepcopy(finding)
    bad_account["account"] = "12345"
    for event in (sample, archived, no_role, bad_account, [], "text", None, {"source": "aws.health"}):
        assert first_read(event) is None


def test_every_field_mangled_is_either_agreed_or_left_to_the_normalizer() -> None:
    """Each leaf of the realistic events replaced by values AWS would never send: the first read
    either agrees with the normalizer or leaves the event to it, and never raises."""
    odd_values: list[Any] = [None, 7, True, [], {}, "", "x" * 300, "../../etc", "AKIA<script>", "-1"]
    for name in (
        "health_exposed_key_classic.json",
        "health_exposed_key_2025_event_metadata.json",
        "guardduty_exfil_outside_realistic.json",
    ):
        (event,) = events(EVENTS / name, realistic=True)
        for path in _leaves(event):
            for value in odd_values:
                mangled = copy.deepcopy(event)
                _set(mangled, path, value)
                assert_agree(mangled, lenient=True)


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _leaves(item, (*path, key))] or [path]
    if isinstance(value, list):
        return [leaf for index, item in enumerate(value) for leaf in _leaves(item, (*path, index))] or [path]
    return [path]


def _set(target: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
