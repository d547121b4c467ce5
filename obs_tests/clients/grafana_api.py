"""The Grafana HTTP API as obs-tests uses it, declared once.

Every request :class:`~obs_tests.clients.grafana.GrafanaClient` sends is an :class:`Endpoint` of
:data:`ENDPOINTS`: its method, path template, query parameters and body fields, and the response fields
obs-tests reads. The client builds each request from its entry (an undeclared body field raises) and keeps
only the declared fields of each answer (:meth:`Endpoint.keep`), so this table is what obs-tests really
sends and reads. ``tests/clients/test_grafana_conformance.py`` checks it against the facts recorded from
Grafana's published OpenAPI specification (``tests/fixtures/grafana/openapi-facts.json``).

Field paths: ``a.b`` a nested field, ``[]`` every item of an array, ``*`` every value of a map; a field
with nothing below it is kept whole.

Example::

    ENDPOINTS["dashboard"].url(uid="obs-gateway")        # '/api/dashboards/uid/obs-gateway'
    ENDPOINTS["health"].keep({"database": "ok", "version": "11.3.0", "commit": "x"})
    # {'database': 'ok', 'version': '11.3.0'}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

__all__ = ["ENDPOINTS", "Endpoint", "field_tokens"]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")
_Tree = dict[str, "_Tree"]


def field_tokens(field: str) -> list[str]:
    """``"results.*.frames[].data"`` -> ``["results", "*", "frames", "[]", "data"]``."""
    tokens: list[str] = []
    for part in field.split("."):
        name = part.removesuffix("[]")
        if name:
            tokens.append(name)
        tokens.extend(["[]"] * ((len(part) - len(name)) // 2))
    return tokens


def _tree(fields: Iterable[str]) -> _Tree:
    root: _Tree = {}
    for field in fields:
        node = root
        for token in field_tokens(field):
            node = node.setdefault(token, {})
    return root


def _project(value: Any, tree: _Tree) -> Any:
    if not tree:
        return value
    if "[]" in tree and isinstance(value, list):
        return [_project(item, tree["[]"]) for item in value]
    if "*" in tree and isinstance(value, dict):
        return {key: _project(item, tree["*"]) for key, item in value.items()}
    if isinstance(value, dict):
        return {key: _project(value[key], sub) for key, sub in tree.items() if key in value}
    return value  # not the declared shape: left for the caller's own check to report


@dataclass(frozen=True)
class Endpoint:
    """One request obs-tests sends to Grafana and what it reads from the answer."""

    name: str
    method: str
    #: OpenAPI path template, ``/api`` included: ``/api/dashboards/uid/{uid}``
    path: str
    params: tuple[str, ...] = ()
    body: tuple[str, ...] = ()
    #: fields read from a successful answer (``()``: only the status code is used)
    reads: tuple[str, ...] = ()
    #: fields read from an error answer (HTTP >= 400)
    error_reads: tuple[str, ...] = ()
    #: the answer is not Grafana's own (the datasource proxy answers as the datasource): not projected
    passthrough: bool = False

    @property
    def placeholders(self) -> list[str]:
        """Names of the path's ``{placeholders}``."""
        return _PLACEHOLDER.findall(self.path)

    def url(self, **values: str) -> str:
        """The path with every placeholder filled in (URL-quoted)."""
        missing = [p for p in self.placeholders if p not in values]
        if missing or set(values) - set(self.placeholders):
            raise ValueError(f"{self.name}: path {self.path} takes {self.placeholders}, got {sorted(values)}")
        return _PLACEHOLDER.sub(lambda m: quote(values[m.group(1)], safe=""), self.path)

    def prefix(self, **values: str) -> str:
        """The path up to its last placeholder, the others filled in (a base URL for a proxied API)."""
        head, _, _ = self.path.rpartition("/{")
        return Endpoint(self.name, self.method, head).url(**values)

    def query(self, pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Query parameters, each one declared."""
        out = list(pairs)
        unknown = sorted({k for k, _ in out} - set(self.params))
        if unknown:
            raise ValueError(f"{self.name}: query parameters {unknown} are not declared in ENDPOINTS")
        return out

    def request_body(self, **fields: Any) -> dict[str, Any]:
        """The JSON body, each field declared."""
        unknown = sorted(set(fields) - set(self.body))
        if unknown:
            raise ValueError(f"{self.name}: body fields {unknown} are not declared in ENDPOINTS")
        return dict(fields)

    def keep(self, answer: Any, *, error: bool = False) -> Any:
        """Only the declared fields of ``answer`` (of an error answer with ``error=True``)."""
        if self.passthrough:
            return answer
        fields = self.error_reads if error else self.reads
        if not fields:
            return {} if isinstance(answer, dict) else answer
        return _project(answer, _tree(fields))


def _table(*endpoints: Endpoint) -> Mapping[str, Endpoint]:
    return {e.name: e for e in endpoints}


#: Every Grafana request obs-tests sends, by name.
ENDPOINTS: Mapping[str, Endpoint] = _table(
    # 503 (database failing) answers the same fields
    Endpoint("health", "GET", "/api/health", reads=("database", "version"), error_reads=("database", "version")),
    Endpoint("user", "GET", "/api/user"),  # the status is what counts: 401/403 raise EndpointAuthError
    Endpoint(
        "datasources",
        "GET",
        "/api/datasources",
        reads=("[].uid", "[].name", "[].type", "[].url", "[].isDefault", "[].jsonData"),
    ),
    Endpoint(
        "datasource_health",
        "GET",
        "/api/datasources/uid/{uid}/health",
        reads=("status", "message"),
        error_reads=("status", "message"),
    ),
    Endpoint("proxy_get", "GET", "/api/datasources/proxy/uid/{uid}/{datasource_proxy_route}", passthrough=True),
    Endpoint("proxy_post", "POST", "/api/datasources/proxy/uid/{uid}/{datasource_proxy_route}", passthrough=True),
    Endpoint("dashboard", "GET", "/api/dashboards/uid/{uid}", reads=("dashboard", "meta.provisioned")),
    Endpoint("search", "GET", "/api/search", params=("type", "query", "tag"), reads=("[].uid", "[].title")),
    Endpoint(
        "save_dashboard",
        "POST",
        "/api/dashboards/db",
        body=("dashboard", "overwrite", "message", "folderUid"),
        reads=("uid", "url", "status", "version"),
        error_reads=("message",),
    ),
    Endpoint("delete_dashboard", "DELETE", "/api/dashboards/uid/{uid}"),
    Endpoint("folder", "GET", "/api/folders/{folder_uid}"),
    Endpoint("create_folder", "POST", "/api/folders", body=("uid", "title")),
    Endpoint("delete_folder", "DELETE", "/api/folders/{folder_uid}"),
    Endpoint(
        "ds_query",
        "POST",
        "/api/ds/query",
        body=("queries", "from", "to"),
        reads=("results.*.error", "results.*.frames[].schema.fields[].type", "results.*.frames[].data.values"),
        error_reads=("message", "results.*.error"),
    ),
)
