"""What a finding of a live dashboard check says, each panel judged as Grafana draws it: a panel without data
is an error, an empty query beside data a warning, declared queries accepted, variables without values."""

from __future__ import annotations

from obs_tests.checks.dashboard_coverage import dashboard_coverage
from obs_tests.checks.panel_findings import check_report, check_variables
from obs_tests.checks.panel_results import DashboardReport, QueryResult
from obs_tests.checks.query_plan import plan_queries
from obs_tests.config.contract import ExpectedEmpty
from obs_tests.dashboards.dashboard_json import load_dashboard
from obs_tests.dashboards.dashboard_model import Dashboard, Panel
from obs_tests.dashboards.templating import VariableValue
from obs_tests.dashboards.variables import ResolvedVariable
from tests.checks.dashboard_helpers import BUNDLED, COMMUNITY, FOREIGN, SPAN, report_of, resolved


def test_findings_name_the_panel_and_declarations_accept_empty_queries() -> None:
    dashboard = load_dashboard(BUNDLED / "load.json")
    offered, users = dashboard.panels[0], dashboard.panels[3]
    results = [
        QueryResult(dashboard.label, users, users.targets[0], "empty", "sum(locust_users)", "no metric locust_users"),
        QueryResult(
            dashboard.label,
            offered,
            offered.targets[0],
            "error",
            "sum(",
            "Prometheus: bad_data: 1:5: parse error: unclosed left parenthesis",
        ),
    ]
    report = report_of(results, dashboard)
    findings = check_report(report)
    assert [(f.check, f.rule, f.severity) for f in findings] == [
        ("dashboards", "dashboard/panel-empty", "error"),
        ("dashboards", "dashboard/query-error", "error"),
    ]
    assert findings[0].subject == (
        "dashboard 'obs-tests / Load: offered vs served' (obs-load, load.json) panel 'Locust users' (id 4)"
    )
    assert findings[0].message.startswith(
        'empty (the panel shows "No data"): query A: no metric locust_users — query: sum(locust_users)'
    )
    assert "declare it under dashboards.expected_empty" in findings[0].message
    assert findings[1].subject.endswith("panel 'Offered vs served load' (id 1) query A")
    assert findings[1].message.startswith("error: Prometheus: bad_data: 1:5: parse error: unclosed left parenthesis")
    assert report.panel_status(users) == "empty"

    report = report_of(list(results), dashboard)
    findings = check_report(report, [ExpectedEmpty("obs-load", "Locust users", "no load running")])
    assert [f.rule for f in findings] == ["dashboard/query-error"]
    assert report.results[0].accepted == "no load running"
    assert report.declared_empty(users) and report.panels_declared_empty == 1


def _panel_of_seven(dashboard: Dashboard, empty: int) -> tuple[Panel, list[QueryResult]]:
    panel = next(p for p in dashboard.panels if p.title == "System load and processes")
    results = [
        QueryResult(
            dashboard.label,
            panel,
            t,
            "empty" if i >= 7 - empty else "data",
            t.expr or "",
            "no metric node_processes_state exists — a typo, or the exporter does not export it"
            if i >= 7 - empty
            else "",
            0 if i >= 7 - empty else 1,
        )
        for i, t in enumerate(panel.targets)
    ]
    return panel, results


def test_a_panel_with_data_is_not_failed_for_one_empty_query() -> None:
    """Defect 9: 6 queries with data and 1 empty used to fail as 'empty (the panel shows "No data")'."""
    dashboard = load_dashboard(COMMUNITY / "node_host_overview.json")
    panel, results = _panel_of_seven(dashboard, empty=1)
    assert len(panel.targets) == 7
    report = report_of(results, dashboard)
    [finding] = check_report(report)
    assert (finding.rule, finding.severity) == ("dashboard/query-empty", "warning")
    assert finding.subject.endswith("panel 'System load and processes' (id 7) query G")
    assert finding.message.startswith(
        "empty query (Grafana draws the panel from A, B, C, D, E, F without it): no metric node_processes_state"
    )
    assert "query: G)" in finding.message
    assert report.panel_status(panel) == "data"
    assert report.counts() == {"data": 1}
    assert dashboard_coverage([report], {}, [])["panels_with_data"] == 1


def test_a_panel_without_any_data_is_one_error_listing_its_queries() -> None:
    dashboard = load_dashboard(COMMUNITY / "node_host_overview.json")
    panel, results = _panel_of_seven(dashboard, empty=7)
    report = report_of(results, dashboard)
    [finding] = check_report(report)
    assert (finding.rule, finding.severity) == ("dashboard/panel-empty", "error")
    assert finding.subject.endswith("panel 'System load and processes' (id 7)")
    assert finding.message.count("— query: ") == 7 and "query A: " in finding.message
    assert report.panel_status(panel) == "empty"


def test_constant_zero_is_a_warning_unless_declared() -> None:
    dashboard = load_dashboard(BUNDLED / "gateway.json")
    panel = next(p for p in dashboard.panels if p.title == "NATS publish failures")
    result = QueryResult(dashboard.label, panel, panel.targets[0], "constant_zero", "sum(x)", "all 1 series are 0", 1)
    [warning] = check_report(report_of([result], dashboard))
    assert warning.severity == "warning" and warning.message.startswith("constant zero")
    assert check_report(report_of([result], dashboard), [ExpectedEmpty("gateway.json", panel.title, "healthy")]) == []


def test_a_variable_without_values_is_a_finding() -> None:
    dashboard = load_dashboard(BUNDLED / "gateway.json")
    var = dashboard.variable("instance")
    assert var is not None
    empty = ResolvedVariable(var, (), VariableValue("instance", ()), query='label_values(x{job=~"gateway"}, instance)')
    failed = ResolvedVariable(
        var, (), VariableValue("instance", ()), query="q", error="Prometheus rejected /api/v1/labels"
    )
    report = DashboardReport(dashboard, SPAN, {"instance": empty})
    [finding] = check_variables(report)
    assert finding.subject == "dashboard 'obs-tests / Gateway' (obs-gateway, gateway.json) variable $instance"
    assert finding.message.startswith(
        "resolved to no value: 'label_values(x{job=~\"gateway\"}, instance)' returns nothing"
    )
    report.variables["instance"] = failed
    assert check_variables(report)[0].message == "Prometheus rejected /api/v1/labels — query: q"


def test_an_empty_query_beside_another_datasource_is_not_a_blank_panel() -> None:
    """A mixed panel: Grafana may draw the Loki or TestData query's data, which obs-tests does not check."""
    dashboard = load_dashboard(FOREIGN / "mixed_datasources.json")
    jobs, not_run = plan_queries(dashboard, resolved(dashboard), SPAN, scrape_interval=1.0)
    mixed = dashboard.panels[0]
    results = [
        QueryResult(dashboard.label, j.item.panel, j.item.target, "empty", j.expr, "no metric x exists")
        for j in jobs
        if j.item.panel is mixed
    ]
    report = report_of([*results, *(r for r in not_run if r.panel is mixed)], dashboard)
    [finding] = check_report(report)
    assert (finding.rule, finding.severity) == ("dashboard/query-empty", "warning")
    assert "Grafana draws the panel from B, C (another datasource, not checked here), if they have data" in (
        finding.message
    )
    # without them, the same empty query is a blank panel
    report = report_of(results, dashboard)
    assert [f.rule for f in check_report(report)] == ["dashboard/panel-empty"]
