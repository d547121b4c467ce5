"""Every panel query executed for real: Grafana's variables and macros expanded, the query run on the live
Prometheus as Grafana would run it (range query with Grafana's step over the dashboard's time range, or
an instant query), and the outcome classified:

- ``data``           at least one finite, non-zero value;
- ``constant_zero``  series exist but every value is 0 (a healthy error counter — or a matcher that only
                     finds the zero series);
- ``empty``          no series (or only NaN): the panel says "No data". The finding names the selector
                     that matches nothing — a missing metric with the closest exported names, or the label
                     matcher that excludes everything with the values that exist;
- ``error``          Prometheus rejected the query (its message), e.g. a syntax error;
- ``skipped``        not a Prometheus query (Loki, TestData, an expression, a hidden query), with why;
- ``unresolved``     a library panel: its queries are in Grafana, not in the file.

A panel is judged as Grafana draws it: it has data when any of its visible queries has data. A panel
without data at all is a ``dashboard/panel-empty`` error (Grafana shows "No data"); an empty query of a
panel that shows data is a ``dashboard/query-empty`` warning of its own (Grafana draws the other
series). Queries or whole panels may be declared as expected to be empty in the contract
(``dashboards.expected_empty``); "declared empty" counts *panels* everywhere (summary lines,
reports/dashboards.txt, the report's ``dashboards_coverage``): panels without data whose every empty query
is declared. Template variables must resolve to at least one value. Static checks (schema, lint) are in
:mod:`obs_tests.checks.dashboards_lint`.

Example::

    report = run_dashboard(dashboard, prom, scrape_interval=1.0)
    print(format_report(report))
    findings = check_report(report, contract.dashboards.expected_empty)
"""

from __future__ import annotations

import difflib
import functools
import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.config.contract import ExpectedEmpty
from obs_tests.core.findings import Finding
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.dashboards.dashboard_model import Dashboard, Panel, Target
from obs_tests.dashboards.datasources import NOT_PROMETHEUS, PromTarget, prometheus_targets
from obs_tests.dashboards.templating import Expander, TimeRange, VariableValue, query_interval
from obs_tests.dashboards.variables import ResolvedVariable, auto_intervals, resolve_variables
from obs_tests.errors import ApiError, PromQLSyntaxError
from obs_tests.rules.promql import selectors

__all__ = [
    "FAILING",
    "PANEL_ORDER",
    "STATUSES",
    "DashboardReport",
    "QueryResult",
    "check_expectations",
    "check_metric_coverage",
    "check_report",
    "check_variables",
    "classify_values",
    "dashboard_coverage",
    "diagnose_empty",
    "format_report",
    "max_step",
    "plan_queries",
    "run_dashboard",
    "run_queries",
    "summary_line",
    "wait_visible",
]

STATUSES = ("data", "constant_zero", "empty", "error", "skipped", "unresolved")
FAILING = frozenset({"empty", "error"})
#: a panel's status from its queries' statuses, as Grafana draws it: the first one any query has
PANEL_ORDER = ("data", "error", "constant_zero", "empty", "unresolved", "skipped")
_NO_DATA = frozenset({"empty", "constant_zero"})
_NO_SERIES_EXPECTED = frozenset({"absent", "absent_over_time"})
DEFAULT_WIDTH_PX = 1920  # Grafana's panel resolution = its width in pixels; 24 grid columns on a 1920 px screen


@dataclass(frozen=True)
class QueryResult:
    """The outcome of one panel query (or of a panel that has none to run)."""

    dashboard: str  # label
    panel: Panel
    target: Target | None
    status: str
    expr: str = ""  # as sent to Prometheus
    message: str = ""
    series: int = 0
    repeat: str = ""  # "agent_type=risk" for a repeated panel's copy
    accepted: str | None = None  # the contract's reason when an empty panel is declared

    @property
    def where(self) -> str:
        """``panel 'X' (id 3) query A`` for messages."""
        ref = f" query {self.target.ref_id}" if self.target is not None else ""
        copy = f" [{self.repeat}]" if self.repeat else ""
        return f"panel {self.panel.label}{copy}{ref}"

    def to_json(self) -> dict[str, Any]:
        """Report row."""
        return {
            "panel": self.panel.title,
            "panel_id": self.panel.id,
            "query": self.target.ref_id if self.target else None,
            "repeat": self.repeat or None,
            "status": self.status,
            "series": self.series,
            "expr": self.expr,
            "message": self.message,
            "accepted": self.accepted,
        }


