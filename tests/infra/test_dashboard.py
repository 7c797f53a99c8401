"""The dashboard graphs exactly the metrics the Report function emits (names, dimensions, namespace)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from report import metrics

pytestmark = pytest.mark.xdist_group("infra")


def body(template: dict[str, Any]) -> str:
    (dashboard,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    return "".join(part if isinstance(part, str) else "REGION" for part in parts)


def test_the_dashboard_searches_each_emitted_metric_by_its_dimensions(template) -> None:
    searches = set(re.findall(r"SEARCH\('\{([^}]*)\} MetricName=\\\"(\w+)\\\"", body(template)))
    service = "service"  # Powertools adds it to every metric (metrics.SERVICE's dimension)
    assert searches == {
        (f"{metrics.NAMESPACE},Kind,Outcome,{service}", "Incidents"),
        (f"{metrics.NAMESPACE},Kind,{service}", "TimeToContainment"),
        (f"{metrics.NAMESPACE},Action,Status,{service}", "Steps"),
    }


def test_the_dashboard_shows_every_alarm(template) -> None:
    alarms = [key for key, r in template["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"]
    (dashboard,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    referenced = {
        part["Fn::GetAtt"][0]
        for part in dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
        if isinstance(part, dict) and "Fn::GetAtt" in part
    }
    assert alarms and set(alarms) <= referenced
