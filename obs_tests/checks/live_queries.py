"""Every panel query executed for real on the live Prometheus, as Grafana would run it (a range query with
Grafana's step over the dashboard's time range, aligned to the step, or an instant query), concurrently,
and classified (:mod:`obs_tests.checks.panel_results`); the empty ones are diagnosed
(:mod:`obs_tests.checks.empty_diagnosis`) unless the contract declares them.

Example::

    report = run_dashboard(dashboard, prom, scrape_interval=1.0, expected_empty=contract.dashboards.expected_empty)
    print(report.counts(), [r.message for r in report.results if r.status == "empty"])
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from obs_tests.checks.empty_declarations import declared_reason
from obs_tests.checks.empty_diagnosis import diagnose_empty
from obs_tests.checks.panel_results import DashboardReport, QueryResult, classify_values
from obs_tests.checks.query_plan import PlannedQuery, plan_queries
from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.config.contract import ExpectedEmpty
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.dashboards.dashboard_model import Dashboard
from obs_tests.dashboards.templating import TimeRange
from obs_tests.dashboards.variables import resolve_variables
from obs_tests.errors import ApiError

__all__ = ["run_dashboard", "run_queries", "wait_visible"]


def _values(data: Mapping[str, Any]) -> tuple[int, list[float]]:
    kind, result = data.get("resultType"), data.get("result")
    if kind == "matrix":
        return len(result or []), [float(v) for series in result or [] for _, v in series.get("values", [])]
    if kind == "vector":
        return len(result or []), [float(item["value"][1]) for item in result or []]
    if kind == "scalar" and isinstance(result, list):
        return 1, [float(result[1])]
    return (1, [1.0]) if kind == "string" else (0, [])


def wait_visible(prom: PrometheusClient, scraped_at: float, step: float, timeout: float = 60.0) -> float:
    """Wait until Prometheus' clock is ``step`` past ``scraped_at``: Grafana aligns the end of a range query
    down to a multiple of the step, so samples scraped at ``scraped_at`` show on every panel only then.
    Returns Prometheus' time."""

    def probe() -> Poll[float]:
        now = prom.now()
        return Poll(now >= scraped_at + step, now, f"Prometheus time {now:.3f}")

    return wait_for(
        probe,
        timeout=timeout,
        interval=0.2,
        expected=f"Prometheus time >= {scraped_at + step:.3f} (last scrape + the largest panel step {step:g}s)",
        bound=f"{step:g}s",
    )


def _run_one(prom: PrometheusClient, job: PlannedQuery, time_range: TimeRange, label: str) -> QueryResult:
    panel, target = job.item.panel, job.item.target
    if job.instant:
        path = "/api/v1/query"
        form: dict[str, str] = {"query": job.expr, "time": f"{time_range.end:.3f}"}
    else:
        step = max(job.step, 0.001)
        start = math.floor(time_range.start / step) * step  # Grafana aligns the range to the step
        end = math.floor(time_range.end / step) * step
        path = "/api/v1/query_range"
        form = {"query": job.expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
    resp = prom.request("POST", path, data=form, expect=(200, 400, 422, 503))
    body = prom.decode(resp, path)
    base = QueryResult(label, panel, target, "error", expr=job.expr, repeat=job.repeat)
    if not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error", "(no message)") if isinstance(body, dict) else str(body)[:200]
        kind = body.get("errorType", "error") if isinstance(body, dict) else "error"
        message = f"Prometheus: {kind}: {error}"
        if job.unknown:
            message += (
                f" (the query uses {', '.join('$' + u for u in job.unknown)}, which the dashboard does not define)"
            )
        return replace(base, message=message)
    series, values = _values(body.get("data") or {})
    status = classify_values(values)
    message = ""
    if status == "constant_zero":
        where = "at the end of the range (an instant query)" if job.instant else "over the whole range"
        message = f"all {series} series are 0 {where}"
    elif status == "empty" and series:
        message = (
            f"{series} series, but every value is NaN — a ratio or histogram_quantile over windows in which "
            "nothing was counted (no traffic in the range?)"
        )
    return replace(base, status=status, series=series, message=message)


def run_queries(
    prom: PrometheusClient, jobs: Sequence[PlannedQuery], time_range: TimeRange, label: str, workers: int = 8
) -> list[QueryResult]:
    """Run planned queries concurrently (results in plan order)."""
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(jobs)))) as pool:
        return list(pool.map(lambda job: _run_one(prom, job, time_range, label), jobs))


def run_dashboard(
    dashboard: Dashboard,
    prom: PrometheusClient,
    *,
    scrape_interval: float = 15.0,
    time_range: TimeRange | None = None,
    now: float | None = None,
    datasources: dict[str, str] | None = None,
    workers: int = 4,
    metric_names: Sequence[str] | None = None,
    expected_empty: Sequence[ExpectedEmpty] = (),
) -> DashboardReport:
    """Resolve the variables, run every panel query and diagnose the empty ones (not those the contract
    declares as expected to be empty: ``expected_empty``).

    ``scrape_interval`` is what Grafana's Prometheus datasource is configured with ("Scrape interval",
    seconds): the floor of ``$__interval`` and the base of ``$__rate_interval``. The time range defaults to
    the dashboard's own (``time.from``/``time.to``).
    """
    started = time.perf_counter()
    span = time_range or TimeRange.parse(dashboard.time_from, dashboard.time_to, now)
    variables = resolve_variables(dashboard, prom, span, datasources=datasources)
    jobs, not_run = plan_queries(dashboard, variables, span, scrape_interval=scrape_interval, datasources=datasources)
    results = run_queries(prom, jobs, span, dashboard.label, workers)
    names: Sequence[str] | None = metric_names
    for index, result in enumerate(results):
        if result.status != "empty" or result.message or _declared(dashboard, result, expected_empty):
            continue
        if names is None:
            names = prom.metric_names()
        try:
            why = diagnose_empty(prom, result.expr, names, span, instant=index < len(jobs) and jobs[index].instant)
        except ApiError as exc:
            why = f"(could not diagnose: {exc})"
        results[index] = replace(result, message=why)
    report = DashboardReport(dashboard, span, variables, [*results, *not_run])
    report.seconds = time.perf_counter() - started
    return report


def _declared(dashboard: Dashboard, result: QueryResult, expected: Sequence[ExpectedEmpty]) -> bool:
    ref = result.target.ref_id if result.target is not None else ""
    return declared_reason(dashboard, result.panel, ref, expected) is not None
