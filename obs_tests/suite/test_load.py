"""Under Locust load: the gateway's counters account for every request Locust sent, its latency
histogram agrees with the latency Locust measured, and the load's own metrics reach Prometheus. Each run's
load report (Locust's table per request name beside the gateway histogram's view of the same window) goes
into the check report's load section and under the check's line in the summary."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.stack import EmbeddedStack
from obs_tests.suite.report_fixtures import FindingsJudge
from obs_tests.suite.session_settings import log_dir
from obs_tests.suite.workloads import record_load, run_workload

pytestmark = [
    pytest.mark.integration,
    pytest.mark.stack,
    pytest.mark.load,
    pytest.mark.slow,
    pytest.mark.usefixtures("load_turn"),  # a turn of the background scenarios' limit on load
]


def test_accounting_under_load(
    prom: PrometheusClient,
    mock_system: EmbeddedStack,
    obs_summary: Callable[[str], None],
    pytestconfig: pytest.Config,
    obs_findings: FindingsJudge,
    obs_report: dict[str, Any],
    request: pytest.FixtureRequest,
) -> None:
    """Every request Locust sent is counted by the gateway, split by status and reason — 0 unaccounted.
    The run is long enough for Prometheus to scrape the load's own metrics (job `load`). 20 users at
    up to 10 requests/s each: sustained load the pipeline keeps up with, not a CPU-saturating flood
    (the scenarios run on other stacks of the same machine meanwhile)."""
    outcome = run_workload(mock_system, prom, "load_accounting", keep_logs=log_dir(pytestconfig))
    obs_summary(outcome.summary)
    record_load(request.node, obs_report, outcome)  # Locust's table beside the gateway histogram's
    obs_findings(list(outcome.findings))


@pytest.mark.chaos
def test_latency_histogram_matches_locust(
    prom: PrometheusClient,
    mock_system: EmbeddedStack,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
    obs_report: dict[str, Any],
    request: pytest.FixtureRequest,
) -> None:
    """With a 20-180 ms latency fault, the gateway histogram's p50/p95 over the run agree with Locust's."""
    outcome = run_workload(mock_system, prom, "load_latency")
    obs_summary(outcome.summary)
    record_load(request.node, obs_report, outcome)
    obs_findings(list(outcome.findings))
