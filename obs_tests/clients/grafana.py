"""Grafana HTTP API client (plain ``requests``): health, datasources, dashboards, folders, ``/api/ds/query``.

Credentials come from the environment — ``OBS_GRAFANA_TOKEN`` (a service-account token, sent as a bearer
token) or ``OBS_GRAFANA_USER`` + ``OBS_GRAFANA_PASSWORD`` (basic auth); each may instead name a file with
``OBS_GRAFANA_TOKEN_FILE`` / ``OBS_GRAFANA_PASSWORD_FILE``. They are never printed, logged or put in a
message or report.

Example::

    grafana = GrafanaClient.from_env("http://localhost:3000")
    grafana.health()["version"]    # only the fields obs_tests.clients.grafana_api.ENDPOINTS declares
    [ds["name"] for ds in grafana.datasources() if ds["type"] == "prometheus"]
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from obs_tests.clients.base import HttpApi
from obs_tests.clients.grafana_api import ENDPOINTS
from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.core.yamlfile import read_text
from obs_tests.errors import ApiError, GrafanaUnreachable, UsageError

__all__ = ["GrafanaClient", "GrafanaCredentials"]


def _secret(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value:
        return value
    path = env.get(f"{name}_FILE")
    if not path:
        return None
    try:
        return read_text(Path(path), error=UsageError).strip() or None
    except UsageError as exc:
        raise UsageError(f"{name}_FILE: cannot read {exc}") from None


@dataclass(frozen=True)
class GrafanaCredentials:
    """How to authenticate; ``repr`` never shows the secret."""

    token: str | None = None
    user: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        return f"GrafanaCredentials(kind={self.kind!r})"

    @property
    def kind(self) -> str:
        """``token``, ``basic`` or ``anonymous``."""
        if self.token:
            return "token"
        return "basic" if self.user and self.password else "anonymous"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GrafanaCredentials:
        """From ``OBS_GRAFANA_TOKEN`` or ``OBS_GRAFANA_USER``/``OBS_GRAFANA_PASSWORD`` (or their ``_FILE``)."""
        source = os.environ if env is None else env
        token = _secret(source, "OBS_GRAFANA_TOKEN")
        user = source.get("OBS_GRAFANA_USER") or None
        password = _secret(source, "OBS_GRAFANA_PASSWORD")
        if password and not user:
            raise UsageError(
                "OBS_GRAFANA_PASSWORD is set but OBS_GRAFANA_USER is not — set both (e.g. OBS_GRAFANA_USER=admin) "
                "or a token"
            )
        return cls(token=token, user=user, password=password)

    def headers(self) -> dict[str, str]:
        """HTTP headers to send."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def basic(self) -> tuple[str, str] | None:
        """Basic-auth pair, when no token is used."""
        if self.token or not (self.user and self.password):
            return None
        return self.user, self.password