@dataclass
class DashboardReport:
    """Every query of one dashboard, and its variables."""

    dashboard: Dashboard
    time_range: TimeRange
    variables: dict[str, ResolvedVariable] = field(default_factory=dict)
    results: list[QueryResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def executed(self) -> list[QueryResult]:
        """Results of queries that ran."""
        return [r for r in self.results if r.status not in ("skipped", "unresolved")]

    def results_of(self, panel: Panel, repeat: str = "") -> list[QueryResult]:
        """The results of one panel (one copy of a repeated panel)."""
        return [r for r in self.results if r.panel is panel and r.repeat == repeat]

    def panel_status(self, panel: Panel, repeat: str = "") -> str:
        """The panel as Grafana draws it (:data:`PANEL_ORDER`): ``data`` when any of its visible queries has
        data — an empty or failing query beside it is a finding of its own —, else ``error`` when a query
        failed, else ``constant_zero``, else ``empty`` ("No data"); ``unresolved``/``skipped`` when nothing
        of it ran. Hidden queries are skipped and never count."""
        statuses = {r.status for r in self.results_of(panel, repeat)}
        return next((s for s in PANEL_ORDER if s in statuses), "skipped")

    def declared_empty(self, panel: Panel, repeat: str = "") -> bool:
        """The panel draws no data and the contract declares every one of its empty (or all-zero) queries."""
        if self.panel_status(panel, repeat) not in _NO_DATA:
            return False
        return all(r.accepted for r in self.results_of(panel, repeat) if r.status in _NO_DATA)

    def panels(self) -> list[tuple[Panel, str, str]]:
        """(panel, repeat, status) for every panel that has results."""
        seen: list[tuple[Panel, str]] = []
        for r in self.results:
            key = (r.panel, r.repeat)
            if not any(p is key[0] and rep == key[1] for p, rep in seen):
                seen.append(key)
        return [(p, rep, self.panel_status(p, rep)) for p, rep in seen]

    def counts(self) -> Counter[str]:
        """Panel statuses counted (a repeated panel once per copy)."""
        return Counter(status for _, _, status in self.panels())

    @property
    def checked_panels(self) -> int:
        """Panels at least one query of which ran on Prometheus (not skipped, not a library panel)."""
        counts = self.counts()
        return sum(n for status, n in counts.items() if status not in ("skipped", "unresolved"))

    @property
    def panels_declared_empty(self) -> int:
        """Panels without data that the contract declares (see :meth:`declared_empty`)."""
        return sum(1 for p, rep, _ in self.panels() if self.declared_empty(p, rep))

    def to_json(self) -> dict[str, Any]:
        """The report section of this dashboard."""
        return {
            "uid": self.dashboard.uid,
            "title": self.dashboard.title,
            "file": Path(self.dashboard.source).name,
            "time_range": {"start": self.time_range.start, "end": self.time_range.end},
            "panels": dict(self.counts()),
            "panels_declared_empty": self.panels_declared_empty,
            "queries": [r.to_json() for r in self.results],
            "variables": {
                name: {
                    "query": v.query,
                    "options": len(v.options),
                    "value": v.value.describe(),
                    "error": v.error,
                    "skipped": v.skipped,
                }
                for name, v in self.variables.items()
            },
            "seconds": round(self.seconds, 3),
        }


def classify_values(values: Iterable[float]) -> str:
    """``data`` (a finite non-zero value), ``constant_zero`` (finite values, all 0) or ``empty``."""
    finite = False
    for value in values:
        if math.isfinite(value):
            if value != 0.0:
                return "data"
            finite = True
    return "constant_zero" if finite else "empty"


def _values(data: Mapping[str, Any]) -> tuple[int, list[float]]:
    kind, result = data.get("resultType"), data.get("result")
    if kind == "matrix":
        return len(result or []), [float(v) for series in result or [] for _, v in series.get("values", [])]
    if kind == "vector":
        return len(result or []), [float(item["value"][1]) for item in result or []]
    if kind == "scalar" and isinstance(result, list):
        return 1, [float(result[1])]
    return (1, [1.0]) if kind == "string" else (0, [])


@dataclass(frozen=True)
class _Job:
    item: PromTarget
    expr: str
    instant: bool
    step: float
    repeat: str
    unknown: tuple[str, ...]


def _width_px(panel: Panel) -> int:
    return max(1, round(panel.width / 24 * DEFAULT_WIDTH_PX))


def _repeat_values(panel: Panel, variables: Mapping[str, ResolvedVariable]) -> list[tuple[str, VariableValue | None]]:
    if not panel.repeat or panel.repeat not in variables:
        return [("", None)]
    current = variables[panel.repeat].value
    copies: list[tuple[str, VariableValue | None]] = []
    for value in current.values[:50]:
        one = VariableValue(current.name, (value,), (value,), multi=current.multi, include_all=current.include_all)
        copies.append((f"{current.name}={value}", one))
    return copies or [("", None)]


def plan_queries(
    dashboard: Dashboard,
    variables: Mapping[str, ResolvedVariable],
    time_range: TimeRange,
    *,
    scrape_interval: float,
    datasources: dict[str, str] | None = None,
    keep_macros: bool = False,
) -> tuple[list[_Job], list[QueryResult]]:
    """Expand every Prometheus query of ``dashboard`` (one per copy of a repeated panel); the second list
    holds what is not run (skipped, unresolved) with the reason. ``keep_macros`` leaves ``$__interval`` & co.
    for Grafana (queries sent through ``/api/ds/query``)."""
    queries, skipped = prometheus_targets(dashboard, datasources)
    not_run = [
        QueryResult(dashboard.label, panel, target, "unresolved" if target is None else "skipped", message=why)
        for panel, target, why in skipped
    ]
    values = {name: v.value for name, v in variables.items() if v.skipped is None}
    extra = auto_intervals(dashboard, time_range)
    jobs: list[_Job] = []
    for item in queries:
        panel, target = item.panel, item.target
        interval = query_interval(
            time_range,
            max_data_points=panel.max_data_points or _width_px(panel),
            scrape_interval_ms=scrape_interval * 1000.0,
            min_interval=panel.interval,
            min_step=target.interval,
            interval_factor=int(target.raw.get("intervalFactor") or 1),
        )
        for label, copy in _repeat_values(panel, variables):
            scoped = dict(values)
            if copy is not None:
                scoped[copy.name] = copy
            expander = Expander(
                scoped,
                interval=interval,
                time_range=time_range,
                dashboard_title=dashboard.title,
                extra=extra,
                keep_macros=keep_macros,
            )
            expr = expander.expand(target.expr or "")
            instant = target.instant and not target.range
            jobs.append(_Job(item, expr, instant, interval.step_seconds, label, tuple(expander.unknown)))
    return jobs, not_run


def max_step(dashboards: Iterable[Dashboard], scrape_interval: float, now: float | None = None) -> float:
    """The largest range-query step any panel of ``dashboards`` uses over its dashboard's own time range."""
    steps = [scrape_interval]
    for dashboard in dashboards:
        span = TimeRange.parse(dashboard.time_from, dashboard.time_to, now)
        for panel in dashboard.data_panels:
            for target in panel.targets:
                interval = query_interval(
                    span,
                    max_data_points=panel.max_data_points or _width_px(panel),
                    scrape_interval_ms=scrape_interval * 1000.0,
                    min_interval=panel.interval,
                    min_step=target.interval,
                )
                steps.append(interval.step_seconds)
    return max(steps)


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


def _run_one(prom: PrometheusClient, job: _Job, time_range: TimeRange, label: str) -> QueryResult:
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
    prom: PrometheusClient, jobs: Sequence[_Job], time_range: TimeRange, label: str, workers: int = 8
) -> list[QueryResult]:
    """Run planned queries concurrently (results in plan order)."""
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(jobs)))) as pool:
        return list(pool.map(lambda job: _run_one(prom, job, time_range, label), jobs))


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _selector(metric: str | None, matchers: Iterable[tuple[str, str, str]]) -> str:
    inner = ", ".join(f"{label}{op}{_quote(value)}" for label, op, value in matchers)
    return f"{metric or ''}{{{inner}}}" if inner or not metric else metric


