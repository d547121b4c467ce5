"""Grafana health against a fake Grafana answering as its HTTP API documents (Grafana cannot run on
this machine): green when healthy; each check fails on a broken Grafana; wrong credentials are UNKNOWN
and the secret never appears in any output."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from obs_tests.clients.grafana import GrafanaCredentials
from obs_tests.config.contract import Contract, load_contract
from obs_tests.health import HealthReport, HealthSettings, Status, run_health
from obs_tests.health.grafana_checks import contract_dashboards

from .conftest import TOKEN, FakeApi, Route, grafana_api

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def contract() -> Contract:
    return load_contract(ROOT / "obs.yaml")


@pytest.fixture
def grafana(serve: Callable[[FakeApi], FakeApi], contract: Contract) -> FakeApi:
    uids = [str(d.uid) for d in contract_dashboards(contract.files.dashboards)]
    return serve(grafana_api(uids))


def _run(prometheus: FakeApi, grafana_url: str, contract: Contract | None, token: str = TOKEN) -> HealthReport:
    settings = HealthSettings(
        prometheus_url=prometheus.url,
        grafana_url=grafana_url,
        grafana=GrafanaCredentials(token=token),
        contract=contract,
        timeout=2.0,
    )
    return run_health(settings)


def _check(report: HealthReport, name: str) -> tuple[Status, str]:
    [check] = [c for c in report.checks if c.name == name]
    return check.status, "\n".join([check.summary, *(str(p) for p in check.problems)])


def test_healthy_grafana_is_ok(prometheus: FakeApi, grafana: FakeApi, contract: Contract) -> None:
    report = _run(prometheus, grafana.url, contract)
    assert _check(report, "grafana.api") == (Status.OK, f"Grafana 10.4.2 at {grafana.url}: database ok")
    assert _check(report, "grafana.datasources") == (Status.OK, "1 Prometheus datasource(s) healthy: Prometheus")
    status, text = _check(report, "grafana.dashboards")
    assert status is Status.OK
    assert text.startswith(f"{len(contract_dashboards(contract.files.dashboards))} contract dashboard(s) present")
    assert "GET /api/datasources/uid/prometheus/health" in grafana.requests
    assert all(r.startswith("GET ") for r in grafana.requests)


def _database_failing(api: FakeApi) -> None:
    api.routes["/api/health"] = Route(503, {"commit": "abc", "database": "failing", "version": "10.4.2"})


def _datasource_failing(api: FakeApi) -> None:
    api.routes["/api/datasources/uid/prometheus/health"] = Route(
        400,
        {
            "status": "ERROR",
            "message": 'Post "http://prometheus:9090/api/v1/query": dial tcp: lookup prometheus: no such host',
        },
    )


def _no_prometheus_datasource(api: FakeApi) -> None:
    api.routes["/api/datasources"] = Route(body=[{"uid": "testdata", "name": "TestData", "type": "testdata"}])


def _dashboard_missing(api: FakeApi) -> None:
    del api.routes["/api/dashboards/uid/obs-gateway"]
    api.routes["/api/search"].body = [d for d in api.json("/api/search") if d["uid"] != "obs-gateway"]


CASES = [
    pytest.param(_database_failing, "grafana.api", "database failing (HTTP 503)", id="database"),
    pytest.param(
        _datasource_failing,
        "grafana.datasources",
        "datasource Prometheus (uid prometheus): health check failed (HTTP 400, status ERROR): Post",
        id="datasource-health",
    ),
    pytest.param(_no_prometheus_datasource, "grafana.datasources", "no Prometheus datasource", id="no-datasource"),
    pytest.param(_dashboard_missing, "grafana.dashboards", "not found in Grafana by uid obs-gateway", id="dashboard"),
]


@pytest.mark.parametrize(("mutate", "check", "fragment"), CASES)
def test_grafana_check_fails_on_broken_input(
    prometheus: FakeApi,
    grafana: FakeApi,
    contract: Contract,
    mutate: Callable[[FakeApi], None],
    check: str,
    fragment: str,
) -> None:
    assert _check(_run(prometheus, grafana.url, contract), check)[0] is Status.OK
    mutate(grafana)
    report = _run(prometheus, grafana.url, contract)
    status, text = _check(report, check)
    assert status is Status.CRITICAL, text
    assert fragment in text
    assert report.exit_code == 2


def test_wrong_token_is_unknown_and_never_shown(prometheus: FakeApi, grafana: FakeApi, contract: Contract) -> None:
    wrong = "wrong-secret-token-5678"
    report = _run(prometheus, grafana.url, contract, token=wrong)
    status, text = _check(report, "grafana.api")
    assert status is Status.UNKNOWN
    assert "Grafana at" in text
    assert "refused our credentials (HTTP 401" in text
    assert report.exit_code == 3
    everything = report.to_text() + json.dumps(report.to_json())
    assert wrong not in everything
    assert TOKEN not in everything


def test_unreachable_grafana_is_critical(prometheus: FakeApi, closed_port: int) -> None:
    report = _run(prometheus, f"http://127.0.0.1:{closed_port}", None)
    status, text = _check(report, "grafana.api")
    assert status is Status.CRITICAL
    assert "cannot connect to Grafana" in text


def test_not_grafana_is_unknown(prometheus: FakeApi, serve: Callable[[FakeApi], FakeApi]) -> None:
    fake = serve(FakeApi(routes={"/api/health": Route(200, b"<html>nginx</html>", "text/html")}))
    status, text = _check(_run(prometheus, fake.url, None), "grafana.api")
    assert status is Status.UNKNOWN
    assert "answered HTML" in text


def test_dashboard_without_uid_is_found_by_title(prometheus: FakeApi, grafana: FakeApi, tmp_path: Path) -> None:
    from obs_tests.health.grafana_checks import ExpectedDashboard, GrafanaState, judge_grafana_dashboards  # noqa: PLC0415

    state = GrafanaState("http://g", {}, 200, listed=[{"uid": "x", "title": "Gateway"}])
    found = judge_grafana_dashboards(state, [ExpectedDashboard(None, "Gateway", "gateway.json")])
    assert found.status is Status.OK
    missing = judge_grafana_dashboards(state, [ExpectedDashboard(None, "Agents", "agents.json")])
    assert missing.status is Status.CRITICAL
    assert "not found in Grafana by title (the file has no uid)" in missing.summary