class GrafanaClient(HttpApi):
    """The parts of the Grafana API obs-tests uses."""

    server = "Grafana"
    unreachable = GrafanaUnreachable

    def __init__(self, base_url: str, credentials: GrafanaCredentials | None = None, *, timeout: float = 15.0) -> None:
        self.credentials = credentials or GrafanaCredentials()
        super().__init__(base_url, timeout=timeout, headers=self.credentials.headers(), auth=self.credentials.basic())

    def __repr__(self) -> str:
        return f"GrafanaClient({self.base_url!r}, auth={self.credentials.kind})"

    @classmethod
    def from_env(cls, base_url: str, env: Mapping[str, str] | None = None, *, timeout: float = 15.0) -> GrafanaClient:
        """A client authenticated from the environment (see the module docstring)."""
        return cls(base_url, GrafanaCredentials.from_env(env), timeout=timeout)

    def call(
        self,
        name: str,
        *,
        path: Mapping[str, str] | None = None,
        params: Sequence[tuple[str, str]] = (),
        body: Mapping[str, Any] | None = None,
        expect: tuple[int, ...] = (200,),
    ) -> tuple[int, Any]:
        """Send the request :data:`~obs_tests.clients.grafana_api.ENDPOINTS` declares under ``name``;
        returns (HTTP status, the answer's declared fields — ``None`` when it declares none)."""
        endpoint = ENDPOINTS[name]
        url = endpoint.url(**(path or {}))
        resp = self.request(
            endpoint.method,
            url,
            params=endpoint.query(params) or None,
            json=None if body is None else endpoint.request_body(**body),
            expect=expect,
        )
        error = resp.status_code >= 400
        if not resp.content or not (endpoint.passthrough or (endpoint.error_reads if error else endpoint.reads)):
            return resp.status_code, None  # nothing of it is read: not even decoded
        return resp.status_code, endpoint.keep(self.decode(resp, url), error=error)

    # -- server ----------------------------------------------------------------------------------
    def health_status(self) -> tuple[int, dict[str, Any]]:
        """``/api/health`` -> (HTTP status, ``{"database": "ok", "version": "11.3.0"}``); 503 is an answer
        (database failing), not an error. No credentials needed."""
        status, result = self.call("health", expect=(200, 503))
        if not isinstance(result, dict) or "database" not in result:
            raise ApiError(f"Grafana at {self.base_url}: /api/health did not answer like Grafana — is this Grafana?")
        return status, result

    def health(self) -> dict[str, Any]:
        """``/api/health``: ``{"database": "ok", "version": "11.3.0"}`` (no auth needed)."""
        return self.health_status()[1]

    def user(self) -> None:
        """``/api/user``: fails with a clear auth error when the credentials are wrong."""
        self.call("user")

    # -- datasources -----------------------------------------------------------------------------
    def datasources(self) -> list[dict[str, Any]]:
        """Every datasource (name, uid, type, url, isDefault, jsonData)."""
        result: list[dict[str, Any]] = self.call("datasources")[1]
        return result

    def datasource_health(self, uid: str) -> tuple[int, dict[str, Any]]:
        """``/api/datasources/uid/<uid>/health`` -> (HTTP status, body with ``status`` and ``message``)."""
        status, body = self.call("datasource_health", path={"uid": uid}, expect=(200, 400, 404, 500, 502, 503))
        return status, body if isinstance(body, dict) else {"message": str(body)}

    def prometheus_via(self, uid: str, *, timeout: float = 15.0) -> PrometheusClient:
        """A Prometheus client that goes through Grafana's datasource proxy (``/api/datasources/proxy/uid/…``)
        — the same server, credentials and network path Grafana uses."""
        return PrometheusClient(
            f"{self.base_url}{ENDPOINTS['proxy_get'].prefix(uid=uid)}",
            timeout=timeout,
            headers=self.credentials.headers(),
            auth=self.credentials.basic(),
        )

    # -- dashboards and folders ------------------------------------------------------------------
    def dashboard(self, uid: str) -> dict[str, Any] | None:
        """``{"dashboard": {...}, "meta": {"provisioned": ...}}`` or None when there is no dashboard with that uid."""
        status, result = self.call("dashboard", path={"uid": uid}, expect=(200, 404))
        return None if status == 404 else result

    def search_dashboards(self, query: str = "", tag: str | None = None) -> list[dict[str, Any]]:
        """``/api/search?type=dash-db``: uid and title of each dashboard."""
        params: list[tuple[str, str]] = [("type", "dash-db"), ("query", query)]
        if tag:
            params.append(("tag", tag))
        result: list[dict[str, Any]] = self.call("search", params=params)[1]
        return result

    def import_dashboard(
        self, dashboard: Mapping[str, Any], *, folder_uid: str | None = None, overwrite: bool = True
    ) -> dict[str, Any]:
        """Save a dashboard model through ``/api/dashboards/db`` (``id`` is cleared); returns Grafana's answer
        (uid, url, status, version)."""
        model = dict(dashboard)
        model["id"] = None
        body: dict[str, Any] = {"dashboard": model, "overwrite": overwrite, "message": "obs-tests import check"}
        if folder_uid:
            body["folderUid"] = folder_uid
        status, answer = self.call("save_dashboard", body=body, expect=(200, 400, 412, 422))
        if status != 200:
            message = answer.get("message", answer) if isinstance(answer, dict) else answer
            raise ApiError(f"Grafana refused to save dashboard '{model.get('title')}': {message}")
        result: dict[str, Any] = answer
        return result

    def delete_dashboard(self, uid: str) -> None:
        """Delete a dashboard (no error when it is already gone)."""
        self.call("delete_dashboard", path={"uid": uid}, expect=(200, 404))

    def ensure_folder(self, uid: str, title: str) -> None:
        """Create the folder unless it exists."""
        if self.call("folder", path={"folder_uid": uid}, expect=(200, 404))[0] == 200:
            return
        self.call("create_folder", body={"uid": uid, "title": title}, expect=(200, 409, 412))

    def delete_folder(self, uid: str) -> None:
        """Delete a folder and what is in it (no error when it is gone)."""
        self.call("delete_folder", path={"folder_uid": uid}, expect=(200, 404))

    # -- queries ---------------------------------------------------------------------------------
    def ds_query(self, queries: Sequence[Mapping[str, Any]], start_ms: int, end_ms: int) -> dict[str, Any]:
        """``POST /api/ds/query``: run queries through Grafana (it expands its own macros); returns
        ``results`` by refId, each with ``frames`` or an ``error``."""
        body = {"queries": list(queries), "from": str(start_ms), "to": str(end_ms)}
        status, answer = self.call("ds_query", body=body, expect=(200, 207, 400, 422, 500))
        if not isinstance(answer, dict) or "results" not in answer:
            message = answer.get("message", answer) if isinstance(answer, dict) else answer
            raise ApiError(f"Grafana /api/ds/query answered HTTP {status}: {message}")
        results: dict[str, Any] = answer["results"]
        return results
