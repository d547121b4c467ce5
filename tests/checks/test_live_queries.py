"""Panel queries run on a (recorded) Prometheus: hidden queries not counted, a community export resolved and
expanded like Grafana does and judged panel by panel. The same on a live Prometheus:
tests/integration/test_dashboards.py."""

from __future__ import annotations

from obs_tests.checks.live_queries import run_dashboard
from obs_tests.dashboards.dashboard_json import load_dashboard
from tests.checks.dashboard_helpers import COMMUNITY, SPAN, node_report, recorded


def test_hidden_queries_do_not_count() -> None:
    dashboard = load_dashboard(COMMUNITY / "node_host_overview.json")
    panel = next(p for p in dashboard.panels if p.title == "CPU by mode")
    report = run_dashboard(dashboard, recorded(), scrape_interval=15.0, time_range=SPAN)
    statuses = {r.target.ref_id: r.status for r in report.results if r.panel is panel and r.target is not None}
    assert statuses == {"A": "data", "B": "skipped"}
    assert report.panel_status(panel) == "data"


def test_a_community_export_runs_on_the_prometheus_checked_against() -> None:
    """`${DS_PROMETHEUS}` placeholders (name and {type, uid} forms) resolve to the Prometheus obs-tests checks;
    `$node` and `$job` are resolved like Grafana does and expanded in every query."""
    report, findings = node_report()
    assert not [r for r in report.results if r.status == "skipped" and "not Prometheus" in r.message]
    assert report.variables["node"].value.values == ("localhost:9100",)
    assert report.variables["device"].value.values == ("vda", "zram0")  # include All, regex /^(?!dm-|loop).*$/
    memory = next(r for r in report.results if r.panel.title == "Memory used")
    assert memory.expr.startswith('100 * (1 - node_memory_MemAvailable_bytes{instance="localhost:9100",job="node"}')
    assert [r.repeat for r in report.results if r.panel.repeat] == ["device=vda", "device=zram0"]
    # a collector that is off: one query of a panel with data (warning); hardware absent: a whole panel (error)
    assert sorted((f.rule, f.severity, f.subject.rpartition(" panel ")[2]) for f in findings) == [
        ("dashboard/panel-empty", "error", "'Hardware temperature' (id 21)"),
        ("dashboard/query-empty", "warning", "'System load and processes' (id 7) query G"),
    ]
    processes = next(f for f in findings if f.rule == "dashboard/query-empty")
    assert "no metric node_processes_state exists" in processes.message
    counts = report.counts()
    assert counts == {"data": 10, "empty": 1}  # 9 panels, one repeated for 2 disks, drawn with data
    assert report.checked_panels == 11
