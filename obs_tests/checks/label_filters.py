"""Which variables a dashboard's Prometheus queries filter ``job`` and ``instance`` on — read from the
queries, whatever the variables are called (``instance="$node:9100"`` -> ``node``) — and how they write the
matcher, so the lint can name the variable a selector misses and the matcher to add.

Example::

    filter_variables(dashboard)  # {"job": ("job",), "instance": ("node",)}
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from obs_tests.checks.query_placeholders import PLACEHOLDER, parse_target, uses_variable
from obs_tests.dashboards.dashboard_model import Dashboard
from obs_tests.dashboards.datasources import prometheus_targets
from obs_tests.dashboards.variables import parse_variable_query
from obs_tests.rules.promql import Selector

__all__ = [
    "FILTER_LABELS",
    "LabelFilter",
    "filter_variables",
    "label_filters",
]

#: the labels every selector should filter on a dashboard variable
FILTER_LABELS = ("job", "instance")


@dataclass(frozen=True)
class LabelFilter:
    """The variables the queries filter one label on (most used first) and how they write it."""

    label: str
    names: tuple[str, ...] = ()
    written: str = ""  # the most common matcher, e.g. instance="$node:9100"
    listing: str | None = None  # no query filters on a variable, but this one lists the label's values

    @property
    def wanted(self) -> tuple[str, ...]:
        """The variables a selector should filter the label on: those the queries use, else the listing one."""
        return self.names or ((self.listing,) if self.listing else ())

    @property
    def suggestion(self) -> str:
        """The matcher to add, as the queries write it (``instance="$node:9100"``)."""
        return self.written or f'{self.label}=~"${self.wanted[0]}"'


def _listing_variable(dashboard: Dashboard, label: str) -> str | None:
    """A variable named ``label``, else a query variable listing its values (``label_values(…, label)``)."""
    if dashboard.variable(label) is not None:
        return label
    for var in dashboard.variables:
        if var.type == "query":
            query = parse_variable_query(var.query_text)
            if query.kind == "label_values" and query.label == label:
                return var.name
    return None


def label_filters(dashboard: Dashboard, sels: Iterable[Selector]) -> dict[str, LabelFilter]:
    """For each of :data:`FILTER_LABELS`: the variables ``sels`` (parsed with placeholders) filter it on."""
    names = [v.name for v in dashboard.variables]
    uses: dict[str, Counter[str]] = {label: Counter() for label in FILTER_LABELS}
    written: dict[str, Counter[tuple[str, str, str]]] = {label: Counter() for label in FILTER_LABELS}
    for sel in sels:
        if sel.metric and sel.metric.startswith(PLACEHOLDER):
            continue
        for label, op, value in sel.matchers:
            if label not in uses:
                continue
            for name in names:
                if uses_variable(value, name):
                    uses[label][name] += 1
                    written[label][(name, op, re.sub(rf"{PLACEHOLDER}(\w+)", r"$\1", value))] += 1
    out = {}
    for label in FILTER_LABELS:
        counts = uses[label]
        # most used first; on a tie the variable named like the label, then by name
        ranked = tuple(sorted(counts, key=lambda n: (-counts[n], n != label, n)))
        if not ranked:
            out[label] = LabelFilter(label, listing=_listing_variable(dashboard, label))
            continue
        forms = [(count, form) for form, count in written[label].items() if form[0] == ranked[0]]
        _, (_name, op, value) = max(forms, key=lambda x: x[0])
        out[label] = LabelFilter(label, ranked, f'{label}{op}"{value}"')
    return out


def filter_variables(dashboard: Dashboard, known: dict[str, str] | None = None) -> dict[str, tuple[str, ...]]:
    """For ``job`` and ``instance``: the variables the dashboard's Prometheus queries filter that label on,
    most used first — whatever they are called (``instance="$node:9100"`` -> ``('node',)``).

    Example: a dashboard whose queries read ``node_load1{instance="$node:9100", job="$job"}`` gives
    ``{"job": ("job",), "instance": ("node",)}``.
    """
    queries, _ = prometheus_targets(dashboard, known)
    parsed = [parse_target(item) for item in queries]
    found = label_filters(dashboard, [sel for p in parsed for sel in p.selectors])
    return {label: found[label].names for label in FILTER_LABELS}
