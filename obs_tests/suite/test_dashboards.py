"""Dashboards, without Grafana: every file schema-valid and lint-clean, every template variable resolves,
every panel query — Grafana's variables and macros expanded — returns data on the live Prometheus (or is
declared in the contract as expected to be empty), and the metrics they read exist.

On the embedded stack the system under test's ``panel_traffic`` workload runs first (the demo's: valid and
malformed signals), so that rate and latency panels have something to show; against a stack obs-tests does
not own, it only reads.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from obs_tests.checks.dashboard_coverage import check_metric_coverage, dashboard_coverage, dashboard_metric_references
from obs_tests.checks.dashboard_schema import validate_dashboard_file
from obs_tests.checks.dashboard_summary import format_report, summary_line
from obs_tests.checks.dashboards_lint import lint_dashboards
from obs_tests.checks.empty_declarations import check_expectations
from obs_tests.checks.live_queries import run_dashboard, wait_visible
from obs_tests.checks.panel_findings import check_report
from obs_tests.checks.panel_results import DashboardReport
from obs_tests.checks.query_plan import max_step
from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.config.contract import Contract
from obs_tests.core.findings import display_path
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.dashboards.dashboard_json import dashboard_files, load_dashboard
from obs_tests.dashboards.dashboard_model import Dashboard
from obs_tests.stack import EmbeddedStack
from obs_tests.stack.external import ExternalStack
from obs_tests.suite.report_fixtures import FindingsJudge
from obs_tests.suite.session_settings import session_contract
from obs_tests.suite.workloads import run_workload


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "dashboard_file" in metafunc.fixturenames:
        files = dashboard_files(session_contract(metafunc.config).files.dashboards)
        metafunc.parametrize("dashboard_file", files, ids=[f.stem for f in files])


@pytest.fixture(scope="module")
def scrape_interval(stack: EmbeddedStack | ExternalStack, prom: PrometheusClient, contract: Contract) -> float:
    """What Grafana's datasource "Scrape interval" would be: the embedded stack's, or the largest a target has."""
    if isinstance(stack, EmbeddedStack):
        return contract.stack.scrape_interval
    intervals = [t.scrape_interval for t in prom.targets() if t.scrape_interval]
    return max(intervals, default=15.0)


@pytest.fixture(scope="module")
def dashboard_workload(
    stack: EmbeddedStack | ExternalStack, prom: PrometheusClient, contract: Contract, scrape_interval: float
) -> str:
    """Traffic through the system under test so the panels have data (its ``panel_traffic`` workload, on
    the embedded stack only); returns what was done.

    Once that traffic was scraped, it waits until the alert pipeline's first notification was counted and
    until every panel's step-aligned range covers that scrape."""
    system = stack.system if isinstance(stack, EmbeddedStack) else None
    if system is None or "panel_traffic" not in system.workloads:
        return "no workload (the stack is not ours, or its system offers no panel_traffic)"
    assert isinstance(stack, EmbeddedStack)
    outcome = run_workload(stack, prom, "panel_traffic")
    scraped = outcome.scraped_at if outcome.scraped_at is not None else prom.now()
    if "webhook-sink" in stack.components and stack.alertmanager_url:
        wait_for(
            lambda: Poll(bool(prom.query("webhook_sink_notifications_total")), None, "no notification counted yet"),
            timeout=60,
            expected="the webhook sink counted Alertmanager's first (Watchdog) notification",
            bound="first rule evaluation + Alertmanager group_wait + 1 scrape interval",
        )
    dashboards = [load_dashboard(p) for p in dashboard_files(contract.files.dashboards)]
    wait_visible(prom, scraped, max_step(dashboards, scrape_interval))
    return outcome.summary


