"""How query results are classified, and panels without data the contract declares counted as panels in
the summary line, the table, the coverage and the report."""

from __future__ import annotations

import math

import pytest

from obs_tests.checks.dashboard_coverage import dashboard_coverage
from obs_tests.checks.dashboard_summary import format_report, summary_line
from obs_tests.checks.panel_results import classify_values
from obs_tests.config.contract import ExpectedEmpty
from tests.checks.dashboard_helpers import node_report


@pytest.mark.parametrize(
    ("values", "status"),
    [
        pytest.param([0.0, 1.5], "data", id="data"),
        pytest.param([0.0, 0.0], "constant_zero", id="constant-zero"),
        pytest.param([], "empty", id="no-series"),
        pytest.param([math.nan, math.inf], "empty", id="only-nan"),
        pytest.param([math.nan, 0.0], "constant_zero", id="nan-and-zero"),
    ],
)
def test_classification(values: list[float], status: str) -> None:
    assert classify_values(values) == status


def test_declared_empty_panels_are_counted_in_panels_everywhere() -> None:
    declared = [
        ExpectedEmpty("node-host-overview", "Hardware temperature", "a VM has no sensors (hwmon)"),
        ExpectedEmpty("node-host-overview", "System load and processes", "processes collector is off", "G"),
    ]
    report, findings = node_report(declared)
    assert findings == []
    assert report.panels_declared_empty == 1  # the panel without data; G's panel has data
    assert summary_line(report) == (
        "'Node host overview (community style)' (node-host-overview, node_host_overview.json): 10/11 panels with "
        f"data, 1 panel declared empty, {len(report.executed)} queries"
    )
    head = format_report(report).splitlines()[0]
    assert "11 panels — 10 data, 1 empty; 1 panel declared empty (" in head
    coverage = dashboard_coverage([report], {}, [])
    assert (coverage["panels_total"], coverage["panels_with_data"], coverage["panels_declared_empty"]) == (11, 10, 1)
    assert report.to_json()["panels_declared_empty"] == 1
