"""Under Locust load: the gateway's counters account for every request Locust sent, its latency
histogram agrees with the latency Locust measured, and the load's own metrics reach Prometheus."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.core.findings import Finding
from obs_tests.demo.workload import load_latency_quantiles, run_load_accounting
from obs_tests.stack import EmbeddedStack
from obs_tests.suite.plugin import FindingsJudge, log_dir
from obs_tests.workloads.loadgen import LoadSpec


def test_accounting_under_load(
    prom: PrometheusClient,
    mock_system: EmbeddedStack,
    obs_summary: Callable[[str], None],
    pytestconfig: pytest.Config,
    obs_findings: FindingsJudge,
) -> None:
    """Every request Locust sent is counted by the gateway, split by status and reason — 0 unaccounted.
    The run is long enough for Prometheus to scrape the load's own metrics (job `load`). 20 users at
    up to 10 requests/s each: sustained load the pipeline keeps up with, not a CPU-saturating flood
    (the scenarios run on other stacks of the same machine meanwhile)."""
    spec = LoadSpec(users=20, duration=12, malformed_ratio=0.1, think_time=0.1, stop_timeout=15)
    started = time.time()
    run = run_load_accounting(
        prom, mock_system.url("gateway"), spec, targets_file=mock_system.load_targets, keep_logs=log_dir(pytestconfig)
    )
    findings = list(run.findings)
    window = max(int(time.time() - started) + 5, 30)
    offered = prom.query_value(f"max_over_time(sum(locust_requests_total)[{window}s:1s])") or 0.0
    if offered <= 0:
        findings.append(
            Finding("load", "job load", "Prometheus never scraped the load's own metrics (locust_requests_total)")
        )
    obs_summary(f"{run.summary()}; Prometheus saw {offered:g} offered requests in job load")
    obs_findings(findings)


def test_latency_histogram_matches_locust(
    prom: PrometheusClient,
    mock_system: EmbeddedStack,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """With a 20-180 ms latency fault, the gateway histogram's p50/p95 over the run agree with Locust's."""
    result, quantiles = load_latency_quantiles(
        prom, mock_system.url("gateway"), LoadSpec(users=30, duration=6, malformed_ratio=0.0, stop_timeout=10)
    )
    obs_summary(
        f"{result.requests} requests: "
        + ", ".join(
            f"p{q.quantile * 100:g} histogram {q.from_histogram * 1000:.0f} ms vs Locust {q.measured * 1000:.0f} ms"
            for q in quantiles
        )
    )
    obs_findings([f for q in quantiles for f in q.findings])