@functools.lru_cache(maxsize=256)
def _closest(metric: str, names: tuple[str, ...]) -> list[str]:
    return difflib.get_close_matches(metric, names, n=3, cutoff=0.6)


def diagnose_empty(
    prom: PrometheusClient, expr: str, metric_names: Sequence[str], time_range: TimeRange, *, instant: bool = False
) -> str:
    """Why ``expr`` returns nothing: the first selector that matches no series, and what exists instead.
    ``instant``: the panel asks for one instant (the end of the range), not the range."""
    try:
        sels = [s for s in selectors(expr) if s.function not in _NO_SERIES_EXPECTED]
    except PromQLSyntaxError as exc:
        return f"the expanded query does not parse: {exc}"
    names = tuple(metric_names)
    known = set(names)
    for sel in sels:
        if sel.metric and sel.metric not in known:
            hint = _closest(sel.metric, names)
            suggestion = f"; closest exported: {', '.join(hint)}" if hint else ""
            return f"no metric {sel.metric} exists{suggestion} — a typo, or the exporter does not export it"
        text = _selector(sel.metric, sel.matchers)
        if prom.series([text], time_range.start, time_range.end):
            continue
        parts = []
        for label, op, value in sel.matchers:
            alone = _selector(sel.metric, [(label, op, value)])
            if prom.series([alone], time_range.start, time_range.end):
                continue
            match = [_selector(sel.metric, [])] if sel.metric else []
            existing = prom.label_values(label, match) if match else []
            shown = ", ".join(_quote(v) for v in existing[:6]) or "none (the label is absent)"
            parts.append(f"{label}{op}{_quote(value)} matches nothing (existing {label} values: {shown})")
        if parts:
            return f"selector {text} matches no series: " + "; ".join(parts)
        return f"selector {text} matches no series (each matcher alone matches; their combination does not)"
    if instant:
        return (
            "every selector matches series in the range, but the expression returns nothing at its end (an "
            "instant query): the series are stale there (their target down?), or a filter such as > 0, too few "
            "samples for the rate window, or label sets that differ across an operator"
        )
    return (
        "every selector matches series, but the expression returns nothing over the range (a filter such as "
        "> 0, too few samples for the rate window, or label sets that differ across an operator)"
    )


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
    probe = DashboardReport(dashboard, span)
    for index, result in enumerate(results):
        if result.status == "empty" and not result.message and _declared(probe, result, expected_empty) is None:
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


