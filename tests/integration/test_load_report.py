"""The load report on a live embedded stack: a scenario's JSON and HTML reports and the check report's load
section carry Locust's table per request name beside what the gateway's latency histogram counted over the
same window — and that histogram counted exactly the requests Locust sent."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.config.validation import load_schema
from obs_tests.reports.check_report import build_report, render_html, render_markdown
from obs_tests.scenarios.reports import write_reports
from obs_tests.scenarios.runner import ScenarioRunner
from obs_tests.stack import EmbeddedStack
from obs_tests.suite.workloads import run_workload
from obs_tests.workloads.load_report import report_lines

from .helpers import ROOT

pytestmark = [pytest.mark.stack, pytest.mark.load, pytest.mark.slow]

HISTOGRAM = "gateway_processing_duration_seconds"


def test_a_scenario_with_load_reports_locusts_table_beside_the_gateway_histogram(
    stack: EmbeddedStack, tmp_path: Path
) -> None:
    """steady-state: 10 Locust users and no fault — the only traffic the gateway sees is Locust's."""
    result = ScenarioRunner(ROOT / "scenarios" / "steady-state.yaml", stack=stack).run()
    assert result.status == "passed", result.error or [a.message for a in result.failures()]
    paths = write_reports([result], tmp_path, ("json", "html"))
    doc = json.loads(next(p for p in paths if p.suffix == ".json").read_text())
    load = doc["load"]
    report = load["report"]
    total = report["total"]
    assert total["requests"] == load["requests"] > 0 and total["failures"] == load["failures"] == 0
    assert "signal" in [row["name"] for row in report["rows"]]
    assert total["success_percent"] == 100.0 and total["rps"] > 0
    assert 0 < total["median_ms"] <= total["p95_ms"] <= total["p99_ms"] <= total["max_ms"] + 10
    gateway = report["gateway"]
    assert gateway["metric"] == HISTOGRAM and gateway["note"] == ""
    assert gateway["requests"] == total["requests"], "the gateway's histogram counted another number of requests"
    assert gateway["p50_ms"] is not None and gateway["p50_ms"] <= gateway["p95_ms"] <= gateway["p99_ms"]
    page = next(p for p in paths if p.suffix == ".html").read_text()
    assert f"<td>gateway histogram {HISTOGRAM}</td><td class=num>{gateway['requests']:.0f}</td>" in page
    lines = report_lines(report)
    assert lines[-1].startswith(f"gateway histogram {HISTOGRAM}, same window: {total['requests']} requests")


def test_the_check_reports_load_section_has_the_table_and_the_gateway_histogram(
    stack: EmbeddedStack, prom: PrometheusClient
) -> None:
    """The suite's load_latency check (20-180 ms latency fault): its outcome carries the load report, which
    the check report shows in its load section."""
    outcome = run_workload(stack, prom, "load_latency")
    assert outcome.load is not None and not outcome.findings, outcome.summary
    summary = {
        "counts": {"passed": 1, "failed": 0, "error": 0, "skipped": 0},
        "duration_seconds": 10.0,
        "tests": [{"family": "load", "name": "test_latency_histogram_matches_locust", "outcome": "passed"}],
        "sections": {"load": {"test_latency_histogram_matches_locust": dict(outcome.load)}},
    }
    document = build_report(summary)
    jsonschema.validate(document, load_schema("report"))
    (entry,) = document["load"]
    report = entry["report"]
    total, gateway = report["total"], report["gateway"]
    assert gateway["requests"] == total["requests"] > 0, gateway["note"]
    for measured in (total["median_ms"], gateway["p50_ms"]):  # both see the fault's 20-180 ms
        assert 20 <= measured <= 250
    page = render_html(document)
    assert '<section id="load-test_latency_histogram_matches_locust">' in page
    assert f"<td>gateway histogram {HISTOGRAM}</td><td class=num>{total['requests']}</td>" in page
    assert f"| Aggregated | {total['requests']} | 0 | 100.0% |" in render_markdown(document)
