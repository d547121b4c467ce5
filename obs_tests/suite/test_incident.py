"""The high-load incident: 1,000 webhooks at once against the gateway, then the whole stack is judged —
every counter accounts for the 1,000 exactly, every component's health endpoint answers 200 (the mock
services' ``/healthz``, Prometheus' ``/-/healthy`` and ``/-/ready``, Alertmanager's ``/-/healthy``), and
no alert but the watchdog fired since the burst began (:mod:`obs_tests.checks.incident`)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.stack import EmbeddedStack
from obs_tests.suite.report_fixtures import FindingsJudge
from obs_tests.suite.workloads import run_workload


@pytest.mark.integration
@pytest.mark.stack
@pytest.mark.load
@pytest.mark.slow
@pytest.mark.usefixtures("load_turn")  # a turn of the background scenarios' limit on load
def test_high_load_incident(
    prom: PrometheusClient,
    mock_system: EmbeddedStack,
    obs_summary: Callable[[str], None],
    obs_findings: FindingsJudge,
) -> None:
    """1,000 concurrent webhooks: 0 unaccounted, every health endpoint 200, no unexpected alert."""
    outcome = run_workload(mock_system, prom, "high_load_incident")
    obs_summary(outcome.summary)
    obs_findings(list(outcome.findings))