def _declared(report: DashboardReport, result: QueryResult, expected: Sequence[ExpectedEmpty]) -> str | None:
    dashboard = report.dashboard
    name = Path(dashboard.source).name
    keys = tuple(k for k in (dashboard.uid, dashboard.title, name, name.removesuffix(".json")) if k)
    ref = result.target.ref_id if result.target is not None else ""
    for item in expected:
        if item.matches(keys, result.panel.title, result.panel.id, ref):
            return item.reason
    return None


_DECLARE_HINT = "if no data is right here, declare it under dashboards.expected_empty in the contract, with the reason"


def _empty_detail(result: QueryResult) -> str:
    ref = result.target.ref_id if result.target is not None else "-"
    return f"query {ref}: {result.message or 'no series'} — query: {result.expr}"


def check_report(report: DashboardReport, expected: Sequence[ExpectedEmpty] = ()) -> list[Finding]:
    """Findings for one dashboard, each panel judged as Grafana draws it (:meth:`DashboardReport.panel_status`):

    - ``dashboard/panel-empty`` (error): no visible query of the panel has data — Grafana shows "No data";
    - ``dashboard/query-empty`` (warning): an empty query of a panel that shows data from its other queries;
    - ``dashboard/query-error`` (error): a query Prometheus refuses;
    - ``dashboard/constant-zero`` (warning), ``dashboard/library-panel`` (warning, not checked here) and
      ``dashboard/variable`` (error: a variable that resolves to nothing).

    Queries the contract declares as expected to be empty are marked accepted and are no finding.
    """
    findings = check_variables(report)
    subject = f"dashboard {report.dashboard.label}"
    for index, result in enumerate(report.results):
        if result.status in _NO_DATA:
            reason = _declared(report, result, expected)
            if reason is not None:
                report.results[index] = replace(result, accepted=reason)
    for panel, repeat, status in report.panels():
        mine = report.results_of(panel, repeat)
        for result in mine:
            where = f"{subject} {result.where}"
            if result.status == "error":
                findings.append(
                    Finding(
                        "dashboards",
                        where,
                        f"error: {result.message} — query: {result.expr}",
                        rule="dashboard/query-error",
                        file=report.dashboard.source,
                    )
                )
            elif result.status == "constant_zero" and not result.accepted:
                findings.append(
                    Finding(
                        "dashboards",
                        where,
                        f"constant zero: {result.message} — query: {result.expr}",
                        "warning",
                        rule="dashboard/constant-zero",
                        file=report.dashboard.source,
                    )
                )
            elif result.status == "unresolved":
                findings.append(
                    Finding(
                        "dashboards",
                        where,
                        result.message,
                        "warning",
                        rule="dashboard/library-panel",
                        file=report.dashboard.source,
                    )
                )
        empty = [r for r in mine if r.status == "empty" and not r.accepted]
        if not empty:
            continue
        # queries of another datasource (a mixed panel) may draw data obs-tests cannot see
        elsewhere = [r.target.ref_id for r in mine if r.target is not None and r.message.endswith(NOT_PROMETHEUS)]
        if status in ("data", "constant_zero") or elsewhere:
            drawn = [r.target.ref_id for r in mine if r.target is not None and r.status in ("data", "constant_zero")]
            source = (
                f"from {', '.join(drawn)}"
                if drawn
                else f"from {', '.join(elsewhere)} (another datasource, not checked here), if they have data"
            )
            for result in empty:
                findings.append(
                    Finding(
                        "dashboards",
                        f"{subject} {result.where}",
                        f"empty query (Grafana draws the panel {source} without it): "
                        f"{result.message or 'no series'} — query: {result.expr} ({_DECLARE_HINT}, query: "
                        f"{result.target.ref_id if result.target is not None else '-'})",
                        "warning",
                        rule="dashboard/query-empty",
                        file=report.dashboard.source,
                    )
                )
            continue
        copy = f" [{repeat}]" if repeat else ""
        details = "; ".join(_empty_detail(r) for r in empty)
        findings.append(
            Finding(
                "dashboards",
                f"{subject} panel {panel.label}{copy}",
                f'empty (the panel shows "No data"): {details} ({_DECLARE_HINT})',
                rule="dashboard/panel-empty",
                file=report.dashboard.source,
            )
        )
    return findings


