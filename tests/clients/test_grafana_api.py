"""The declared Grafana API table: paths filled and quoted, undeclared query parameters and body fields
refused, and answers cut down to the declared fields (so code cannot read a field the table — and with it
the conformance test against Grafana's spec — does not know about)."""

from __future__ import annotations

import pytest

from obs_tests.clients.grafana_api import ENDPOINTS, Endpoint, field_tokens


@pytest.mark.parametrize(
    ("field", "tokens"),
    [
        pytest.param("database", ["database"], id="plain"),
        pytest.param("meta.provisioned", ["meta", "provisioned"], id="nested"),
        pytest.param("[].uid", ["[]", "uid"], id="array-items"),
        pytest.param(
            "results.*.frames[].schema.fields[].type",
            ["results", "*", "frames", "[]", "schema", "fields", "[]", "type"],
            id="map-and-arrays",
        ),
    ],
)
def test_field_tokens(field: str, tokens: list[str]) -> None:
    assert field_tokens(field) == tokens


def test_url_fills_and_quotes_placeholders() -> None:
    assert ENDPOINTS["dashboard"].url(uid="a b/c") == "/api/dashboards/uid/a%20b%2Fc"
    assert ENDPOINTS["health"].url() == "/api/health"
    assert ENDPOINTS["proxy_get"].prefix(uid="prom") == "/api/datasources/proxy/uid/prom"


@pytest.mark.parametrize(
    "values",
    [pytest.param({}, id="missing"), pytest.param({"uid": "x", "org": "1"}, id="extra")],
)
def test_url_refuses_wrong_placeholders(values: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"dashboard: path /api/dashboards/uid/\{uid\} takes \['uid'\]"):
        ENDPOINTS["dashboard"].url(**values)


def test_undeclared_query_parameter_and_body_field_are_refused() -> None:
    search, save = ENDPOINTS["search"], ENDPOINTS["save_dashboard"]
    assert search.query([("type", "dash-db"), ("tag", "obs")]) == [("type", "dash-db"), ("tag", "obs")]
    with pytest.raises(ValueError, match=r"search: query parameters \['starred'\] are not declared"):
        search.query([("starred", "true")])
    assert save.request_body(dashboard={}, overwrite=True) == {"dashboard": {}, "overwrite": True}
    with pytest.raises(ValueError, match=r"save_dashboard: body fields \['folderId'\] are not declared"):
        save.request_body(dashboard={}, folderId=3)


def test_keep_only_the_declared_fields() -> None:
    datasources = [{"uid": "p", "name": "Prom", "type": "prometheus", "password": "x", "jsonData": {"a": 1}}]
    assert ENDPOINTS["datasources"].keep(datasources) == [
        {"uid": "p", "name": "Prom", "type": "prometheus", "jsonData": {"a": 1}}
    ]
    answer = {
        "results": {
            "A": {
                "status": 200,
                "frames": [
                    {"schema": {"name": "up", "fields": [{"name": "t", "type": "time"}]}, "data": {"values": [[1]]}}
                ],
            }
        }
    }
    assert ENDPOINTS["ds_query"].keep(answer) == {
        "results": {"A": {"frames": [{"schema": {"fields": [{"type": "time"}]}, "data": {"values": [[1]]}}]}}
    }
    dashboard = {"dashboard": {"uid": "d", "panels": []}, "meta": {"provisioned": True, "canSave": False}}
    assert ENDPOINTS["dashboard"].keep(dashboard) == {
        "dashboard": {"uid": "d", "panels": []},
        "meta": {"provisioned": True},
    }


def test_keep_error_answers_and_odd_shapes() -> None:
    save = ENDPOINTS["save_dashboard"]
    assert save.keep({"message": "exists", "status": "name-exists"}, error=True) == {"message": "exists"}
    assert ENDPOINTS["delete_dashboard"].keep({"id": 1, "message": "deleted"}) == {}
    assert ENDPOINTS["datasources"].keep({"message": "not a list"}) == {}  # the caller's own check reports it
    assert ENDPOINTS["health"].keep("<html>") == "<html>"
    assert Endpoint("p", "GET", "/api/x", passthrough=True).keep({"anything": 1}) == {"anything": 1}
