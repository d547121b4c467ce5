"""pytest plugin: options, fixtures and markers for validating a monitoring stack.

Registered under the ``pytest11`` entry point, so ``pytest --pyargs obs_tests.suite`` (or any test of
yours) gets:

- options ``--obs-contract``, ``--prometheus-url``, ``--alertmanager-url``, ``--grafana-url``
  (env ``OBS_CONTRACT``, ``OBS_PROMETHEUS_URL``, ``OBS_ALERTMANAGER_URL``, ``OBS_GRAFANA_URL``);
- fixtures ``contract``, ``stack`` (session: the embedded stack unless URLs are given), ``prom``,
  ``alertmanager``, ``grafana`` (API client; skips without a Grafana URL), ``load`` (Locust against the
  mock gateway);
- parametrisation: a test taking ``contract_job`` / ``contract_metric`` (``contract_histogram``,
  ``contract_gauge``, ``contract_budgeted``) / ``contract_alert`` runs once per job / metric / alert rule;
- ``obs_findings``: judges a check's findings under the contract's policy (in-file suppressions, then
  each rule id's level): errors fail the test, warnings go to the summary and every report;
- markers ``integration``, ``stack``, ``scenario``, ``chaos``, ``load``, ``state``, ``edge_case``,
  ``grafana``, ``browser``, ``slow`` (:mod:`~obs_tests.suite.markers` says what each means; ``pytest
  --markers`` lists them): the suite's checks carry them, so ``-m`` selects among them (``obs-tests check
  -m "not chaos"``), and your own tests may use them; ``grafana`` tests skip with a reason when no Grafana
  URL is given.

SIGTERM is turned into ``KeyboardInterrupt`` for the session so fixture teardown (stopping the stack)
runs when CI kills the job.

This module is the entry point and holds the hooks; the fixtures live by concern — the stack and its
clients in :mod:`~obs_tests.suite.stack_fixtures`, the contract and its parametrization in
:mod:`~obs_tests.suite.contract_params`, findings and reports in :mod:`~obs_tests.suite.report_fixtures` —
and are imported here: pytest registers the fixtures it finds in a plugin module's namespace, so this one
plugin (``-p no:obs_tests`` turns it all off) serves them all.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

import pytest

from obs_tests.core.interrupts import raise_interrupt
from obs_tests.suite.contract_params import (
    NO_CONTRACT,
    contract,
    contract_error,
    parametrize_from_contract,
    session_scenarios,
)
from obs_tests.suite.markers import MARKERS, register_markers
from obs_tests.suite.report_fixtures import (
    FindingsJudge,
    obs_findings,
    obs_report,
    obs_report_dir,
    obs_summary,
    report_sections,
    session_suppressions,
)
from obs_tests.suite.session_settings import (
    GivenSettings,
    add_options,
    contract_argument_took_the_rootdir,
    grafana_url,
    log_dir,
    run_settings,
    session_contract,
)
from obs_tests.suite.stack_fixtures import (
    LoadFixture,
    alertmanager,
    grafana,
    healthy_stack,
    load,
    mock_system,
    prom,
    stack,
)
from obs_tests.suite.terminal_progress import session_progress

# the fixtures (pytest registers those it finds here) and what the suite and users' tests import from here
__all__ = [
    "MARKERS",
    "FindingsJudge",
    "GivenSettings",
    "LoadFixture",
    "alertmanager",
    "contract",
    "grafana",
    "grafana_url",
    "healthy_stack",
    "load",
    "log_dir",
    "mock_system",
    "obs_findings",
    "obs_report",
    "obs_report_dir",
    "obs_summary",
    "prom",
    "report_sections",
    "run_settings",
    "session_contract",
    "session_progress",
    "session_scenarios",
    "session_suppressions",
    "stack",
]

_OLD_SIGTERM = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    if (problem := contract_argument_took_the_rootdir(config)) is not None:
        raise pytest.UsageError(problem)
    register_markers(config)
    config.addinivalue_line("markers", f"{NO_CONTRACT}: obs-tests could not read the contract (internal)")
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) in (
        signal.SIG_DFL,
        None,
    ):
        config.stash[_OLD_SIGTERM] = signal.signal(signal.SIGTERM, raise_interrupt)


def pytest_unconfigure(config: pytest.Config) -> None:
    old = config.stash.get(_OLD_SIGTERM, None)
    if old is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, old)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test parametrized without a readable contract fails saying why: one line, no traceback."""
    if item.get_closest_marker(NO_CONTRACT) is not None:
        pytest.fail(contract_error(item.config), pytrace=False)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    parametrize_from_contract(metafunc)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not any("grafana" in item.keywords for item in items) or grafana_url(config):
        return
    skip = pytest.mark.skip(
        reason="no Grafana URL given (--grafana-url, OBS_GRAFANA_URL or stack.grafana in the contract); "
        "e.g. `docker compose up -d` then --grafana-url http://localhost:3000"
    )
    for item in items:
        if "grafana" in item.keywords:
            item.add_marker(skip)
