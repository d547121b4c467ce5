"""Metric semantics, exact accounting, exposition lint, cardinality, freshness, signal flow, coverage."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import requests

from obs_tests.checks.coverage import (
    MetricsCoverage,
    check_coverage,
    dashboard_references,
    rule_references,
)
from obs_tests.checks.exposition import (
    LintProblem,
    check_exposition,
    lint_findings,
    lint_ignore_patterns,
    parse_promtool,
    yaml_list,
)
from obs_tests.checks.metrics import (
    check_cardinality,
    check_counter_resets,
    check_freshness,
    check_gauge_range,
    check_histogram,
)
from obs_tests.clients.prometheus import PrometheusClient, Target
from obs_tests.clients.tools import promtool_check_metrics
from obs_tests.config.contract import Contract, Job, Metric
from obs_tests.config.policy import Verdict
from obs_tests.core.findings import Finding
from obs_tests.stack import EmbeddedStack
from obs_tests.suite.report_fixtures import FindingsJudge
from obs_tests.suite.workloads import run_workload

COUNTER_WINDOW = "10m"
LIVENESS_INTERVALS = 30


def _jobs_regex(contract: Contract) -> str:
    return "|".join(j.name for j in contract.jobs)


def _intervals(targets: list[Target]) -> dict[str, float]:
    return {t.job: t.scrape_interval for t in targets if t.scrape_interval}


def _said(verdict: Verdict, clean: str, checked: str, advice: str = "") -> str:
    """The summary line from the verdict, never contradicting it: ``clean`` when nothing was found, else
    what was checked, how many errors and warnings, and ``advice`` (what to do about them) last."""
    if not verdict.errors and not verdict.warnings:
        return clean
    counts = [f"{len(verdict.errors)} error(s)"] if verdict.errors else []
    counts += [f"{len(verdict.warnings)} warning(s)"] if verdict.warnings else []
    return f"{checked}: {', '.join(counts)}{advice}"


def _judge(
    obs_findings: FindingsJudge,
    obs_summary: Callable[[str], None],
    findings: list[Finding],
    clean: str,
    checked: str,
    advice: str = "",
) -> Verdict:
    verdict = obs_findings.judge(findings)
    obs_summary(_said(verdict, clean, checked, advice))
    return obs_findings.require(verdict)


@pytest.mark.integration
@pytest.mark.state
def test_counters_never_decrease(
    prom: PrometheusClient,
    contract: Contract,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """Between two scrapes a counter only goes up; a reset is allowed only when the process restarted."""
    jobs = _jobs_regex(contract)
    selector = f'{{__name__=~".+_total|.+_count", job=~"{jobs}"}}'
    names = sorted({s.labels["__name__"] for s in prom.query(f"group by (__name__) ({selector})")})
    # resets() drops the metric name, so ask per name (concurrently) and keep it.
    per_name = prom.query_many([f'resets({n}{{job=~"{jobs}"}}[{COUNTER_WINDOW}]) > 0' for n in names])
    series = []
    for name, resets in zip(names, per_name, strict=True):
        for sample in resets:
            matchers = ", ".join(f'{k}="{v}"' for k, v in sample.labels.items() if k != "__name__")
            series += prom.query_raw(f"{name}{{{matchers}}}[{COUNTER_WINDOW}]")
    start_metrics = {j.name: j.start_time_metric for j in contract.jobs}
    starts = {}
    for metric in sorted(set(start_metrics.values())):
        users = "|".join(job for job, m in start_metrics.items() if m == metric)
        for item in prom.query_raw(f'{metric}{{job=~"{users}"}}[{COUNTER_WINDOW}]'):
            starts[(item.labels.get("job", ""), item.labels.get("instance", ""))] = item.points
    # the other start times a target exports (an exporter's server: redis_start_time_seconds …)
    others: dict[tuple[str, str], list[Sequence[tuple[float, float]]]] = {}
    if series:
        used = "|".join(sorted(set(start_metrics.values())))
        start_times = f'{{__name__=~".+_start_time_seconds", __name__!~"{used}", job=~"{jobs}"}}'
        for item in prom.query_raw(f"{start_times}[{COUNTER_WINDOW}]"):
            others.setdefault((item.labels.get("job", ""), item.labels.get("instance", "")), []).append(item.points)
    report = check_counter_resets(series, starts, start_metrics, others)
    counters = prom.query_value(f"count({selector})") or 0
    restarts = f"{len(report.restarts)} resets by restart"
    _judge(
        obs_findings,
        obs_summary,
        report.findings,
        f"{counters:g} counter series monotonic over {COUNTER_WINDOW}; {restarts}",
        f"{counters:g} counter series checked over {COUNTER_WINDOW} ({restarts})",
    )


@pytest.mark.integration
@pytest.mark.stack
@pytest.mark.edge_case
def test_exact_accounting(
    prom: PrometheusClient,
    mock_system: EmbeddedStack,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """N valid + M invalid webhooks: every counter on their path rose by exactly what happened."""
    outcome = run_workload(mock_system, prom, "exact_accounting")
    obs_summary(outcome.summary)
    obs_findings(list(outcome.findings))


@pytest.mark.integration
def test_histogram_consistent(
    prom: PrometheusClient,
    contract_histogram: Metric,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    name = contract_histogram.name
    samples = prom.query(f'{{__name__=~"{name}_bucket|{name}_count|{name}_sum"}}')
    findings = check_histogram(name, samples)
    groups = {tuple(sorted((k, v) for k, v in s.labels.items() if k not in ("__name__", "le"))) for s in samples}
    _judge(
        obs_findings,
        obs_summary,
        findings,
        f"{name}: {len(groups)} series cumulative, +Inf == _count, one set of buckets",
        f"{name}: {len(groups)} series checked",
    )


@pytest.mark.integration
@pytest.mark.stack
@pytest.mark.chaos
def test_histogram_quantile_matches_workload(
    prom: PrometheusClient,
    mock_system: EmbeddedStack,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """histogram_quantile over the gateway latency agrees with what the client measured (one bucket)."""
    outcome = run_workload(mock_system, prom, "latency_quantiles")
    obs_summary(outcome.summary)
    obs_findings(list(outcome.findings))


@pytest.mark.integration
def test_gauge_in_range(
    prom: PrometheusClient,
    contract_gauge: Metric,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    samples = prom.query(contract_gauge.name)
    findings = check_gauge_range(contract_gauge, samples)
    low, high = contract_gauge.range_min, contract_gauge.range_max
    bounds = f"[{'-inf' if low is None else f'{low:g}'}, {'+inf' if high is None else f'{high:g}'}]"
    _judge(
        obs_findings,
        obs_summary,
        findings,
        f"{contract_gauge.name}: {len(samples)} series finite and within {bounds}",
        f"{contract_gauge.name}: {len(samples)} series checked against {bounds}",
    )


def _fetch(target: Target) -> str | None:
    try:
        resp = requests.get(target.scrape_url, timeout=5, headers={"Accept": "text/plain;version=0.0.4"})
    except requests.RequestException:
        return None
    return resp.text if resp.ok else None


def _job_targets(prom: PrometheusClient, job: Job) -> list[Target]:
    targets = [t for t in prom.targets() if t.job == job.name and t.up]
    if not targets:
        pytest.skip(f"job {job.name} has no target up (test_job_targets_up reports why)")
    return targets


@pytest.mark.integration
def test_exposition_lint(
    prom: PrometheusClient,
    contract_job: Job,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """Each target's /metrics passes the real `promtool check metrics` (minus the job's lint_ignore)."""
    findings: list[Finding] = []
    reported: list[LintProblem] = []
    ignored = 0
    fetched = 0
    for target in _job_targets(prom, contract_job):
        text = _fetch(target)
        if text is None:
            continue
        fetched += 1
        result = promtool_check_metrics(text)
        problems = parse_promtool(result.output)
        found, skipped = lint_findings(f"{contract_job.name}/{target.instance}", problems, contract_job.lint_ignore)
        findings += found
        reported += [p for p in problems if p not in skipped and p not in reported]
        ignored += len(skipped)
    if not fetched:
        pytest.skip(f"no /metrics of job {contract_job.name} is reachable from here")
    note = f" ({ignored} known problems accepted by lint_ignore)" if ignored else ""
    checked = f"{contract_job.name}: {fetched} exposition(s) checked by promtool check metrics{note}"
    patterns = lint_ignore_patterns(reported)
    advice = ""
    if patterns:  # an exporter the user cannot change: everything to paste into the job at once
        advice = f" — if the names are not yours, accept them in job '{contract_job.name}': "
        advice += f"lint_ignore: {yaml_list(patterns)}"
    clean = f"{contract_job.name}: {fetched} exposition(s) pass promtool check metrics{note}"
    _judge(obs_findings, obs_summary, findings, clean, checked, advice)


@pytest.mark.integration
def test_exposition_matches_contract(
    prom: PrometheusClient,
    contract: Contract,
    contract_job: Job,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """Contract metrics in each target's exposition have the declared type and exactly the declared labels."""
    metrics = [m for m in contract.metrics if m.job in (None, contract_job.name)]
    findings: list[Finding] = []
    fetched = 0
    for target in _job_targets(prom, contract_job):
        text = _fetch(target)
        if text is None:
            continue
        fetched += 1
        findings += check_exposition(f"{contract_job.name}/{target.instance}", text, metrics)
    if not fetched:
        pytest.skip(f"no /metrics of job {contract_job.name} is reachable from here")
    _judge(
        obs_findings,
        obs_summary,
        findings,
        f"{contract_job.name}: types and labels of contract metrics match in {fetched} exposition(s)",
        f"{contract_job.name}: types and labels of contract metrics checked in {fetched} exposition(s)",
    )


