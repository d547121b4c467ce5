"""The metrics the dashboards read (declared-empty queries left out)."""

from __future__ import annotations

from pathlib import Path

from obs_tests.checks.dashboard_coverage import dashboard_metric_references
from obs_tests.config.contract import ExpectedEmpty
from obs_tests.dashboards.dashboard_json import load_dashboard

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "grafana_dashboards"


def test_metric_references_leave_out_declared_empty_queries() -> None:
    load = load_dashboard(BUNDLED / "load.json")
    refs, problems = dashboard_metric_references([load])
    assert "locust_requests_total" in refs and problems == []
    declared = [
        ExpectedEmpty("obs-load", p, "r", "A")
        for p in ("Offered vs served load", "Offered by result vs served by status")
    ]
    declared += [
        ExpectedEmpty("obs-load", "Latency p95: Locust vs gateway", "r", "A"),
        ExpectedEmpty("obs-load", "Locust users", "r"),
    ]
    refs, _ = dashboard_metric_references([load], declared)
    assert not [m for m in refs if m.startswith("locust_")]
    assert refs["gateway_webhooks_total"] == [
        "panel 'Offered vs served load' (load.json)",
        "panel 'Offered by result vs served by status' (load.json)",
    ]
