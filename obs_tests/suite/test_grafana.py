"""Grafana, live (marker ``grafana``: runs when a Grafana URL is given, skipped with the reason otherwise):
the server and its Prometheus datasource are healthy, every dashboard file survives a save and read-back
(and the provisioned copy equals the file), every panel query run through Grafana returns data, and in
headless Chromium every panel renders without an error or "No data" (unless declared) — a screenshot per
dashboard goes into the report directory.

Credentials: ``OBS_GRAFANA_TOKEN`` or ``OBS_GRAFANA_USER``/``OBS_GRAFANA_PASSWORD`` (the browser needs the
user and password). ``OBS_GRAFANA_DATASOURCE`` picks the Prometheus datasource (default: Grafana's default).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from obs_tests.checks.grafana_live import (
    GrafanaDatasource,
    check_datasource_health,
    check_health,
    compare_dashboards,
    expected_titles,
    prometheus_datasource,
    run_dashboard_via_grafana,
)
from obs_tests.checks.panel_findings import check_report
from obs_tests.checks.panel_results import DashboardReport
from obs_tests.clients.grafana import GrafanaClient
from obs_tests.config.contract import Contract
from obs_tests.core.findings import Finding
from obs_tests.dashboards.browser import browser_available, chromium, grafana_login, open_dashboard
from obs_tests.dashboards.dashboard_json import dashboard_files, parse_dashboard, read_dashboard_json
from obs_tests.dashboards.dashboard_model import Dashboard
from obs_tests.dashboards.templating import TimeRange
from obs_tests.dashboards.variables import resolve_variables
from obs_tests.suite.report_fixtures import FindingsJudge
from obs_tests.suite.session_settings import session_contract

pytestmark = [pytest.mark.grafana, pytest.mark.integration]

IMPORT_FOLDER = ("obs-tests-import-check", "obs-tests import check (temporary)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "dashboard_file" in metafunc.fixturenames:
        files = dashboard_files(session_contract(metafunc.config).files.dashboards)
        metafunc.parametrize("dashboard_file", files, ids=[f.stem for f in files])


@pytest.fixture(scope="module")
def prometheus_source(grafana: GrafanaClient) -> GrafanaDatasource:
    return prometheus_datasource(grafana.datasources(), os.environ.get("OBS_GRAFANA_DATASOURCE") or None)


def _load(path: Path) -> tuple[dict[str, Any], Dashboard]:
    model = read_dashboard_json(path)
    model = model["dashboard"] if "dashboard" in model and "panels" not in model else model
    return model, parse_dashboard(model, str(path))


@pytest.fixture
def imported(grafana: GrafanaClient) -> Iterator[list[str]]:
    """uids of temporary dashboard copies, deleted (with their folder) after the test."""
    uids: list[str] = []
    yield uids
    for uid in uids:
        grafana.delete_dashboard(uid)
    if uids:
        grafana.delete_folder(IMPORT_FOLDER[0])


def test_grafana_healthy(
    grafana: GrafanaClient, obs_summary: Callable[[str], None], obs_findings: FindingsJudge
) -> None:
    health = grafana.health()
    obs_summary(f"Grafana {health.get('version', '?')} at {grafana.base_url}: database {health.get('database')}")
    obs_findings(check_health(health))


def test_prometheus_datasource_healthy(
    grafana: GrafanaClient,
    prometheus_source: GrafanaDatasource,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """The datasource's own health check: Grafana can query Prometheus."""
    status, body = grafana.datasource_health(prometheus_source.uid)
    obs_summary(f"datasource '{prometheus_source.name}': {body.get('message', status)}")
    obs_findings(check_datasource_health(prometheus_source, status, body))


