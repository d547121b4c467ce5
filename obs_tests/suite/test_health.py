"""The production health check (``obs-tests health``) on the stack under test: no CRITICAL and nothing
UNKNOWN; warnings are reported. Its JSON document becomes the ``health`` section of the report."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from obs_tests.clients.grafana import GrafanaCredentials
from obs_tests.config.contract import Contract
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.errors import WaitTimeout
from obs_tests.health import HealthReport, HealthSettings, Status, run_health
from obs_tests.stack import EmbeddedStack
from obs_tests.stack.external import ExternalStack


def _grafana_url(config: pytest.Config, contract: Contract) -> str | None:
    value = config.getoption("--grafana-url", default=None) or os.environ.get("OBS_GRAFANA_URL")
    return str(value) if value else contract.stack.grafana


@pytest.mark.integration
def test_production_health(
    stack: EmbeddedStack | ExternalStack,
    contract: Contract,
    pytestconfig: pytest.Config,
    obs_report: dict[str, Any],
    obs_summary: Callable[[str], None],
) -> None:
    """``obs-tests health`` judges the stack: not CRITICAL, not UNKNOWN (on an HA stack, with the HA checks)."""
    grafana_url = _grafana_url(pytestconfig, contract)
    embedded = isinstance(stack, EmbeddedStack)
    settings = HealthSettings.of_stack(
        stack,
        contract,  # on an HA embedded stack: the HA checks of every replica and peer too
        grafana_url=grafana_url,
        grafana=GrafanaCredentials.from_env() if grafana_url else GrafanaCredentials(),
        # the embedded stack has just been through chaos: judge counters over the last half minute only
        window=30.0 if embedded else 600.0,
    )
    if isinstance(stack, EmbeddedStack):
        stack.heal()

    def probe() -> Poll[HealthReport]:
        report = run_health(settings)
        return Poll(report.status in (Status.OK, Status.WARNING), report, report.summary_line())

    try:
        report = wait_for(
            probe,
            timeout=45.0 if embedded else 0.0,
            interval=0.5,
            expected="no CRITICAL or UNKNOWN health check",
            bound="30 s for counters of earlier faults to leave the window",
        )
    except WaitTimeout:
        report = run_health(settings)
    obs_report["health"] = report.to_json()
    obs_summary(report.summary_line().split(" | ")[0])
    if report.status in (Status.CRITICAL, Status.UNKNOWN):
        pytest.fail(report.to_text(), pytrace=False)
