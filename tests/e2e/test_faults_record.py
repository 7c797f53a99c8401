"""The incident record's fault drills: dedupe never eats an incident (issue 12, item 4)."""

from __future__ import annotations

import pytest

from drill.faults import SCENARIOS
from drill.runner import run_event_file

pytestmark = [pytest.mark.drill, pytest.mark.xdist_group("drill-faults")]


def _records(account, staged) -> dict:
    """The incident table as the responder left it (its own bookkeeping, so not in `observed`,
    which `release` must restore exactly)."""
    dynamodb = account.client("dynamodb")
    (table,) = dynamodb.list_tables()["TableNames"]
    return {
        item["incident_id"]["S"]: {
            "status": item["status"]["S"],
            "execution_arn": item["execution_arn"]["S"],
            "sightings": int(item["sightings"]["N"]),
        }
        for item in dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]
    }


def run_with_records(name: str, synthesized) -> dict:
    scenario = SCENARIOS[name]
    return run_event_file(
        scenario.path,
        synthesized,
        setup=scenario.setup,
        faults=scenario.faults(),
        environment=scenario.environment,
        deliveries=scenario.deliveries,
        redeliver=scenario.redeliver,
        between=scenario.between,
        after=_records,
    )


def _calls(result: dict, operation: str) -> list[dict]:
    return [c for c in result["api_calls"] if c["operation"] == operation]


def test_a_retried_first_task_contains_once(synthesized) -> None:
    result = run_with_records("first-task-retried", synthesized)
    assert result["outcome"] == "contained", result["reason"]
    (key,) = result["incident"]["access_key_ids"]
    assert result["observed"]["access_keys"][key] == "Inactive"
    puts = _calls(result, "PutItem")
    assert len(puts) == 2 and puts[0]["error"] and not puts[1]["error"]
    assert len([c for c in _calls(result, "UpdateAccessKey") if not c["error"]]) == 1
    assert len(_calls(result, "Publish")) == 1
    (record,) = result["after"].values()
    assert record["status"] == "contained" and record["sightings"] == 1


def test_a_record_stuck_responding_is_taken_over(synthesized) -> None:
    result = run_with_records("stuck-record", synthesized)
    assert result["outcome"] == "contained", result["reason"]
    observed = result["observed"]
    assert observed["role_policies"]["web-app-role"] == ["AWSRevokeOlderSessions"]
    assert len(observed["images"]) == 1 and observed["isolation_groups"]
    (record,) = result["after"].values()
    assert record["status"] == "contained" and record["sightings"] == 2
    assert "died-before-reporting" not in record["execution_arn"]


def test_still_in_use_cuts_the_credentials_off_again(drill_runs) -> None:
    result = drill_runs.fault("still-in-use").result
    assert result["earlier_deliveries"] == ["contained"]
    assert result["outcome"] == "duplicate", result["reason"]
    assert "still in use" in result["reason"] and "cut off again" in result["reason"]
    (note,) = [n for n in result["staging_notes"] if n.startswith("first cut-off of web-app-role: ")]
    first_cutoff = note.rsplit(": ", 1)[1]
    assert result["observed"]["revoke_cutoffs"]["web-app-role"] > first_cutoff
    assert [s["name"] for s in result["steps"]] == ["revoke-role-sessions"]
    assert result["steps"][0]["status"] == "done"
    # The state's record write finds the incident recorded, so the first task decides: RevokeSessions'
    # function re-contains, before the full normalizer, then the report.
    assert result["execution"]["states"][:4] == ["Intake", "RecordSessionIncident", "SessionIntake", "Route"]
    assert "Recontain" not in result["execution"]["states"]
    assert {n["channel"] for n in result["notifications"]} == {"email", "slack"}


def test_a_plain_duplicate_stays_silent_and_changes_nothing(synthesized) -> None:
    result = run_with_records("duplicate", synthesized)
    assert result["outcome"] == "duplicate" and result["notifications"] == []
    assert result["execution"]["states"][-1] == "AlreadyHandled"
    (record,) = result["after"].values()
    assert record["status"] == "contained" and record["sightings"] == 2


@pytest.mark.parametrize("content", ["[1, 2]", '"started by hand"'])
def test_an_input_that_is_not_an_object_ends_with_a_message(synthesized, tmp_path, content: str) -> None:
    path = tmp_path / "not-an-object.json"
    path.write_text(content)
    result = run_event_file(path, synthesized, after=_records)
    assert result["outcome"] == "ignored", result["reason"]
    assert "expected a JSON object" in result["reason"]
    assert result["execution"]["status"] == "SUCCEEDED"
    assert {n["channel"] for n in result["notifications"]} == {"email", "slack"}
    assert result["after"] == {}