def test_dashboard_saved_and_read_back(
    dashboard_file: Path,
    grafana: GrafanaClient,
    imported: list[str],
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """A copy saved through /api/dashboards/db reads back unchanged; a provisioned copy equals the file."""
    model, dashboard = _load(dashboard_file)
    findings: list[Finding] = []
    notes = []
    if dashboard.uid:
        existing = grafana.dashboard(dashboard.uid)
        if existing is not None:
            provisioned = bool(existing.get("meta", {}).get("provisioned"))
            findings += compare_dashboards(f"{dashboard.label} in Grafana", model, existing["dashboard"])
            notes.append("provisioned copy identical" if provisioned else "saved copy identical")
    grafana.ensure_folder(*IMPORT_FOLDER)
    copy = {**model, "uid": f"obs-import-{dashboard.uid or dashboard_file.stem}"[:40]}
    imported.append(copy["uid"])
    grafana.import_dashboard(copy, folder_uid=IMPORT_FOLDER[0])
    back = grafana.dashboard(copy["uid"])
    if back is None:
        findings.append(Finding("grafana", dashboard.label, "saved through /api/dashboards/db but cannot be read back"))
    else:
        findings += compare_dashboards(f"{dashboard.label} imported", copy, back["dashboard"])
        notes.append("import read back identical")
    obs_summary(f"{dashboard.label}: {', '.join(notes)}")
    obs_findings(findings)


def test_panels_query_through_grafana(
    dashboard_file: Path,
    grafana: GrafanaClient,
    prometheus_source: GrafanaDatasource,
    contract: Contract,
    obs_report: dict[str, Any],
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """Every panel query sent through Grafana's /api/ds/query returns data (or is declared empty)."""
    _model, dashboard = _load(dashboard_file)
    report = run_dashboard_via_grafana(grafana, dashboard, prometheus_source)
    findings = check_report(report, contract.dashboards.expected_empty)
    obs_report.setdefault("grafana_dashboards", {})[dashboard_file.name] = report.to_json()
    counts = report.counts()
    obs_summary(
        f"{dashboard.label} via Grafana: {counts.get('data', 0)}/{sum(counts.values())} panels with data, "
        f"{len(report.executed)} queries"
    )
    obs_findings(findings)


@pytest.mark.browser
def test_dashboard_renders_in_browser(
    dashboard_file: Path,
    grafana: GrafanaClient,
    prometheus_source: GrafanaDatasource,
    contract: Contract,
    imported: list[str],
    obs_report: dict[str, Any],
    obs_report_dir: Path,
    obs_summary: Callable[[str], None],
    tmp_path: Path,
    obs_findings: FindingsJudge,
) -> None:
    """Headless Chromium logs in, opens the dashboard and waits for every panel: none shows an error or
    "No data" unless declared; a screenshot is saved (reports/grafana/<uid>.png)."""
    problem = browser_available()
    if problem:
        pytest.skip(f"browser check: {problem}")
    credentials = grafana.credentials
    if credentials.kind != "basic" or not credentials.user or not credentials.password:
        pytest.skip("browser check: logging in needs OBS_GRAFANA_USER and OBS_GRAFANA_PASSWORD (a token is API-only)")
    model, dashboard = _load(dashboard_file)
    uid = dashboard.uid or ""
    if not uid or grafana.dashboard(uid) is None:
        grafana.ensure_folder(*IMPORT_FOLDER)
        uid = f"obs-import-{dashboard.uid or dashboard_file.stem}"[:40]
        imported.append(uid)
        grafana.import_dashboard({**model, "uid": uid}, folder_uid=IMPORT_FOLDER[0])
    span = TimeRange.parse(dashboard.time_from, dashboard.time_to)
    names = {prometheus_source.name: "prometheus", prometheus_source.uid: "prometheus"}
    variables = resolve_variables(dashboard, grafana.prometheus_via(prometheus_source.uid), span, datasources=names)
    titles = expected_titles(DashboardReport(dashboard, span, variables))
    shots = obs_report_dir / "grafana"
    shots.mkdir(parents=True, exist_ok=True)
    with chromium(profile_parent=tmp_path) as driver:
        grafana_login(driver, grafana.base_url, credentials.user, credentials.password)
        try:
            states = open_dashboard(driver, grafana.base_url, uid, titles)
        finally:
            driver.save_screenshot(str(shots / f"{uid}.png"))
    declared = {e.panel for e in contract.dashboards.expected_empty if dashboard.matches(e.dashboard)}
    findings = []
    for state in states:
        if state.error:
            findings.append(
                Finding("grafana-ui", f"{dashboard.label} panel '{state.title}'", f"shows an error: {state.error}")
            )
        elif state.no_data and not any(state.title.startswith(t) for t in declared):
            findings.append(
                Finding("grafana-ui", f"{dashboard.label} panel '{state.title}'", f'shows "{state.no_data}"')
            )
    obs_report.setdefault("grafana_screenshots", {})[uid] = str(shots / f"{uid}.png")
    obs_summary(f"{dashboard.label}: {len(states)} panels rendered in Chromium, screenshot {shots / f'{uid}.png'}")
    obs_findings(findings)
