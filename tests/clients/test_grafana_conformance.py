"""Grafana conformance without a Grafana: every request obs-tests sends (``grafana_api.ENDPOINTS``, the
table the client builds its requests from) is checked against the facts recorded from Grafana's published
OpenAPI specification for the pinned version (``tests/fixtures/grafana/openapi-facts.json``: path and
method, query parameters, request-body fields, the response fields obs-tests reads). The few fields
Grafana sends in another shape than its spec describes are listed there under ``wire_format`` with the
source that shows it; anything else the spec does not have fails the test.

A recording client proves the table is what the code really sends: every request of every
GrafanaClient method matches a table entry.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import requests

from obs_tests.clients import grafana_api
from obs_tests.clients.grafana import GrafanaClient
from obs_tests.clients.grafana_api import Endpoint, field_tokens

FACTS = Path(__file__).parents[1] / "fixtures" / "grafana" / "openapi-facts.json"


def _facts() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(FACTS.read_text())
    return result


def _walk(schema: Mapping[str, Any], tokens: list[str], schemas: Mapping[str, Any]) -> str | None:
    """None when the field exists in ``schema``, else why not."""
    while "$ref" in schema:
        if schema["$ref"] not in schemas:
            return f"schema {schema['$ref']} is not recorded in {FACTS.name}"
        schema = schemas[schema["$ref"]]
    if not tokens:
        return None
    if schema.get("type") == "object" and not {"properties", "additionalProperties", "items"} & set(schema):
        return None  # a free-form object (Json): what is below it is the payload's own
    token, rest = tokens[0], tokens[1:]
    if token == "[]":
        return "not an array" if "items" not in schema else _walk(schema["items"], rest, schemas)
    if token == "*":
        extra = schema.get("additionalProperties")
        return "not a map" if extra is None else _walk(extra, rest, schemas)
    properties = schema.get("properties")
    if properties is None or token not in properties:
        known = ", ".join(sorted(properties or {})) or "none recorded"
        return f"no field {token!r} (fields: {known})"
    return _walk(properties[token], rest, schemas)


def _operation(facts: Mapping[str, Any], method: str, path: str) -> dict[str, Any] | None:
    for section in ("paths", "not_in_openapi"):
        found = facts[section].get(path, {}).get(method.lower())
        if found is not None:
            return dict(found)
    return None


def _field_problems(endpoint: Endpoint, op: Mapping[str, Any], facts: Mapping[str, Any], path: str) -> list[str]:
    schemas = facts["schemas"]
    wire = [w for w in facts["wire_format"] if (w["method"], w["path"]) == (endpoint.method, path)]
    problems = []
    checks = [
        ("sends body field", endpoint.body, op.get("request"), "body"),
        ("reads", endpoint.reads, op.get("response"), "reads"),
        ("reads from an error answer", endpoint.error_reads, op.get("error"), "error_reads"),
    ]
    for what, fields, schema, key in checks:
        documented = [f for w in wire for f in w.get(key, [])]
        for field in fields:
            why = "the spec has no schema here" if schema is None else _walk(schema, field_tokens(field), schemas)
            if why and field not in documented:
                problems.append(f"{endpoint.name}: {endpoint.method} {endpoint.path} {what} {field!r}: {why}")
    return problems


def conformance_problems(facts: Mapping[str, Any]) -> list[str]:
    """What in ``grafana_api.ENDPOINTS`` the pinned Grafana API does not have."""
    version = facts["grafana_version"]
    problems = []
    for endpoint in grafana_api.ENDPOINTS.values():
        path = endpoint.path.removeprefix("/api")
        op = _operation(facts, endpoint.method, path) if endpoint.path.startswith("/api/") else None
        if op is None:
            known = sorted(m.upper() for m in {**facts["paths"], **facts["not_in_openapi"]}.get(path, {}))
            problems.append(
                f"{endpoint.name}: {endpoint.method} {endpoint.path} is not in Grafana {version}'s API "
                f"({facts['openapi']['path']}@{facts['openapi']['commit'][:12]}; methods recorded for this path: "
                f"{known or 'none'}) — check the path in the spec and record it in {FACTS.name}"
            )
            continue
        unknown = [p for p in endpoint.params if p not in op.get("query", [])]
        problems += [f"{endpoint.name}: query parameter {p!r} is not in the spec" for p in unknown]
        if endpoint.passthrough and (endpoint.reads or endpoint.error_reads):
            problems.append(f"{endpoint.name}: a passthrough endpoint cannot declare Grafana fields it reads")
        problems += _field_problems(endpoint, op, facts, path)
    return problems


def test_facts_name_their_source() -> None:
    facts = _facts()
    assert facts["grafana_version"] == "11.3.0"
    compose = (Path(__file__).parents[2] / "docker-compose.yml").read_text()
    assert f"grafana/grafana:{facts['grafana_version']}" in compose, "the facts are for the Grafana compose pins"
    source = facts["openapi"]
    assert source["repo"] == "grafana/grafana" and source["path"] == "public/openapi3.json"
    assert re.fullmatch(r"[0-9a-f]{40}", source["commit"])
    for entry in facts["wire_format"]:
        assert entry["reason"] and entry["source"], entry


def test_every_grafana_request_is_in_the_pinned_spec() -> None:
    assert conformance_problems(_facts()) == []


BROKEN = [
    pytest.param(
        Endpoint("slug", "GET", "/api/dashboards/slug/{slug}"),
        r"slug: GET /api/dashboards/slug/\{slug\} is not in Grafana 11\.3\.0's API .*recorded for this path: none",
        id="path-not-in-spec",
    ),
    pytest.param(
        Endpoint("health", "POST", "/api/health"),
        r"health: POST /api/health is not in Grafana 11.3.0's API .*for this path: \['GET'\]",
        id="method-not-in-spec",
    ),
    pytest.param(
        dataclasses.replace(grafana_api.ENDPOINTS["datasources"], reads=("[].uid", "[].password")),
        r"datasources: GET /api/datasources reads '\[\]\.password': no field 'password' \(fields: access, ",
        id="read-field-not-in-spec",
    ),
    pytest.param(
        dataclasses.replace(grafana_api.ENDPOINTS["dashboard"], reads=("dashboard", "meta.starred")),
        r"reads 'meta\.starred': no field 'starred'",
        id="nested-read-not-in-spec",
    ),
    pytest.param(
        dataclasses.replace(
            grafana_api.ENDPOINTS["ds_query"], reads=(*grafana_api.ENDPOINTS["ds_query"].reads, "results.*.status")
        ),
        r"ds_query: POST /api/ds/query reads 'results\.\*\.status': no field 'results'",
        id="read-not-in-spec-nor-wire-format",
    ),
    pytest.param(
        dataclasses.replace(grafana_api.ENDPOINTS["save_dashboard"], body=("dashboard", "folderTitle")),
        r"save_dashboard: POST /api/dashboards/db sends body field 'folderTitle': no field 'folderTitle'",
        id="body-field-not-in-spec",
    ),
    pytest.param(
        dataclasses.replace(grafana_api.ENDPOINTS["user"], error_reads=("traceId",)),
        r"user: GET /api/user reads from an error answer 'traceId': no field 'traceId'",
        id="error-read-not-in-spec",
    ),
    pytest.param(
        dataclasses.replace(grafana_api.ENDPOINTS["search"], params=("type", "folder")),
        r"search: query parameter 'folder' is not in the spec",
        id="query-parameter-not-in-spec",
    ),
    pytest.param(
        dataclasses.replace(grafana_api.ENDPOINTS["user"], reads=("login",)),
        r"user: GET /api/user reads 'login': schema UserProfileDTO is not recorded",
        id="read-into-unrecorded-schema",
    ),
]


@pytest.mark.parametrize(("entry", "message"), BROKEN)
def test_conformance_fails_on_a_request_the_spec_does_not_have(
    entry: Endpoint, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(grafana_api, "ENDPOINTS", {**grafana_api.ENDPOINTS, entry.name: entry})
    problems = conformance_problems(_facts())
    assert len(problems) == 1 and re.search(message, problems[0]), problems


# -- the client sends what the table says --------------------------------------------------------------
ANSWERS = {
    "/api/health": {"database": "ok", "version": "11.3.0"},
    "/api/datasources": [{"uid": "prom", "name": "Prometheus", "type": "prometheus", "jsonData": {}}],
    "/api/search": [{"uid": "d", "title": "D"}],
    "/api/dashboards/uid/d": {"dashboard": {"uid": "d"}, "meta": {"provisioned": True}},
    "/api/ds/query": {"results": {"A": {"frames": []}}},
    "/api/datasources/proxy/uid/prom/api/v1/query": {
        "status": "success",
        "data": {"resultType": "vector", "result": []},
    },
}


def _stray(seen: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The requests of ``seen`` that no table entry declares."""
    templates = []
    for e in grafana_api.ENDPOINTS.values():
        pattern = re.escape(e.path).replace(re.escape("{datasource_proxy_route}"), ".+")
        templates.append((e.method, re.compile(re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", pattern) + "$")))
    return [(m, p) for m, p in seen if not any(m == tm and rx.match(p) for tm, rx in templates)]


def test_every_client_request_is_a_table_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, str]] = []

    def fake(method: str, path: str) -> requests.Response:
        seen.append((method, path))
        resp = requests.Response()
        resp.status_code = 200
        resp._content = json.dumps(ANSWERS.get(path, {"message": "ok"})).encode()
        return resp

    monkeypatch.setattr(GrafanaClient, "request", lambda self, method, path, **kw: fake(method, path))
    client = GrafanaClient("http://grafana.invalid")
    client.health()
    client.user()
    client.datasource_health("prom")
    client.search_dashboards("q", tag="obs")
    assert client.dashboard("d") == ANSWERS["/api/dashboards/uid/d"]
    client.import_dashboard({"uid": "d", "title": "D"}, folder_uid="f")
    client.delete_dashboard("d")
    client.ensure_folder("f", "F")
    client.delete_folder("f")
    client.ds_query([{"refId": "A"}], 0, 1)
    assert client.datasources()[0]["uid"] == "prom"
    monkeypatch.setattr(
        requests.Session, "request", lambda self, method, url, **kw: fake(method, url.split(".invalid", 1)[1])
    )
    client.prometheus_via("prom").query("up")
    assert ("GET", "/api/datasources/proxy/uid/prom/api/v1/query") in seen
    assert {m for m, _ in seen} == {"GET", "POST", "DELETE"}
    assert _stray(seen) == [], "requests not declared in grafana_api.ENDPOINTS"


def test_a_request_outside_the_table_is_caught() -> None:
    inside = [("GET", "/api/dashboards/uid/d"), ("POST", "/api/datasources/proxy/uid/p/api/v1/query")]
    outside = [("GET", "/api/dashboards/slug/d"), ("PUT", "/api/dashboards/uid/d"), ("GET", "/api/health/x")]
    assert _stray(inside + outside) == outside
