"""The report names the owner its containment step resolved, and lists each undo once (issue 15)."""

from __future__ import annotations

from common.steps import Status, step
from report.handler import with_resolved_principals
from report.outcome import Outcome, Verdict
from report.render import next_steps, undo_steps

INCIDENT = {
    "kind": "exposed-access-key",
    "account": "123456789012",
    "region": "us-east-1",
    "access_key_ids": ["AKIAEXAMPLE1"],
    "user_names": [],
    "affected_keys": [{"access_key_id": "AKIAEXAMPLE1", "user_name": None}],
}
CONTAINED = Verdict(Outcome.CONTAINED, "contained")
UNDO = "aws iam update-access-key --user-name evil --access-key-id AKIABACKDOOR --status Active"


def test_the_delete_command_names_the_owner_the_step_resolved() -> None:
    steps = [step("deactivate-access-key", Status.DONE, "AKIAEXAMPLE1", "Inactive", data={"user_name": "ci-deployer"})]
    incident = with_resolved_principals(INCIDENT, steps)
    commands = "\n".join(n.command or "" for n in next_steps(incident, CONTAINED))
    assert "aws iam delete-access-key --user-name ci-deployer --access-key-id AKIAEXAMPLE1" in commands
    assert "<UserName>" not in commands
    assert incident["user_names"] == ["ci-deployer"]


def test_an_unresolved_owner_keeps_the_placeholder() -> None:
    commands = "\n".join(n.command or "" for n in next_steps(with_resolved_principals(INCIDENT, []), CONTAINED))
    assert "--user-name <UserName> --access-key-id AKIAEXAMPLE1" in commands


def test_each_back_door_undo_is_listed_once_across_both_cloudtrail_passes() -> None:
    first = step("deactivate-backdoor-key", Status.DONE, "AKIABACKDOOR", "Inactive", undo=UNDO)
    second = step("deactivate-backdoor-key", Status.ALREADY_DONE, "AKIABACKDOOR", "already Inactive", undo=UNDO)
    other = step(
        "deactivate-backdoor-key", Status.DONE, "AKIAOTHER", "Inactive", undo=UNDO.replace("BACKDOOR", "OTHER")
    )
    assert undo_steps([first, second, other]) == [first, other]
