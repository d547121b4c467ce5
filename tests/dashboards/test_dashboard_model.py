"""The dashboard model's derived views: where each panel type keeps its unit, how a datasource reference
names its variable and reads in messages, which keys name a dashboard, and a variable's query in either form."""

from __future__ import annotations

from typing import Any

import pytest

from obs_tests.dashboards.dashboard_model import Dashboard, DatasourceRef, Panel, TemplateVariable


def _panel(type_: str = "timeseries", title: str = "p", ident: int | None = 3, **raw: Any) -> Panel:
    return Panel(ident, title, type_, "panels[0]", None, (), raw=raw)


@pytest.mark.parametrize(
    ("raw", "unit"),
    [
        pytest.param({"fieldConfig": {"defaults": {"unit": "reqps"}}}, "reqps", id="field-config"),
        pytest.param({"options": {"yAxis": {"unit": "s"}}}, "s", id="heatmap-y-axis"),
        pytest.param({"yaxes": [{"format": "bytes"}, {"format": "short"}]}, "bytes", id="old-graph"),
        pytest.param({"format": "percent"}, "percent", id="old-singlestat"),
        pytest.param({"yaxes": [{"format": None}], "fieldConfig": {"defaults": {}}}, None, id="none"),
    ],
)
def test_the_unit_is_read_where_each_panel_type_keeps_it(raw: dict[str, Any], unit: str | None) -> None:
    assert _panel(**raw).unit == unit


def test_panels_say_what_they_are() -> None:
    assert _panel(title="Requests/s").label == "'Requests/s' (id 3)"
    assert _panel(title="", ident=None).label == "'(untitled)'"
    assert _panel("row").is_row and not _panel("row").shows_data
    assert _panel("stat").shows_data and not _panel("text").shows_data


@pytest.mark.parametrize(
    ("raw", "ref"),
    [
        pytest.param(None, None, id="default"),
        pytest.param("", None, id="empty-name"),
        pytest.param("Loki", DatasourceRef(name="Loki"), id="name"),
        pytest.param({"type": "prometheus", "uid": "p1"}, DatasourceRef(type="prometheus", uid="p1"), id="object"),
        pytest.param(5, None, id="not-a-reference"),
    ],
)
def test_a_datasource_reference_is_read_in_either_form(raw: Any, ref: DatasourceRef | None) -> None:
    assert DatasourceRef.parse(raw) == ref


@pytest.mark.parametrize(
    ("key", "variable"),
    [
        pytest.param("${ds}", "ds", id="braces"),
        pytest.param("$ds", "ds", id="dollar"),
        pytest.param("${ds:raw}", "ds", id="format"),
        pytest.param("[[ds]]", "ds", id="old-syntax"),
        pytest.param("Prometheus", None, id="a-name"),
    ],
)
def test_a_datasource_reference_names_its_variable(key: str, variable: str | None) -> None:
    assert DatasourceRef(name=key).variable == variable
    assert DatasourceRef(type="prometheus", uid=key).variable == variable


def test_a_datasource_reference_in_messages() -> None:
    assert DatasourceRef(type="prometheus", uid="p1").text() == "{type: prometheus, uid: p1}"
    assert DatasourceRef(name="Loki").text() == "Loki"
    assert DatasourceRef().text() == "(default)"


def test_a_dashboard_is_named_by_its_uid_title_or_file() -> None:
    job = TemplateVariable("job", "query", "label_values(up, job)")
    dashboard = Dashboard("grafana_dashboards/gateway.json", "Gateway", "obs-gateway", 39, (), (job,))
    assert dashboard.label == "'Gateway' (obs-gateway, gateway.json)"
    assert all(dashboard.matches(k) for k in ("obs-gateway", "Gateway", "gateway.json", "gateway"))
    assert not dashboard.matches("grafana_dashboards/gateway.json")
    assert dashboard.variable("job") is job and dashboard.variable("instance") is None


def test_a_variable_query_is_text_in_either_form() -> None:
    stored = {"query": "label_values(up, job)", "qryType": 1}  # Grafana 10+
    assert TemplateVariable("job", "query", stored).query_text == "label_values(up, job)"
    assert TemplateVariable("job", "query", None).query_text == ""
    assert TemplateVariable("job", "query", "up").label == "$job"
