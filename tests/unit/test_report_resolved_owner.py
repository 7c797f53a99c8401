"""The report names the owner its containment step resolved, and lists each undo once (issue 15)."""

from __future__ import annotations

from common.steps import Status, step
from report.handler import with_resolved_principals
from report.next_steps import left_for_a_person
from report.outcome import Outcome, Verdict
from report.render import undo_steps

INCIDENT = {
    "kind": "exposed-access-key",
    "account": "123456789012",
    "region": "us-east-1",
    "access_key_ids": ["AKIAEXAMPLE1"],
    "user_names": [],
    "affected_keys": [{"access_key_id": "AKIAEXAMPLE1", "user_name": None}],
}
UNDO = "aws iam update-access-key --user-name evil --access-key-id AKIABACKDOOR --status Active"


def commands(incident: dict, steps: list) -> str:
    todo = left_for_a_person(incident, Verdict(Outcome.CONTAINED, "contained", steps))
    return "\n".join(action.command or "" for action in todo)


def test_the_delete_command_names_the_owner_the_step_resolved() -> None:
    steps = [step("deactivate-access-key", Status.DONE, "AKIAEXAMPLE1", "Inactive", data={"user_name": "ci-deployer"})]
    incident = with_resolved_principals(INCIDENT, steps)
    assert "aws iam delete-access-key --user-name ci-deployer --access-key-id AKIAEXAMPLE1" in commands(incident, steps)
    assert incident["user_names"] == ["ci-deployer"]


def test_no_owner_resolved_means_no_key_to_delete() -> None:
    # Deliberately changed (issue 26): the delete command with `--user-name <UserName>` was offered even when no
    # step had left the key Inactive; a key is offered for deletion only once the responder deactivated it.
    assert "delete-access-key" not in commands(with_resolved_principals(INCIDENT, []), [])


def test_each_back_door_undo_is_listed_once_across_both_cloudtrail_passes() -> None:
    first = step("deactivate-backdoor-key", Status.DONE, "AKIABACKDOOR", "Inactive", undo=UNDO)
    second = step("deactivate-backdoor-key", Status.ALREADY_DONE, "AKIABACKDOOR", "already Inactive", undo=UNDO)
    other = step(
        "deactivate-backdoor-key", Status.DONE, "AKIAOTHER", "Inactive", undo=UNDO.replace("BACKDOOR", "OTHER")
    )
    assert undo_steps([first, second, other]) == [first, other]