_RULE_WORDS = {
    "dashboard/panel-empty": ("empty panel", "empty panels"),
    "dashboard/query-empty": ("empty query", "empty queries"),
    "dashboard/query-error": ("query error", "query errors"),
    "dashboard/constant-zero": ("constant-zero query", "constant-zero queries"),
    "dashboard/variable": ("variable without value", "variables without value"),
    "dashboard/library-panel": ("library panel", "library panels"),
}


def summary_line(report: DashboardReport, errors: Sequence[Finding] = (), suffix: str = "") -> str:
    """The summary line of one dashboard's live check, written from the same findings as its verdict:
    a failed check leads with what failed, so it never reads like a pass.

    ``'Node' (node, node.json): 2 errors (1 empty panel, 1 query error) — 11/13 panels with data, 1 panel
    declared empty, 40 queries``
    """
    counts = report.counts()
    declared = report.panels_declared_empty
    body = f"{counts.get('data', 0)}/{report.checked_panels} panels with data"
    if declared:
        body += f", {declared} panel{'s' if declared != 1 else ''} declared empty"
    not_checked = counts.get("skipped", 0) + counts.get("unresolved", 0)
    if not_checked:
        body += f", {not_checked} not checked (not Prometheus, or library panels)"
    body += f", {len(report.executed)} queries" + (f"; {suffix}" if suffix else "")
    if not errors:
        return f"{report.dashboard.label}: {body}"
    kinds = Counter(f.rule for f in errors)
    parts = []
    for rule, n in kinds.most_common():
        one, many = _RULE_WORDS.get(rule, (rule or "problem", f"{rule or 'problem'}s"))
        parts.append(f"{n} {one if n == 1 else many}")
    return (
        f"{report.dashboard.label}: {len(errors)} error{'s' if len(errors) != 1 else ''} ({', '.join(parts)}) — {body}"
    )


