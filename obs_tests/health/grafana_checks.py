"""Health of Grafana: ``/api/health`` (server and database), the health endpoint of every Prometheus
datasource, and that the contract's dashboards exist — read-only.

Credentials (``OBS_GRAFANA_TOKEN`` or ``OBS_GRAFANA_USER``/``OBS_GRAFANA_PASSWORD``) are handled by
:class:`~obs_tests.clients.grafana.GrafanaClient` and never appear in a message.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from obs_tests.clients.grafana import GrafanaClient
from obs_tests.dashboards.dashboard_json import dashboard_files, load_dashboards
from obs_tests.health.status import CheckResult, Problem, Status

__all__ = [
    "ExpectedDashboard",
    "GrafanaState",
    "contract_dashboards",
    "fetch_grafana",
    "judge_grafana_api",
    "judge_grafana_dashboards",
    "judge_grafana_datasources",
]


@dataclass(frozen=True)
class ExpectedDashboard:
    """A dashboard the contract ships: its uid (how Grafana finds it), title and file."""

    uid: str | None
    title: str
    source: str


@dataclass
class GrafanaState:
    """What one run fetched from Grafana."""

    url: str
    health: dict[str, Any]
    health_status: int
    datasources: list[dict[str, Any]] = field(default_factory=list)
    #: uid -> (HTTP status, body) of ``/api/datasources/uid/<uid>/health``, Prometheus datasources only
    datasource_health: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    #: uid -> found (``/api/dashboards/uid/<uid>``), for the expected dashboards with a uid
    dashboards: dict[str, bool] = field(default_factory=dict)
    #: every dashboard ``/api/search?type=dash-db`` lists (uid, title)
    listed: list[dict[str, Any]] = field(default_factory=list)


def contract_dashboards(directory: Any) -> list[ExpectedDashboard]:
    """The dashboards of the contract's dashboards directory (raises ConfigInvalid for unreadable files)."""
    return [ExpectedDashboard(d.uid, d.title, d.source) for d in load_dashboards(dashboard_files(directory))]


def fetch_grafana(client: GrafanaClient, expected: Sequence[ExpectedDashboard], workers: int = 8) -> GrafanaState:
    """``/api/health`` first (no credentials needed; errors propagate), then — with the credentials —
    datasources, their health, the dashboard search and each expected dashboard by uid."""
    status, health = client.health_status()
    state = GrafanaState(client.base_url, health, status)
    state.datasources = client.datasources()
    prometheus = [ds for ds in state.datasources if ds.get("type") == "prometheus" and ds.get("uid")]
    uids = [str(e.uid) for e in expected if e.uid]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        ds_health = pool.map(lambda ds: (str(ds["uid"]), client.datasource_health(str(ds["uid"]))), prometheus)
        found = pool.map(lambda uid: (uid, client.dashboard(uid) is not None), uids)
        listed = pool.submit(client.search_dashboards)
        state.datasource_health = dict(ds_health)
        state.dashboards = dict(found)
        state.listed = listed.result()
    return state


def judge_grafana_api(state: GrafanaState) -> CheckResult:
    """Grafana answers ``/api/health`` with its database ok."""
    version = str(state.health.get("version", "?"))
    database = str(state.health.get("database", "?"))
    where = f"Grafana {version} at {state.url}"
    if state.health_status != 200 or database != "ok":
        problem = Problem(
            Status.CRITICAL,
            where,
            f"/api/health: database {database} (HTTP {state.health_status}) — Grafana cannot reach its database",
        )
        return CheckResult.judge("grafana.api", "grafana", "", [problem])
    return CheckResult.judge("grafana.api", "grafana", f"{where}: database ok", [])


def judge_grafana_datasources(state: GrafanaState) -> CheckResult:
    """Grafana has a Prometheus datasource and every one passes its health check."""
    prometheus = [ds for ds in state.datasources if ds.get("type") == "prometheus"]
    problems = []
    if not prometheus:
        kinds = ", ".join(sorted({str(ds.get("type")) for ds in state.datasources})) or "none"
        problems.append(
            Problem(
                Status.CRITICAL,
                "datasources",
                f"Grafana has no Prometheus datasource (datasource types: {kinds}) — dashboards cannot show metrics",
            )
        )
    for ds in prometheus:
        uid = str(ds.get("uid", ""))
        name = str(ds.get("name", uid))
        code, body = state.datasource_health.get(uid, (0, {"message": "no uid: cannot be checked"}))
        status = str(body.get("status", "?"))
        if code != 200 or status.upper() != "OK":
            problems.append(
                Problem(
                    Status.CRITICAL,
                    f"datasource {name} (uid {uid})",
                    f"health check failed (HTTP {code}, status {status}): {body.get('message', 'no message')} — "
                    f"Grafana cannot query Prometheus at {ds.get('url', '?')}",
                    {"datasource": name, "uid": uid, "url": str(ds.get("url", "")), "http_status": code},
                )
            )
    names = ", ".join(str(ds.get("name")) for ds in prometheus)
    return CheckResult.judge(
        "grafana.datasources",
        "grafana",
        f"{len(prometheus)} Prometheus datasource(s) healthy: {names}",
        problems,
        {"grafana_prometheus_datasources": float(len(prometheus))},
    )


def judge_grafana_dashboards(state: GrafanaState, expected: Sequence[ExpectedDashboard]) -> CheckResult:
    """Every dashboard the contract ships exists in Grafana (by uid; by title for one without a uid)."""
    titles = {str(d.get("title", "")) for d in state.listed}
    problems = []
    for dash in expected:
        if dash.uid:
            present = state.dashboards.get(dash.uid, False)
            how = f"uid {dash.uid}"
        else:
            present = dash.title in titles
            how = "title (the file has no uid)"
        if not present:
            problems.append(
                Problem(
                    Status.CRITICAL,
                    f"dashboard '{dash.title}'",
                    f"not found in Grafana by {how} ({dash.source}) — is it provisioned? check Grafana's "
                    "provisioning log",
                    {"uid": dash.uid, "title": dash.title, "file": dash.source},
                )
            )
    if expected:
        ok = f"{len(expected)} contract dashboard(s) present ({len(state.listed)} dashboards in Grafana)"
    else:
        ok = f"{len(state.listed)} dashboards in Grafana (no contract dashboards to look for)"
    return CheckResult.judge(
        "grafana.dashboards", "grafana", ok, problems, {"grafana_dashboards": float(len(state.listed))}
    )
