"""Alert and recording rules: promtool (config, rules, unit tests), rule lint (rate windows against the live
scrape intervals on a stack of yours), and live checks against the running Prometheus (every selector
matches but those the contract declares in rules.expected_no_match, every group healthy)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from obs_tests.checks.rules import check_rule_groups, evaluated, live_scrape_intervals
from obs_tests.checks.selectors import ProbeResult, absent_selectors, live_selectors, probe_rule
from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.config.contract import Contract
from obs_tests.config.policy import Verdict
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.errors import WaitTimeout
from obs_tests.reports.junit import write_junit
from obs_tests.rules.rulefiles import Rule, RuleFile, load_rule_files
from obs_tests.suite.config_lint import check_configs
from obs_tests.suite.report_fixtures import FindingsJudge
from obs_tests.suite.rule_lint import (
    ScrapeIntervals,
    check_rule_files,
    lint_static_rules,
    run_rule_tests,
    scrape_intervals,
)
from obs_tests.suite.session_settings import run_settings


@pytest.fixture(scope="module")
def rule_files(contract: Contract) -> list[RuleFile]:
    return load_rule_files(contract.files.rule_files())


def test_prometheus_configs_valid(
    contract: Contract, obs_summary: Callable[[str], None], obs_findings: FindingsJudge
) -> None:
    """`promtool check config` on the compose config and on the embedded config rendered from the contract."""
    section = check_configs(contract)
    checked = ", ".join(section.checked) or "nothing to check (no files.prometheus_config, no embedded stack)"
    obs_summary(f"promtool check config: {checked}")
    obs_findings(section.findings)


def test_rule_files_valid(contract: Contract, obs_summary: Callable[[str], None], obs_findings: FindingsJudge) -> None:
    section = check_rule_files(contract.files.rule_files())
    obs_summary(f"promtool check rules: {len(section.checked)} files")
    obs_findings(section.findings)


def _live_intervals(prom: PrometheusClient, rule_files: list[RuleFile]) -> ScrapeIntervals:
    """Each job's scrape interval as the Prometheus under test runs it (its configuration, else its targets),
    and the job exporting each metric the rules read over a window (the slowest, when several do)."""
    jobs, default = live_scrape_intervals(
        prom.config(), {t.job: t.scrape_interval for t in prom.targets() if t.scrape_interval}
    )
    windowed = sorted(
        {s.metric for rf in rule_files for r in rf.rules for s in live_selectors(r) if s.metric and s.range_seconds}
    )
    metric_jobs: dict[str, str] = {}
    if windowed:
        found = prom.query(f'group by (__name__, job) ({{__name__=~"{"|".join(windowed)}"}})')
        for sample in found:
            name, job = sample.labels.get("__name__", ""), sample.labels.get("job", "")
            if job in jobs and jobs[job] >= jobs.get(metric_jobs.get(name, ""), 0.0):
                metric_jobs[name] = job
    return ScrapeIntervals(jobs, max([*jobs.values(), default]), "the live Prometheus", metric_jobs)


def test_rule_lint(
    contract: Contract,
    rule_files: list[RuleFile],
    request: pytest.FixtureRequest,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """Labels, annotations, `for`, rate windows vs scrape intervals, counter/gauge functions, unique names,
    runbook URLs. On a stack of yours the windows are judged against the live scrape intervals (the embedded
    stack scrapes at the contract's)."""
    if not run_settings(request.config).embedded:
        intervals = _live_intervals(request.getfixturevalue("prom"), rule_files)
    else:
        intervals = scrape_intervals(contract)
    findings = lint_static_rules(contract, rule_files, intervals)
    rules = sum(len(rf.rules) for rf in rule_files)
    verdict = obs_findings.judge(findings)
    state = f"{len(verdict.errors)} lint errors" if verdict.errors else "lint-clean"
    obs_summary(f"{rules} rules: {state}, {len(verdict.warnings)} warnings; {intervals.describe()}")
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


def _probe_summary(name: str, result: ProbeResult, verdict: Verdict, probed: int, absent: int = 0) -> str:
    declared = "; ".join(f"{sel.text()} matches nothing as declared: {entry.reason}" for sel, entry in result.declared)
    if verdict.errors:
        text = f"{name}: {probed + absent} selector(s) probed, {len(verdict.errors)} match nothing"
    elif probed or not absent:
        text = f"{name}: {probed - len(result.declared)} selector(s) match live series"
    else:
        text = f"{name}:"
    if absent and not verdict.errors:
        quiet = absent - len(result.absent)
        text += f"{',' if probed else ''} {quiet}/{absent} inside absent() match"
        text += " (absent() is false: quiet)" if quiet == absent else ""
        if result.absent:
            text += "; " + ", ".join(f"{s.function}({s.text()})" for s in result.absent) + " true now: it fires"
    return text + (f" ({declared})" if declared else "")


@pytest.mark.integration
def test_rule_selectors_match_live(
    prom: PrometheusClient,
    contract: Contract,
    contract_alert: Rule,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """Every series selector of the alert matches at least one series on the live Prometheus, but those the
    contract declares in rules.expected_no_match (reported with the reason)."""
    result = probe_rule(prom, contract_alert, prom.metric_names(), contract.expected_no_match)
    verdict = obs_findings.judge(result.findings)
    probed, absent = len(live_selectors(contract_alert)), len(absent_selectors(contract_alert))
    obs_summary(_probe_summary(contract_alert.name, result, verdict, probed, absent))
    obs_findings.require(verdict)


@pytest.mark.integration
def test_recording_rule_selectors_match_live(
    prom: PrometheusClient,
    contract: Contract,
    rule_files: list[RuleFile],
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    names = prom.metric_names()
    records = [r for rf in rule_files for r in rf.rules if r.kind == "record"]
    results = [probe_rule(prom, r, names, contract.expected_no_match) for r in records]
    merged = ProbeResult(
        [f for r in results for f in r.findings],
        [d for r in results for d in r.declared],
        [a for r in results for a in r.absent],
    )
    verdict = obs_findings.judge(merged.findings)
    probed = sum(len(live_selectors(r)) for r in records)
    absent = sum(len(absent_selectors(r)) for r in records)
    obs_summary(_probe_summary(f"{len(records)} recording rules", merged, verdict, probed, absent))
    obs_findings.require(verdict)


@pytest.mark.integration
def test_rule_groups_healthy(
    prom: PrometheusClient,
    rule_files: list[RuleFile],
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """Every rule group is loaded, every rule evaluates without error, no group falls behind. A group not
    evaluated yet (a stack just started, a reload) is waited for, up to two of its intervals: until then
    its rules say health unknown, which proves nothing."""

    def probe() -> Poll[list[dict[str, Any]]]:
        groups = prom.rules()
        waiting = [str(g.get("name")) for g in groups if not evaluated(g)]
        return Poll(not waiting, groups, f"not evaluated yet: {', '.join(waiting)}")

    first = prom.rules()
    bound = 2 * max((float(g.get("interval") or 0) for g in first), default=0.0) + 1.0
    try:
        groups = wait_for(
            probe, timeout=bound, interval=0.1, expected="every rule group evaluated once",
            bound=f"2 evaluation intervals + 1s ({bound:g}s)",
        )  # fmt: skip
    except WaitTimeout:
        groups = prom.rules()  # the groups still not evaluated are findings of their own
    verdict = obs_findings.judge(check_rule_groups(rule_files, groups))
    if verdict.errors:
        obs_summary(f"{len(groups)} rule groups loaded: {len(verdict.errors)} problem(s)")
    else:
        obs_summary(f"{len(groups)} rule groups loaded with health ok, no lastError")
    obs_findings.require(verdict)
