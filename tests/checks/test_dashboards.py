"""Panel-query planning and classification without a server: which query Grafana would send (variables,
macros, step, repeated panels), how results are classified, what a finding says, declared-empty panels,
the summary table and coverage. The same checks on a live Prometheus: tests/integration/test_dashboards.py."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from obs_tests.checks.dashboards import (
    DashboardReport,
    QueryResult,
    check_metric_coverage,
    check_report,
    check_variables,
    classify_values,
    dashboard_coverage,
    diagnose_empty,
    format_report,
    plan_queries,
    run_dashboard,
    summary_line,
)
from obs_tests.config.contract import ExpectedEmpty
from obs_tests.core.findings import Finding
from obs_tests.dashboards.dashboard_json import load_dashboard
from obs_tests.dashboards.dashboard_model import Dashboard, Panel
from obs_tests.dashboards.templating import TimeRange, VariableValue
from obs_tests.dashboards.variables import ResolvedVariable
from tests.recorded_prometheus import RecordedPrometheus

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "grafana_dashboards"
FOREIGN = ROOT / "tests" / "fixtures" / "dashboards" / "foreign"
COMMUNITY = ROOT / "tests" / "fixtures" / "dashboards" / "community"
SPAN = TimeRange(1_700_000_000.0, 1_700_000_900.0)  # 15 minutes


def _recorded() -> RecordedPrometheus:
    return RecordedPrometheus("node_exporter_default_collectors.json")


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


def _resolved(dashboard: Dashboard, **values: VariableValue) -> dict[str, ResolvedVariable]:
    out = {}
    for var in dashboard.variables:
        value = values.get(var.name, VariableValue(var.name, ("x",)))
        out[var.name] = ResolvedVariable(var, tuple((v, v) for v in value.values), value)
    return out


def test_plan_expands_variables_and_macros_like_grafana() -> None:
    dashboard = load_dashboard(BUNDLED / "gateway.json")
    variables = _resolved(
        dashboard,
        job=VariableValue("job", ("gateway",), multi=True, include_all=True, is_all=True),
        instance=VariableValue(
            "instance", ("10.0.0.1:8000", "10.0.0.2:8000"), multi=True, include_all=True, is_all=True
        ),
    )
    jobs, not_run = plan_queries(dashboard, variables, SPAN, scrape_interval=5.0)
    assert not_run == []
    first = jobs[0]
    # 15 min over a 640 px wide panel (8 of 24 columns) = 1.4 s -> rounded to 1 s -> floor: 5 s scrape interval
    assert first.step == 5.0
    assert first.expr == (
        'sum(rate(gateway_webhooks_total{job=~"gateway", '
        'instance=~"(10\\\\.0\\\\.0\\\\.1:8000|10\\\\.0\\\\.0\\\\.2:8000)"}[20s]))'
    )
    increase = next(j for j in jobs if "increase(gateway_webhooks_total" in j.expr)
    assert increase.expr.endswith("[900s]))")  # $__range


def test_plan_keeps_macros_for_grafana() -> None:
    dashboard = load_dashboard(BUNDLED / "gateway.json")
    jobs, _ = plan_queries(dashboard, _resolved(dashboard), SPAN, scrape_interval=5.0, keep_macros=True)
    assert jobs[0].expr == 'sum(rate(gateway_webhooks_total{job=~"x", instance=~"x"}[$__rate_interval]))'


def test_repeated_panels_are_planned_once_per_value() -> None:
    dashboard = load_dashboard(FOREIGN / "collapsed_rows.json")
    agents = VariableValue("agent", ("momentum", "risk"), multi=True, include_all=True, is_all=True)
    jobs, _ = plan_queries(dashboard, _resolved(dashboard, agent=agents), SPAN, scrape_interval=1.0)
    repeated = [(j.repeat, j.expr, j.instant) for j in jobs if j.item.panel.repeat]
    assert repeated == [
        ("agent=momentum", 'avg(agent_confidence_score{agent_type=~"momentum"})', True),
        ("agent=risk", 'avg(agent_confidence_score{agent_type=~"risk"})', True),
    ]
    # the collapsed row's panel is planned too (Grafana would run it when the row is expanded)
    assert any(j.item.panel.title == "Orchestrator" for j in jobs)


def _report(results: list[QueryResult], dashboard: Dashboard) -> DashboardReport:
    return DashboardReport(dashboard, SPAN, {}, results)


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
    report = _report(results, dashboard)
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

    report = _report(list(results), dashboard)
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
    report = _report(results, dashboard)
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
    report = _report(results, dashboard)
    [finding] = check_report(report)
    assert (finding.rule, finding.severity) == ("dashboard/panel-empty", "error")
    assert finding.subject.endswith("panel 'System load and processes' (id 7)")
    assert finding.message.count("— query: ") == 7 and "query A: " in finding.message
    assert report.panel_status(panel) == "empty"


def test_hidden_queries_do_not_count() -> None:
    dashboard = load_dashboard(COMMUNITY / "node_host_overview.json")
    panel = next(p for p in dashboard.panels if p.title == "CPU by mode")
    report = run_dashboard(dashboard, _recorded(), scrape_interval=15.0, time_range=SPAN)
    statuses = {r.target.ref_id: r.status for r in report.results if r.panel is panel and r.target is not None}
    assert statuses == {"A": "data", "B": "skipped"}
    assert report.panel_status(panel) == "data"


def test_constant_zero_is_a_warning_unless_declared() -> None:
    dashboard = load_dashboard(BUNDLED / "gateway.json")
    panel = next(p for p in dashboard.panels if p.title == "NATS publish failures")
    result = QueryResult(dashboard.label, panel, panel.targets[0], "constant_zero", "sum(x)", "all 1 series are 0", 1)
    [warning] = check_report(_report([result], dashboard))
    assert warning.severity == "warning" and warning.message.startswith("constant zero")
    assert check_report(_report([result], dashboard), [ExpectedEmpty("gateway.json", panel.title, "healthy")]) == []


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


def test_summary_table_and_coverage() -> None:
    dashboard = load_dashboard(BUNDLED / "gateway.json")
    panels = dashboard.data_panels
    results = [
        QueryResult(dashboard.label, panels[0], panels[0].targets[0], "data", "a", "", 1),
        QueryResult(dashboard.label, panels[1], panels[1].targets[0], "empty", "b", "no metric b exists"),
    ]
    report = _report(results, dashboard)
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


def _node_report(expected: list[ExpectedEmpty] | None = None) -> tuple[DashboardReport, list[Finding]]:
    dashboard = load_dashboard(COMMUNITY / "node_host_overview.json")
    prom = _recorded()
    report = run_dashboard(dashboard, prom, scrape_interval=15.0, time_range=SPAN, expected_empty=expected or ())
    return report, check_report(report, expected or ())


def test_a_community_export_runs_on_the_prometheus_checked_against() -> None:
    """`${DS_PROMETHEUS}` placeholders (name and {type, uid} forms) resolve to the Prometheus obs-tests checks;
    `$node` and `$job` are resolved like Grafana does and expanded in every query."""
    report, findings = _node_report()
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


def test_declared_empty_panels_are_counted_in_panels_everywhere() -> None:
    declared = [
        ExpectedEmpty("node-host-overview", "Hardware temperature", "a VM has no sensors (hwmon)"),
        ExpectedEmpty("node-host-overview", "System load and processes", "processes collector is off", "G"),
    ]
    report, findings = _node_report(declared)
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


def test_summary_line_of_a_failed_check_leads_with_what_failed() -> None:
    report, findings = _node_report()
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


def test_a_missing_metric_is_judged_like_the_panels_reading_it() -> None:
    """A metric only a query beside data reads (a collector that is off) is a warning, so a baseline that
    accepts the panel's warnings is not failed by the coverage check; one that blanks a panel is an error."""
    report, _ = _node_report()
    exported = _recorded().names
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


