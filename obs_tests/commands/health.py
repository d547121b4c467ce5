"""``obs-tests health``: a read-only health check of a production stack, for cron, CI and Nagios.

Exit codes are Nagios': 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN — also for bad options and input
(a usage error must never read as CRITICAL or WARNING to a monitoring system), so this command handles
its errors itself instead of leaving them to the ``obs-tests`` group.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from obs_tests.clients.base import normalise_url, redact_url
from obs_tests.clients.grafana import GrafanaCredentials
from obs_tests.commands.options import TIMEOUT, GroupedCommand, GroupedOption, Number
from obs_tests.config.contract import EMBEDDED, Contract, load_contract, parse_duration
from obs_tests.core.interrupts import exit_status, interrupted_line
from obs_tests.core.yamlfile import shown
from obs_tests.errors import ObsTestsError, UsageError
from obs_tests.health import HealthReport, HealthSettings, Status, run_health
from obs_tests.health.status import CheckResult, Problem

__all__ = ["health"]

_UNKNOWN = int(Status.UNKNOWN)
#: the Prometheus, Alertmanager and Grafana URLs of a run
_URLs = tuple[str | None, str | None, str | None]


class HealthCommand(GroupedCommand):
    """Bad command lines exit 3 (UNKNOWN) with the one-line summary first, never 2 (CRITICAL)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            click.echo(f"HEALTH UNKNOWN: UsageError: {exc.format_message()} (see 'obs-tests health --help')")
            sys.exit(_UNKNOWN)  # SystemExit passes through click's non-standalone main unchanged


_MAX_WINDOW = 7 * 86400.0


def _window(ctx: click.Context, param: click.Parameter, value: str) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if not 1 <= seconds <= _MAX_WINDOW:
        raise click.BadParameter(f"{shown(value, 40, quote=False)} — allowed: 1s ≤ window ≤ 7d, e.g. 10m")
    return seconds


F = TypeVar("F", bound=Callable[..., Any])


def _option(*names: str, group: str, **kwargs: Any) -> Callable[[F], F]:
    return click.option(*names, cls=GroupedOption, group=group, **kwargs)


def _emit(report: HealthReport, fmt: str, json_file: Path | None) -> None:
    document = report.to_json()
    if json_file is not None:
        try:
            json_file.parent.mkdir(parents=True, exist_ok=True)
            json_file.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--json-file {json_file}: cannot write it ({exc.strerror})") from None
    click.echo(json.dumps(document, indent=2) if fmt == "json" else report.to_text())


def _failed_run(error: str, settings: dict[str, str | None], fmt: str, json_file: Path | None) -> None:
    check = CheckResult("health", "obs-tests", Status.UNKNOWN, error, (Problem(Status.UNKNOWN, "", error),))
    report = HealthReport([check], endpoints=settings)
    try:
        _emit(report, fmt, None if json_file is None else json_file)
    except ObsTestsError:
        _emit(report, fmt, None)


