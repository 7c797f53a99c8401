"""What is left for a person (report.next_steps) is derived from what happened: each line true for this incident,
grouped as GuardDuty's countermeasures are, and first in both channels (issue 26)."""

from __future__ import annotations

import copy
import subprocess
from typing import Any

import pytest

from common.steps import Status, step
from report.handler import prepare, with_resolved_principals
from report.next_steps import HELD_ON_DOUBT, Priority, Tactic, count_line, left_for_a_person
from report.outcome import Outcome, Verdict
from report.render import render_email, render_slack
from tests.unit.report_cases import EXFIL_INCIDENT, EXPOSED_KEY_INCIDENT, exfil_state, exposed_key_state

KEY = "AKIAIOSFODNN7EXAMPLE"


def todo(incident: dict[str, Any], steps: list[Any], outcome: Outcome = Outcome.CONTAINED, **kw: Any) -> str:
    attention = [s for s in steps if s["status"] == Status.FAILED or (s["containment"] and s["status"] == "skipped")]
    actions = left_for_a_person(incident, Verdict(outcome, "why", steps, attention), kw.get("investigation"))
    return "\n".join(f"{a.tactic} {a.priority} {a.text}\n{a.command or ''}" for a in actions)


def deactivated(user: str = "ci-deployer") -> Any:
    return step("deactivate-access-key", Status.DONE, KEY, "Inactive", containment=True, data={"user_name": user})


def test_a_key_the_responder_deactivated_is_replaced_then_deleted_under_restore() -> None:
    (replace,) = [a for a in left_for_a_person(EXPOSED_KEY_INCIDENT, Verdict(Outcome.CONTAINED, "", [deactivated()]))
                  if a.command and "delete-access-key" in a.command]  # fmt: skip
    assert (replace.tactic, replace.priority) == (Tactic.RESTORE, Priority.SOON)
    assert "left Inactive as evidence" in replace.text
    assert replace.command == f"aws iam delete-access-key --user-name ci-deployer --access-key-id {KEY}"


@pytest.mark.parametrize(
    "skipped",
    [
        step("deactivate-access-key", Status.SKIPPED, KEY, "user is exempted", containment=True, manual="by hand"),
        step("deactivate-access-key", Status.FAILED, KEY, "AccessDenied", containment=True, manual="aws iam x"),
        step("deactivate-access-key", Status.SKIPPED, KEY, "root", containment=True, data={"owner": "root"}),
    ],
    ids=["exempted", "failed", "root"],
)
def test_no_key_is_kept_as_evidence_unless_the_responder_deactivated_it(skipped: Any) -> None:
    text = todo(EXPOSED_KEY_INCIDENT, [skipped], Outcome.FAILED)
    assert "as evidence" not in text and "delete-access-key" not in text


def test_the_root_users_key_gets_the_root_users_steps_never_an_iam_users() -> None:
    manual = "Sign in as the root user"
    root = step("deactivate-access-key", Status.SKIPPED, KEY, "the root user's key", containment=True, manual=manual)
    root["data"] = {"owner": "root"}  # as contain_key writes it: IAM named the owner <root_account>
    named = {"user_names": ["root"], "affected_keys": [{"access_key_id": KEY, "user_name": "root"}]}
    incident = with_resolved_principals({**EXPOSED_KEY_INCIDENT, **named}, [root])
    assert incident is not None and incident["user_names"] == [] and incident["root_keys"] == [KEY]
    verdict = Verdict(Outcome.FAILED, "skipped", [root], [root])
    email = render_email(incident, verdict, [])
    assert "of the root user" in email["subject"] and "IAM user root" not in email["text"]
    assert "--user-name root" not in email["text"]
    first = email["text"].split("WHAT IS LEFT FOR A PERSON\n", 1)[1].splitlines()
    assert first[0] == "  Evict" and first[1].startswith("    1. [now] Deactivate, then delete, the root user's")
    assert "AWSCompromisedKeyQuarantineV3 policy to the key's user" not in email["text"]  # no IAM user to quarantine


def test_a_key_iam_says_is_gone_is_not_deleted_and_its_deletion_is_looked_up() -> None:
    gone = step("deactivate-access-key", Status.ALREADY_DONE, KEY, "NoSuchEntity", containment=True,
                data={"key": "deleted"})  # fmt: skip
    text = todo({**EXPOSED_KEY_INCIDENT, "affected_keys": [{"access_key_id": KEY, "user_name": None}]}, [gone])
    assert "delete-access-key" not in text and "<" not in text
    assert "no longer existed when the responder acted" in text and "DeleteAccessKey" in text


