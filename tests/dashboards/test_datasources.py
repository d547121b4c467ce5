"""Which plugin serves a query: builtin datasources, names, ``{type, uid}`` objects, datasource variables and
export inputs resolved per panel and per query; the queries that go to Prometheus, and why the others do not."""

from __future__ import annotations

from pathlib import Path

import pytest

from obs_tests.dashboards.dashboard_json import load_dashboard, parse_dashboard
from obs_tests.dashboards.dashboard_model import DatasourceRef
from obs_tests.dashboards.datasources import datasource_type, prometheus_targets

FOREIGN = Path(__file__).parents[1] / "fixtures" / "dashboards" / "foreign"


def test_mixed_datasources_resolve_per_query() -> None:
    dashboard = load_dashboard(FOREIGN / "mixed_datasources.json")
    panel = dashboard.panels[0]
    assert datasource_type(panel.datasource, dashboard) == "mixed"
    kinds = [datasource_type(t.datasource, dashboard) for t in panel.targets]
    assert kinds == ["prometheus", "loki", "grafana-testdata-datasource", "__expr__", "prometheus"]
    assert panel.targets[2].expr is None and panel.targets[4].hide


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        pytest.param(None, "prometheus", id="default-datasource"),
        pytest.param(DatasourceRef(name="-- Grafana --"), "grafana", id="builtin-grafana"),
        pytest.param(DatasourceRef(type="datasource", uid="-- Dashboard --"), "dashboard", id="dashboard-ds"),
        pytest.param(DatasourceRef(name="Loki"), "loki", id="known-name"),
        pytest.param(DatasourceRef(name="Unknown"), "prometheus", id="unknown-name-assumed-default"),
        pytest.param(DatasourceRef(name="loki-prod"), "loki", id="name-says-loki"),
        pytest.param(DatasourceRef(name="InfluxDB (telegraf)"), "influxdb", id="name-says-influxdb"),
        pytest.param(DatasourceRef(name="Prometheus (via Loki gateway)"), "prometheus", id="name-says-prometheus"),
        pytest.param(DatasourceRef(name="Mimir"), "prometheus", id="other-name-assumed-default"),
        pytest.param(DatasourceRef(type="prometheus", uid="${datasource}"), "prometheus", id="variable-with-type"),
        pytest.param(DatasourceRef(name="$ds"), "elasticsearch", id="datasource-variable"),
    ],
)
def test_datasource_type(ref: DatasourceRef | None, expected: str) -> None:
    dashboard = parse_dashboard(
        {
            "title": "t",
            "panels": [],
            "templating": {"list": [{"name": "ds", "type": "datasource", "query": "elasticsearch"}]},
        },
        "t.json",
    )
    assert datasource_type(ref, dashboard, known={"Loki": "loki"}) == expected


def test_non_prometheus_queries_are_skipped_with_why() -> None:
    dashboard = load_dashboard(FOREIGN / "mixed_datasources.json")
    queries, skipped = prometheus_targets(dashboard)
    assert [(q.panel.title, q.target.ref_id) for q in queries] == [("Everything at once", "A")]
    reasons = {(p.title, t.ref_id if t else None): why for p, t, why in skipped}
    assert (
        reasons[("Everything at once", "B")]
        == "datasource {type: loki, uid: loki-main} is of type 'loki', not Prometheus"
    )
    assert reasons[("Everything at once", "D")] == "server-side expression (math/reduce on other queries)"
    assert reasons[("Everything at once", "E")] == "hidden query (hide: true)"
    assert "not Prometheus" in reasons[("Gateway logs", "A")]


def test_an_import_input_of_another_plugin_is_skipped_with_why() -> None:
    dashboard = parse_dashboard(
        {
            "__inputs": [
                {"name": "DS_PROMETHEUS", "type": "datasource", "pluginId": "prometheus"},
                {"name": "DS_LOKI", "type": "datasource", "pluginId": "loki"},
            ],
            "title": "t",
            "panels": [
                {
                    "id": 1,
                    "type": "timeseries",
                    "title": "rate",
                    "datasource": "${DS_PROMETHEUS}",
                    "targets": [{"refId": "A", "expr": "sum(up)"}],
                },
                {
                    "id": 2,
                    "type": "logs",
                    "title": "logs",
                    "datasource": {"type": "loki", "uid": "${DS_LOKI}"},
                    "targets": [{"refId": "A", "expr": '{app="x"}'}],
                },
                {
                    "id": 3,
                    "type": "timeseries",
                    "title": "logs by name",
                    "datasource": "${DS_LOKI}",
                    "targets": [{"refId": "A", "expr": 'count_over_time({app="x"}[1m])'}],
                },
            ],
        },
        "t.json",
    )
    queries, skipped = prometheus_targets(dashboard)
    assert [q.panel.title for q in queries] == ["rate"]
    assert [why for _, _, why in skipped] == [
        "datasource {type: loki, uid: ${DS_LOKI}} (an import input) is of type 'loki', not Prometheus",
        "datasource ${DS_LOKI} (an import input) is of type 'loki', not Prometheus",
    ]
