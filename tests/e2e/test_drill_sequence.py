"""`--sequence`: events delivered in order to ONE simulated account and deployment, as a real
account sees them (a finding's life, several incidents touching one user)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drill.runner import run_sequence

EVENTS = Path(__file__).resolve().parent.parent / "events"
CRAFTED = EVENTS / "crafted"
pytestmark = [pytest.mark.drill, pytest.mark.xdist_group("drill-events")]


def test_a_findings_life_contained_then_still_in_use_then_archived(synthesized) -> None:
    first, repeat, archived = run_sequence(
        [
            EVENTS / "guardduty_exfil_outside_realistic.json",
            CRAFTED / "guardduty_exfil_realistic_count_rising.json",
            CRAFTED / "guardduty_exfil_realistic_archived.json",
        ],
        synthesized,
    )
    assert [r["event_file"] for r in (first, repeat, archived)] == [
        "guardduty_exfil_outside_realistic.json",
        "guardduty_exfil_realistic_count_rising.json",
        "guardduty_exfil_realistic_archived.json",
    ]
    assert [r["delivery"] for r in (first, repeat, archived)] == [1, 2, 3]
    assert first["outcome"] == "contained", first["reason"]
    assert repeat["outcome"] == "duplicate", repeat["reason"]
    assert "still" in repeat["reason"] and "use" in repeat["reason"]
    assert archived["outcome"] == "ignored" and archived["reason"].startswith("archived-finding")
    # One account: the instance the first delivery staged is the one the repeat names.
    instance = first["incident"]["instance_id"]
    assert repeat["incident"]["instance_id"] == instance
    assert repeat["staged"]["i-0f8e7d6c5b4a39281"] == instance
    # The state after each delivery is the same account's: contained once, never undone, one image.
    for result in (first, repeat, archived):
        observed = result["observed"]
        assert observed["role_policies"]["web-app-role"] == ["AWSRevokeOlderSessions"]
        assert len(observed["images"]) == 1
        assert observed["instance_protection"][instance] == {"termination": True, "shutdown_behavior": "stop"}
    changes = [c for c in archived["api_calls"] if c["service"] in ("iam", "ec2", "autoscaling")]
    assert changes == []
    # The repeat says so to the responders (still in use); the archive is reported as ignored.
    assert {n["channel"] for n in repeat["notifications"]} == {"email", "slack"}
    assert len(repeat["slack_requests"]) == 1


def test_two_health_events_for_one_users_two_keys_contain_both(synthesized) -> None:
    first, second = run_sequence(
        [CRAFTED / "health_user_key_1_of_2.json", CRAFTED / "health_user_key_2_of_2.json"], synthesized
    )
    assert first["outcome"] == "contained", first["reason"]
    assert second["outcome"] == "contained", second["reason"]
    key_1, key_2 = second["staged"]["AKIAEXPOSEDTWO00001"], second["staged"]["AKIAEXPOSEDTWO00002"]
    assert first["staged"]["AKIAEXPOSEDTWO00001"] == key_1
    assert first["incident"]["access_key_ids"] == [key_1]
    assert second["incident"]["access_key_ids"] == [key_2]
    assert first["observed"]["access_keys"][key_1] == "Inactive"
    keys = second["observed"]["access_keys"]
    assert keys[key_1] == "Inactive" and keys[key_2] == "Inactive"
    # Both keys are deploy-bot's: the drill's bystander key moved to make room, and is untouched.
    bystanders = [k for k in keys if k not in (key_1, key_2)]
    assert [keys[k] for k in bystanders] == ["Active"]
    assert any("made room" in note for note in second["staging_notes"])
    assert "AWSCompromisedKeyQuarantineV3" in second["observed"]["user_policies"]["deploy-bot"]


def test_the_cli_needs_the_events_of_a_sequence(capsys) -> None:
    from drill.__main__ import main

    with pytest.raises(SystemExit) as exited:
        main(["--sequence"])
    assert exited.value.code == 2 and "--sequence needs the event files" in capsys.readouterr().err
