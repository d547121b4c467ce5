"""Dashboard coverage: the metrics the dashboards read — every Prometheus query parsed without a server
(variables replaced by placeholders) into the metric names it reads and the panels reading each —, those
Prometheus does not have (``dashboard/metric-missing``, judged like the panels reading them), and the
report's ``dashboards_coverage`` (metrics read vs exported, panels as Grafana draws them).

Example::

    refs, problems = dashboard_metric_references(dashboards, contract.dashboards.expected_empty)
    findings = check_metric_coverage(missing, reports, prom.metric_names())
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from obs_tests.checks.empty_declarations import declared_reason
from obs_tests.checks.empty_diagnosis import closest_metrics
from obs_tests.checks.panel_results import DashboardReport
from obs_tests.checks.query_placeholders import PLACEHOLDER, parse_placeholders
from obs_tests.config.contract import ExpectedEmpty
from obs_tests.core.findings import Finding
from obs_tests.dashboards.dashboard_model import Dashboard
from obs_tests.dashboards.datasources import PromTarget, prometheus_targets
from obs_tests.errors import PromQLSyntaxError
from obs_tests.rules.promql import selectors

__all__ = ["check_metric_coverage", "dashboard_coverage", "dashboard_metric_references"]


def _declared_empty(dashboard: Dashboard, item: PromTarget, expected: Sequence[ExpectedEmpty]) -> bool:
    return declared_reason(dashboard, item.panel, item.target.ref_id, expected) is not None


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
        hint = closest_metrics(metric, names)
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
