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
    check_report,
    check_variables,
    classify_values,
    dashboard_coverage,
    format_report,
    plan_queries,
)
from obs_tests.contract import ExpectedEmpty
from obs_tests.dashboard_variables import ResolvedVariable
from obs_tests.dashboards import Dashboard, load_dashboard
from obs_tests.templating import TimeRange, VariableValue

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "grafana_dashboards"
FOREIGN = ROOT / "tests" / "fixtures" / "dashboards" / "foreign"
SPAN = TimeRange(1_700_000_000.0, 1_700_000_900.0)  # 15 minutes


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
    offered = dashboard.panels[0]
    results = [
        QueryResult(
            dashboard.label,
            offered,
            offered.targets[0],
            "empty",
            "sum(rate(locust_requests_total[4s]))",
            "no metric locust_requests_total exists",
        ),
        QueryResult(
            dashboard.label, offered, offered.targets[1], "data", "sum(rate(gateway_webhooks_total[4s]))", "", 1
        ),
        QueryResult(
            dashboard.label,
            dashboard.panels[3],
            dashboard.panels[3].targets[0],
            "error",
            "sum(",
            "Prometheus: bad_data: 1:5: parse error: unclosed left parenthesis",
        ),
    ]
    report = _report(results, dashboard)
    findings = check_report(report)
    assert [f.check for f in findings] == ["dashboards", "dashboards"]
    assert findings[0].subject == (
        "dashboard 'obs-tests / Load: offered vs served' (obs-load, load.json) panel 'Offered vs served load' (id 1) "
        "query A"
    )
    assert findings[0].message.startswith('empty (the panel shows "No data"): no metric locust_requests_total exists')
    assert "declare it under dashboards.expected_empty" in findings[0].message
    assert findings[1].message.startswith("error: Prometheus: bad_data: 1:5: parse error: unclosed left parenthesis")
    assert report.panel_status(offered) == "empty"

    report = _report(list(results), dashboard)
    findings = check_report(report, [ExpectedEmpty("obs-load", "Offered vs served load", "no load running", "A")])
    assert len(findings) == 1 and findings[0].message.startswith("error:")
    assert report.results[0].accepted == "no load running"
    assert report.panel_status(offered) == "data"  # the served query has data; the declared one does not count


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
        "panels_with_data_ratio": 0.5,
    }
    assert report.to_json()["panels"] == {"data": 1, "empty": 1}
