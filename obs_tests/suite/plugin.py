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
- markers ``chaos``, ``load``, ``grafana``, ``browser``, ``slow``, ``stack``; ``grafana`` tests skip
  with a reason when no Grafana URL is given.

SIGTERM is turned into ``KeyboardInterrupt`` for the session so fixture teardown (stopping the stack)
runs when CI kills the job.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from obs_tests.clients.alertmanager import AlertmanagerClient
from obs_tests.clients.grafana import GrafanaClient
from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.config.contract import Contract, Metric
from obs_tests.config.policy import Policy, Suppression, Verdict, judge, suppressions_in
from obs_tests.core.findings import Finding, format_findings
from obs_tests.core.interrupts import raise_interrupt
from obs_tests.core.progress import Progress
from obs_tests.errors import ObsTestsError
from obs_tests.rules.rulefiles import load_rule_files
from obs_tests.stack.embedded import EmbeddedStack
from obs_tests.stack.external import ExternalStack
from obs_tests.stack.run_settings import RunSettings, given_value, resolve_settings
from obs_tests.workloads import LoadResult, LoadRun, LoadSpec

__all__ = [
    "FindingsJudge",
    "alertmanager",
    "contract",
    "grafana",
    "healthy_stack",
    "load",
    "mock_system",
    "obs_findings",
    "obs_report",
    "obs_report_dir",
    "obs_summary",
    "prom",
    "stack",
]

MARKERS = {
    "chaos": "injects faults into the stack",
    "load": "runs Locust load",
    "grafana": "needs a Grafana server (--grafana-url / OBS_GRAFANA_URL)",
    "browser": "drives headless Chromium",
    "slow": "takes more than a few seconds",
    "stack": "starts the embedded stack of real servers",
}

_SETTINGS_KEY = pytest.StashKey[RunSettings]()
_SUPPRESSIONS_KEY = pytest.StashKey[tuple[list[Suppression], list[Finding]]]()
_REPORT_KEY = pytest.StashKey[dict[str, Any]]()
_SCENARIOS_KEY = pytest.StashKey[list[Any]]()
_OLD_SIGTERM = pytest.StashKey[Any]()
_PROGRESS_KEY = pytest.StashKey[Progress]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("obs-tests", "obs-tests: validate a monitoring stack")
    group.addoption(
        "--obs-contract",
        default=None,
        help="contract file (env OBS_CONTRACT; default: obs.yaml in the current directory)",
    )
    group.addoption(
        "--prometheus-url",
        default=None,
        help="use this Prometheus instead of the embedded stack (env OBS_PROMETHEUS_URL)",
    )
    group.addoption(
        "--obs-time-scale",
        default=None,
        help="embedded stack: multiply every for:/range window of the rules by this factor (env OBS_TIME_SCALE; "
        "default: the contract's stack.time_scale)",
    )
    group.addoption("--alertmanager-url", default=None, help="Alertmanager URL (env OBS_ALERTMANAGER_URL)")
    group.addoption("--grafana-url", default=None, help="Grafana URL; enables grafana tests (env OBS_GRAFANA_URL)")
    group.addoption(
        "--obs-report-dir",
        default=None,
        help="where checks write their own reports, e.g. rule-test JUnit (env OBS_REPORT_DIR; default: reports)",
    )
    group.addoption(
        "--obs-scenario-stacks",
        default=None,
        help="embedded stack: run the chaos scenarios on this many stacks in parallel (env OBS_SCENARIO_STACKS; "
        "default: the contract's stack.scenario_stacks)",
    )
    group.addoption(
        "--obs-log-dir",
        default=None,
        help="keep the embedded stack's component logs in this directory (env OBS_LOG_DIR)",
    )


#: setting (RunSettings) -> this plugin's option giving it
_FLAGS = {
    "contract": "--obs-contract",
    "prometheus_url": "--prometheus-url",
    "alertmanager_url": "--alertmanager-url",
    "grafana_url": "--grafana-url",
    "time_scale": "--obs-time-scale",
    "scenario_stacks": "--obs-scenario-stacks",
    "log_dir": "--obs-log-dir",
    "report_dir": "--obs-report-dir",
}


