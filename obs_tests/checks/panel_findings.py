"""Findings from a dashboard's live results, each panel judged as Grafana draws it: a panel without data
at all is a ``dashboard/panel-empty`` error (Grafana shows "No data"); an empty query of a panel that shows
data is a ``dashboard/query-empty`` warning of its own (Grafana draws the other series); a query Prometheus
refuses, a constant-zero query, a library panel and a variable without values are findings too. Queries
the contract declares as expected to be empty are accepted.

Example::

    findings = check_report(report, contract.dashboards.expected_empty)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from obs_tests.checks.empty_declarations import declared_reason
from obs_tests.checks.panel_results import NO_DATA, DashboardReport, QueryResult
from obs_tests.config.contract import ExpectedEmpty
from obs_tests.core.findings import Finding
from obs_tests.dashboards.dashboard_model import Panel
from obs_tests.dashboards.datasources import NOT_PROMETHEUS

__all__ = ["check_report", "check_variables"]

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
    _accept_declared(report, expected)
    for panel, repeat, status in report.panels():
        mine = report.results_of(panel, repeat)
        findings += _query_findings(report, mine)
        findings += _empty_findings(report, panel, repeat, status, mine)
    return findings


def _accept_declared(report: DashboardReport, expected: Sequence[ExpectedEmpty]) -> None:
    """Mark the results without data that the contract declares as accepted, with its reason."""
    for index, result in enumerate(report.results):
        if result.status in NO_DATA:
            ref = result.target.ref_id if result.target is not None else ""
            reason = declared_reason(report.dashboard, result.panel, ref, expected)
            if reason is not None:
                report.results[index] = replace(result, accepted=reason)


def _query_findings(report: DashboardReport, results: Sequence[QueryResult]) -> list[Finding]:
    """A query error, an undeclared constant-zero query and a library panel: a finding each."""
    findings = []
    for result in results:
        where = f"dashboard {report.dashboard.label} {result.where}"
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
    return findings


def _empty_findings(
    report: DashboardReport, panel: Panel, repeat: str, status: str, results: Sequence[QueryResult]
) -> list[Finding]:
    """The undeclared empty queries of one panel (one copy of a repeated panel): a warning each when the
    panel draws data from its other queries (or may, from another datasource's), else one error for the
    panel, listing them."""
    empty = [r for r in results if r.status == "empty" and not r.accepted]
    if not empty:
        return []
    # queries of another datasource (a mixed panel) may draw data obs-tests cannot see
    elsewhere = [r.target.ref_id for r in results if r.target is not None and r.message.endswith(NOT_PROMETHEUS)]
    if status in ("data", "constant_zero") or elsewhere:
        drawn = [r.target.ref_id for r in results if r.target is not None and r.status in ("data", "constant_zero")]
        source = (
            f"from {', '.join(drawn)}"
            if drawn
            else f"from {', '.join(elsewhere)} (another datasource, not checked here), if they have data"
        )
        return [
            Finding(
                "dashboards",
                f"dashboard {report.dashboard.label} {result.where}",
                f"empty query (Grafana draws the panel {source} without it): "
                f"{result.message or 'no series'} — query: {result.expr} ({_DECLARE_HINT}, query: "
                f"{result.target.ref_id if result.target is not None else '-'})",
                "warning",
                rule="dashboard/query-empty",
                file=report.dashboard.source,
            )
            for result in empty
        ]
    copy = f" [{repeat}]" if repeat else ""
    details = "; ".join(_empty_detail(r) for r in empty)
    return [
        Finding(
            "dashboards",
            f"dashboard {report.dashboard.label} panel {panel.label}{copy}",
            f'empty (the panel shows "No data"): {details} ({_DECLARE_HINT})',
            rule="dashboard/panel-empty",
            file=report.dashboard.source,
        )
    ]


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
