"""Alertmanager: config, routing of every alert (amtool), and live notifications through the webhook sink —
routing, grouping, send_resolved, inhibition, silences, the watchdog."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from obs_tests.checks.routing import (
    RouteTest,
    check_notifications,
    check_routing_coverage,
    load_route_tests,
    route_labels,
)
from obs_tests.checks.routing_live import (
    probe_inhibition,
    probe_routing,
    probe_silence,
    run_route_tests,
    settings_from_config,
)
from obs_tests.clients.alertmanager import AlertmanagerClient
from obs_tests.clients.webhook_sink import SinkClient, wait_for_notification
from obs_tests.config.contract import Contract
from obs_tests.core.findings import Finding
from obs_tests.core.yamlfile import load_yaml
from obs_tests.errors import ConfigInvalid
from obs_tests.rules.rulefiles import Rule, load_rule_files
from obs_tests.stack import EmbeddedStack
from obs_tests.suite.config_lint import check_alertmanager
from obs_tests.suite.report_fixtures import FindingsJudge

NO_ALERTMANAGER = "not applicable: the contract declares no Alertmanager (stack.alertmanager: null)"


@pytest.fixture(scope="module")
def alert_rules(contract: Contract) -> dict[str, Rule]:
    return {r.name: r for rf in load_rule_files(contract.files.rule_files()) for r in rf.alerts}


@pytest.fixture(scope="module")
def route_tests(contract: Contract) -> list[RouteTest]:
    directory = contract.files.alertmanager_tests
    paths = sorted(directory.glob("*.y*ml")) if directory.is_dir() else []
    tests, problems = load_route_tests(paths)
    if problems:
        pytest.fail("\n".join(str(p) for p in problems), pytrace=False)
    return tests


@pytest.fixture
def sink(mock_system: EmbeddedStack) -> SinkClient:
    return SinkClient(mock_system.url("webhook-sink"))


def test_alertmanager_config_valid(
    contract: Contract, obs_summary: Callable[[str], None], obs_findings: FindingsJudge
) -> None:
    if contract.stack.alertmanager is None:
        pytest.skip(NO_ALERTMANAGER)
    config, _ = check_alertmanager(contract, [])
    obs_summary(f"amtool check-config: {', '.join(config.checked)}")
    obs_findings(config.findings)


def test_alert_routing(
    contract: Contract,
    contract_alert: Rule,
    alert_rules: dict[str, Rule],
    route_tests: list[RouteTest],
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """`amtool config routes test --verify.receivers` for every routing test of this alert."""
    if contract.stack.alertmanager is None:
        pytest.skip(NO_ALERTMANAGER)
    mine = [t for t in route_tests if t.alert == contract_alert.name]
    if not mine:
        verdict = obs_findings.judge(check_routing_coverage([contract_alert], []))
        level = "" if verdict.errors else " (a warning by the policy)" if verdict.warnings else " (off by the policy)"
        obs_summary(f"{contract_alert.name}: no routing test{level}")
        obs_findings.require(verdict)
        return
    results = run_route_tests(contract.files.alertmanager_config, mine, alert_rules)
    obs_summary(f"{contract_alert.name} -> {', '.join(r for res in results for r in res.receivers)}")
    obs_findings([f for r in results for f in r.findings])


def _live_settings(alertmanager: AlertmanagerClient) -> Any:
    return settings_from_config(yaml.safe_load(alertmanager.status()["config"]["original"]))


@pytest.mark.integration
@pytest.mark.stack
@pytest.mark.slow
def test_live_routing_and_notifications(
    alertmanager: AlertmanagerClient,
    sink: SinkClient,
    alert_rules: dict[str, Rule],
    route_tests: list[RouteTest],
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """Every alert, posted to the real Alertmanager, notifies its receiver (grouped by the route's group_by);
    resolving it sends a resolved notification exactly where send_resolved is on."""
    probes = []
    for test in route_tests:
        labels = route_labels(test, alert_rules)
        if isinstance(labels, dict):
            probes.append((test, labels))
    findings, details = probe_routing(alertmanager, sink, probes, _live_settings(alertmanager))
    obs_summary(
        f"{details['alerts']} alerts notified their receivers and resolved ({details['payloads']} payloads; "
        f"inhibited in the first wave, probed alone: {', '.join(details['second_wave']) or 'none'})"
    )
    obs_findings(findings)


@pytest.mark.integration
@pytest.mark.stack
def test_inhibition_live(
    contract: Contract,
    alertmanager: AlertmanagerClient,
    mock_system: EmbeddedStack,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """The inhibition cases of alertmanager/tests/inhibition.yml, posted to the real Alertmanager."""
    path = contract.files.alertmanager_tests / "inhibition.yml"
    if not path.is_file():
        pytest.skip(f"no inhibition tests ({path})")
    data = load_yaml(path, error=ConfigInvalid) or {}
    cases = [(c["source"], c.get("suppressed", []), c.get("active", [])) for c in data.get("inhibitions", [])]
    findings = probe_inhibition(alertmanager, cases)
    suppressed = sum(len(c[1]) for c in cases)
    obs_summary(f"{len(cases)} inhibition rules: {suppressed} alerts suppressed, controls stay active")
    obs_findings(findings)


@pytest.mark.integration
@pytest.mark.stack
@pytest.mark.slow
def test_silence_suppresses_then_expires(
    alertmanager: AlertmanagerClient,
    sink: SinkClient,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    findings, times = probe_silence(alertmanager, sink, _live_settings(alertmanager))
    obs_summary(
        f"a {times['silence_seconds']:g}s silence held the notification back; it went out "
        f"{times['notified_after_expiry']:.1f}s after the silence expired"
    )
    obs_findings(findings)


@pytest.mark.integration
@pytest.mark.stack
@pytest.mark.slow
def test_watchdog_notifies_through_the_whole_pipeline(
    alertmanager: AlertmanagerClient,
    sink: SinkClient,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """The real Watchdog rule: Prometheus -> Alertmanager -> receiver `watchdog`, annotations rendered."""
    settings = _live_settings(alertmanager)
    within = settings.group_wait.get("watchdog", 30.0) + settings.group_interval.get("watchdog", 300.0) + 15.0
    note = wait_for_notification(
        sink,
        "Watchdog",
        status="firing",
        receiver="watchdog",
        within=within,
        since=time.time() - within,
        bound="repeat_interval of the watchdog route",
        without_labels=["obs_probe"],
    )
    payloads = [
        p
        for p in sink.payloads(since=time.time() - within)
        if any(
            a.get("labels", {}).get("alertname") == "Watchdog" and "obs_probe" not in a.get("labels", {})
            for a in p.get("alerts", [])
        )
    ]
    findings: list[Finding] = check_notifications(
        payloads, group_by=settings.group_by, send_resolved=settings.send_resolved
    )
    obs_summary(f"Watchdog notified receiver watchdog: {note['annotations'].get('summary', '')!r}")
    obs_findings(findings)
