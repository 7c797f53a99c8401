"""Repeats judged by what they name, every response kept (issue 25): the fault drills, end to end,
every assertion on the account reading `observed` (and the record the responder left)."""

from __future__ import annotations

from typing import Any

import pytest

from drill.faults import SCENARIOS, run_scenario

pytestmark = [pytest.mark.drill, pytest.mark.xdist_group("drill-faults")]
READS = ("Get", "List", "Describe", "Lookup")


def _records(account: Any, staged: Any) -> dict[str, Any]:
    from drill.observe import incident_records

    return incident_records(account)


def _changes(result: dict[str, Any], service: str) -> list[str]:
    return [
        f"{c['operation']}"
        for c in result["api_calls"]
        if c["service"] == service and not c["operation"].startswith(READS) and not c["error"]
    ]


def _email(result: dict[str, Any]) -> str:
    return str(next(n for n in result["notifications"] if n["channel"] == "email")["text"])


def test_a_sequence_update_naming_a_new_key_contains_that_key_and_says_so(synthesized) -> None:
    result = run_scenario("sequence-new-principal", synthesized, after=_records)
    assert result["earlier_deliveries"] == ["contained"]
    assert result["outcome"] == SCENARIOS["sequence-new-principal"].expected == "contained", result["reason"]
    first, new = result["staged"]["AKIA3UBBJ2K3TLEAKED1"], result["staged"]["AKIA3UBBJ2K3TLEAKED2"]
    observed = result["observed"]
    assert observed["access_keys"][first] == "Inactive" and observed["access_keys"][new] == "Inactive"
    assert "AWSCompromisedKeyQuarantineV3" in observed["user_policies"]["svc-metrics"]
    assert "AWSCompromisedKeyQuarantineV3" in observed["user_policies"]["ci-deployer"]
    bystanders = [k for k in observed["access_keys"] if k not in (first, new)]
    assert bystanders and {observed["access_keys"][k] for k in bystanders} == {"Active"}
    # Exactly the new key was acted on: one deactivation, on it.
    assert _changes(result, "iam").count("UpdateAccessKey") == 1
    assert [s["target"] for s in result["steps"] if s["name"] == "deactivate-access-key"] == [new]
    (kept,) = [s for s in result["steps"] if s["name"] == "already-contained"]
    assert kept["target"] == f"key {first}" and kept["status"] == "already-done"
    # One message, saying what is new (the reason leads with it, the facts name the response).
    assert {n["channel"] for n in result["notifications"]} == {"email", "slack"}
    assert len(result["slack_requests"]) == 2  # one per delivery (the drill's recorder keeps both)
    assert new in result["slack_requests"][-1]["payload"]["text"]
    assert result["reason"].startswith("repeat of the incident")
    assert f"key {new}: named for the first time" in result["reason"]
    assert f"Response:     response 2 of the incident (contain); new: key {new}" in _email(result)
    # One record, both responses on it, each with its own steps.
    (record,) = result["after"].values()
    assert record["responses"] == ["first", "contain"] and record["status"] == "contained"


def test_a_joined_sequences_update_adding_a_key_is_contained_and_told(synthesized) -> None:
    result = run_scenario("joined-update", synthesized, after=_records)
    assert result["earlier_deliveries"] == ["contained", "contained"]
    assert result["outcome"] == SCENARIOS["joined-update"].expected == "contained", result["reason"]
    first_key, new_key = result["staged"]["AKIA4XKQ2ATTACKER001"], result["staged"]["AKIA4XKQ2ATTACKER002"]
    observed = result["observed"]
    assert observed["access_keys"][first_key] == "Inactive" and observed["access_keys"][new_key] == "Inactive"
    assert "AWSCompromisedKeyQuarantineV3" in observed["user_policies"]["svc-reports"]
    assert observed["role_policies"]["web-app-role"] == ["AWSRevokeOlderSessions"]
    assert len(observed["images"]) == 1  # the instance's evidence, once: nothing of the first response redone
    assert _changes(result, "iam").count("UpdateAccessKey") == 1 and _changes(result, "ec2") == []
    # Told: one message naming the new key and what the earlier responses already contained.
    assert len(result["slack_requests"]) == 3 and new_key in result["slack_requests"][-1]["payload"]["text"]
    assert f"key {new_key}: named for the first time, contained now" in result["reason"]
    already = {s["target"] for s in result["steps"] if s["name"] == "already-contained"}
    assert already == {f"key {first_key}", "role web-app-role"}
    email = _email(result)
    assert "Same attack as" in email and "c2c6f0f0a7d14c1e8d1b3e5f7a9b0c11" in email
    # One record for the attack: three responses, the sequence's two joined, its id an alias.
    records = result["after"]
    assert list(records) == ["111122223333:guardduty:c2c6f0f0a7d14c1e8d1b3e5f7a9b0c11"]
    (record,) = records.values()
    assert record["responses"] == ["first", "contain", "contain"] and record["status"] == "contained"
    assert [j["finding_id"] for j in record["joined"]] == ["d4e5f6a7b8c90112233445566778899a"] * 2
    assert record["aliases"] == ["111122223333:guardduty:d4e5f6a7b8c90112233445566778899a"]


