"""Which query Grafana would send, without a server: variables and macros expanded, the step, macros kept
for Grafana, one query per copy of a repeated panel."""

from __future__ import annotations

from obs_tests.checks.query_plan import plan_queries
from obs_tests.dashboards.dashboard_json import load_dashboard
from obs_tests.dashboards.templating import VariableValue
from tests.checks.dashboard_helpers import BUNDLED, FOREIGN, SPAN, resolved


def test_plan_expands_variables_and_macros_like_grafana() -> None:
    dashboard = load_dashboard(BUNDLED / "gateway.json")
    variables = resolved(
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
    jobs, _ = plan_queries(dashboard, resolved(dashboard), SPAN, scrape_interval=5.0, keep_macros=True)
    assert jobs[0].expr == 'sum(rate(gateway_webhooks_total{job=~"x", instance=~"x"}[$__rate_interval]))'


def test_repeated_panels_are_planned_once_per_value() -> None:
    dashboard = load_dashboard(FOREIGN / "collapsed_rows.json")
    agents = VariableValue("agent", ("momentum", "risk"), multi=True, include_all=True, is_all=True)
    jobs, _ = plan_queries(dashboard, resolved(dashboard, agent=agents), SPAN, scrape_interval=1.0)
    repeated = [(j.repeat, j.expr, j.instant) for j in jobs if j.item.panel.repeat]
    assert repeated == [
        ("agent=momentum", 'avg(agent_confidence_score{agent_type=~"momentum"})', True),
        ("agent=risk", 'avg(agent_confidence_score{agent_type=~"risk"})', True),
    ]
    # the collapsed row's panel is planned too (Grafana would run it when the row is expanded)
    assert any(j.item.panel.title == "Orchestrator" for j in jobs)
