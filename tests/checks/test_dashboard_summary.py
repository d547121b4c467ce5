"""The summary table and line of a dashboard's live check: worst first, and a failed check leads with what
failed."""

from __future__ import annotations

from obs_tests.checks.dashboard_coverage import dashboard_coverage
from obs_tests.checks.dashboard_summary import format_report, summary_line
from obs_tests.checks.panel_findings import check_report
from obs_tests.checks.panel_results import DashboardReport, QueryResult
from obs_tests.dashboards.dashboard_json import load_dashboard
from obs_tests.dashboards.templating import VariableValue
from obs_tests.dashboards.variables import ResolvedVariable
from tests.checks.dashboard_helpers import BUNDLED, ROOT, SPAN, node_report, report_of


def test_summary_table_and_coverage() -> None:
    dashboard = load_dashboard(BUNDLED / "gateway.json")
    panels = dashboard.data_panels
    results = [
        QueryResult(dashboard.label, panels[0], panels[0].targets[0], "data", "a", "", 1),
        QueryResult(dashboard.label, panels[1], panels[1].targets[0], "empty", "b", "no metric b exists"),
    ]
    report = report_of(results, dashboard)
    table = format_report(report)
    assert table.splitlines()[0].startswith(
        "'obs-tests / Gateway' (obs-gateway, gateway.json): 2 panels — 1 data, 1 empty"
    )
    assert table.splitlines()[2].split()[:3] == ["Validation", "error", "ratio"]  # worst first
    coverage = dashboard_coverage([report], {"a_total": ["panel 'x'"], "b": ["panel 'y'"]}, ["a_total"])
    assert coverage == {
        "metrics_referenced": 2,
        "metrics_missing": {"b": ["panel 'y'"]},
        "panels_total": 2,
        "panels_with_data": 1,
        "panels_declared_empty": 0,
        "panels_not_checked": 0,
        "panels_with_data_ratio": 0.5,
    }
    assert report.to_json()["panels"] == {"data": 1, "empty": 1}


def test_summary_line_of_a_failed_check_leads_with_what_failed() -> None:
    report, findings = node_report()
    errors = [f for f in findings if f.severity == "error"]
    line = summary_line(report, errors)
    assert line.startswith(
        "'Node host overview (community style)' (node-host-overview, node_host_overview.json): 1 error (1 empty "
        "panel) — 10/11 panels with data"
    )
    assert summary_line(report, []).endswith(f"10/11 panels with data, {len(report.executed)} queries")


def test_the_broken_live_dashboard_summary_names_every_kind_of_error() -> None:
    """What tests/integration/test_dashboards.py expects from the live run of live_problems.json."""
    dashboard = load_dashboard(ROOT / "tests" / "fixtures" / "dashboards" / "broken" / "live_problems.json")
    typo, wrong, syntax, everything = dashboard.panels
    results = [
        QueryResult(dashboard.label, typo, typo.targets[0], "empty", "a", "no metric gateway_webhook_total exists"),
        QueryResult(dashboard.label, wrong, wrong.targets[0], "empty", "b", 'status="acepted" matches nothing'),
        QueryResult(dashboard.label, syntax, syntax.targets[0], "error", "c", "Prometheus: bad_data: parse error"),
        QueryResult(dashboard.label, everything, everything.targets[0], "data", "d", "", 3),
    ]
    desk = dashboard.variable("desk")
    assert desk is not None
    variables = {"desk": ResolvedVariable(desk, (), VariableValue("desk", ()), query="label_values(x, desk)")}
    report = DashboardReport(dashboard, SPAN, variables, results)
    errors = [f for f in check_report(report) if f.severity == "error"]
    assert summary_line(report, errors).startswith(
        "'Live problems' (broken-live, live_problems.json): 4 errors (2 empty panels, 1 variable without value, "
        "1 query error) — 1/4 panels with data"
    )
