"""Which plugin serves a query: builtin datasources, names, ``{type, uid}`` objects, datasource variables and
export inputs resolved per panel and per query."""

from __future__ import annotations

from pathlib import Path

import pytest

from obs_tests.dashboards.dashboard_json import load_dashboard, parse_dashboard
from obs_tests.dashboards.dashboard_model import DatasourceRef
from obs_tests.dashboards.datasources import datasource_type

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
