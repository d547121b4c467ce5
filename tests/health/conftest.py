"""Fake Prometheus, Alertmanager and Grafana HTTP servers answering with responses recorded from the real
servers of the embedded stack (``tests/fixtures/health/``); tests break them to prove each check fails."""

from __future__ import annotations

import copy
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from obs_tests.health.prometheus_state import queries

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "health"
TOKEN = "s3cret-grafana-token-1234"


@dataclass
class Route:
    status: int = 200
    body: Any = None
    content_type: str = "application/json"


@dataclass
class FakeApi:
    """Routes by path; ``/api/v1/query`` answers from ``queries`` (PromQL -> data, default: empty vector)."""

    url: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    queries: dict[str, Any] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    auth: Callable[[dict[str, str]], bool] | None = None
    open_paths: tuple[str, ...] = ()

    def json(self, path: str) -> Any:
        """The JSON body served at ``path`` (mutable)."""
        return self.routes[path].body

    def set_query(self, name: str, result: list[dict[str, Any]], window: str = "10m") -> None:
        """Answer the health query ``name`` with this vector."""
        self.queries[queries(window)[name]] = {"resultType": "vector", "result": result}


def _handler(api: FakeApi) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _answer(self) -> None:
            parts = urlsplit(self.path)
            api.requests.append(f"{self.command} {parts.path}")
            if api.auth is not None and parts.path not in api.open_paths and not api.auth(dict(self.headers)):
                self._send(401, b'{"message": "invalid API key"}', "application/json")
                return
            if parts.path == "/api/v1/query":
                params = parse_qs(parts.query)
                if self.command == "POST":
                    length = int(self.headers.get("Content-Length", 0))
                    params = parse_qs(self.rfile.read(length).decode())
                expr = params.get("query", [""])[0]
                data = api.queries.get(expr, {"resultType": "vector", "result": []})
                if data == "ERROR":
                    error = {
                        "status": "error",
                        "errorType": "execution",
                        "error": "query timed out in expression evaluation",
                    }
                    self._send(503, json.dumps(error).encode(), "application/json")
                    return
                self._send(200, json.dumps({"status": "success", "data": data}).encode(), "application/json")
                return
            route = api.routes.get(parts.path)
            if route is None:
                self._send(404, b"404 page not found", "text/plain")
                return
            body = route.body if isinstance(route.body, bytes) else json.dumps(route.body).encode()
            self._send(route.status, body, route.content_type)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    return Handler


class _Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops concurrent connections (a 1 s SYN retry each)
    daemon_threads = True


@pytest.fixture
def serve() -> Iterator[Callable[[FakeApi], FakeApi]]:
    """Start a server for a FakeApi; stopped at the end of the test."""
    servers: list[tuple[_Server, threading.Thread]] = []

    def start(api: FakeApi) -> FakeApi:
        server = _Server(("127.0.0.1", 0), _handler(api))
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append((server, thread))
        api.url = f"http://127.0.0.1:{server.server_address[1]}"
        return api

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join()


def recorded(name: str) -> Any:
    return json.loads((RECORDED / name).read_text())


def prometheus_api() -> FakeApi:
    """A healthy Prometheus as recorded from the embedded stack."""
    api = FakeApi()
    for path, body in recorded("prometheus_api.json").items():
        api.routes[path] = Route(body=copy.deepcopy(body))
    api.routes["/-/ready"] = Route(body=b"Prometheus Server is Ready.\n", content_type="text/plain")
    # the embedded stack's flag (Prometheus' default is 1m)
    flags = {"rules.alert.resend-delay": "1s", "web.enable-lifecycle": "true"}
    api.routes["/api/v1/status/flags"] = Route(body={"status": "success", "data": flags})
    for name, answer in recorded("prometheus_queries.json").items():
        api.queries[queries("10m")[name]] = answer["data"]
    return api


def alertmanager_api() -> FakeApi:
    """A healthy Alertmanager as recorded from the embedded stack."""
    api = FakeApi()
    for path, body in recorded("alertmanager_api.json").items():
        api.routes[path] = Route(body=copy.deepcopy(body))
    api.routes["/-/ready"] = Route(body=b"OK", content_type="text/plain")
    return api


def grafana_api(dashboard_uids: list[str]) -> FakeApi:
    """A healthy Grafana (10.x answers, per its HTTP API documentation) needing ``TOKEN``."""
    api = FakeApi(open_paths=("/api/health",))
    api.auth = lambda headers: headers.get("Authorization") == f"Bearer {TOKEN}"
    api.routes["/api/health"] = Route(body={"commit": "abc123", "database": "ok", "version": "10.4.2"})
    api.routes["/api/datasources"] = Route(
        body=[
            {"id": 1, "uid": "prometheus", "name": "Prometheus", "type": "prometheus", "url": "http://prometheus:9090"},
            {"id": 2, "uid": "testdata", "name": "TestData", "type": "testdata", "url": ""},
        ]
    )
    api.routes["/api/datasources/uid/prometheus/health"] = Route(
        body={"status": "OK", "message": "Successfully queried the Prometheus API."}
    )
    api.routes["/api/search"] = Route(
        body=[{"uid": uid, "title": uid, "type": "dash-db", "url": f"/d/{uid}"} for uid in dashboard_uids]
    )
    for uid in dashboard_uids:
        api.routes[f"/api/dashboards/uid/{uid}"] = Route(body={"dashboard": {"uid": uid, "title": uid}, "meta": {}})
    return api


@pytest.fixture
def prometheus(serve: Callable[[FakeApi], FakeApi]) -> FakeApi:
    return serve(prometheus_api())


@pytest.fixture
def alertmanager(serve: Callable[[FakeApi], FakeApi]) -> FakeApi:
    return serve(alertmanager_api())
