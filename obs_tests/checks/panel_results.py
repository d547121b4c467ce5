"""The outcome of each panel query run live, and each panel as Grafana draws it. A query is classified:

- ``data``           at least one finite, non-zero value;
- ``constant_zero``  series exist but every value is 0 (a healthy error counter — or a matcher that only
                     finds the zero series);
- ``empty``          no series (or only NaN): the panel says "No data";
- ``error``          Prometheus rejected the query (its message), e.g. a syntax error;
- ``skipped``        not a Prometheus query (Loki, TestData, an expression, a hidden query), with why;
- ``unresolved``     a library panel: its queries are in Grafana, not in the file.

A panel has data when any of its visible queries has data (:data:`PANEL_ORDER`). "Declared empty" counts
*panels* everywhere (summary lines, reports/dashboards.txt, the report's ``dashboards_coverage``): panels
without data whose every empty query the contract declares (``dashboards.expected_empty``).

Example::

    report.panel_status(panel)  # "data", "error", "constant_zero", "empty", "unresolved" or "skipped"
    report.counts()             # Counter({"data": 11, "empty": 1})
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obs_tests.dashboards.dashboard_model import Dashboard, Panel, Target
from obs_tests.dashboards.templating import TimeRange
from obs_tests.dashboards.variables import ResolvedVariable

__all__ = [
    "FAILING",
    "NO_DATA",
    "PANEL_ORDER",
    "STATUSES",
    "DashboardReport",
    "QueryResult",
    "classify_values",
]

STATUSES = ("data", "constant_zero", "empty", "error", "skipped", "unresolved")
FAILING = frozenset({"empty", "error"})
#: a panel's status from its queries' statuses, as Grafana draws it: the first one any query has
PANEL_ORDER = ("data", "error", "constant_zero", "empty", "unresolved", "skipped")
#: the statuses of a query that ran and drew nothing
NO_DATA = frozenset({"empty", "constant_zero"})


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
        if self.panel_status(panel, repeat) not in NO_DATA:
            return False
        return all(r.accepted for r in self.results_of(panel, repeat) if r.status in NO_DATA)

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
