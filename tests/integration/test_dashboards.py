"""Dashboards on the real Prometheus of the session's embedded stack: every bundled panel shows data after
a workload (or is declared), Locust's offered load reaches the load dashboard, and every way a dashboard
can be wrong — a misspelled metric, a label value nobody has, a syntax error, a variable without values —
is reported with the panel, the reason and the fix; dashboards obs-tests did not write never crash it.
The suite runs as users run it (`obs-tests check -k dashboard`), passing on the repository and failing on
a broken copy; the Grafana suite skips with its reason when no Grafana URL is given."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from obs_tests.checks.live_queries import run_dashboard, wait_visible
from obs_tests.checks.panel_findings import check_report, check_variables
from obs_tests.checks.panel_results import DashboardReport, QueryResult
from obs_tests.checks.query_plan import max_step
from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.config.contract import Contract
from obs_tests.core.findings import format_findings
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.dashboards.dashboard_json import dashboard_files, load_dashboard, parse_dashboard
from obs_tests.dashboards.dashboard_model import Dashboard
from obs_tests.demo.traffic import mixed_workload, send_concurrently
from obs_tests.demo.workload import wait_drained, wait_scraped_after
from obs_tests.stack import EmbeddedStack
from obs_tests.suite.plugin import LoadFixture

from .helpers import CONTRACT, ROOT, check_stack_of_yours, obs_tests

pytestmark = [pytest.mark.stack, pytest.mark.slow]

FIXTURES = ROOT / "tests" / "fixtures" / "dashboards"


@pytest.fixture(scope="module")
def workload(stack: EmbeddedStack, prom: PrometheusClient, contract: Contract) -> int:
    """Valid and malformed signals through the whole pipeline, drained, scraped, visible on every panel."""
    started = prom.now()
    sent = send_concurrently(stack.url("gateway"), mixed_workload(150, 30, seed=23, prefix="DSHB"))
    drained = wait_drained(prom, started)
    scraped = wait_scraped_after(prom, ["gateway", "agents", "orchestrator"], drained)
    wait_for(
        lambda: Poll(bool(prom.query("webhook_sink_notifications_total")), None, "no notification yet"),
        timeout=60,
        expected="the sink counted the first Watchdog notification",
        bound="rule evaluation + group_wait + 1 scrape",
    )
    dashboards = [load_dashboard(p) for p in dashboard_files(ROOT / "grafana_dashboards")]
    wait_visible(prom, scraped, max_step(dashboards, contract.stack.scrape_interval))
    return sent.accepted + sent.invalid


def _run(dashboard: Dashboard, prom: PrometheusClient, contract: Contract) -> DashboardReport:
    return run_dashboard(dashboard, prom, scrape_interval=contract.stack.scrape_interval)


def _result(report: DashboardReport, title: str, ref: str = "A") -> QueryResult:
    return next(r for r in report.results if r.panel.title == title and r.target is not None and r.target.ref_id == ref)


@pytest.mark.parametrize("name", [p.stem for p in dashboard_files(ROOT / "grafana_dashboards")])
def test_bundled_dashboard_has_data_on_the_embedded_stack(
    name: str, workload: int, prom: PrometheusClient, contract: Contract
) -> None:
    report = _run(load_dashboard(ROOT / "grafana_dashboards" / f"{name}.json"), prom, contract)
    findings = check_report(report, contract.dashboards.expected_empty)
    assert not [f for f in findings if f.severity == "error"], format_findings(findings)
    for result in report.executed:
        assert result.status == "data" or result.accepted, (result.where, result.status, result.message)
    assert all(not v.empty and v.error is None for v in report.variables.values())


def test_misspelled_metric_wrong_label_value_syntax_error_and_empty_variable(
    workload: int, prom: PrometheusClient, contract: Contract
) -> None:
    report = _run(load_dashboard(FIXTURES / "broken" / "live_problems.json"), prom, contract)
    typo = _result(report, "Webhooks (typo)")
    assert typo.status == "empty"
    assert typo.message.startswith("no metric gateway_webhook_total exists; closest exported: gateway_webhooks_total")
    wrong = _result(report, "Accepted (wrong value)")
    assert wrong.status == "empty"
    assert 'status="acepted" matches nothing (existing status values: "accepted", "error", "invalid")' in (
        wrong.message
    )
    syntax = _result(report, "Syntax error")
    assert syntax.status == "error"
    assert syntax.message.startswith("Prometheus: bad_data: ")
    assert "parse error" in syntax.message
    findings = check_report(report, contract.dashboards.expected_empty)
    text = format_findings(findings)
    assert "panel 'Webhooks (typo)' (id 1): empty (the panel shows \"No data\"): query A: no metric" in text
    assert "panel 'Syntax error' (id 3) query A: error: Prometheus: bad_data:" in text
    [variable] = check_variables(report)
    assert variable.subject.endswith("variable $desk")
    assert "resolved to no value: 'label_values(trading_desk_info{job=~\"gateway\"}, desk)'" in variable.message
    assert _result(report, "All instances").status == "data"


def test_multi_value_all_expands_to_every_instance(
    workload: int, stack: EmbeddedStack, prom: PrometheusClient, contract: Contract
) -> None:
    """$job/$instance = All become regex alternations of every value, and select exactly every target."""
    overview = load_dashboard(ROOT / "grafana_dashboards" / "overview.json")
    model = dict(overview.raw)
    model["panels"] = [
        {
            "id": 1,
            "type": "stat",
            "title": "Targets",
            "gridPos": {"h": 4, "w": 6, "x": 0, "y": 0},
            "targets": [{"refId": "A", "expr": 'count(up{job=~"$job", instance=~"$instance"})', "instant": True}],
        }
    ]
    report = _run(parse_dashboard(model, "multi.json"), prom, contract)
    instance = report.variables["instance"].value
    targets = prom.targets()
    assert instance.is_all and set(instance.values) >= {t.instance for t in targets}
    [result] = report.executed
    assert result.expr.startswith('count(up{job=~"(') and "|" in result.expr and "\\\\." in result.expr
    assert prom.query_value(result.expr) == len(prom.query("up"))


def test_offered_load_reaches_the_load_dashboard(load: LoadFixture, prom: PrometheusClient, contract: Contract) -> None:
    """While Locust runs (its metrics scraped as job `load`), the offered-vs-served panel shows both lines."""
    dashboard = load_dashboard(ROOT / "grafana_dashboards" / "load.json")
    run = load.start(users=5, spawn_rate=5, duration=60, stop_timeout=10)

    def probe() -> Poll[DashboardReport]:
        report = _run(dashboard, prom, contract)
        statuses = {(r.panel.title, r.target.ref_id): r.status for r in report.executed if r.target}
        ok = statuses[("Offered vs served load", "A")] == "data" and statuses[("Locust users", "A")] == "data"
        return Poll(ok, report, f"statuses: {statuses}")

    report = wait_for(
        probe,
        timeout=45,
        interval=0.5,
        expected="Locust's own metrics (job load) on the offered-vs-served panel",
        bound="Locust start (~3 s) + file_sd refresh (1 s) + 2 scrapes + 4 s rate window",
    )
    run.stop()
    assert all(r.status == "data" for r in report.executed), [(r.where, r.status, r.message) for r in report.executed]


@pytest.mark.parametrize("name", [p.name for p in sorted((FIXTURES / "foreign").glob("*.json"))])
def test_foreign_dashboards_run_without_crashing(
    name: str, workload: int, prom: PrometheusClient, contract: Contract
) -> None:
    report = _run(load_dashboard(FIXTURES / "foreign" / name), prom, contract)
    check_report(report, ())
    assert not [r for r in report.executed if r.status == "error"], [(r.where, r.message) for r in report.executed]
    statuses = {r.status for r in report.results}
    if name == "mixed_datasources.json":
        assert {r.message for r in report.results if r.status == "skipped"} >= {
            "hidden query (hide: true)",
            "server-side expression (math/reduce on other queries)",
        }
    if name == "library_panels.json":
        assert "unresolved" in statuses
    if name == "old_schema_rows.json":
        requests = _result(report, "Requests")
        assert requests.expr == 'sum(rate(gateway_webhooks_total{job="gateway"}[5m]))'
        assert requests.status == "data"
    if name == "collapsed_rows.json":
        assert any(r.repeat.startswith("agent=") for r in report.results)


def _check(stack: EmbeddedStack, contract: Path, tmp_path: Path, keyword: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBS_GRAFANA")}
    return check_stack_of_yours(stack.prometheus_url, contract, tmp_path, keyword, "-rs", env=env)


def test_suite_passes_on_the_repository_and_fails_on_a_broken_copy(
    workload: int, stack: EmbeddedStack, tmp_path: Path
) -> None:
    code, out = _check(stack, CONTRACT, tmp_path, "dashboard")
    assert code == 0, out
    assert (tmp_path / "reports" / "dashboards.txt").read_text().count("panels —") == 7
    broken = tmp_path / "broken"
    shutil.copytree(ROOT / "grafana_dashboards", broken / "grafana_dashboards")
    shutil.copy(FIXTURES / "broken" / "live_problems.json", broken / "grafana_dashboards" / "live_problems.json")
    shutil.copy(CONTRACT, broken / "obs.yaml")
    for name in ("prometheus", "alertmanager", "scenarios"):  # the other files the contract names
        (broken / name).symlink_to(ROOT / name)
    code, out = _check(stack, broken / "obs.yaml", tmp_path, "dashboard")
    assert code == 1, out
    # the summary line of the failed check leads with what failed (it must not read like a pass)
    assert (
        "FAIL  dashboards: 'Live problems' (broken-live, live_problems.json): 4 errors (2 empty panels, 1 variable "
        "without value, 1 query error) — 1/4 panels with data" in out
    )
    assert "no metric gateway_webhook_total exists; closest exported: gateway_webhooks_total" in out
    assert "FAIL  dashboards: 'Live problems' (broken-live, live_problems.json): 1 lint errors" in out


def test_grafana_suite_skips_with_its_reason_without_a_url(stack: EmbeddedStack, tmp_path: Path) -> None:
    code, out = _check(stack, CONTRACT, tmp_path, "grafana")
    assert code == 0, out
    assert "no Grafana URL given (--grafana-url, OBS_GRAFANA_URL or stack.grafana in the contract)" in out
    assert " passed" not in out.split("Summary")[0] or "0 passed" in out


def test_unreachable_grafana_or_half_given_credentials_exit_2(
    stack: EmbeddedStack, tmp_path: Path, closed_port: int
) -> None:
    base = ["check", "--prometheus-url", stack.prometheus_url, "--report-dir", str(tmp_path / "r"), "-k", "grafana"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBS_GRAFANA")}
    result = obs_tests(*base, "--grafana-url", f"http://127.0.0.1:{closed_port}", env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"GrafanaUnreachable: cannot connect to Grafana at http://127.0.0.1:{closed_port}" in result.stderr
    secret = "do-not-print-me"
    result = obs_tests(*base, "--grafana-url", "http://127.0.0.1:3000", env={**env, "OBS_GRAFANA_PASSWORD": secret})
    assert result.returncode == 2
    assert "UsageError: OBS_GRAFANA_PASSWORD is set but OBS_GRAFANA_USER is not" in result.stderr
    assert secret not in result.stdout + result.stderr and "Traceback" not in result.stderr
