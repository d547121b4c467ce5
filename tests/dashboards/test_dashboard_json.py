"""Reading dashboards obs-tests did not write: old schemaVersions and the `rows` layout, collapsed rows,
repeated panels, library panels, export-for-sharing and API forms, mixed and non-Prometheus datasources."""

from __future__ import annotations

from pathlib import Path

import pytest

from obs_tests.dashboards.dashboard_json import dashboard_files, load_dashboard, parse_dashboard
from obs_tests.dashboards.dashboard_model import DatasourceRef
from obs_tests.dashboards.datasources import datasource_type
from obs_tests.errors import ConfigInvalid

FOREIGN = Path(__file__).parents[1] / "fixtures" / "dashboards" / "foreign"
BUNDLED = Path(__file__).parents[2] / "grafana_dashboards"


def test_old_schema_rows_layout() -> None:
    dashboard = load_dashboard(FOREIGN / "old_schema_rows.json")
    assert dashboard.schema_version == 14
    assert dashboard.uid is None
    assert [(p.title, p.row, p.collapsed, p.width) for p in dashboard.panels] == [
        ("Requests", "Traffic", False, 12),
        ("Up", "Traffic", False, 12),
        ("Notes", "Details", True, 24),
        ("Latency p95", "Details", True, 24),
    ]
    requests = dashboard.panels[0]
    assert requests.unit == "reqps"  # old graph panel: yaxes[0].format
    assert requests.targets[0].expr == 'sum(rate(gateway_webhooks_total{job="[[job]]"}[$window]))'
    assert requests.datasource == DatasourceRef(name="Prometheus")
    assert dashboard.variable("window") is not None and dashboard.variable("window").auto  # type: ignore[union-attr]


def test_collapsed_rows_keep_their_panels_and_mark_them() -> None:
    dashboard = load_dashboard(FOREIGN / "collapsed_rows.json")
    by_title = {p.title: p for p in dashboard.panels}
    assert by_title["Processed"].row == "Visible" and not by_title["Processed"].collapsed
    assert by_title["Orchestrator"].row == "Hidden until expanded" and by_title["Orchestrator"].collapsed
    assert by_title["Orchestrator"].path == "panels[3].panels[0]"
    assert by_title["Confidence $agent"].repeat == "agent"
    assert [p.title for p in dashboard.data_panels] == ["Processed", "Confidence $agent", "Orchestrator"]
    instant = by_title["Confidence $agent"].targets[0]
    assert (instant.instant, instant.range) == (True, False)
    # Grafana 10+ stores the variable query as an object
    assert dashboard.variable("agent").query_text == "label_values(agent_messages_processed_total, agent_type)"  # type: ignore[union-attr]


def test_library_panels_and_inputs() -> None:
    dashboard = load_dashboard(FOREIGN / "library_panels.json")
    shared = dashboard.panels[0]
    assert shared.library_panel == ("lib-1", "Shared request rate")
    assert shared.targets == ()
    own = dashboard.panels[1]
    assert dashboard.inputs == {"DS_PROMETHEUS": "prometheus"}
    assert datasource_type(own.targets[0].datasource, dashboard) == "prometheus"


def test_api_form_is_unwrapped() -> None:
    dashboard = load_dashboard(FOREIGN / "api_form.json")
    assert (dashboard.uid, dashboard.title, len(dashboard.panels)) == ("foreign-api", "API form", 1)


def test_not_a_dashboard_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    with pytest.raises(ConfigInvalid, match="a dashboard is a JSON object, got list"):
        load_dashboard(path)
    path.write_text('{"title": "x",\n "panels": [}')
    with pytest.raises(ConfigInvalid, match=r"list.json:2:13: not valid JSON"):
        load_dashboard(path)
    with pytest.raises(ConfigInvalid, match=r"missing\.json: file not found"):
        load_dashboard(tmp_path / "missing.json")


def test_bundled_dashboards_are_found_and_have_stable_uids() -> None:
    files = dashboard_files(BUNDLED)
    assert [f.stem for f in files] == ["agents", "alerts", "bot", "gateway", "infrastructure", "load", "overview"]
    uids = [load_dashboard(f).uid for f in files]
    assert uids == [f"obs-{f.stem}" for f in files]
    assert dashboard_files(BUNDLED / "gateway.json") == [BUNDLED / "gateway.json"]
    assert dashboard_files(BUNDLED / "nope") == []


COMMUNITY = Path(__file__).parents[1] / "fixtures" / "dashboards" / "community"


def test_an_export_for_sharing_keeps_its_placeholders_and_knows_their_plugins() -> None:
    dashboard = load_dashboard(COMMUNITY / "node_host_overview.json")
    assert dashboard.inputs == {"DS_PROMETHEUS": "prometheus"}
    by_title = {p.title: p for p in dashboard.panels}
    as_object, as_name = by_title["CPU busy"], by_title["Memory used"]
    assert as_object.datasource == DatasourceRef(type="prometheus", uid="${DS_PROMETHEUS}")
    assert as_name.datasource == DatasourceRef(name="${DS_PROMETHEUS}")
    assert {datasource_type(p.datasource, dashboard) for p in (as_object, as_name)} == {"prometheus"}
    node = dashboard.variable("node")
    assert node is not None and datasource_type(node.datasource, dashboard) == "prometheus"
    # "repeat": null is not repeated; the collapsed row's panel is kept and marked
    assert by_title["System load and processes"].repeat is None
    assert by_title["Disk I/O time $device"].repeat == "device"
    assert by_title["Hardware temperature"].collapsed and by_title["Hardware temperature"].row == "Hardware"


def test_a_constant_input_is_bound_like_grafanas_import_does() -> None:
    dashboard = parse_dashboard(
        {
            "__inputs": [
                {"name": "DS_PROMETHEUS", "type": "datasource", "pluginId": "prometheus"},
                {"name": "VAR_JOB", "type": "constant", "label": "job", "value": "node"},
            ],
            "title": "t",
            "panels": [{"type": "stat", "title": "up", "targets": [{"refId": "A", "expr": 'up{job="${VAR_JOB}"}'}]}],
        },
        "t.json",
    )
    assert dashboard.constants == {"VAR_JOB": "node"}
    assert dashboard.panels[0].targets[0].expr == 'up{job="node"}'


def test_the_api_form_with_meta_is_unwrapped() -> None:
    dashboard = load_dashboard(COMMUNITY / "redis_saved_api_form.json")
    assert (dashboard.uid, dashboard.title) == ("redis-saved", "Redis (saved in Grafana)")
    kinds = {p.title: datasource_type(p.datasource, dashboard) for p in dashboard.panels}
    assert kinds == {
        "Uptime": "prometheus",
        "Connected clients": "prometheus",
        "Commands per second": "prometheus",
        "Memory used": "prometheus",
        "Keys per database": "prometheus",  # a name: Prometheus unless Grafana says otherwise
        "Redis log": "loki",
    }