def check_variables(report: DashboardReport) -> list[Finding]:
    """A template variable that errors or resolves to no value is a finding (every panel using it breaks)."""
    findings = []
    for name, resolved in report.variables.items():
        subject = f"dashboard {report.dashboard.label} variable ${name}"
        if resolved.error:
            findings.append(
                Finding(
                    "dashboard-variables",
                    subject,
                    f"{resolved.error} — query: {resolved.query or '(none)'}",
                    rule="dashboard/variable",
                    file=report.dashboard.source,
                )
            )
        elif resolved.empty:
            query = resolved.query or resolved.variable.query_text
            regex = f" with regex {resolved.variable.regex!r}" if resolved.variable.regex else ""
            findings.append(
                Finding(
                    "dashboard-variables",
                    subject,
                    f"resolved to no value: {query!r}{regex} returns nothing over the dashboard's time range — "
                    "check the metric and label names (every panel using it shows no data)",
                    rule="dashboard/variable",
                    file=report.dashboard.source,
                )
            )
    return findings


def check_expectations(dashboards: Sequence[Dashboard], expected: Sequence[ExpectedEmpty]) -> list[Finding]:
    """Declarations in the contract that name no existing dashboard panel (stale or misspelled)."""
    findings = []
    for index, item in enumerate(expected):
        matching = [d for d in dashboards if d.matches(item.dashboard)]
        if not matching:
            known = ", ".join(sorted(d.uid or d.title for d in dashboards))
            findings.append(
                Finding(
                    "dashboards",
                    f"dashboards.expected_empty[{index}]",
                    f"no dashboard '{item.dashboard}' — known: {known}",
                    rule="dashboard/expected-empty",
                )
            )
            continue
        panels = [p for d in matching for p in d.data_panels]
        if not any(item.panel in (p.title, str(p.id)) for p in panels):
            titles = difflib.get_close_matches(item.panel, [p.title for p in panels], n=3, cutoff=0.5)
            hint = f" (did you mean {', '.join(repr(t) for t in titles)}?)" if titles else ""
            findings.append(
                Finding(
                    "dashboards",
                    f"dashboards.expected_empty[{index}]",
                    f"dashboard '{item.dashboard}' has no panel '{item.panel}'{hint}",
                    rule="dashboard/expected-empty",
                )
            )
            continue
        refs = {t.ref_id for p in panels if item.panel in (p.title, str(p.id)) for t in p.targets}
        if item.query is not None and item.query not in refs:
            findings.append(
                Finding(
                    "dashboards",
                    f"dashboards.expected_empty[{index}]",
                    f"panel '{item.panel}' has no query '{item.query}' — its queries: {', '.join(sorted(refs))}",
                    rule="dashboard/expected-empty",
                )
            )
    return findings


def _metrics_read(expr: str) -> set[str]:
    try:
        return {s.metric for s in selectors(expr) if s.metric}
    except PromQLSyntaxError:
        return set()