@click.command(cls=HealthCommand)
@_option(
    "--prometheus-url",
    group="Endpoints",
    envvar="OBS_PROMETHEUS_URL",
    multiple=True,
    help="The Prometheus to check (user:password@ in the URL for basic auth; never printed). Default: the "
    "contract's stack.prometheus when it is a URL. Given again for each other replica of an HA pair: the HA "
    "checks then run too.",
)
@_option(
    "--alertmanager-url",
    group="Endpoints",
    envvar="OBS_ALERTMANAGER_URL",
    multiple=True,
    help="Also check this Alertmanager; given again for each other peer of its cluster (the HA checks then run).",
)
@_option(
    "--replica-label",
    group="Expectations",
    envvar="OBS_REPLICA_LABEL",
    default="replica",
    show_default=True,
    help="HA: the external label naming each Prometheus replica (prometheus_replica for the Prometheus Operator).",
)
@_option(
    "--grafana-url",
    group="Endpoints",
    envvar="OBS_GRAFANA_URL",
    help="Also check this Grafana (credentials from OBS_GRAFANA_TOKEN or OBS_GRAFANA_USER/OBS_GRAFANA_PASSWORD, "
    "or their _FILE variants).",
)
@_option(
    "--contract",
    "-c",
    "contract_path",
    group="Expectations",
    envvar="OBS_CONTRACT",
    default=None,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Optional obs.yaml: also check every contract job has its targets, every rule group is loaded and every "
    "dashboard exists in Grafana.",
)
@_option(
    "--watchdog-alert",
    group="Expectations",
    envvar="OBS_WATCHDOG_ALERT",
    default="Watchdog",
    show_default=True,
    help="The always-firing alert that proves the pipeline alive ('' to skip that check).",
)
@_option(
    "--window",
    group="Thresholds",
    envvar="OBS_HEALTH_WINDOW",
    default="10m",
    show_default=True,
    callback=_window,
    help="Judge counters (dropped notifications, TSDB failures, missed evaluations) over this window.",
)
@_option(
    "--stale-intervals",
    group="Thresholds",
    envvar="OBS_STALE_INTERVALS",
    type=Number(float, minimum=0, minimum_open=True, maximum=1000),
    default=3.0,
    show_default=True,
    help="A target (or the newest sample) older than this many scrape intervals is stale.",
)
@_option(
    "--slow-scrape-ratio",
    group="Thresholds",
    envvar="OBS_SLOW_SCRAPE_RATIO",
    type=Number(float, minimum=0, minimum_open=True, maximum=1),
    default=0.8,
    show_default=True,
    help="WARNING when a scrape takes this share of its scrape_timeout.",
)
@_option(
    "--timeout",
    group="Thresholds",
    envvar="OBS_TIMEOUT",
    type=TIMEOUT,
    default=10.0,
    show_default=True,
    help="Seconds to wait for each HTTP request.",
)
@_option(
    "--format",
    "fmt",
    group="Output",
    envvar="OBS_FORMAT",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: the one-line summary, then one line per check. json: the document of "
    "obs_tests/schemas/health.schema.json.",
)
@_option(
    "--json-file",
    group="Output",
    envvar="OBS_HEALTH_JSON",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the JSON document to this file.",
)
@_option(
    "--warn-only",
    group="Output",
    envvar="OBS_WARN_ONLY",
    is_flag=True,
    help="Report CRITICAL as WARNING in the exit code (1), e.g. while rolling the check out.",
)
def health(
    prometheus_url: tuple[str, ...],
    alertmanager_url: tuple[str, ...],
    replica_label: str,
    grafana_url: str | None,
    contract_path: Path | None,
    watchdog_alert: str,
    window: float,
    stale_intervals: float,
    slow_scrape_ratio: float,
    timeout: float,
    fmt: str,
    json_file: Path | None,
    warn_only: bool,
) -> None:
    """Read-only health check of a live Prometheus (+ Alertmanager, + Grafana): queries only, no writes.

    \b
    Checks targets up, scrape durations, ingestion, rule groups, config reload, TSDB failures,
    notification queue and drops, Alertmanager readiness/cluster/receivers/failed notifications,
    Grafana health, its Prometheus datasources and the contract's dashboards, and that the
    watchdog alert fires. Several replicas or peers: also the HA checks (docs/ha.md).

    \b
    Exit status (Nagios): 0 OK · 1 WARNING · 2 CRITICAL (also: a checked server does not answer —
    refused, timed out, TLS failure) · 3 UNKNOWN (credentials refused, not a Prometheus API, bad option or
    input). The first line of output is the summary.

    \b
    Examples:
      obs-tests health --prometheus-url http://prometheus:9090
      obs-tests health --contract obs.yaml    # the URLs of the contract's stack section
      obs-tests health --contract obs.yaml --grafana-url http://grafana:3000 --format json
      obs-tests health --prometheus-url http://prom-a:9090 --prometheus-url http://prom-b:9090  # HA
    """
    first = (prometheus_url or (None,))[0], (alertmanager_url or (None,))[0]
    endpoints = _redacted(*first, grafana_url)
    try:
        contract = load_contract(contract_path) if contract_path else None
        urls = _with_contract_urls(contract, *first, grafana_url)
        endpoints = _redacted(*urls)
        settings = _settings(
            urls,
            contract,
            timeout=timeout,
            window=window,
            stale_intervals=stale_intervals,
            slow_scrape_ratio=slow_scrape_ratio,
            watchdog_alert=watchdog_alert,
            warn_only=warn_only,
        )
        report = run_health(_with_ha(settings, prometheus_url[1:], alertmanager_url[1:], replica_label))
        report.endpoints = endpoints
        _emit(report, fmt, json_file)
    except KeyboardInterrupt as exc:
        _exit_interrupted(exc)
    except Exception as exc:  # noqa: BLE001 - a crash must read UNKNOWN (3), not WARNING (1), to Nagios
        _failed_run(_failure(exc), endpoints, fmt, json_file)
        sys.exit(_UNKNOWN)
    sys.exit(report.exit_code)