@pytest.fixture(scope="module")
def table_path(obs_report_dir: Path) -> Path:
    """reports/dashboards.txt, emptied at the start of the run."""
    path = obs_report_dir / "dashboards.txt"
    path.write_text("", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def reports() -> dict[Path, DashboardReport]:
    """Live results per dashboard file (filled by the panel test, read by the coverage test)."""
    return {}


def _dashboard(path: Path) -> Dashboard:
    dashboard, findings = validate_dashboard_file(path)
    if dashboard is None:
        pytest.fail("\n".join(str(f) for f in findings), pytrace=False)
    return dashboard


def test_dashboard_schema(
    dashboard_file: Path, obs_summary: Callable[[str], None], obs_findings: FindingsJudge
) -> None:
    """The JSON parses and matches the schema of what Grafana and obs-tests read."""
    dashboard, findings = validate_dashboard_file(dashboard_file)
    verdict = obs_findings.judge(findings)
    if verdict.errors:
        obs_summary(f"{display_path(dashboard_file)}: {len(verdict.errors)} schema errors")
    elif dashboard is not None:
        obs_summary(f"{display_path(dashboard_file)}: schema-valid, {len(dashboard.data_panels)} panels")
    obs_findings.require(verdict)


def test_dashboard_lint(
    dashboard_file: Path,
    contract: Contract,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """Datasource variable, unique uid, titles, units, $__rate_interval, job/instance variables used,
    unique panel ids, no data panel without a query."""
    dashboard = _dashboard(dashboard_file)
    others = [load_dashboard(p) for p in dashboard_files(contract.files.dashboards) if p != dashboard_file]
    findings = [f for f in lint_dashboards([dashboard, *others]) if dashboard.label in f.subject]
    verdict = obs_findings.judge(findings)
    obs_summary(
        f"{dashboard.label}: "
        + (f"{len(verdict.errors)} lint errors" if verdict.errors else "lint-clean")
        + f", {len(verdict.warnings)} warnings"
    )
    obs_findings.require(verdict)


@pytest.mark.integration
def test_dashboard_panels_show_data(
    dashboard_file: Path,
    prom: PrometheusClient,
    contract: Contract,
    scrape_interval: float,
    dashboard_workload: str,
    reports: dict[Path, DashboardReport],
    obs_report: dict[str, Any],
    table_path: Path,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """Every template variable resolves to a value and every panel query returns data (or is declared
    under dashboards.expected_empty) on the live Prometheus; the table goes to reports/dashboards.txt."""
    dashboard = _dashboard(dashboard_file)
    report = run_dashboard(
        dashboard, prom, scrape_interval=scrape_interval, expected_empty=contract.dashboards.expected_empty
    )
    findings = check_report(report, contract.dashboards.expected_empty)
    reports[dashboard_file] = report
    obs_report.setdefault("dashboards", {})[dashboard_file.name] = report.to_json()
    with table_path.open("a", encoding="utf-8") as out:
        out.write(format_report(report) + "\n\n")
    verdict = obs_findings.judge(findings)
    obs_summary(summary_line(report, verdict.errors, dashboard_workload))
    obs_findings.require(verdict)


def test_dashboard_expectations_name_real_panels(
    contract: Contract, obs_summary: Callable[[str], None], obs_findings: FindingsJudge
) -> None:
    """Every dashboards.expected_empty entry of the contract names an existing dashboard and panel."""
    dashboards = [load_dashboard(p) for p in dashboard_files(contract.files.dashboards)]
    findings = check_expectations(dashboards, contract.dashboards.expected_empty)
    verdict = obs_findings.judge(findings)
    total = len(contract.dashboards.expected_empty)
    obs_summary(
        f"{len(verdict.errors)} of {total} dashboards.expected_empty entries name no existing panel or query"
        if verdict.errors
        else f"{total} dashboards.expected_empty entries name existing panels"
    )
    obs_findings.require(verdict)


@pytest.mark.integration
def test_dashboards_coverage(
    prom: PrometheusClient,
    contract: Contract,
    reports: dict[Path, DashboardReport],
    obs_report: dict[str, Any],
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """Metrics the dashboards read exist in Prometheus; panels with data / panels checked (report section)."""
    dashboards = [load_dashboard(p) for p in dashboard_files(contract.files.dashboards)]
    refs, problems = dashboard_metric_references(dashboards, contract.dashboards.expected_empty)
    exported = prom.metric_names()
    section = dashboard_coverage(list(reports.values()), refs, exported)
    section["unparsed"] = problems
    obs_report["dashboards_coverage"] = section
    verdict = obs_findings.judge(check_metric_coverage(section["metrics_missing"], list(reports.values()), exported))
    declared = section["panels_declared_empty"]
    obs_summary(
        (
            f"{len(verdict.errors) + len(verdict.warnings)} of the {section['metrics_referenced']} metrics the "
            f"dashboards read are not in Prometheus ({len(verdict.errors)} errors)"
            if verdict.errors
            else f"dashboards read {section['metrics_referenced']} metrics"
            + (f", {len(verdict.warnings)} not in Prometheus (warnings)" if verdict.warnings else ", all in Prometheus")
        )
        + f"; {section['panels_with_data']}/{section['panels_total']} panels with data"
        + (f", {declared} panel{'s' if declared != 1 else ''} declared empty" if declared else "")
    )
    obs_findings.require(verdict)
