"""Why a panel query returns nothing, asked of the live Prometheus: the first selector that matches no
series — a metric nobody exports (with the closest exported names), or the label matcher that excludes
everything (with the values that exist) — or, when every selector matches, what else empties the result.

Example::

    why = diagnose_empty(prom, 'rate(gateway_webhook_total{job="gateway"}[1m])', prom.metric_names(), span)
    # "no metric gateway_webhook_total exists; closest exported: gateway_webhooks_total — a typo, or …"
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Sequence

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.dashboards.templating import TimeRange
from obs_tests.errors import PromQLSyntaxError
from obs_tests.rules.promql import selectors

__all__ = ["closest_metrics", "diagnose_empty"]

_NO_SERIES_EXPECTED = frozenset({"absent", "absent_over_time"})


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _selector(metric: str | None, matchers: Iterable[tuple[str, str, str]]) -> str:
    inner = ", ".join(f"{label}{op}{_quote(value)}" for label, op, value in matchers)
    return f"{metric or ''}{{{inner}}}" if inner or not metric else metric


@functools.lru_cache(maxsize=256)
def closest_metrics(metric: str, names: tuple[str, ...]) -> list[str]:
    """Up to three of ``names`` closest to ``metric`` (a typo's likely intent)."""
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
            hint = closest_metrics(sel.metric, names)
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