def _with_ha(
    settings: HealthSettings, replicas: tuple[str, ...], peers: tuple[str, ...], replica_label: str
) -> HealthSettings:
    """``settings`` with the other replicas and peers of an HA stack (their URLs checked as the first's)."""
    return dataclasses.replace(
        settings,
        prometheus_replicas=tuple(normalise_url(u, "Prometheus") for u in replicas),
        alertmanager_peers=tuple(normalise_url(u, "Alertmanager") for u in peers),
        replica_label=replica_label,
    )


def _redacted(
    prometheus_url: str | None, alertmanager_url: str | None, grafana_url: str | None
) -> dict[str, str | None]:
    """The endpoints as the report shows them: without credentials."""
    urls = {"prometheus": prometheus_url, "alertmanager": alertmanager_url, "grafana": grafana_url}
    return {k: redact_url(v) if v else None for k, v in urls.items()}


def _with_contract_urls(
    contract: Contract | None, prometheus_url: str | None, alertmanager_url: str | None, grafana_url: str | None
) -> _URLs:
    """The URLs given, completed by those of the contract's stack (when it is not the embedded one)."""
    if contract is not None and not contract.stack.embedded:
        prometheus_url = prometheus_url or contract.stack.prometheus
        if contract.stack.alertmanager not in (None, EMBEDDED):
            alertmanager_url = alertmanager_url or contract.stack.alertmanager
        grafana_url = grafana_url or contract.stack.grafana
    return prometheus_url, alertmanager_url, grafana_url


def _settings(
    urls: _URLs,
    contract: Contract | None,
    *,
    timeout: float,
    window: float,
    stale_intervals: float,
    slow_scrape_ratio: float,
    watchdog_alert: str,
    warn_only: bool,
) -> HealthSettings:
    """The run's settings; a usage error when there is no Prometheus to check."""
    prometheus_url, alertmanager_url, grafana_url = urls
    if prometheus_url is None:
        raise UsageError(
            "Missing option '--prometheus-url' (env var: 'OBS_PROMETHEUS_URL'), and no --contract whose "
            "stack.prometheus is a URL (see 'obs-tests health --help')"
        )
    return HealthSettings(
        prometheus_url=normalise_url(prometheus_url, "Prometheus"),
        alertmanager_url=normalise_url(alertmanager_url, "Alertmanager") if alertmanager_url else None,
        grafana_url=normalise_url(grafana_url, "Grafana") if grafana_url else None,
        grafana=GrafanaCredentials.from_env() if grafana_url else GrafanaCredentials(),
        contract=contract,
        timeout=timeout,
        window=window,
        stale_intervals=stale_intervals,
        slow_scrape_ratio=slow_scrape_ratio,
        watchdog_alert=watchdog_alert,
        warn_only=warn_only,
    )


def _failure(exc: Exception) -> str:
    """The message of a run that failed with ``exc``: the project's error as it says, else an internal error."""
    if isinstance(exc, ObsTestsError):
        return f"{type(exc).__name__}: {exc}"
    return f"internal error: {type(exc).__name__}: {exc}"


def _exit_interrupted(exc: KeyboardInterrupt) -> NoReturn:
    """Read-only: nothing to stop or revert. Exit now, 128 + the signal: the interpreter would otherwise
    wait at exit for the worker threads' requests still in flight (up to --timeout each)."""
    status = exit_status(exc)
    click.echo(interrupted_line(status), err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
