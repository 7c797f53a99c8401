"""The outcome rules: CONTAINED only when every containment step succeeded and nothing failed."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from common.steps import Status, step
from report.outcome import Outcome, collect_steps, decide
from tests.unit.report_cases import EXFIL_INCIDENT, EXPOSED_KEY_INCIDENT, exfil_state, exposed_key_state


def s(name: str, status: Status, containment: bool = True, detail: str = "x", **kw):
    return step(name, status, "AKIAIOSFODNN7EXAMPLE", detail, containment=containment, **kw)


def test_contained_when_every_containment_step_done_or_already_done():
    verdict = decide("accepted", "", [s("deactivate", Status.DONE), s("revoke", Status.ALREADY_DONE)])
    assert verdict.outcome is Outcome.CONTAINED
    assert verdict.reason == "every containment step succeeded: deactivate, revoke"
    assert verdict.attention == []


def test_partial_when_one_containment_step_failed():
    failed = s("quarantine", Status.FAILED, detail="AccessDenied", manual="aws iam attach-user-policy ...")
    verdict = decide("accepted", "", [s("deactivate", Status.DONE), failed])
    assert verdict.outcome is Outcome.PARTIAL
    assert "quarantine failed" in verdict.reason and "AccessDenied" in verdict.reason
    assert verdict.attention == [failed]


def test_partial_when_containment_succeeded_but_a_follow_up_failed():
    evidence = s("create-image", Status.FAILED, containment=False, detail="IncorrectState")
    verdict = decide("accepted", "", [s("deactivate", Status.DONE), evidence])
    assert verdict.outcome is Outcome.PARTIAL
    assert verdict.reason.startswith("contained (deactivate), but a follow-up step did not finish")
    assert verdict.attention == [evidence]


def test_failed_when_no_containment_step_succeeded():
    verdict = decide("accepted", "", [s("deactivate", Status.FAILED), s("lookup", Status.DONE, containment=False)])
    assert verdict.outcome is Outcome.FAILED
    assert verdict.reason.startswith("no containment step succeeded; deactivate failed")


def test_failed_when_an_accepted_incident_has_no_containment_step():
    verdict = decide("accepted", "", [s("lookup", Status.DONE, containment=False)])
    assert verdict.outcome is Outcome.FAILED
    assert verdict.reason == "no containment step ran"


def test_dry_run_is_failed_with_containment_skipped_reason():
    steps = [s("deactivate", Status.SKIPPED, detail="dry-run"), s("revoke", Status.SKIPPED, detail="dry-run")]
    verdict = decide("accepted", "", steps)
    assert verdict.outcome is Outcome.FAILED
    assert verdict.reason == "containment skipped: dry-run"
    assert verdict.attention == steps  # skipped containment is work left for a human


def test_skipped_containment_beside_done_containment_is_partial():
    verdict = decide("accepted", "", [s("deactivate", Status.DONE), s("revoke", Status.SKIPPED, detail="dry-run")])
    assert verdict.outcome is Outcome.PARTIAL


def test_skipped_follow_up_does_not_spoil_containment():
    verdict = decide("accepted", "", [s("deactivate", Status.DONE), s("ami", Status.SKIPPED, containment=False)])
    assert verdict.outcome is Outcome.CONTAINED


def test_unknown_status_counts_as_failed():
    weird = s("deactivate", Status.DONE) | {"status": "maybe"}
    verdict = decide("accepted", "", [s("revoke", Status.DONE), weird])
    assert verdict.outcome is Outcome.PARTIAL
    assert verdict.attention == [weird]


def test_ignored_and_duplicate_pass_through_with_intake_reason():
    assert decide("ignored", "not ours", []).outcome is Outcome.IGNORED
    verdict = decide("duplicate", "already handled", [])
    assert (verdict.outcome, verdict.reason) == (Outcome.DUPLICATE, "already handled")


def test_a_recontaining_duplicate_stays_duplicate_only_when_cut_off_again():
    still = "the credentials are still in use"
    done = decide("duplicate", still, [s("revoke-role-sessions", Status.DONE)])
    assert done.outcome is Outcome.DUPLICATE
    assert done.reason.startswith(still) and "cut off again" in done.reason
    failed = decide("duplicate", still, [s("revoke-role-sessions", Status.FAILED)])
    assert failed.outcome is Outcome.FAILED and failed.attention and still in failed.reason
    partial = decide("duplicate", still, [s("revoke-role-sessions", Status.DONE), s("evidence", Status.FAILED, False)])
    assert partial.outcome is Outcome.PARTIAL


step_strategy = st.builds(
    lambda name, status, containment: s(name, status, containment),
    st.sampled_from(["a", "b", "c"]),
    st.sampled_from(list(Status)),
    st.booleans(),
)


@given(st.lists(step_strategy, max_size=6))
def test_never_success_after_a_failure(steps):
    verdict = decide("accepted", "", steps)
    containment = [x for x in steps if x["containment"]]
    contained = bool(containment) and all(x["status"] in ("done", "already-done") for x in containment)
    any_failed = any(x["status"] == "failed" for x in steps)
    assert (verdict.outcome is Outcome.CONTAINED) == (contained and not any_failed)
    if verdict.outcome is not Outcome.CONTAINED:
        assert verdict.reason


# -- collecting steps from the state -------------------------------------------------------------


def test_collect_flattens_tasks_and_map_lists():
    names = [x["name"] for x in collect_steps(exfil_state())]
    assert names == ["revoke-role-sessions", "protect-instance", "create-evidence-image", "isolate-instance"]


def test_caught_contain_failure_becomes_failed_containment_step_with_deactivate_command():
    state = exposed_key_state()
    del state["results"]["contain_keys"]
    state["failures"] = {
        "contain_keys": {
            "Error": "TransientError",
            "Cause": json.dumps(
                {"errorMessage": "Throttling: Rate exceeded", "errorType": "TransientError", "stackTrace": ["..."]}
            ),
        }
    }
    steps = collect_steps(state)
    failed = steps[-1]
    assert failed["name"] == "contain_keys" and failed["status"] == "failed" and failed["containment"] is True
    assert failed["detail"] == "task failed, its steps are unknown: TransientError: Throttling: Rate exceeded"
    assert failed["manual"] == (
        "aws iam update-access-key --user-name ci-deployer --access-key-id AKIAIOSFODNN7EXAMPLE --status Inactive"
    )
    verdict = decide("accepted", "", steps)
    assert verdict.outcome is Outcome.FAILED and "contain_keys failed" in verdict.reason


def test_caught_revoke_failure_points_to_the_role_revoke_page():
    state = exfil_state()
    for copy_of_state in (state, *state["branches"]):
        del copy_of_state["results"]["revoke_sessions"]
    state["failures"] = {"revoke_sessions": {"Error": "States.Timeout", "Cause": "Task timed out"}}
    failed = collect_steps(state)[-1]
    assert failed["containment"] is True and failed["target"] == "web-app-role"
    assert "Revoke active sessions" in failed["manual"]
    assert "https://console.aws.amazon.com/iam/home#/roles/details/web-app-role" in failed["manual"]
    # Isolation is not containment (isolate_instance/actions.py): with the revoke failed, nothing contained.
    assert decide("accepted", "", collect_steps(state)).outcome is Outcome.FAILED


def test_caught_follow_up_failure_is_not_containment_and_says_how_to_finish():
    state = exfil_state()
    del state["branches"][0]["results"]["preserve_evidence"]
    state["branches"][0]["failures"] = {"preserve_evidence": {"Error": "Lambda.Unknown", "Cause": "out of memory"}}
    failed = collect_steps(state)[-1]
    assert failed["containment"] is False
    assert failed["manual"] == (
        "aws ec2 create-image --region eu-west-1 --instance-id i-0abcd1234ef567890 "
        "--name forensic-i-0abcd1234ef567890 --no-reboot"
    )


def test_map_item_that_is_a_caught_error_becomes_a_failed_step():
    state = exposed_key_state()
    state["results"]["contain_keys"].append({"Error": "ClientError", "Cause": "UnauthorizedOperation"})
    failed = [s for s in collect_steps(state) if s["name"] == "contain_keys"][-1]
    assert (failed["name"], failed["status"], failed["detail"]) == (
        "contain_keys",
        "failed",
        "task failed, its steps are unknown: ClientError: UnauthorizedOperation",
    )


def test_malformed_step_does_not_crash_and_reads_as_failed():
    state = {
        "intake": {"status": "accepted", "incident": EXPOSED_KEY_INCIDENT},
        "results": {"contain_keys": [{"steps": [{}]}]},
    }
    (only,) = collect_steps(state)
    assert only == {"name": "contain_keys", "status": "failed", "target": "?", "detail": "", "containment": False}


def test_exposed_key_without_user_name_says_how_to_find_it():
    incident = EXPOSED_KEY_INCIDENT | {"affected_keys": [{"access_key_id": "AKIAIOSFODNN7EXAMPLE", "user_name": None}]}
    state = {
        "intake": {"status": "accepted", "incident": incident},
        "failures": {"contain_keys": {"Error": "X", "Cause": ""}},
    }
    manual = collect_steps(state)[0]["manual"]
    # IAM names the owner, and the next line uses what it named: no placeholder for the reader to fill in.
    find, deactivate = manual.splitlines()
    assert find.startswith("user=$(aws iam get-access-key-last-used --access-key-id AKIAIOSFODNN7EXAMPLE")
    assert deactivate == (
        'aws iam update-access-key --user-name "$user" --access-key-id AKIAIOSFODNN7EXAMPLE --status Inactive'
    )
    assert "<" not in manual


def test_exfil_incident_fixture_matches_the_model():
    # The hand-built dicts must stay valid Incidents, or the goldens pin a shape nobody sends.
    from incident.model import Incident

    for incident in (EXPOSED_KEY_INCIDENT, EXFIL_INCIDENT):
        assert Incident.model_validate(incident).model_dump(mode="json") == incident


# -- the shapes infra/workflow.py produces ------------------------------------------------------


def test_parallel_branches_are_merged_without_duplicating_inherited_results():
    state = exfil_state()  # each branch output is a copy of the state with the branch's own writes
    state["branches"][1]["failures"] = {"investigate": {"Error": "TransientError", "Cause": "x"}}
    names = [x["name"] for x in collect_steps(state)]
    assert names == [
        "revoke-role-sessions",
        "protect-instance",
        "create-evidence-image",
        "isolate-instance",
        "investigate",
    ]
    assert decide("accepted", "", collect_steps(state)).outcome is Outcome.PARTIAL


def test_contain_key_failed_pass_state_gets_clean_detail_and_manual_command():
    # infra's ContainKeyFailed Pass copies $.error.Cause (Lambda's error JSON) into the detail.
    cause = json.dumps({"errorType": "AccessDenied", "errorMessage": "not authorized", "stackTrace": ["  File x"]})
    state = exposed_key_state()
    state["results"] = {
        "contain_keys": [
            {
                "steps": [
                    {
                        "name": "deactivate-access-key",
                        "status": "failed",
                        "target": "AKIAIOSFODNN7EXAMPLE",
                        "detail": cause,
                        "containment": True,
                    }
                ]
            }
        ]
    }
    (failed,) = collect_steps(state)
    assert failed["detail"] == "AccessDenied: not authorized"
    assert failed["manual"] == (
        "aws iam update-access-key --user-name ci-deployer --access-key-id AKIAIOSFODNN7EXAMPLE --status Inactive"
    )
    assert decide("accepted", "", [failed]).outcome is Outcome.FAILED


def test_normalize_failure_is_reported_as_failed_intake():
    cause = json.dumps({"errorType": "UnsupportedEvent", "errorMessage": "no affected entities"})
    verdict = decide("failed", cause, [])
    assert verdict.outcome is Outcome.FAILED
    assert verdict.reason == "intake failed: UnsupportedEvent: no affected entities"
