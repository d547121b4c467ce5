"""The metrics the dashboards read: every Prometheus query parsed without a server (variables replaced by
placeholders) into the metric names it reads and the panels reading each — for the coverage report and
the ``dashboard/metric-missing`` check.

Example::

    refs, problems = dashboard_metric_references(dashboards, contract.dashboards.expected_empty)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from obs_tests.checks.query_placeholders import PLACEHOLDER, parse_placeholders
from obs_tests.config.contract import ExpectedEmpty
from obs_tests.dashboards.dashboard_model import Dashboard
from obs_tests.dashboards.datasources import PromTarget, prometheus_targets
from obs_tests.errors import PromQLSyntaxError

__all__ = ["dashboard_metric_references"]


def _declared_empty(dashboard: Dashboard, item: PromTarget, expected: Sequence[ExpectedEmpty]) -> bool:
    name = Path(dashboard.source).name
    keys = tuple(k for k in (dashboard.uid, dashboard.title, name, name.removesuffix(".json")) if k)
    return any(e.matches(keys, item.panel.title, item.panel.id, item.target.ref_id) for e in expected)


def dashboard_metric_references(
    dashboards: Iterable[Dashboard], expected_empty: Sequence[ExpectedEmpty] = ()
) -> tuple[dict[str, list[str]], list[str]]:
    """(metric name -> panels reading it, problems) — variables replaced by placeholders, no server needed.

    Queries the contract declares as expected to be empty (``dashboards.expected_empty``) are left out: the
    metrics they read may legitimately not exist (e.g. the load generator's, between load runs).
    """
    refs: dict[str, list[str]] = {}
    problems: list[str] = []
    for dashboard in dashboards:
        name = Path(dashboard.source).name
        queries, _ = prometheus_targets(dashboard)
        for item in queries:
            if _declared_empty(dashboard, item, expected_empty):
                continue
            try:
                sels, _windows = parse_placeholders(item.target.expr or "")
            except PromQLSyntaxError as exc:
                problems.append(f"{name}: panel '{item.panel.title}': {exc}")
                continue
            where = f"panel '{item.panel.title}' ({name})"
            for sel in sels:
                if sel.metric and not sel.metric.startswith(PLACEHOLDER):
                    refs.setdefault(sel.metric, [])
                    if where not in refs[sel.metric]:
                        refs[sel.metric].append(where)
    return refs, problems