def check_metric_coverage(
    missing: Mapping[str, Sequence[str]], reports: Sequence[DashboardReport], exported: Sequence[str]
) -> list[Finding]:
    """``dashboard/metric-missing`` for every metric the dashboards read that Prometheus does not have
    (``missing``: metric -> the panels reading it). Judged like the panels: an error when a panel reading it
    shows no data at all (or no live result says), a warning when every panel reading it draws data from
    its other queries (their empty query is a ``dashboard/query-empty`` warning too)."""
    findings = []
    names = tuple(exported)
    for metric, readers in missing.items():
        panels = [
            report.panel_status(r.panel, r.repeat)
            for report in reports
            for r in report.executed
            if metric in _metrics_read(r.expr)
        ]
        drawn = bool(panels) and all(status in ("data", "constant_zero") for status in panels)
        hint = _closest(metric, names)
        shown = ", ".join(readers[:3]) + (f" and {len(readers) - 3} more" if len(readers) > 3 else "")
        findings.append(
            Finding(
                "dashboards",
                f"metric {metric}",
                f"read by {shown}, but Prometheus has no such metric"
                + (f" (closest exported: {', '.join(hint)})" if hint else "")
                + " — a typo, or an exporter or collector that is off on this stack (then declare the queries "
                "reading it under dashboards.expected_empty, with the reason)",
                "warning" if drawn else "error",
                rule="dashboard/metric-missing",
            )
        )
    return findings


def format_report(report: DashboardReport) -> str:
    """A summary table: a head line counting panels by how Grafana draws them (and the panels declared
    empty), then one line per panel query, worst first."""
    counts = report.counts()
    total = sum(counts.values())
    declared = report.panels_declared_empty
    head = (
        f"{report.dashboard.label}: {total} panels — "
        + ", ".join(f"{counts.get(s, 0)} {s}" for s in PANEL_ORDER if counts.get(s))
        + (f"; {declared} panel{'s' if declared != 1 else ''} declared empty" if declared else "")
        + f" ({len(report.executed)} queries in {report.seconds:.2f}s)"
    )
    order = {s: i for i, s in enumerate(["error", "empty", "constant_zero", "unresolved", "skipped", "data"])}
    rows = sorted(report.results, key=lambda r: (order.get(r.status, 9), r.panel.title))
    lines = [head, f"  {'PANEL':<44} {'QUERY':<5} {'STATUS':<14} {'SERIES':>6}  DETAIL"]
    for r in rows:
        title = r.panel.title + (f" [{r.repeat.partition('=')[2]}]" if r.repeat else "")
        title = title if len(title) <= 44 else title[:43] + "…"
        detail = f"declared: {r.accepted}" if r.accepted else r.message
        ref = r.target.ref_id if r.target else "-"
        lines.append(f"  {title:<44} {ref:<5} {r.status:<14} {r.series:>6}  {detail[:140]}".rstrip())
    return "\n".join(lines)


def dashboard_coverage(
    reports: Sequence[DashboardReport], referenced: Mapping[str, list[str]], exported: Iterable[str]
) -> dict[str, Any]:
    """Metrics the dashboards read vs exported, and panels as Grafana draws them: ``panels_total`` counts
    the panels checked on Prometheus (a repeated panel once per copy), ``panels_with_data`` those any
    visible query of which has data, ``panels_declared_empty`` those without data the contract declares,
    ``panels_not_checked`` the rest (not Prometheus, library panels)."""
    have = set(exported)
    total = sum(r.checked_panels for r in reports)
    with_data = sum(r.counts().get("data", 0) for r in reports)
    not_checked = sum(r.counts().get("skipped", 0) + r.counts().get("unresolved", 0) for r in reports)
    return {
        "metrics_referenced": len(referenced),
        "metrics_missing": {m: w for m, w in sorted(referenced.items()) if m not in have},
        "panels_total": total,
        "panels_with_data": with_data,
        "panels_declared_empty": sum(r.panels_declared_empty for r in reports),
        "panels_not_checked": not_checked,
        "panels_with_data_ratio": round(with_data / total, 3) if total else None,
    }