def test_an_empty_query_beside_another_datasource_is_not_a_blank_panel() -> None:
    """A mixed panel: Grafana may draw the Loki or TestData query's data, which obs-tests does not check."""
    dashboard = load_dashboard(FOREIGN / "mixed_datasources.json")
    jobs, not_run = plan_queries(dashboard, _resolved(dashboard), SPAN, scrape_interval=1.0)
    mixed = dashboard.panels[0]
    results = [
        QueryResult(dashboard.label, j.item.panel, j.item.target, "empty", j.expr, "no metric x exists")
        for j in jobs
        if j.item.panel is mixed
    ]
    report = _report([*results, *(r for r in not_run if r.panel is mixed)], dashboard)
    [finding] = check_report(report)
    assert (finding.rule, finding.severity) == ("dashboard/query-empty", "warning")
    assert "Grafana draws the panel from B, C (another datasource, not checked here), if they have data" in (
        finding.message
    )
    # without them, the same empty query is a blank panel
    report = _report(results, dashboard)
    assert [f.rule for f in check_report(report)] == ["dashboard/panel-empty"]


def test_an_empty_instant_query_is_diagnosed_at_its_instant() -> None:
    """A stat panel with `instant: true` asks for the end of the range only: its series can be stale there
    (a target down) while they exist over the range — not "nothing over the range"."""
    prom = _recorded()
    names = prom.metric_names()
    instant = diagnose_empty(prom, 'node_load1{job="node"} > 1000', names, SPAN, instant=True)
    assert instant.startswith("every selector matches series in the range, but the expression returns nothing at")
    assert "(an instant query): the series are stale there (their target down?)" in instant
    ranged = diagnose_empty(prom, 'node_load1{job="node"} > 1000', names, SPAN)
    assert "returns nothing over the range" in ranged and "instant" not in ranged
