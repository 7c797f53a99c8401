"""bench.estimate: measured handler work replaces the assumption, cold on the cold path, warm on the warm one."""

from __future__ import annotations

from bench import estimate

PATH = {
    "transitions": 2,
    "calls_before": [{"call": "dynamodb PutItem"}],
    "containing_call": "iam UpdateAccessKey",
}
ON_PATH = [{"handler": "contain_key.handler.handler", "import_ms": 300.0, "memory_mb": 1769}]
WORK = {"cold_ms": {"median": 6.0, "min": 5.0, "max": 9.0}, "warm_ms": {"median": 2.0, "min": 1.0, "max": 4.0}}


def _fixed(kind: str) -> int:
    """What every estimate adds besides imports and handler work (delivery left out)."""
    high = estimate.EXECUTION_START[0][1] + estimate.PER_TRANSITION[0][1] + estimate.INVOKE_OVERHEAD[0][1]
    high += estimate.API_LATENCY["dynamodb"][0][1] + estimate.IAM_LATENCY[0][1]
    return high + (estimate.LAMBDA_INIT[0][1] + 300 if kind == "cold" else 0)


def test_measured_work_counts_cold_on_the_cold_path_and_warm_on_the_warm_one():
    controlled = estimate.estimate(PATH, ON_PATH, WORK)["controlled_ms"]
    assert controlled["cold_high"] == _fixed("cold") + 9
    assert controlled["warm_high"] == _fixed("warm") + 4


def test_without_a_measurement_the_assumption_stays_and_is_named():
    result = estimate.estimate(PATH, ON_PATH)
    assert result["controlled_ms"]["warm_high"] == _fixed("warm") + estimate.HANDLER_WORK[0][1]
    assert any(row["basis"].startswith("assumed: the handler's own work") for row in result["rows"])


def test_a_smaller_lambda_slows_the_measured_cpu_work_at_the_high_end():
    small = [{**ON_PATH[0], "memory_mb": 1769 // 2}]
    rows = {row["item"]: row for row in estimate.estimate(PATH, small, WORK)["rows"]}
    assert rows["handler work contain_key.handler.handler (cold)"]["high_ms"] == round(9.0 * 1769 / (1769 // 2))
