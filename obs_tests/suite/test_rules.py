"""Alert and recording rules: promtool (config, rules, unit tests), rule lint, and live checks against
the running Prometheus (every selector matches, every group healthy)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from obs_tests.checks.rules import SelectorProbe, check_rule_groups, diagnose_selector, live_selectors
from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.contract import Contract
from obs_tests.findings import Finding
from obs_tests.junit import write_junit
from obs_tests.lint import check_configs, check_rule_files, lint_static_rules, run_rule_tests
from obs_tests.pytest_plugin import FindingsJudge
from obs_tests.rulefiles import Rule, RuleFile, load_rule_files


@pytest.fixture(scope="module")
def rule_files(contract: Contract) -> list[RuleFile]:
    return load_rule_files(contract.files.rule_files())


def test_prometheus_configs_valid(
    contract: Contract, obs_summary: Callable[[str], None], obs_findings: FindingsJudge
) -> None:
    """`promtool check config` on the compose config and on the embedded config rendered from the contract."""
    section = check_configs(contract)
    obs_summary(f"promtool check config: {', '.join(section.checked)}")
    obs_findings(section.findings)


def test_rule_files_valid(contract: Contract, obs_summary: Callable[[str], None], obs_findings: FindingsJudge) -> None:
    section = check_rule_files(contract.files.rule_files())
    obs_summary(f"promtool check rules: {len(section.checked)} files")
    obs_findings(section.findings)


def test_rule_lint(
    contract: Contract,
    rule_files: list[RuleFile],
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """Labels, annotations, `for`, rate windows vs scrape intervals, counter/gauge functions, unique names,
    runbook URLs."""
    findings = lint_static_rules(contract, rule_files)
    rules = sum(len(rf.rules) for rf in rule_files)
    verdict = obs_findings.judge(findings)
    state = f"{len(verdict.errors)} lint errors" if verdict.errors else "lint-clean"
    obs_summary(f"{rules} rules: {state}, {len(verdict.warnings)} warnings")
    obs_findings.require(verdict)


def test_rule_unit_tests(
    contract: Contract,
    rule_files: list[RuleFile],
    obs_report_dir: Path,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """`promtool test rules` on every test file; each test case becomes a JUnit case (rule-tests-junit.xml)."""
    tests, _ = run_rule_tests(contract, rule_files)
    junit = obs_report_dir / "rule-tests-junit.xml"
    write_junit(junit, {"promtool test rules": tests.cases}, name="rule unit tests")
    passed = sum(c.failure is None for c in tests.cases)
    obs_summary(f"promtool test rules: {passed}/{len(tests.cases)} cases pass ({junit})")
    obs_findings(tests.findings)


def test_rule_test_coverage(
    contract: Contract,
    rule_files: list[RuleFile],
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """Every alert has a unit test where it fires and one where it must not."""
    _, coverage = run_rule_tests(contract, rule_files)
    alerts = sum(len(rf.alerts) for rf in rule_files)
    obs_summary(f"{alerts - len(coverage.findings)}/{alerts} alerts covered by firing and non-firing unit tests")
    obs_findings(coverage.findings)


def _probe(prom: PrometheusClient, rule: Rule, names: list[str]) -> list[Finding]:
    findings = []
    for sel in live_selectors(rule):
        text = sel.text()
        matches = int(prom.query_value(f"count({text})") or 0)
        if matches:
            continue
        probe = SelectorProbe(rule, sel, 0)
        if sel.metric:
            probe.metric_exists = bool(prom.query_value(f'count({{__name__="{sel.metric}"}})'))
        if probe.metric_exists:
            for label, op, value in sel.matchers:
                base = sel.metric or ""
                single = f'{base}{{{label}{op}"{value}"}}' if base else f'{{{label}{op}"{value}"}}'
                probe.matcher_matches[(label, op, value)] = int(prom.query_value(f"count({single})") or 0)
                if base:
                    probe.label_values[label] = sorted(
                        s.labels.get(label, "") for s in prom.query(f"count by ({label}) ({base})")
                    )
        finding = diagnose_selector(probe, names)
        if finding:
            findings.append(finding)
    return findings


def test_rule_selectors_match_live(
    prom: PrometheusClient,
    contract_alert: Rule,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """Every series selector of the alert matches at least one series on the live Prometheus."""
    names = prom.metric_names()
    findings = _probe(prom, contract_alert, names)
    obs_summary(f"{contract_alert.name}: {len(live_selectors(contract_alert))} selector(s) match live series")
    obs_findings(findings)


def test_recording_rule_selectors_match_live(
    prom: PrometheusClient,
    rule_files: list[RuleFile],
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    names = prom.metric_names()
    records = [r for rf in rule_files for r in rf.rules if r.kind == "record"]
    findings = [f for r in records for f in _probe(prom, r, names)]
    obs_summary(f"{len(records)} recording rules read live series")
    obs_findings(findings)


def test_rule_groups_healthy(
    prom: PrometheusClient,
    rule_files: list[RuleFile],
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """Every rule group is loaded, every rule evaluates without error, no group falls behind."""
    groups = prom.rules()
    findings = check_rule_groups(rule_files, groups)
    obs_summary(f"{len(groups)} rule groups loaded with health ok, no lastError")
    obs_findings(findings)
