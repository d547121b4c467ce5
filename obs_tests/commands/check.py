"""``obs-tests check``: run the validation suite (pytest) against a stack and report."""

from __future__ import annotations

import shutil
import sys
import time
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path

import click
import pytest

from obs_tests.clients.alertmanager import AlertmanagerClient
from obs_tests.clients.grafana import GrafanaClient
from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.commands.options import (
    GroupedCommand,
    GroupedOption,
    alertmanager_url_option,
    contract_option,
    grafana_url_option,
    prometheus_url_option,
    report_dir_option,
    scenario_stacks_option,
    time_scale_option,
    topology_option,
)
from obs_tests.core.interrupts import exit_status, interrupted_line, signal_received
from obs_tests.reports.check_report import write_run_reports
from obs_tests.stack.run_settings import RunSettings, resolve_settings
from obs_tests.suite.markers import MARKERS, selection_hint
from obs_tests.suite.plugin import GivenSettings
from obs_tests.suite.summary import SummaryCollector

__all__ = ["check", "foreign_plugins", "suite_args"]

OWN_PLUGIN = "obs_tests"

# pytest exit codes -> ours: 0 green, 1 validation failed, 2 usage/input/internal error; interrupted:
# 128 + the signal (130 SIGINT, 143 SIGTERM), see _exit_code.
_EXIT = {
    pytest.ExitCode.OK: 0,
    pytest.ExitCode.TESTS_FAILED: 1,
    pytest.ExitCode.INTERNAL_ERROR: 2,
    pytest.ExitCode.USAGE_ERROR: 2,
    pytest.ExitCode.NO_TESTS_COLLECTED: 2,
}


def _exit_code(code: int | pytest.ExitCode) -> int:
    if code == pytest.ExitCode.INTERRUPTED:
        return exit_status()  # pytest swallowed the KeyboardInterrupt; the signal was noted
    return _EXIT.get(pytest.ExitCode(code), 2)


def _mode(settings: RunSettings) -> str:
    """``stack at <url>``, ``embedded stack`` or ``embedded stack (ha: 2 Prometheus replicas, …)``."""
    if settings.prometheus_url:
        return f"stack at {settings.prometheus_url}"
    topology = settings.contract.stack.topology
    return f"embedded stack ({topology.describe()})" if topology.ha else "embedded stack"


def _probe_given_servers(settings: RunSettings) -> None:
    """The servers of yours answer as what they are (else exit 2 before any check runs)."""
    if settings.prometheus_url:
        PrometheusClient(settings.prometheus_url, timeout=10.0).buildinfo()
    if settings.alertmanager_url:
        AlertmanagerClient(settings.alertmanager_url, timeout=10.0).status()
    if settings.grafana_url:
        grafana = GrafanaClient.from_env(settings.grafana_url, timeout=10.0)
        grafana.health()  # unreachable/not Grafana -> exit 2
        grafana.user()  # credentials refused -> exit 2 (before every grafana test fails the same way)


def suite_args() -> list[str]:
    """The pytest arguments that select the installed suite and nothing of the directory we run in.

    pytest reads configuration from where it runs: the ini file (pytest.ini, pyproject.toml, tox.ini,
    setup.cfg) of the current directory or a parent, and ``conftest.py`` files — with ``--pyargs`` the
    package name is no path, so pytest loads the conftest.py of the *current directory* (and of its
    ``test*`` subdirectories) as the "initial conftests". A project's own test configuration (e.g. one
    that points OBS_STATE_DIR at a private directory, hiding the run's stacks from ``status``/``down``)
    must never change the product's run. So: the suite's directory as a path (its own conftest.py is
    loaded, none of the current directory's), ``--confcutdir`` there (no conftest.py above it), our own
    ini file (``-c``: no ini file is searched for) and the rootdir fixed to the directory holding the
    ``obs_tests`` package (node ids do not depend on where the command runs). Markers are strict: ``-m``
    naming a marker the suite does not have is a usage error, not a run that selects nothing.
    """
    suite = Path(str(resources.files("obs_tests.suite")))
    ini = suite / "pytest.ini"
    return [
        str(suite),
        "-c",
        str(ini),
        "--rootdir",
        str(suite.parent.parent),
        "--confcutdir",
        str(suite),
        "--strict-markers",  # a mark no one registered is an error, and so is an unknown marker in -m
        "-p",
        "no:cacheprovider",
        *foreign_plugins(),
    ]


def foreign_plugins() -> list[str]:
    """``-p no:<name>`` for every other pytest plugin installed next to obs-tests (``pytest11`` entry
    points). The suite needs none of them, and like the ini file this keeps the run isolated from what
    happens to be installed: some import seconds of dependencies at every start (schemathesis and
    hypothesis took 3 of the 4.7 s before the first check), others could change how the checks run."""
    names = sorted({ep.name for ep in entry_points(group="pytest11")} - {OWN_PLUGIN})
    return [arg for name in names for arg in ("-p", f"no:{name}")]


