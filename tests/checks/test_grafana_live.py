"""Grafana-live checks without a Grafana: classification of /api/ds/query results (frames as Grafana 11
returns them), comparing a dashboard with Grafana's copy, choosing the Prometheus datasource, health
verdicts, and the panel titles the browser must find."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from obs_tests.checks.grafana_live import (
    GrafanaDatasource,
    bind_inputs,
    check_datasource_health,
    check_health,
    classify_frames,
    compare_dashboards,
    datasource_types,
    expected_titles,
    prometheus_datasource,
)
from obs_tests.checks.panel_results import DashboardReport
from obs_tests.dashboards.dashboard_json import load_dashboard, parse_dashboard
from obs_tests.dashboards.datasources import datasource_type
from obs_tests.dashboards.templating import TimeRange, VariableValue
from obs_tests.dashboards.variables import ResolvedVariable
from obs_tests.errors import ApiError

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = json.loads((ROOT / "grafana_dashboards" / "gateway.json").read_text())


def _frame(values: list[Any], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "schema": {
            "fields": [
                {"name": "Time", "type": "time"},
                {"name": "Value", "type": "number", "labels": labels or {}},
            ]
        },
        "data": {"values": [[1, 2, 3][: len(values)], values]},
    }


@pytest.mark.parametrize(
    ("result", "status", "series"),
    [
        pytest.param({"status": 200, "frames": [_frame([0, 2.5, None])]}, "data", 1, id="data-with-null"),
        pytest.param({"status": 200, "frames": [_frame([0, 0]), _frame([0])]}, "constant_zero", 2, id="zeros"),
        pytest.param({"status": 200, "frames": [_frame([None, None])]}, "empty", 1, id="nan-encoded-as-null"),
        pytest.param({"status": 200, "frames": []}, "empty", 0, id="no-frames"),
        pytest.param(
            {"status": 400, "error": 'bad_data: invalid parameter "query": 1:5: parse error'}, "error", 0, id="error"
        ),
    ],
)
def test_ds_query_results_are_classified(result: dict[str, Any], status: str, series: int) -> None:
    got, count, message = classify_frames(result)
    assert (got, count) == (status, series)
    if status == "error":
        assert message == 'Grafana: bad_data: invalid parameter "query": 1:5: parse error'


def test_grafana_copy_identical_or_different() -> None:
    assert compare_dashboards("gateway", GATEWAY, copy.deepcopy(GATEWAY)) == []
    changed = copy.deepcopy(GATEWAY)
    changed["panels"][0]["targets"][0]["expr"] = "up"
    changed["panels"] = [p for p in changed["panels"] if p["title"] != "Average processing time"]
    messages = [f.message for f in compare_dashboards("gateway", GATEWAY, changed)]
    assert messages[0] == "panels missing in Grafana's copy: 'Average processing time' (id 12)"
    assert messages[1].startswith(
        "panel 'Requests/s' (id 1) differs: file stat [('A', 'sum(rate(gateway_webhooks_total"
    )
    assert messages[1].endswith("Grafana stat [('A', 'up')]")


def test_prometheus_datasource_choice() -> None:
    sources = [
        {"uid": "loki", "name": "Loki", "type": "loki", "isDefault": True},
        {"uid": "p1", "name": "Prom A", "type": "prometheus", "jsonData": {"timeInterval": "5s"}},
        {"uid": "p2", "name": "Prom B", "type": "prometheus", "isDefault": True, "jsonData": {}},
    ]
    assert prometheus_datasource(sources) == GrafanaDatasource("p2", "Prom B", 15.0)
    assert prometheus_datasource(sources, "p1") == GrafanaDatasource("p1", "Prom A", 5.0)
    with pytest.raises(ApiError, match="no Prometheus datasource 'Prom C' — Prometheus datasources: Prom A, Prom B"):
        prometheus_datasource(sources, "Prom C")
    with pytest.raises(ApiError, match="Grafana has no Prometheus datasource"):
        prometheus_datasource(sources[:1])


def test_health_verdicts() -> None:
    assert check_health({"database": "ok", "version": "11.3.0"}) == []
    assert check_health({"database": "failing"})[0].message == "database is 'failing', expected 'ok'"
    source = GrafanaDatasource("prometheus", "Prometheus", 5.0)
    assert check_datasource_health(source, 200, {"status": "OK", "message": "Successfully queried"}) == []
    [finding] = check_datasource_health(source, 400, {"status": "ERROR", "message": "connection refused"})
    assert finding.subject == "datasource 'Prometheus' (prometheus)"
    assert finding.message.startswith("health check failed (HTTP 400): connection refused")


def test_titles_the_browser_must_find() -> None:
    dashboard = load_dashboard(ROOT / "grafana_dashboards" / "agents.json")
    span = TimeRange(0, 900)
    agent_var = dashboard.variable("agent_type")
    assert agent_var is not None
    value = VariableValue("agent_type", ("momentum", "risk"), multi=True, include_all=True, is_all=True)
    variables = {"agent_type": ResolvedVariable(agent_var, (("momentum", "momentum"), ("risk", "risk")), value)}
    titles = expected_titles(DashboardReport(dashboard, span, variables))
    assert "Confidence — momentum" in titles and "Confidence — risk" in titles
    assert "Messages processed by agent" in titles
    assert "Confidence — $agent_type" not in titles


def test_an_export_is_bound_to_the_checked_datasource_like_grafanas_import() -> None:
    model = json.loads(
        (ROOT / "tests" / "fixtures" / "dashboards" / "community" / "node_host_overview.json").read_text()
    )
    source = GrafanaDatasource("prom-uid", "Prometheus", 15.0)
    bound = bind_inputs(model, source)
    assert "${DS_PROMETHEUS}" not in json.dumps(bound) and "__inputs" not in bound
    assert bound["panels"][1]["datasource"] == {"type": "prometheus", "uid": "prom-uid"}
    assert bound["panels"][2]["datasource"] == "prom-uid"
    assert compare_dashboards("imported", model, bound) == []  # same panels and queries
    dashboard = parse_dashboard(bound, "bound.json")
    known = datasource_types([{"name": "Prometheus", "uid": "prom-uid", "type": "prometheus"}])
    assert {datasource_type(p.datasource, dashboard, known) for p in dashboard.data_panels if p.targets} == {
        "prometheus"
    }
    assert bind_inputs(GATEWAY, source) == GATEWAY  # no inputs: unchanged


def test_datasources_by_name_and_uid() -> None:
    known = datasource_types(
        [{"name": "Prometheus", "uid": "p1", "type": "prometheus"}, {"name": "Logs", "uid": "l1", "type": "loki"}]
    )
    assert known == {"Prometheus": "prometheus", "p1": "prometheus", "Logs": "loki", "l1": "loki"}
