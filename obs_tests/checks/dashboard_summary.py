"""What one dashboard's live check reports: its summary line, written from the same findings as its verdict
(a failed check leads with what failed), and its table of panel queries, worst first
(reports/dashboards.txt).

Example::

    print(summary_line(report, errors))
    print(format_report(report))
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from obs_tests.checks.panel_results import PANEL_ORDER, DashboardReport
from obs_tests.core.findings import Finding

__all__ = ["format_report", "summary_line"]


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
