"""Panel queries planned as Grafana would send them: variables and macros expanded (``$__interval``,
``$__rate_interval``, ``$__range``, …), the step Grafana picks for the panel's width over the time range,
a range or an instant query, and one query per copy of a repeated panel — no server needed.

Example::

    jobs, not_run = plan_queries(dashboard, variables, time_range, scrape_interval=15.0)
    for job in jobs:
        print(job.item.where, job.expr, job.step)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from obs_tests.checks.panel_results import QueryResult
from obs_tests.dashboards.dashboard_model import Dashboard, Panel
from obs_tests.dashboards.datasources import PromTarget, prometheus_targets
from obs_tests.dashboards.templating import Expander, TimeRange, VariableValue, query_interval
from obs_tests.dashboards.variables import ResolvedVariable, auto_intervals

__all__ = [
    "DEFAULT_WIDTH_PX",
    "PlannedQuery",
    "max_step",
    "plan_queries",
]

DEFAULT_WIDTH_PX = 1920  # Grafana's panel resolution = its width in pixels; 24 grid columns on a 1920 px screen


@dataclass(frozen=True)
class PlannedQuery:
    """One query as Grafana would send it: the panel query, its expanded expression, instant or range and
    its step (seconds), the repeated panel's copy (``agent_type=risk``) and the variables it names that the
    dashboard does not define."""

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
) -> tuple[list[PlannedQuery], list[QueryResult]]:
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
    jobs: list[PlannedQuery] = []
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
            jobs.append(PlannedQuery(item, expr, instant, interval.step_seconds, label, tuple(expander.unknown)))
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
