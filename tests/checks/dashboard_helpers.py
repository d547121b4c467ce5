"""Dashboards, their resolved variables and their live results, built for the checks' tests; the recorded
Prometheus they run on."""

from __future__ import annotations

from pathlib import Path

from obs_tests.checks.live_queries import run_dashboard
from obs_tests.checks.panel_findings import check_report
from obs_tests.checks.panel_results import DashboardReport, QueryResult
from obs_tests.config.contract import ExpectedEmpty
from obs_tests.core.findings import Finding
from obs_tests.dashboards.dashboard_json import load_dashboard, parse_dashboard
from obs_tests.dashboards.dashboard_model import Dashboard
from obs_tests.dashboards.templating import TimeRange, VariableValue
from obs_tests.dashboards.variables import ResolvedVariable
from tests.recorded_prometheus import RecordedPrometheus

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "grafana_dashboards"
FOREIGN = ROOT / "tests" / "fixtures" / "dashboards" / "foreign"
COMMUNITY = ROOT / "tests" / "fixtures" / "dashboards" / "community"
SPAN = TimeRange(1_700_000_000.0, 1_700_000_900.0)  # 15 minutes


def _lists(name: str) -> str:
    return "job" if name == "job" else "instance"


def with_queries(*exprs: str, variables: tuple[str, ...] = ("job", "node")) -> Dashboard:
    """A dashboard with a datasource variable, query variables ``variables`` and one stat panel per query."""
    return parse_dashboard(
        {
            "uid": "t",
            "title": "t",
            "templating": {
                "list": [
                    {"name": "datasource", "type": "datasource", "query": "prometheus"},
                    *(
                        {"name": n, "type": "query", "query": f"label_values(node_uname_info, {_lists(n)})"}
                        for n in variables
                    ),
                ]
            },
            "panels": [
                {
                    "id": i,
                    "type": "stat",
                    "title": f"p{i}",
                    "datasource": {"type": "prometheus", "uid": "${datasource}"},
                    "fieldConfig": {"defaults": {"unit": "short"}},
                    "targets": [{"refId": "A", "expr": expr}],
                }
                for i, expr in enumerate(exprs, start=1)
            ],
        },
        "t.json",
    )


def recorded() -> RecordedPrometheus:
    return RecordedPrometheus("node_exporter_default_collectors.json")


def resolved(dashboard: Dashboard, **values: VariableValue) -> dict[str, ResolvedVariable]:
    out = {}
    for var in dashboard.variables:
        value = values.get(var.name, VariableValue(var.name, ("x",)))
        out[var.name] = ResolvedVariable(var, tuple((v, v) for v in value.values), value)
    return out


def report_of(results: list[QueryResult], dashboard: Dashboard) -> DashboardReport:
    return DashboardReport(dashboard, SPAN, {}, results)


def node_report(expected: list[ExpectedEmpty] | None = None) -> tuple[DashboardReport, list[Finding]]:
    dashboard = load_dashboard(COMMUNITY / "node_host_overview.json")
    prom = recorded()
    report = run_dashboard(dashboard, prom, scrape_interval=15.0, time_range=SPAN, expected_empty=expected or ())
    return report, check_report(report, expected or ())