@pytest.mark.integration
def test_cardinality_budget(
    prom: PrometheusClient,
    contract_budgeted: Metric,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    metric = contract_budgeted
    selector = '{__name__=~"' + "|".join(metric.series_names()) + '"}'
    series = int(prom.query_value(f"count({selector})") or 0)
    distinct: dict[str, int] = {}
    top: dict[str, list[tuple[str, float]]] = {}
    if metric.max_series is not None and series > metric.max_series:
        names = prom.query(f"count by (__name__) ({selector})")
        labels = {k for s in prom.series([selector], start=time.time() - 60)[:2000] for k in s}
        labels -= {"__name__", "le", "job", "instance"} | {n.labels.get("__name__", "") for n in names}
        for label in sorted(labels):
            distinct[label] = int(prom.query_value(f"count(count by ({label}) ({selector}))") or 0)
            top[label] = [
                (s.labels.get(label, ""), s.value) for s in prom.query(f"topk(3, count by ({label}) ({selector}))")
            ]
    findings = check_cardinality(metric, series, distinct, top)
    _judge(
        obs_findings,
        obs_summary,
        findings,
        f"{metric.name}: {series} series (budget {metric.max_series})",
        f"{metric.name}: {series} series against a budget of {metric.max_series}",
    )


@pytest.mark.integration
@pytest.mark.state
def test_metric_fresh(
    prom: PrometheusClient,
    contract_metric: Metric,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """Every series has a sample newer than 3 scrape intervals and none seen recently has gone stale."""
    targets = prom.targets()
    intervals = _intervals(targets)
    window = LIVENESS_INTERVALS * (max(intervals.values()) if intervals else 15.0)
    now = prom.now()
    current = prom.query(f"timestamp({contract_metric.query_name})")
    recent = prom.series([contract_metric.query_name], start=now - window, end=now)
    findings = check_freshness(contract_metric, now, current, recent, intervals)
    _judge(
        obs_findings,
        obs_summary,
        findings,
        f"{contract_metric.name}: {len(current)} series fresh, none stale over {window:g}s",
        f"{contract_metric.name}: {len(current)} series now, {len(recent)} seen over {window:g}s",
    )


@pytest.mark.integration
@pytest.mark.stack
def test_signal_flow_end_to_end(
    prom: PrometheusClient,
    mock_system: EmbeddedStack,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """One signal with an X-Correlation-ID: its id is in the log of every component on its path and
    every counter on the path rose by one."""
    outcome = run_workload(mock_system, prom, "signal_flow")
    obs_summary(outcome.summary)
    obs_findings(list(outcome.findings))


@pytest.mark.integration
def test_metrics_coverage(
    prom: PrometheusClient,
    contract: Contract,
    obs_report: dict[str, Any],
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """Declared vs exported vs referenced (rules, dashboards): nothing declared or read is missing."""
    exported = {s.labels["__name__"] for s in prom.query(f'group by (__name__) ({{job=~"{_jobs_regex(contract)}"}})')}
    refs, recorded, problems = rule_references(contract.files.rule_files())
    panel_refs, panel_problems = dashboard_references(contract.files.dashboards, contract.dashboards.expected_empty)
    for name, where in panel_refs.items():
        refs.setdefault(name, []).extend(where)
    coverage = MetricsCoverage({m.name: m for m in contract.metrics}, exported, refs, recorded)
    section = coverage.to_json()
    section["unparsed"] = problems + panel_problems
    obs_report["metrics_coverage"] = section
    missing = coverage.declared_missing or coverage.referenced_missing
    findings = check_coverage(coverage, contract.source.name, prom.metric_names() if missing else ())
    obs_summary(
        f"declared {len(coverage.declared)} (missing {len(coverage.declared_missing)}), exported {len(exported)}, "
        f"referenced {len(refs)} (missing {len(coverage.referenced_missing)}), "
        f"exported but unused {len(coverage.exported_unused)}"
    )
    obs_findings(findings)