def test_release_with_the_id_a_joined_report_prints_restores_every_response(drill_runs) -> None:
    result = drill_runs.fault("release-joined").result
    assert result["earlier_deliveries"] == ["contained"]
    assert result["outcome"] == SCENARIOS["release-joined"].expected == "contained", result["reason"]
    printed = "111122223333:guardduty:d4e5f6a7b8c90112233445566778899a"
    assert f"(this finding: {printed})" in _email(result)
    released = result["after"]
    assert released["released_by_id"] == printed
    assert released["record"] == "111122223333:guardduty:c2c6f0f0a7d14c1e8d1b3e5f7a9b0c11"
    assert released["release"] == "released" and released["status"] == "released"
    assert released["responses"] == ["first", "contain", "release"]
    assert released["outcomes"] and {status for _, status in released["outcomes"]} == {"released"}
    # What both responses changed is back: the first's (role, instance) and the joined one's (key, user).
    before, during, after = result["observed_before"], result["observed"], result["observed_after"]
    key = result["staged"]["AKIA4XKQ2ATTACKER001"]
    assert during["access_keys"][key] == "Inactive" and during["role_policies"]["web-app-role"]
    for field in ("access_keys", "user_policies", "role_policies", "instance_network", "instance_protection"):
        assert after[field] == before[field], field
    assert after["instance_profiles"] == before["instance_profiles"] and all(before["instance_profiles"].values())
    # Kept on purpose: the evidence image (deleting evidence is a person's decision), said so.
    assert len(after["images"]) == 1 and any("evidence image" in note for note in released["notes"])


def test_a_sequences_keys_still_in_use_are_cut_off_again(synthesized) -> None:
    """N10: an exposed-key repeat that shows the credentials still in use (activity after the cut-off,
    a count that rose) is contained again (RecontainKeys: a new session cut-off), not only told so."""
    from drill.faults import EVENTS, _count_rises
    from drill.runner import run_event_file

    def note_cutoff(account: Any, staged: Any) -> None:
        from drill.observe import observe

        denies = observe(account, staged)["user_session_denies"]["ci-deployer"]
        staged.notes.append(f"first cut-off: {denies}")

    result = run_event_file(
        EVENTS / "crafted" / "guardduty_attack_sequence_iam_user_key.json",
        synthesized,
        deliveries=2,
        redeliver=_count_rises,
        between=note_cutoff,
    )
    assert result["earlier_deliveries"] == ["contained"]
    assert result["outcome"] == "duplicate", result["reason"]
    assert "still in use" in result["reason"] and "cut off again" in result["reason"]
    assert "RecontainKeys" in result["execution"]["states"]
    # The key is written Inactive again (the containing call comes first, nothing read before it).
    assert [s["name"] for s in result["steps"]] == ["deactivate-access-key", "quarantine-user", "revoke-user-sessions"]
    assert result["steps"][-1]["status"] == "done"
    assert set(result["observed"]["access_keys"].values()) == {"Inactive", "Active"}  # the bystander stays Active
    (first,) = [n for n in result["staging_notes"] if n.startswith("first cut-off: ")]
    assert str(result["observed"]["user_session_denies"]["ci-deployer"]) not in first  # a new cut-off
    assert {n["channel"] for n in result["notifications"]} == {"email", "slack"}


def test_a_joined_sequence_active_after_the_cut_off_revokes_the_role_again(synthesized, tmp_path) -> None:
    """N11: the role the sequence defers (keys first) was contained by the earlier finding's response,
    but the sequence shows activity after that cut-off: its sessions are revoked again (ContainRoles)."""
    import json
    from datetime import UTC, datetime, timedelta

    from drill.faults import EVENTS
    from drill.runner import run_sequence

    sequence = json.loads((EVENTS / "crafted" / "guardduty_attack_sequence_covers_exfil.json").read_text())
    later = (datetime.now(UTC) + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    sequence["detail"]["service"]["eventLastSeen"] = sequence["detail"]["updatedAt"] = later
    path = tmp_path / "covers_exfil_active_since.json"
    path.write_text(json.dumps(sequence))
    first, joined = run_sequence([EVENTS / "guardduty_exfil_outside_realistic.json", path], synthesized)
    assert first["outcome"] == "contained" and joined["outcome"] == "contained", joined["reason"]
    assert "ContainRoles" in joined["execution"]["states"]
    revoked = [s for s in joined["steps"] if s["name"] == "revoke-role-sessions"]
    assert [(s["target"], s["status"]) for s in revoked] == [("web-app-role", "done")]
    assert not [s for s in joined["steps"] if s["name"] == "already-contained"]
    cutoffs = [result["observed"]["revoke_cutoffs"]["web-app-role"] for result in (first, joined)]
    assert cutoffs[1] > cutoffs[0]
    assert "web-app-role: GuardDuty saw activity at" in joined["reason"]
