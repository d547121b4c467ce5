"""The fixtures of the stack under test: ``stack`` (session: the embedded stack, started once, unless a
Prometheus URL is given), ``healthy_stack`` (healed after each test), ``mock_system`` (the embedded stack
with its system under test), ``load`` (Locust against it), and the API clients ``prom``, ``alertmanager``
and ``grafana``.

Example::

    def test_gateway_crash(healthy_stack, prom):
        healthy_stack.kill("gateway")         # healed after the test
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from obs_tests.clients.alertmanager import AlertmanagerClient, ClusterClient
from obs_tests.clients.grafana import GrafanaClient
from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.config.contract import Contract
from obs_tests.errors import ObsTestsError
from obs_tests.stack.embedded import EmbeddedStack
from obs_tests.stack.external import ExternalStack
from obs_tests.suite.session_settings import grafana_url, run_settings
from obs_tests.suite.terminal_progress import session_progress
from obs_tests.workloads import LoadResult, LoadRun, LoadSpec

__all__ = [
    "LoadFixture",
    "alertmanager",
    "grafana",
    "healthy_stack",
    "load",
    "mock_system",
    "prom",
    "stack",
]


@pytest.fixture(scope="session")
def stack(pytestconfig: pytest.Config, contract: Contract) -> Iterator[EmbeddedStack | ExternalStack]:
    """The stack under test: embedded (started once per session) unless a Prometheus URL is given."""
    settings = run_settings(pytestconfig)
    if settings.prometheus_url is not None:
        yield ExternalStack(settings.prometheus_url, settings.alertmanager_url, settings.grafana_url)
        return
    try:
        embedded = EmbeddedStack(contract, log_dir=settings.log_dir, time_scale=settings.time_scale)
    except ObsTestsError as exc:
        raise pytest.UsageError(f"{type(exc).__name__}: {exc}") from None
    try:
        with session_progress(pytestconfig).phase("starting the embedded stack", at_most=embedded.startup_timeout):
            embedded.__enter__()
    except ObsTestsError as exc:
        # Every test needs the stack: stop the session with the reason instead of N identical errors.
        pytest.exit(f"{type(exc).__name__}: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)
    try:
        yield embedded
    finally:
        embedded.close()


@pytest.fixture
def healthy_stack(stack: EmbeddedStack | ExternalStack) -> Iterator[EmbeddedStack | ExternalStack]:
    """The session stack, healed after the test: paused components resumed, stopped ones started, every
    target up again — so a test may kill or pause components freely."""
    yield stack
    if isinstance(stack, EmbeddedStack):
        stack.heal()


@pytest.fixture
def mock_system(stack: EmbeddedStack | ExternalStack) -> EmbeddedStack:
    """The embedded stack with its system under test (tests that drive workloads skip elsewhere)."""
    if not isinstance(stack, EmbeddedStack) or stack.system is None:
        pytest.skip("drives a workload through the system under test: needs the embedded stack")
    return stack


class LoadFixture:
    """The ``load`` fixture: ``load(users=20, duration=10, …)`` runs Locust against the mock gateway to the
    end and returns its stats; ``load.start(...)`` returns a running :class:`~obs_tests.workloads.loadgen.LoadRun`.
    Every run still going at the end of the test is stopped."""

    def __init__(self, stack: EmbeddedStack) -> None:
        self.stack = stack
        self.runs: list[LoadRun] = []

    def start(self, **spec: Any) -> LoadRun:
        """Start a load (``LoadSpec`` fields as keywords) and return it running."""
        run = LoadRun(LoadSpec(**spec), self.stack.url("gateway"), targets_file=self.stack.load_targets)
        self.runs.append(run)
        run.start()
        return run

    def __call__(self, **spec: Any) -> LoadResult:
        return self.start(**spec).wait()

    def stop_all(self) -> None:
        """Stop whatever still runs."""
        for run in self.runs:
            run.stop()


@pytest.fixture
def load(mock_system: EmbeddedStack) -> Iterator[LoadFixture]:
    """Run Locust load against the embedded mock gateway (see :class:`LoadFixture`)."""
    fixture = LoadFixture(mock_system)
    try:
        yield fixture
    finally:
        fixture.stop_all()


@pytest.fixture(scope="session")
def prom(stack: EmbeddedStack | ExternalStack) -> Iterator[PrometheusClient]:
    """A Prometheus API client for the stack under test."""
    client = stack.prometheus()
    yield client
    with contextlib.suppress(Exception):
        client.close()


@pytest.fixture(scope="session")
def grafana(pytestconfig: pytest.Config) -> Iterator[GrafanaClient]:
    """A Grafana API client (credentials from OBS_GRAFANA_TOKEN or OBS_GRAFANA_USER/OBS_GRAFANA_PASSWORD);
    skips when no Grafana URL is given."""
    url = grafana_url(pytestconfig)
    if not url:
        pytest.skip("no Grafana URL given (--grafana-url, OBS_GRAFANA_URL or stack.grafana in the contract)")
    try:
        client = GrafanaClient.from_env(url)
    except ObsTestsError as exc:
        raise pytest.UsageError(f"{type(exc).__name__}: {exc}") from None
    yield client
    with contextlib.suppress(Exception):
        client.close()


@pytest.fixture(scope="session")
def alertmanager(stack: EmbeddedStack | ExternalStack) -> AlertmanagerClient:
    """An Alertmanager API client (skips when the stack has no Alertmanager); on an HA embedded stack it
    posts alerts to every peer, as the Prometheus replicas do."""
    url = stack.alertmanager_url
    if not url:
        pytest.skip("the stack has no Alertmanager (give --alertmanager-url)")
    if isinstance(stack, EmbeddedStack) and len(stack.alertmanager_urls) > 1:
        return ClusterClient(stack.alertmanager_urls, timeout=10.0)
    return AlertmanagerClient(url, timeout=10.0)
