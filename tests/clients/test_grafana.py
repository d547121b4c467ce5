"""The Grafana client: credentials from the environment (token, user/password, files) sent and never
shown, API answers decoded, and errors that say what to check. A scripted local HTTP server stands in for
the API here; the real Grafana is exercised by obs_tests/suite/test_grafana.py against docker-compose."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from obs_tests.clients.grafana import GrafanaClient, GrafanaCredentials
from obs_tests.errors import ApiError, EndpointAuthError, GrafanaUnreachable, UsageError

SECRET = "s3cr3t-token-value"


@dataclass
class Api:
    routes: dict[str, tuple[int, Any]] = field(default_factory=dict)
    seen: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def api() -> Iterator[tuple[str, Api]]:
    state = Api()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            state.seen.append((self.command, self.path, dict(self.headers), body))
            status, payload = state.routes.get(f"{self.command} {self.path.split('?')[0]}", (404, {"message": "nf"}))
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()
    thread.join()


def test_credentials_from_env_and_files(tmp_path: Path) -> None:
    assert GrafanaCredentials.from_env({"OBS_GRAFANA_TOKEN": SECRET}).kind == "token"
    basic = GrafanaCredentials.from_env({"OBS_GRAFANA_USER": "admin", "OBS_GRAFANA_PASSWORD": SECRET})
    assert basic.kind == "basic" and basic.basic() == ("admin", SECRET)
    secret_file = tmp_path / "password"
    secret_file.write_text(SECRET + "\n")
    from_file = GrafanaCredentials.from_env(
        {"OBS_GRAFANA_USER": "admin", "OBS_GRAFANA_PASSWORD_FILE": str(secret_file)}
    )
    assert from_file.password == SECRET
    assert GrafanaCredentials.from_env({}).kind == "anonymous"
    with pytest.raises(UsageError, match="OBS_GRAFANA_PASSWORD is set but OBS_GRAFANA_USER is not"):
        GrafanaCredentials.from_env({"OBS_GRAFANA_PASSWORD": SECRET})
    with pytest.raises(UsageError, match="OBS_GRAFANA_TOKEN_FILE: cannot read"):
        GrafanaCredentials.from_env({"OBS_GRAFANA_TOKEN_FILE": str(tmp_path / "missing")})


def test_secrets_are_never_shown() -> None:
    client = GrafanaClient("http://127.0.0.1:1", GrafanaCredentials(token=SECRET))
    assert SECRET not in repr(client) and SECRET not in repr(client.credentials)
    assert repr(client) == "GrafanaClient('http://127.0.0.1:1', auth=token)"


def test_token_is_sent_as_bearer(api: tuple[str, Api]) -> None:
    url, state = api
    state.routes["GET /api/health"] = (200, {"database": "ok", "version": "11.3.0"})
    client = GrafanaClient(url, GrafanaCredentials(token=SECRET))
    assert client.health()["version"] == "11.3.0"
    assert state.seen[0][2]["Authorization"] == f"Bearer {SECRET}"


def test_wrong_credentials_are_explained_without_the_secret(api: tuple[str, Api]) -> None:
    url, state = api
    state.routes["GET /api/datasources"] = (401, {"message": "invalid API key"})
    with pytest.raises(EndpointAuthError) as caught:
        GrafanaClient(url, GrafanaCredentials(user="admin", password=SECRET)).datasources()
    assert "refused our credentials (HTTP 401 on /api/datasources)" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_not_grafana(api: tuple[str, Api]) -> None:
    url, state = api
    state.routes["GET /api/health"] = (200, {"status": "success"})
    with pytest.raises(ApiError, match="did not answer like Grafana"):
        GrafanaClient(url).health()


def test_unreachable(closed_port: int) -> None:
    with pytest.raises(GrafanaUnreachable, match=f"cannot connect to Grafana at http://127.0.0.1:{closed_port}"):
        GrafanaClient(f"http://127.0.0.1:{closed_port}").health()


def test_dashboards_folders_and_queries(api: tuple[str, Api]) -> None:
    url, state = api
    state.routes.update(
        {
            "GET /api/dashboards/uid/obs-gateway": (200, {"dashboard": {"uid": "obs-gateway"}, "meta": {}}),
            "POST /api/dashboards/db": (200, {"status": "success", "uid": "copy"}),
            "POST /api/ds/query": (200, {"results": {"A": {"status": 200, "frames": []}}}),
            "GET /api/datasources/uid/prometheus/health": (400, {"status": "ERROR", "message": "down"}),
            "POST /api/folders": (200, {"uid": "f"}),
        }
    )
    client = GrafanaClient(url, GrafanaCredentials(token=SECRET))
    assert client.dashboard("obs-gateway") == {"dashboard": {"uid": "obs-gateway"}, "meta": {}}
    assert client.dashboard("missing") is None
    assert client.import_dashboard({"id": 7, "uid": "copy", "title": "t"}, folder_uid="f")["uid"] == "copy"
    saved = json.loads(state.seen[-1][3])
    assert saved["dashboard"]["id"] is None and saved["folderUid"] == "f" and saved["overwrite"] is True
    # only the fields grafana_api.ENDPOINTS declares are kept ("status" is not read)
    assert client.ds_query([{"refId": "A", "expr": "up"}], 1000, 2000) == {"A": {"frames": []}}
    assert json.loads(state.seen[-1][3])["from"] == "1000"
    assert client.datasource_health("prometheus") == (400, {"status": "ERROR", "message": "down"})
    client.ensure_folder("f", "Folder")  # GET 404 -> POST
    assert [s[0] + " " + s[1] for s in state.seen[-2:]] == ["GET /api/folders/f", "POST /api/folders"]
    proxy = client.prometheus_via("prometheus")
    assert proxy.base_url == f"{url}/api/datasources/proxy/uid/prometheus"


def test_refused_save_says_why(api: tuple[str, Api]) -> None:
    url, state = api
    state.routes["POST /api/dashboards/db"] = (412, {"message": "The dashboard has been changed by someone else"})
    with pytest.raises(ApiError, match="refused to save dashboard 't': The dashboard has been changed"):
        GrafanaClient(url).import_dashboard({"uid": "u", "title": "t"})