class GivenSettings:
    """``obs-tests check`` hands the settings it resolved to the session as this plugin object
    (``pytest.main(args, plugins=[GivenSettings(settings)])``): nothing is resolved twice."""

    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings


def _given(config: pytest.Config) -> dict[str, object | None]:
    return {key: config.getoption(flag, default=None) for key, flag in _FLAGS.items()}


def run_settings(config: pytest.Config) -> RunSettings:
    """The session's settings: the ones ``obs-tests check`` handed over, else this plugin's options resolved
    by :func:`~obs_tests.stack.run_settings.resolve_settings` (once per session). A bad contract or value stops
    the session with the reason (a usage error)."""
    if _SETTINGS_KEY not in config.stash:
        handed = [p.settings for p in config.pluginmanager.get_plugins() if isinstance(p, GivenSettings)]
        if handed:
            config.stash[_SETTINGS_KEY] = handed[0]
        else:
            try:
                config.stash[_SETTINGS_KEY] = resolve_settings(_given(config), flags=_FLAGS)
            except ObsTestsError as exc:
                path = Path(given_value(_given(config), "contract") or "obs.yaml")
                hint = (
                    ""
                    if path.exists()
                    else " (give --obs-contract=PATH or OBS_CONTRACT, or run pytest where your obs.yaml is)"
                )
                raise pytest.UsageError(f"{type(exc).__name__}: {exc}{hint}") from None
    return config.stash[_SETTINGS_KEY]


def _contract_argument_took_the_rootdir(config: pytest.Config) -> str | None:
    """``--obs-contract /x/obs.yaml`` as two arguments: pytest picks its rootdir (and ini file) from the path
    arguments before any plugin loads, so it took that checkout's — its pytest settings would apply to the
    user's tests. The fix, when nothing else fixes the rootdir (``--rootdir``, ``-c``)."""
    args = [str(a) for a in config.invocation_params.args]
    if "--obs-contract" not in args or config.known_args_namespace.rootdir or config.known_args_namespace.inifilename:
        return None
    index = args.index("--obs-contract")
    if index + 1 >= len(args):
        return None
    value = args[index + 1]
    invocation = config.invocation_params.dir
    if invocation.is_relative_to(config.rootpath):
        return None  # the tests run inside that tree anyway
    ini = f" and its {config.inipath.name}" if config.inipath else ""
    return (
        f"--obs-contract {value}: given as a separate argument, pytest took {config.rootpath} as the rootdir{ini} "
        f"(it picks them from path arguments before plugins load), so that project's pytest settings would apply "
        f"to your tests in {invocation} — write --obs-contract={value}, or set OBS_CONTRACT={value}"
    )


def pytest_configure(config: pytest.Config) -> None:
    if (problem := _contract_argument_took_the_rootdir(config)) is not None:
        raise pytest.UsageError(problem)
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    config.addinivalue_line("markers", "obs_contract_unreadable: obs-tests could not read the contract (internal)")
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) in (
        signal.SIG_DFL,
        None,
    ):
        config.stash[_OLD_SIGTERM] = signal.signal(signal.SIGTERM, raise_interrupt)


def session_progress(config: pytest.Config) -> Progress:
    """What the session waits for, through pytest's terminal past output capturing (as live logs are): a
    line per phase, and on a terminal a status line while it lasts. Silent with ``-qq`` or without pytest's
    terminal reporter."""
    if (cached := config.stash.get(_PROGRESS_KEY, None)) is not None:
        return cached
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capman = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or config.get_verbosity() < -1:
        progress = Progress(lambda line: None)
        config.stash[_PROGRESS_KEY] = progress
        return progress

    def uncaptured() -> contextlib.AbstractContextManager[None]:
        return capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext()

    def write_line(line: str) -> None:
        with uncaptured():
            if getattr(reporter, "_width_of_current_line", 0):  # after -q's dots
                reporter.write("\n")
            reporter.ensure_newline()
            reporter.write_line(line)

    def draw(text: str) -> None:
        with uncaptured():
            reporter.write(text, flush=True)

    terminal = bool(getattr(reporter, "isatty", False)) and os.environ.get("TERM") != "dumb"
    progress = Progress(write_line, draw if terminal else None, width=lambda: shutil.get_terminal_size().columns)
    config.stash[_PROGRESS_KEY] = progress
    return progress


