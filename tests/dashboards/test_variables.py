"""Template variables as Grafana resolves them: the Prometheus variable queries, regex, sort, custom
lists, and which value is current when a dashboard opens. (Against a live Prometheus:
tests/integration/test_dashboards.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from obs_tests.dashboards.dashboard_json import load_dashboard, parse_dashboard
from obs_tests.dashboards.dashboard_model import TemplateVariable
from obs_tests.dashboards.templating import ALL, TimeRange
from obs_tests.dashboards.variables import (
    VariableQuery,
    apply_regex,
    custom_options,
    js_regex,
    parse_variable_query,
    resolve_variables,
    select_current,
    sort_options,
)
from tests.recorded_prometheus import RecordedPrometheus


@pytest.mark.parametrize(
    ("query", "parsed"),
    [
        pytest.param("label_names()", VariableQuery("label_names"), id="label-names"),
        pytest.param('label_names({job="a"})', VariableQuery("label_names", match='{job="a"}'), id="label-names-match"),
        pytest.param("label_values(job)", VariableQuery("label_values", label="job"), id="label-values"),
        pytest.param(
            'label_values(up{job=~"a|b"}, instance)',
            VariableQuery("label_values", label="instance", match='up{job=~"a|b"}'),
            id="label-values-of-selector",
        ),
        pytest.param("metrics(gateway_.*)", VariableQuery("metrics", match="gateway_.*"), id="metrics"),
        pytest.param(
            "query_result(topk(3, up))", VariableQuery("query_result", match="topk(3, up)"), id="query-result"
        ),
        pytest.param('up{job="a"}', VariableQuery("series", match='up{job="a"}'), id="series"),
    ],
)
def test_variable_query_kinds(query: str, parsed: VariableQuery) -> None:
    assert parse_variable_query(query) == parsed


def test_regex_capture_group_named_groups_and_global_flag() -> None:
    items = [(t, t) for t in ['up{instance="a:1",job="x"} 1 1', 'up{instance="b:2",job="y"} 1 1']]
    assert apply_regex(items, '/instance="([^"]+)"/') == [("a:1", "a:1"), ("b:2", "b:2")]
    named = apply_regex(items, '/instance="(?<value>[^:]+):(?<text>[^"]+)"/')
    assert named == [("1", "a"), ("2", "b")]
    assert apply_regex([("a1b2", "a1b2")], "/(\\d)/g") == [("1", "1"), ("2", "2")]
    assert apply_regex([("x", "x"), ("y", "y")], "/^x$/") == [("x", "x")]  # no group: keep what matches
    assert apply_regex([("X", "X")], "/x/i") == [("X", "X")]
    assert js_regex("/a.b/").pattern == "a.b"


def test_sort_orders() -> None:
    options = [(t, t) for t in ("b10", "a2", "B1")]
    assert [t for t, _ in sort_options(options, 0)] == ["b10", "a2", "B1"]
    assert [t for t, _ in sort_options(options, 1)] == ["B1", "a2", "b10"]
    assert [t for t, _ in sort_options(options, 4)] == ["b10", "a2", "B1"]  # numerical, descending
    assert [t for t, _ in sort_options(options, 5)] == ["a2", "B1", "b10"]  # case-insensitive
    assert [t for t, _ in sort_options([(t, t) for t in ("x10", "x9")], 7)] == ["x9", "x10"]  # natural


def test_custom_options() -> None:
    assert custom_options("a, b ,c") == [("a", "a"), ("b", "b"), ("c", "c")]
    assert custom_options("Prod : prod-eu,Dev : dev") == [("Prod", "prod-eu"), ("Dev", "dev")]
    assert custom_options("a\\,b,c") == [("a,b", "a,b"), ("c", "c")]


def _var(**kw: object) -> TemplateVariable:
    base: dict[str, object] = {"name": "v", "type": "query", "query": ""}
    base.update(kw)
    return TemplateVariable(**base)  # type: ignore[arg-type]


def test_current_value_is_the_saved_one_when_still_an_option() -> None:
    options = [("a", "a"), ("b", "b")]
    assert select_current(_var(current=("b",)), options).values == ("b",)
    # gone from the options: the first option, as Grafana does
    assert select_current(_var(current=("zzz",)), options).values == ("a",)
    # multi: keep what is still there
    assert select_current(_var(multi=True, current=("b", "zzz")), options).values == ("b",)


def test_all_is_selected_when_saved_or_when_nothing_valid_is_saved() -> None:
    options = [("a", "a"), ("b", "b")]
    saved_all = select_current(_var(multi=True, include_all=True, current=(ALL,)), options)
    assert (saved_all.is_all, saved_all.values) == (True, ("a", "b"))
    fallback = select_current(_var(include_all=True, current=("gone",)), options)
    assert fallback.is_all


def test_variables_that_need_no_server() -> None:
    dashboard = parse_dashboard(
        {
            "title": "t",
            "panels": [],
            "templating": {
                "list": [
                    {"name": "env", "type": "custom", "query": "prod,dev", "current": {"value": "dev"}},
                    {"name": "k", "type": "constant", "query": "42"},
                    {"name": "q", "type": "textbox", "query": "default", "current": {"value": "typed"}},
                    {
                        "name": "w",
                        "type": "interval",
                        "query": "1m,5m",
                        "auto": True,
                        "auto_count": 10,
                        "auto_min": "10s",
                        "current": {"value": "$__auto_interval_w"},
                    },
                    {"name": "ds", "type": "datasource", "query": "prometheus"},
                    {"name": "f", "type": "adhoc"},
                    {"name": "inst", "type": "query", "query": "label_values(up, instance)"},
                ]
            },
        },
        "vars.json",
    )
    resolved = resolve_variables(dashboard, None, TimeRange(0, 3600))
    assert resolved["env"].value.values == ("dev",)
    assert resolved["k"].value.values == ("42",)
    assert resolved["q"].value.values == ("typed",)
    assert resolved["w"].value.values == ("5m",)  # auto: 1 h / 10 = 6 min, rounded by Grafana to 5 m
    assert resolved["ds"].value.values == ("default",)
    assert resolved["f"].skipped and not resolved["f"].empty
    assert resolved["inst"].skipped == "no Prometheus given"


def test_a_variable_of_another_datasource_is_skipped_with_why() -> None:
    dashboard = parse_dashboard(
        {
            "title": "t",
            "panels": [],
            "templating": {
                "list": [{"name": "app", "type": "query", "datasource": {"type": "loki", "uid": "l"}, "query": "x"}]
            },
        },
        "loki.json",
    )
    assert resolve_variables(dashboard, None, TimeRange(0, 60))["app"].skipped == (
        "datasource type 'loki' is not Prometheus"
    )


def test_variables_on_an_import_input_resolve_on_the_prometheus_checked() -> None:
    """A community export's variables name their datasource as ${DS_PROMETHEUS} (as a name or as a uid)."""
    dashboard = load_dashboard(
        Path(__file__).parents[1] / "fixtures" / "dashboards" / "community" / "node_host_overview.json"
    )
    resolved = resolve_variables(dashboard, RecordedPrometheus(), TimeRange(0, 3600))
    assert resolved["job"].value.values == ("node",)
    assert resolved["node"].query == 'label_values(node_uname_info{job="node"}, instance)'
    assert resolved["node"].value.values == ("localhost:9100",)
    assert resolved["device"].value.is_all


def test_a_variable_on_an_input_of_another_plugin_is_skipped_with_why() -> None:
    dashboard = parse_dashboard(
        {
            "__inputs": [{"name": "DS_LOKI", "type": "datasource", "pluginId": "loki"}],
            "title": "t",
            "panels": [],
            "templating": {"list": [{"name": "app", "type": "query", "datasource": "${DS_LOKI}", "query": "x"}]},
        },
        "loki.json",
    )
    assert resolve_variables(dashboard, None, TimeRange(0, 60))["app"].skipped == (
        "datasource type 'loki' is not Prometheus"
    )
