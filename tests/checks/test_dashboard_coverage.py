"""The metrics the dashboards read (declared-empty queries left out), and a missing one judged like the panels
reading it."""

from __future__ import annotations

from pathlib import Path

from obs_tests.checks.dashboard_coverage import check_metric_coverage, dashboard_metric_references
from obs_tests.config.contract import ExpectedEmpty
from obs_tests.dashboards.dashboard_json import load_dashboard
from tests.checks.dashboard_helpers import node_report, recorded

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


def test_a_missing_metric_is_judged_like_the_panels_reading_it() -> None:
    """A metric only a query beside data reads (a collector that is off) is a warning, so a baseline that
    accepts the panel's warnings is not failed by the coverage check; one that blanks a panel is an error."""
    report, _ = node_report()
    exported = recorded().names
    missing = {
        "node_processes_state": ["panel 'System load and processes' (node_host_overview.json)"],
        "node_hwmon_temp_celsius": ["panel 'Hardware temperature' (node_host_overview.json)"],
        "node_hwmon_temp_crit_celsius": ["panel 'Hardware temperature' (node_host_overview.json)"],
        "node_never_run": ["panel 'Elsewhere' (x.json)"],
    }
    findings = {f.subject: f for f in check_metric_coverage(missing, [report], exported)}
    assert {s: (f.rule, f.severity) for s, f in findings.items()} == {
        "metric node_processes_state": ("dashboard/metric-missing", "warning"),
        "metric node_hwmon_temp_celsius": ("dashboard/metric-missing", "error"),
        "metric node_hwmon_temp_crit_celsius": ("dashboard/metric-missing", "error"),
        "metric node_never_run": ("dashboard/metric-missing", "error"),
    }
    assert findings["metric node_hwmon_temp_celsius"].message.startswith(
        "read by panel 'Hardware temperature' (node_host_overview.json), but Prometheus has no such metric"
    )
    assert check_metric_coverage({}, [report], exported) == []
