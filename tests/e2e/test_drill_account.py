"""`--account STATE.json`: the account declared in a file, staged before the first event.

The fault drills stage their cases in code; here the same cases come from state files and must
give the same outcome, and the state read back (`observed`) must show what the case is about.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drill.__main__ import main
from drill.faults import SCENARIOS
from drill.runner import run_event_file, run_sequence
from drill.state import AccountStateError, load_account_state

EVENTS = Path(__file__).resolve().parent.parent / "events"
ACCOUNTS = EVENTS / "accounts"
HEALTH_2025 = EVENTS / "health_exposed_key_2025_event_metadata.json"
EXFIL = EVENTS / "guardduty_exfil_outside_realistic.json"
pytestmark = [pytest.mark.drill, pytest.mark.xdist_group("drill-events")]


def drill(synthesized, event: Path, state: str, **kwargs):
    return run_event_file(event, synthesized, account_state=ACCOUNTS / state, **kwargs)


def test_key_already_deleted_as_a_state_file(synthesized) -> None:
    result = drill(synthesized, HEALTH_2025, "key_already_deleted.json")
    assert result["outcome"] == SCENARIOS["key-already-deleted"].expected == "contained", result["reason"]
    exposed = result["staged"]["AKIAXXXXXXXXXX"]
    other = result["staged"]["AKIATEST1OTHERKEY001"]
    assert result["observed"]["access_keys"] == {exposed: "absent", other: "Active"}


def test_user_deleted_as_a_state_file(synthesized) -> None:
    result = drill(synthesized, HEALTH_2025, "user_deleted.json")
    assert result["outcome"] == SCENARIOS["user-deleted"].expected == "contained", result["reason"]
    assert result["observed"]["access_keys"] == {result["staged"]["AKIAXXXXXXXXXX"]: "absent"}
    assert "test-1" not in result["observed"]["user_policies"]  # the user is gone, and stays gone


def test_exempted_principal_as_a_state_file(synthesized) -> None:
    scenario = SCENARIOS["exempted-principal"]
    result = drill(synthesized, HEALTH_2025, "exempted_principal.json", environment=scenario.environment)
    assert result["outcome"] == scenario.expected == "failed", result["reason"]
    assert set(result["observed"]["access_keys"].values()) == {"Active"}
    assert result["observed"]["user_policies"]["test-1"] == []


def test_instance_terminated_as_a_state_file(synthesized) -> None:
    result = drill(synthesized, EXFIL, "instance_terminated.json")
    assert result["outcome"] == SCENARIOS["instance-terminated"].expected == "contained", result["reason"]
    observed = result["observed"]
    instance = result["staged"]["i-0f8e7d6c5b4a39281"]
    assert result["incident"]["instance_id"] == instance
    assert observed["role_policies"]["web-app-role"] == ["AWSRevokeOlderSessions"]
    assert observed["images"] == [] and observed["isolation_groups"] == {}
    assert instance not in observed["instance_protection"]


def test_auto_scaling_group_as_a_state_file(synthesized) -> None:
    result = drill(synthesized, EXFIL, "auto_scaling_group.json")
    assert result["outcome"] == SCENARIOS["auto-scaling-group"].expected == "contained", result["reason"]
    instance = result["staged"]["i-0f8e7d6c5b4a39281"]
    assert result["observed"]["auto_scaling"] == {instance: None}  # detached from web-asg
    (detach,) = [s for s in result["steps"] if s["name"] == "protect-from-autoscaling"]
    assert detach["status"] == "done" and "web-asg" in detach["detail"]


def test_several_enis_as_a_state_file(synthesized) -> None:
    event = EVENTS / "crafted" / "guardduty_exfil_three_enis_two_vpcs.json"
    result = drill(synthesized, event, "several_enis.json")
    assert result["outcome"] == SCENARIOS["several-enis"].expected == "contained", result["reason"]
    observed = result["observed"]
    interfaces = observed["instance_network"][result["staged"]["i-0f8e7d6c5b4a39281"]]
    assert set(interfaces) == {
        result["staged"][e] for e in ("eni-0a1b2c3d4e5f60001", "eni-0a1b2c3d4e5f60002", "eni-0b1b2c3d4e5f60003")
    }
    assert len(observed["isolation_groups"]) == 2
    assert all(len(groups) == 1 and groups[0] in observed["isolation_groups"] for groups in interfaces.values())


def test_the_file_wins_over_what_staging_would_make_up(synthesized) -> None:
    result = drill(synthesized, EXFIL, "example.json")
    assert result["outcome"] == "contained", result["reason"]
    observed = result["observed"]
    instance = result["staged"]["i-0f8e7d6c5b4a39281"]
    # Not the drill's own role and network: the file's (its policies, its Auto Scaling group).
    assert sorted(observed["role_policies"]["web-app-role"]) == [
        "AWSRevokeOlderSessions",
        "app-read-config",
        "read-assets",
    ]
    assert observed["auto_scaling"][instance] is None
    stopped = result["staged"]["i-0a0b0c0d0e0f00002"]
    assert observed["auto_scaling"][stopped] is None
    assert stopped not in {image["instance_id"] for image in observed["images"]}
    assert observed["access_keys"][result["staged"]["AKIAOLDKEYINACTIVE01"]] == "Inactive"
    assert result["incident"]["instance_id"] == instance
    assert any("default group" in note for note in result["staging_notes"])


def test_wrong_owner_the_keys_real_owner_is_contained(synthesized) -> None:
    """The event names user test-1; IAM says the key is build-agent's (path /ci/)."""
    result = drill(synthesized, HEALTH_2025, "wrong_owner.json")
    exposed = result["staged"]["AKIAXXXXXXXXXX"]
    assert result["observed"]["access_keys"][exposed] == "Inactive"
    assert result["observed"]["access_keys"][result["staged"]["AKIATEST1OWNKEY00001"]] == "Active"
    assert result["outcome"] == "contained", result["reason"]