def test_the_network_acl_command_finds_the_subnets_acl_and_parses() -> None:
    isolated = step("isolate-instance", Status.DONE, "i-0123", "isolated", undo="aws ec2 x")
    text = todo(EXFIL_INCIDENT, [isolated])
    (deny,) = [a for a in left_for_a_person(EXFIL_INCIDENT, Verdict(Outcome.CONTAINED, "", [isolated]))
               if a.command and "create-network-acl-entry" in a.command]  # fmt: skip
    assert (deny.tactic, deny.priority) == (Tactic.ISOLATE, Priority.NOW)
    assert "subnet-0123abcd" in deny.command and "<" not in text
    assert subprocess.run(["bash", "-n", "-c", deny.command], check=False).returncode == 0


def test_items_held_on_doubt_are_decided_once_each_with_their_release_command() -> None:
    detail = f"user u: deny-all; {HELD_ON_DOUBT}unknown's (unknown): CreateUser at T from 1.2.3.4"
    release = "aws iam delete-user-policy --user-name u --policy-name CredentialResponderEviction"
    first = step("evict-created-user", Status.DONE, "u", detail, containment=True, undo=release)
    second = step("evict-created-user", Status.ALREADY_DONE, "u", detail, containment=True, undo=release)
    owner = step("owner-change", Status.SKIPPED, "r", "role r: the owner's (same-source-same-change); reported")
    actions = left_for_a_person(
        EXPOSED_KEY_INCIDENT, Verdict(Outcome.CONTAINED, "", [deactivated(), first, second, owner])
    )
    (held,) = [a for a in actions if "held on doubt" in a.text]
    assert (held.tactic, held.command) == (Tactic.EVICT, release)
    assert "CreateUser at T from 1.2.3.4" in held.text
    assert not [a for a in actions if "role r" in a.text]  # the owner's changes are reported, not work


def test_changes_the_responder_does_not_act_on_are_listed_for_a_person() -> None:
    investigation = {
        "regions": {"searched": ["us-east-1"], "not_searched": {"ap-east-1": "opt-in region not enabled"}},
        "mutating_calls": [
            {"event_name": "RunInstances", "succeeded": True},
            {"event_name": "RunInstances", "succeeded": True},
            {"event_name": "CreateUser", "succeeded": True},  # the eviction's
            {"event_name": "PutBucketPolicy", "succeeded": False},  # refused: changed nothing
        ],
    }
    text = todo(EXPOSED_KEY_INCIDENT, [deactivated()], investigation=investigation)
    assert "made 2 change(s) the responder does not act on: RunInstances (2)" in text
    assert "CloudTrail was not searched in ap-east-1 (opt-in region not enabled)" in text


def test_the_work_is_grouped_and_numbered_as_guardduty_groups_countermeasures() -> None:
    state = exfil_state()
    incident, verdict, links, execution = prepare(state)
    actions = left_for_a_person(incident, verdict)
    tactics = [a.tactic for a in actions]
    assert tactics == sorted(tactics, key=list(Tactic).index)
    text = render_email(incident, verdict, links, execution)["text"]
    head = text.split("\n\nWHAT IS LEFT FOR A PERSON\n", 1)[0].splitlines()
    assert [line.split(":", 1)[0] for line in head] == [
        "What happened",
        "Whose",
        "Outcome",
        "Time to containment",
        "Left for a person",
    ]
    assert head[-1].endswith(f"{count_line(actions)} (below)")
    groups = [line.strip() for line in text.split("WHAT IS LEFT FOR A PERSON\n", 1)[1].split("\n\n")[0].splitlines()
              if line.startswith("  ") and not line.startswith("   ")]  # fmt: skip
    assert groups == list(dict.fromkeys(str(t) for t in tactics))
    payload = render_slack(incident, verdict, links, execution)
    assert payload["blocks"][1]["text"]["text"].startswith("*What happened:*")


def test_the_time_to_containment_is_said_as_a_person_says_it() -> None:
    state = exposed_key_state()
    incident, verdict, links, execution = prepare(state)
    timed = {**execution, "contained_at": "2026-11-20T19:13:07.532Z"}
    text = render_email(incident, verdict, links, timed)["text"]
    assert "Time to containment: 412 ms after the response started, 2.5 s after AWS's event" in text
    unknown = render_email(incident, verdict, links, {**execution, "contained_at_unknown": "AccessDenied"})["text"]
    assert "Time to containment: not measured (AccessDenied)" in unknown


def test_a_generated_findings_placeholders_are_not_shown_as_the_callers_country() -> None:
    state = copy.deepcopy(exfil_state())
    state["intake"]["incident"]["remote"].update(
        country="GeneratedFindingCountryName", organization="GeneratedFindingASNOrg"
    )
    incident, verdict, links, execution = prepare(state)
    text = render_email(incident, verdict, links, execution)["text"]
    assert "Generated" not in text and "Remote caller:" in text


def test_nothing_is_left_for_an_ignored_event() -> None:
    assert left_for_a_person(None, Verdict(Outcome.IGNORED, "not ours")) == []
    assert count_line([]) == "nothing"