@click.command(cls=GroupedCommand, context_settings={"ignore_unknown_options": False})
@contract_option
@prometheus_url_option
@alertmanager_url_option
@grafana_url_option
@report_dir_option("Where junit.xml, summary.json and the stack logs go.")
@click.option(
    "-k",
    "keyword",
    cls=GroupedOption,
    group="Selection",
    envvar="OBS_KEYWORD",
    default=None,
    help="Only run checks matching this pytest -k expression.",
)
@click.option(
    "-m",
    "markexpr",
    cls=GroupedOption,
    group="Selection",
    envvar="OBS_MARKERS",
    default=None,
    help='Only run checks matching this marker expression, e.g. "not chaos", "scenario and state" '
    "(markers: " + ", ".join(MARKERS) + ").",
)
@click.option(
    "--verbose",
    "-v",
    cls=GroupedOption,
    group="Output",
    is_flag=True,
    envvar="OBS_VERBOSE",
    help="Show pytest's per-test output too.",
)
@time_scale_option
@topology_option
@scenario_stacks_option("--scenario-stacks")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def check(
    contract_path: Path,
    prometheus_url: str | None,
    alertmanager_url: str | None,
    grafana_url: str | None,
    report_dir: Path,
    keyword: str | None,
    markexpr: str | None,
    verbose: bool,
    time_scale: float | None,
    topology: str | None,
    scenario_stacks: int | None,
    pytest_args: tuple[str, ...],
) -> None:
    """Run the validation suite against the embedded stack (default) or your own stack (URLs).

    Extra arguments after `--` go to pytest.

    \b
    Examples:
      obs-tests check
      obs-tests check --prometheus-url http://prometheus:9090 --alertmanager-url http://alertmanager:9093
      obs-tests check -k targets -- -x
      obs-tests check -m "not chaos and not load"
      obs-tests check --topology ha     # Prometheus replicas, an Alertmanager cluster, the HA scenarios
    """
    log_dir = report_dir / "logs"
    given: dict[str, object | None] = {"contract": contract_path, "prometheus_url": prometheus_url}
    given |= {"alertmanager_url": alertmanager_url, "grafana_url": grafana_url, "time_scale": time_scale}
    settings = resolve_settings(
        given | {"scenario_stacks": scenario_stacks, "topology": topology, "log_dir": log_dir, "report_dir": report_dir}
    )
    contract, prom_url = settings.contract, settings.prometheus_url
    _probe_given_servers(settings)
    report_dir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(log_dir, ignore_errors=True)
    junit = report_dir / "junit.xml"
    args = _pytest_args(junit, verbose=verbose, keyword=keyword, markexpr=markexpr, extra=pytest_args)
    mode = _mode(settings)
    click.echo(f"obs-tests check — {mode}, contract {contract_path}")
    collector = SummaryCollector()
    started, started_wall = time.monotonic(), time.time()
    code = _run_suite(args, collector, settings)
    elapsed = time.monotonic() - started
    if collector.selection_error:
        click.echo(f"obs-tests check: {selection_hint()}", err=True)  # pytest said what it refused
        sys.exit(2)
    summary_path = report_dir / "summary.json"
    selection = {"markers": markexpr, "keyword": keyword}
    collector.write_json(summary_path, {"contract": str(contract_path), "stack": mode, "selection": selection})
    reports = write_run_reports(summary_path, report_dir, contract, since=started_wall)
    _print_summary(collector, elapsed)
    if code == pytest.ExitCode.NO_TESTS_COLLECTED and collector.deselected:
        click.echo(_nothing_selected(collector.deselected, markexpr, keyword), err=True)
    shown = "  ".join(str(p) for p in (junit, summary_path, *reports))
    click.echo(f"Reports: {shown}" + ("" if prom_url else f"  (stack logs: {log_dir})"))
    status = _exit_code(code)
    if code == pytest.ExitCode.INTERRUPTED:
        click.echo(interrupted_line(status), err=True)
    sys.exit(status)


def _pytest_args(
    junit: Path, *, verbose: bool, keyword: str | None, markexpr: str | None, extra: tuple[str, ...]
) -> list[str]:
    """pytest's command line: the installed suite, the JUnit file, the selection, then the user's arguments."""
    args = [*suite_args(), f"--junitxml={junit}", "--tb=short", "-rN", "-v" if verbose else "-q"]
    if keyword:
        args += ["-k", keyword]
    if markexpr:
        args += ["-m", markexpr]
    return args + list(extra)


def _nothing_selected(deselected: int, markexpr: str | None, keyword: str | None) -> str:
    """The line for a selection that left every check out (exit 2)."""
    given = " ".join(f"{flag} {value!r}" for flag, value in (("-m", markexpr), ("-k", keyword)) if value)
    return f"No check selected: {given or 'the selection'} left out all {deselected}. {selection_hint()}"


def _run_suite(args: list[str], collector: SummaryCollector, settings: RunSettings) -> int | pytest.ExitCode:
    """Run the suite in this process: pytest's exit code."""
    try:
        return pytest.main(args, plugins=[collector, GivenSettings(settings)])
    except Exception:
        # A signal landing inside one of pytest's own hooks can make pytest fail while it reports the
        # interrupt (Python 3.11: a frame without a line number breaks its traceback formatting) — after
        # its session teardown ran (stacks stopped, faults reverted): still an interrupted run.
        if signal_received() is None:
            raise
        return pytest.ExitCode.INTERRUPTED


def _print_summary(collector: SummaryCollector, elapsed: float) -> None:
    """The summary: a line per check, the counts, and the line to read first if there is one."""
    click.echo("")
    click.echo("Summary")
    for line in collector.lines():
        click.echo(line)
    counts = collector.counts()
    warnings = collector.warnings()
    click.echo(
        f"{counts['passed']} passed, {counts['failed']} failed, {counts['error']} errors, "
        f"{counts['skipped']} skipped"
        + (f", {collector.deselected} deselected" if collector.deselected else "")
        + (f", {warnings} warnings (the contract's policy: reported, not failing)" if warnings else "")
        + f" in {elapsed:.1f}s"
    )
    first = collector.start_with()
    if first:
        click.echo(first)