def test_exempted_user_with_an_iam_path(synthesized) -> None:
    environment = {"EXEMPT_PRINCIPAL_ARNS": "arn:aws:iam::123456789012:user/contractors/test-1"}
    result = drill(synthesized, HEALTH_2025, "exempted_user_with_path.json", environment=environment)
    assert set(result["observed"]["access_keys"].values()) == {"Active"}, result["steps"]
    assert result["outcome"] == "failed", result["reason"]


def test_an_account_file_under_a_sequence_is_staged_once(synthesized) -> None:
    first, second = run_sequence(
        [EVENTS / "crafted" / "health_user_key_1_of_2.json", EVENTS / "crafted" / "health_user_key_2_of_2.json"],
        synthesized,
        account_state=ACCOUNTS / "example.json",
    )
    assert first["outcome"] == second["outcome"] == "contained"
    # The file's users and keys are there for both deliveries; the file was staged once.
    assert first["staged"]["AKIAXXXXXXXXXX000001"] == second["staged"]["AKIAXXXXXXXXXX000001"]


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"users": [{"name": "a", "color": "red"}]}, "users.0.color: Extra inputs are not permitted"),
        (
            {"vpcs": [{"id": "vpc-1"}], "subnets": [{"id": "subnet-1", "vpc": "vpc-2", "cidr": "10.0.0.0/24"}]},
            "subnets[0].vpc: vpc-2 is not declared in vpcs",
        ),
        (
            {
                "vpcs": [{"id": "vpc-1"}],
                "subnets": [{"id": "subnet-1", "vpc": "vpc-1", "cidr": "10.0.0.0/24"}],
                "instances": [
                    {"id": "i-1", "network_interfaces": [{"id": "eni-1", "subnet": "subnet-1", "groups": ["sg-9"]}]}
                ],
            },
            "instances[0].network_interfaces[0].groups: sg-9 is not declared in security_groups",
        ),
        ({"users": [{"name": "a", "access_keys": [{"id": "AKIA00000001"}] * 3}]}, "users.0.access_keys"),
        ({"roles": [{"name": "r", "service_linked": True}]}, "service-linked role is named AWSServiceRoleFor"),
    ],
)
def test_a_bad_state_file_is_a_clear_error(tmp_path, state, message) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state))
    with pytest.raises(AccountStateError, match=message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        load_account_state(path)


def test_the_cli_refuses_a_bad_state_file_with_exit_code_2(tmp_path, capsys) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"users": [{"name": "a", "colour": "red"}]}))
    with pytest.raises(SystemExit) as exited:
        main(["--account", str(path), str(HEALTH_2025)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "users.0.colour" in err and "Traceback" not in err


def test_the_example_declares_every_section() -> None:
    state = json.loads((ACCOUNTS / "example.json").read_text())
    from drill.state import AccountState

    assert set(state) == set(AccountState.model_fields)
    load_account_state(ACCOUNTS / "example.json")


def test_delegated_administrator_with_the_principal_in_the_member_account(synthesized) -> None:
    """The deployment is the GuardDuty administrator (999988887777); the role is the member's."""
    from drill.state import _in_account

    def member_role_policies(account, staged):
        with _in_account("111122223333"):
            return account.client("iam").list_role_policies(RoleName="web-app-role")["PolicyNames"]

    event = EVENTS / "crafted" / "guardduty_exfil_delegated_admin.json"
    result = drill(synthesized, event, "delegated_admin.json", after=member_role_policies)
    assert result["incident"]["account"] == "111122223333"
    assert result["staged"]["111122223333"] == "111122223333"
    assert any("second_account" in note for note in result["staging_notes"])
    assert "role_policies" not in result["observed"]  # nothing of the member's staged in the administrator
    assert result["after"] == []  # the member's role is untouched: this responder cannot act there
    assert result["outcome"] != "contained"
