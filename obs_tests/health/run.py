"""Run every health check once: fetch from Prometheus, Alertmanager and Grafana concurrently, judge,
report. Read-only: GET requests (and PromQL instant queries) only.

Example::

    report = run_health(HealthSettings(prometheus_url="http://prometheus:9090"))
    print(report.summary_line())
    sys.exit(report.exit_code)

A Prometheus that cannot be queried (not reachable, refused credentials, not Prometheus) makes the run
UNKNOWN: nothing can be judged without it. An Alertmanager or Grafana that does not answer is CRITICAL
(it is part of what is checked); one that refuses the credentials or does not speak its API is UNKNOWN.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from obs_tests.checks.ha_view import fetch_ha
from obs_tests.clients.alertmanager import AlertmanagerClient
from obs_tests.clients.grafana import GrafanaClient
from obs_tests.clients.prometheus import PrometheusClient, Target
from obs_tests.config.contract import parse_duration
from obs_tests.errors import DataMissing, EndpointAuthError, EndpointUnreachable, ObsTestsError
from obs_tests.health import alertmanager_checks as am_checks
from obs_tests.health import grafana_checks as gf_checks
from obs_tests.health import prometheus_state as ps
from obs_tests.health.ha_checks import ha_results
from obs_tests.health.prometheus_alerting import judge_alertmanagers, judge_notifications, judge_watchdog
from obs_tests.health.prometheus_rules import judge_rules
from obs_tests.health.prometheus_server import (
    judge_api,
    judge_config_reload,
    judge_ingestion,
    judge_self_scrape,
    judge_tsdb,
)
from obs_tests.health.prometheus_targets import judge_scrape_duration, judge_target_freshness, judge_targets
from obs_tests.health.recency import Recency
from obs_tests.health.settings import HealthSettings
from obs_tests.health.status import CheckResult, HealthReport, Problem, Status, parse_time
from obs_tests.rules.rulefiles import load_rule_files

__all__ = ["endpoint_failure", "run_health"]


def endpoint_failure(name: str, component: str, exc: ObsTestsError, *, down_is_critical: bool) -> CheckResult:
    """The result of a check whose server failed: CRITICAL when a checked component does not answer
    (refused, timed out, TLS failure — as Nagios' check_http says of the service it checks), UNKNOWN when
    it cannot be judged (credentials refused, not the expected API)."""
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, EndpointAuthError):
        message += " (HTTP 401/403: set the right credentials; the check cannot judge without them)"
    status = Status.CRITICAL if down_is_critical and isinstance(exc, EndpointUnreachable) else Status.UNKNOWN
    return CheckResult(name, component, status, message, (Problem(status, "", message),))


def _guard(name: str, component: str, judge: Callable[[], CheckResult]) -> CheckResult:
    try:
        return judge()
    except DataMissing as exc:
        return CheckResult.unknown(name, component, f"could not fetch what this check needs: {exc}")


def _expected_groups(settings: HealthSettings) -> list[tuple[str, str]]:
    if settings.contract is None:
        return []
    files = load_rule_files(settings.contract.files.rule_files())
    # a PrometheusRule manifest's groups land in files the operator names: matched by group name ("")
    return [("" if rf.is_manifest else rf.path.name, group) for rf in files for group in dict.fromkeys(rf.groups)]


def _alertmanager_wanted(settings: HealthSettings) -> bool | None:
    """True when an Alertmanager was asked for (a URL, or the contract's stack.alertmanager), False when the
    contract declares none, None when nothing says."""
    if settings.alertmanager_url:
        return True
    if settings.contract is not None:
        return settings.contract.stack.alertmanager is not None
    return None


def _resend_delay(state: ps.PrometheusState) -> float:
    """Prometheus' ``--rules.alert.resend-delay`` (its default, 1m, when the flags do not say)."""
    flags = state.data.get("flags") or {}
    try:
        return parse_duration(str(flags.get("rules.alert.resend-delay") or "1m"))
    except ValueError:
        return 60.0


def _resend_grace(state: ps.PrometheusState) -> float:
    """How long after an Alertmanager start Prometheus may take to re-send a firing alert."""
    intervals = [float(g.get("interval") or 0) for g in state.data.get("rules") or []]
    return _resend_delay(state) + max(intervals, default=0.0) + 15.0


def _ongoing(state: ps.PrometheusState, settings: HealthSettings) -> float:
    """How recent a counter's last growth must be for its incident to count as going on: a send every
    resend delay (plus a group interval), seen at Prometheus' next two self-scrapes, to the ``*_last``
    queries' resolution."""
    resend = _resend_delay(state)
    groups = [float(g.get("interval") or 0) for g in state.data.get("rules") or []]
    own = {s.labels.get("instance") for s in state.data.get("q:self_series") or []}
    targets: list[Target] = state.data.get("targets") or []
    scrapes = [t.scrape_interval for t in targets if t.scrape_interval and t.instance in own] or [
        t.scrape_interval for t in targets if t.scrape_interval
    ]
    return (
        resend
        + max(groups, default=60.0)
        + 2 * max(scrapes, default=60.0)
        + ps.last_increase_step(settings.window_text)
    )


def _am_age(state: ps.PrometheusState, am: am_checks.AlertmanagerState | None) -> float | None:
    started = parse_time(str(am.status.get("uptime") or "")) if am else None
    return None if started is None else max(0.0, state.now - started)


def _prometheus_checks(
    state: ps.PrometheusState, settings: HealthSettings, am: am_checks.AlertmanagerState | None
) -> list[CheckResult]:
    """Every check judged from Prometheus' state (and the Alertmanager's, for the watchdog), in report order."""
    return _PrometheusJudging(state, settings, am).checks()


class _PrometheusJudging:
    """The checks of one Prometheus state. Each judge runs guarded (:func:`_guard`): what could not be
    fetched makes its check UNKNOWN, not the run."""

    def __init__(
        self, state: ps.PrometheusState, settings: HealthSettings, am: am_checks.AlertmanagerState | None
    ) -> None:
        self.state = state
        self.settings = settings
        self.am = am
        self.now = state.now
        self.window = settings.window_text
        self.self_scraped = bool(state.data.get("q:self_series"))
        self.ongoing = _ongoing(state, settings)

    def checks(self) -> list[CheckResult]:
        """The checks, in report order."""
        state = self.state
        return [
            _guard("prometheus.api", "prometheus", lambda: judge_api(state.buildinfo, state.need("ready"), state.url)),
            *self._target_checks(),
            _guard("prometheus.self_scrape", "prometheus", lambda: judge_self_scrape(state.query("self_series"))),
            _guard(
                "prometheus.alertmanagers",
                "prometheus",
                lambda: judge_alertmanagers(state.need("alertmanagers"), wanted=_alertmanager_wanted(self.settings)),
            ),
            self._notifications(),
            _guard("prometheus.rules", "prometheus", self._rules),
            _guard("prometheus.config_reload", "prometheus", lambda: judge_config_reload(state.need("runtimeinfo"))),
            _guard("prometheus.tsdb", "prometheus", self._tsdb),
            *([_guard("pipeline.watchdog", "pipeline", self._watchdog)] if self.settings.watchdog_alert else []),
            _guard("alertmanager.notifications", "alertmanager", self._am_notifications),
        ]

    def _targets(self) -> list[Target]:
        result: list[Target] = self.state.need("targets")
        return result

    def _max_interval(self) -> float:
        intervals = [t.scrape_interval for t in self.state.data.get("targets") or [] if t.scrape_interval]
        return max(intervals, default=60.0)

    def _recency(self, name: str) -> Recency:
        return Recency(self.state.optional(name), self.now, self.ongoing)

    def _target_checks(self) -> list[CheckResult]:
        """Targets up, scrape durations, target freshness, ingestion."""
        state, settings, now = self.state, self.settings, self.now
        contract_jobs = settings.contract.jobs if settings.contract else ()
        return [
            _guard("prometheus.targets", "prometheus", lambda: judge_targets(self._targets(), now, contract_jobs)),
            _guard(
                "prometheus.scrape_duration",
                "prometheus",
                lambda: judge_scrape_duration(self._targets(), settings.slow_scrape_ratio),
            ),
            _guard(
                "prometheus.target_freshness",
                "prometheus",
                lambda: judge_target_freshness(self._targets(), now, settings.stale_intervals),
            ),
            _guard(
                "prometheus.ingestion",
                "prometheus",
                lambda: judge_ingestion(
                    state.query("newest_up_age"),
                    state.query("samples_appended"),
                    self._max_interval(),
                    settings.stale_intervals,
                    self.window,
                ),
            ),
        ]

    def _notifications(self) -> CheckResult:
        """Prometheus' notification queue, drops and errors — judged only when Prometheus scrapes itself."""
        state = self.state
        sends_to = (state.data.get("alertmanagers") or {}).get("activeAlertmanagers")
        if self.self_scraped and sends_to == []:
            # every notification is dropped when there is nowhere to send it: prometheus.alertmanagers judged that
            return CheckResult.skip(
                "prometheus.notifications",
                "prometheus",
                "not applicable: Prometheus sends to no Alertmanager (see prometheus.alertmanagers), so it drops "
                "every notification",
            )
        if not self.self_scraped:
            return CheckResult.skip("prometheus.notifications", "prometheus", "Prometheus does not scrape itself")
        return _guard(
            "prometheus.notifications",
            "prometheus",
            lambda: judge_notifications(
                state.query("queue"),
                state.query("dropped"),
                state.query("notify_errors"),
                self.settings,
                dropped_recency=self._recency("dropped_last"),
                errors_recency=self._recency("notify_errors_last"),
            ),
        )

    def _rules(self) -> CheckResult:
        state = self.state
        groups = state.need("rules")
        missed = state.query("missed_iterations") if self.self_scraped else []
        failures = state.query("rule_failures") if self.self_scraped else []
        return judge_rules(
            groups,
            self.now,
            missed=missed,
            missed_recency=self._recency("missed_iterations_last"),
            failures=failures,
            expected_groups=_expected_groups(self.settings),
            stale_intervals=self.settings.stale_intervals,
            window=self.window,
        )

    def _tsdb(self) -> CheckResult:
        state = self.state
        return judge_tsdb(
            state.need("runtimeinfo"),
            {c: state.query(f"tsdb:{c}") for c in ps.TSDB_FAILURE_COUNTERS} if self.self_scraped else {},
            self.window,
        )

    def _watchdog(self) -> CheckResult:
        state, settings, am = self.state, self.settings, self.am
        return judge_watchdog(
            settings.watchdog_alert,
            state.need("alerts"),
            state.need("rules"),
            am.alerts if am else None,
            settings.alertmanager_url,
            am_age=_am_age(state, am),
            resend_grace=_resend_grace(state),
            # the default name: a pack's own always-firing rule (another name) stands in for it
            discover=settings.watchdog_alert == "Watchdog",
        )

    def _am_notifications(self) -> CheckResult:
        state, settings = self.state, self.settings
        return am_checks.judge_am_notifications(
            state.query("am_failed"),
            state.query("am_total"),
            self.window,
            scraped=bool(state.query("am_series")),
            alertmanager_given=settings.alertmanager_url is not None,
            targets=state.data.get("targets") or [],
            alertmanager_url=settings.alertmanager_url,
        )


def _result(future: Future[Any] | None) -> tuple[Any, ObsTestsError | None]:
    if future is None:
        return None, None
    try:
        return future.result(), None
    except ObsTestsError as exc:
        return None, exc


def run_health(settings: HealthSettings) -> HealthReport:
    """Fetch, judge and report once (see the module docstring for what UNKNOWN and CRITICAL mean)."""
    started, clock = time.time(), time.monotonic()
    prom = PrometheusClient(settings.prometheus_url, timeout=settings.timeout, pool_size=settings.workers)
    am = grafana = None
    if settings.alertmanager_url:
        am = AlertmanagerClient(settings.alertmanager_url, timeout=settings.timeout)
    if settings.grafana_url:
        grafana = GrafanaClient(settings.grafana_url, settings.grafana, timeout=settings.timeout)
    expected: list[gf_checks.ExpectedDashboard] = []
    dashboards_error: ObsTestsError | None = None
    if grafana is not None and settings.contract is not None:
        try:
            expected = gf_checks.contract_dashboards(settings.contract.files.dashboards)
        except ObsTestsError as exc:
            dashboards_error = exc
    fetched = _fetch(settings, prom, am, grafana, expected)
    checks: list[CheckResult] = []
    if fetched.prom_error is not None:
        checks.append(endpoint_failure("prometheus.api", "prometheus", fetched.prom_error, down_is_critical=True))
    else:
        checks += _prometheus_checks(fetched.prom_state, settings, fetched.am_state)
    checks += _alertmanager_checks(fetched.am_state, fetched.am_error)
    checks += _grafana_checks(fetched.gf_state, fetched.gf_error, expected, dashboards_error)
    if settings.prometheus_replicas or settings.alertmanager_peers:
        checks += ha_results(
            fetch_ha(
                [settings.prometheus_url, *settings.prometheus_replicas],
                [*([settings.alertmanager_url] if settings.alertmanager_url else []), *settings.alertmanager_peers],
                replica_label=settings.replica_label,
                names=settings.member_names,
                timeout=settings.timeout,
            )
        )
    return HealthReport(
        checks,
        endpoints={
            "prometheus": settings.prometheus_url,
            "alertmanager": settings.alertmanager_url,
            "grafana": settings.grafana_url,
        },
        warn_only=settings.warn_only,
        started_at=started,
        duration=time.monotonic() - clock,
    )


@dataclass(frozen=True)
class _Fetched:
    """What was fetched from each server, or why it could not be (both None: that server was not asked)."""

    prom_state: Any  # a PrometheusState unless prom_error
    prom_error: ObsTestsError | None
    am_state: am_checks.AlertmanagerState | None
    am_error: ObsTestsError | None
    gf_state: gf_checks.GrafanaState | None
    gf_error: ObsTestsError | None


def _fetch(
    settings: HealthSettings,
    prom: PrometheusClient,
    am: AlertmanagerClient | None,
    grafana: GrafanaClient | None,
    expected: list[gf_checks.ExpectedDashboard],
) -> _Fetched:
    """Fetch from the servers concurrently, then close their clients."""
    pool = ThreadPoolExecutor(max_workers=3)
    try:
        prom_future = pool.submit(ps.fetch_prometheus, prom, settings)
        am_future = pool.submit(am_checks.fetch_alertmanager, am) if am else None
        gf_future = pool.submit(gf_checks.fetch_grafana, grafana, expected, settings.workers) if grafana else None
        fetched = _Fetched(*_result(prom_future), *_result(am_future), *_result(gf_future))
    except BaseException:
        # interrupted (Ctrl-C, SIGTERM): do not wait for requests in flight, up to --timeout each
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    else:
        pool.shutdown()
    finally:
        for client in (prom, am, grafana):
            if client is not None:
                client.close()
    return fetched


def _alertmanager_checks(
    am_state: am_checks.AlertmanagerState | None, am_error: ObsTestsError | None
) -> list[CheckResult]:
    """The Alertmanager's own checks: none when it was not asked for."""
    if am_error is not None:
        return [endpoint_failure("alertmanager.api", "alertmanager", am_error, down_is_critical=True)]
    if am_state is None:
        return []
    return [
        am_checks.judge_am_api(am_state),
        am_checks.judge_am_cluster(am_state.status),
        am_checks.judge_am_receivers(am_state.receivers),
    ]


def _grafana_checks(
    gf_state: gf_checks.GrafanaState | None,
    gf_error: ObsTestsError | None,
    expected: list[gf_checks.ExpectedDashboard],
    dashboards_error: ObsTestsError | None,
) -> list[CheckResult]:
    """Grafana's checks: none when it was not asked for."""
    if gf_error is not None:
        return [endpoint_failure("grafana.api", "grafana", gf_error, down_is_critical=True)]
    if gf_state is None:
        return []
    checks = [gf_checks.judge_grafana_api(gf_state), gf_checks.judge_grafana_datasources(gf_state)]
    if dashboards_error is not None:
        checks.append(
            CheckResult.unknown(
                "grafana.dashboards", "grafana", f"cannot read the contract's dashboards: {dashboards_error}"
            )
        )
    else:
        checks.append(gf_checks.judge_grafana_dashboards(gf_state, expected))
    return checks