def pytest_unconfigure(config: pytest.Config) -> None:
    old = config.stash.get(_OLD_SIGTERM, None)
    if old is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, old)


def session_contract(config: pytest.Config) -> Contract:
    """The session's contract (see :func:`run_settings`); a bad contract stops the session clearly."""
    return run_settings(config).contract


_NO_CONTRACT = "obs_contract_unreadable"


def _contract_error(config: pytest.Config) -> str:
    """Why the contract cannot be read ("" when it can)."""
    try:
        session_contract(config)
    except pytest.UsageError as exc:
        return str(exc)
    return ""


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test parametrized without a readable contract fails saying why: one line, no traceback."""
    if item.get_closest_marker(_NO_CONTRACT) is not None:
        pytest.fail(_contract_error(item.config), pytrace=False)


def _contract_or_none(metafunc: pytest.Metafunc, name: str) -> Contract | None:
    """The contract for parametrizing ``name``; when it cannot be read, one test that fails saying why (an
    error raised while collecting comes out wrapped in other plugins' hook warnings)."""
    try:
        return session_contract(metafunc.config)
    except pytest.UsageError:
        mark = getattr(pytest.mark, _NO_CONTRACT)
        metafunc.parametrize(name, [pytest.param(None, id="no-contract", marks=mark)])
        return None


_METRIC_PARAMS: dict[str, Callable[[Metric], bool]] = {
    "contract_metric": lambda m: True,
    "contract_histogram": lambda m: m.type == "histogram",
    "contract_gauge": lambda m: m.type == "gauge",
    "contract_budgeted": lambda m: m.max_series is not None,
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "contract_job" in metafunc.fixturenames and (contract := _contract_or_none(metafunc, "contract_job")):
        metafunc.parametrize("contract_job", contract.jobs, ids=[j.name for j in contract.jobs])
    for name, keep in _METRIC_PARAMS.items():
        if name in metafunc.fixturenames and (contract := _contract_or_none(metafunc, name)):
            metrics = [m for m in contract.metrics if keep(m)]
            metafunc.parametrize(name, metrics, ids=[m.name for m in metrics])
    if "contract_alert" in metafunc.fixturenames and (contract := _contract_or_none(metafunc, "contract_alert")):
        alerts = [r for rf in load_rule_files(contract.files.rule_files()) for r in rf.alerts]
        metafunc.parametrize("contract_alert", alerts, ids=[a.name for a in alerts])
    if "contract_scenario" in metafunc.fixturenames:
        scenarios = session_scenarios(metafunc.config)
        metafunc.parametrize("contract_scenario", scenarios, ids=[s.name for s in scenarios])


def session_scenarios(config: pytest.Config) -> list[Any]:
    """The contract's scenarios (steady-state ones first), loaded once per session; a bad file stops the
    session with its located error (exit 2)."""
    if _SCENARIOS_KEY not in config.stash:
        from obs_tests.scenarios.model import Catalog, load_scenarios, ordered  # noqa: PLC0415

        contract = session_contract(config)
        if not contract.files.scenarios.is_dir():
            config.stash[_SCENARIOS_KEY] = []
        else:
            try:
                found = load_scenarios(contract.files.scenarios, Catalog.from_contract(contract))
            except ObsTestsError as exc:
                raise pytest.UsageError(f"{type(exc).__name__}: {exc}") from None
            config.stash[_SCENARIOS_KEY] = ordered(found)
    result: list[Any] = config.stash[_SCENARIOS_KEY]
    return result


def log_dir(config: pytest.Config) -> Path | None:
    """Where the embedded stack keeps its component logs (``--obs-log-dir``, ``OBS_LOG_DIR``), if anywhere."""
    try:
        return run_settings(config).log_dir
    except pytest.UsageError:
        text = given_value(_given(config), "log_dir")
        return Path(text) if text else None


def grafana_url(config: pytest.Config) -> str | None:
    """The Grafana under test: ``--grafana-url``, ``OBS_GRAFANA_URL`` or the contract's ``stack.grafana``."""
    try:
        return run_settings(config).grafana_url
    except pytest.UsageError:
        return given_value(_given(config), "grafana_url")


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


@pytest.fixture(scope="session")
def contract(pytestconfig: pytest.Config) -> Contract:
    """The parsed contract (``--obs-contract``, default ``obs.yaml``)."""
    error = _contract_error(pytestconfig)
    if error:
        pytest.fail(error, pytrace=False)
    return session_contract(pytestconfig)


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


def report_sections(config: pytest.Config) -> dict[str, Any]:
    """The report sections tests added this session (``obs_report`` fixture)."""
    return config.stash.setdefault(_REPORT_KEY, {})


@pytest.fixture(scope="session")
def obs_report(pytestconfig: pytest.Config) -> dict[str, Any]:
    """Report sections by name (``obs_report["metrics_coverage"] = {...}``); `obs-tests check` writes them
    into summary.json."""
    return report_sections(pytestconfig)


@pytest.fixture(scope="session")
def obs_report_dir(pytestconfig: pytest.Config) -> Path:
    """Where checks write reports of their own (``--obs-report-dir``, default ``reports``)."""
    try:
        path = run_settings(pytestconfig).report_dir
    except pytest.UsageError:  # no readable contract: the option, else the default
        path = Path(given_value(_given(pytestconfig), "report_dir") or "reports")
    path.mkdir(parents=True, exist_ok=True)
    return path


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


@pytest.fixture
def obs_summary(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Record the one-line description of what a test verified (shown in the `obs-tests check` summary)."""

    def record(text: str) -> None:
        request.node.user_properties.append(("summary", text))

    return record


def session_suppressions(config: pytest.Config) -> tuple[list[Suppression], list[Finding]]:
    """The in-file suppressions of the contract's rule files (read once per session) and their problems."""
    if _SUPPRESSIONS_KEY not in config.stash:
        files = load_rule_files(session_contract(config).files.rule_files())
        config.stash[_SUPPRESSIONS_KEY] = suppressions_in((rf.path, [r.line for r in rf.rules]) for rf in files)
    return config.stash[_SUPPRESSIONS_KEY]


class FindingsJudge:
    """A check's findings under the contract's policy (the ``obs_findings`` fixture).

    ``obs_findings(findings)`` judges and fails the test on errors; ``verdict = obs_findings.judge(findings)``
    then ``obs_findings.require(verdict)`` lets a test write its summary line from the verdict first (so a
    failed check never reads like a passed one)."""

    def __init__(self, node: pytest.Item, policy: Policy, suppressions: Sequence[Suppression]) -> None:
        self.node = node
        self.policy = policy
        self.suppressions = suppressions

    def judge(self, findings: Iterable[Finding]) -> Verdict:
        """Suppressions, then levels; warnings are recorded for the summary and the reports."""
        verdict = judge(findings, self.policy, self.suppressions)
        if verdict.warnings:
            self.node.user_properties.append(("warnings", [str(f) for f in verdict.warnings]))
        if verdict.errors or verdict.warnings:
            judged = [f.to_json() for f in (*verdict.errors, *verdict.warnings)]
            self.node.user_properties.append(("findings", judged))
        return verdict

    def require(self, verdict: Verdict) -> Verdict:
        """Fail the test (one line per error) when the verdict has errors."""
        if verdict.errors:
            pytest.fail(format_findings(verdict.errors), pytrace=False)
        return verdict

    def __call__(self, findings: Iterable[Finding]) -> Verdict:
        return self.require(self.judge(findings))


@pytest.fixture
def obs_findings(request: pytest.FixtureRequest) -> FindingsJudge:
    """Judge a check's findings under the contract's policy: in-file suppressions first, then each rule
    id's level. Errors fail the test (one line each); warnings are recorded for the summary and every
    report. See :class:`FindingsJudge`."""
    config = request.config
    suppressions, _ = session_suppressions(config)
    return FindingsJudge(request.node, session_contract(config).policy, suppressions)


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
    """An Alertmanager API client (skips when the stack has no Alertmanager)."""
    url = stack.alertmanager_url
    if not url:
        pytest.skip("the stack has no Alertmanager (give --alertmanager-url)")
    return AlertmanagerClient(url, timeout=10.0)
