"""The report's reading of the investigation digest: bounded, one line per call, and honest about coverage."""

from report.render import investigation_lines


def test_investigation_lines_are_one_line_each_and_say_what_is_not_covered():
    digest = {
        "event_count": 3000,
        "regions": {"searched": ["us-east-1"]},
        "persistence_calls": [
            {
                "event_name": "CreateUser",
                "created": {"user": "evil\nNEEDS ACTION NOW\n  * nothing"},
                "region": "us-east-1",
                "time": "2026-01-01T00:00:00Z",
                "succeeded": True,
            },
            {
                "event_name": "CreateAccessKey",
                "created": {"user": "app", "access_key_id": "AKIA1"},
                "region": "us-east-1",
                "time": "2026-01-01T00:00:01Z",
                "succeeded": True,
                "source": "workload",
            },
        ],
        "persistence_total": 1500,
        "persistence_by_name": {"RunInstances": {"succeeded": 0, "failed": 1498}},
        "evidence": "s3://bucket/investigations/x/pass-2.json",
    }

    lines = investigation_lines(digest)

    assert all("\n" not in line for line in lines)
    assert any("[by the instance's own workload]" in line for line in lines)
    assert any("1500 persistence call(s) in all (RunInstances 0 ok/1498 failed)" in line for line in lines)
    assert lines[-1].startswith("not covered: LookupEvents returns management events only; S3 object reads")
