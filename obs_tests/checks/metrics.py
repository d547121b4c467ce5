"""Metric semantics: counters only go up, histograms are consistent, gauges stay in range, cardinality
stays in budget, series stay fresh.

Pure logic over Prometheus API results (:class:`~obs_tests.clients.prometheus.Sample`,
:class:`~obs_tests.clients.prometheus.RangeSeries`); the suite fetches, these functions judge. Every
finding names the series and says what was expected and what was seen.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from obs_tests.clients.prometheus import RangeSeries, Sample
from obs_tests.config.contract import Metric
from obs_tests.core.findings import Finding

__all__ = [
    "CounterReport",
    "Restart",
    "bucket_width",
    "check_cardinality",
    "check_counter_resets",
    "check_freshness",
    "check_gauge_range",
    "check_histogram",
    "check_quantile",
    "format_series",
]

_NONNEGATIVE_UNITS = ("_seconds", "_bytes", "_size", "_length", "_items", "_ratio")


def format_series(name: str, labels: Mapping[str, str], drop: Iterable[str] = ("__name__",)) -> str:
    """``name{a="1", b="2"}`` with ``drop`` labels left out."""
    skip = set(drop)
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k not in skip)
    return f"{name}{{{inner}}}"


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%H:%M:%S.%f")[:-3] + "Z"


# -- counters -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Restart:
    """A counter reset explained by a process restart (allowed)."""

    series: str
    at: float
    before: float
    after: float


@dataclass
class CounterReport:
    """Findings (decreases without restart) and the resets that restarts explain."""

    findings: list[Finding] = field(default_factory=list)
    restarts: list[Restart] = field(default_factory=list)


def _value_at(points: Sequence[tuple[float, float]], ts: float) -> float | None:
    """The last value at or before ``ts`` (None when there is none)."""
    index = bisect.bisect_right([p[0] for p in points], ts)
    return points[index - 1][1] if index else None


def _changed(points: Sequence[tuple[float, float]], t0: float, t1: float) -> bool:
    before, after = _value_at(points, t0), _value_at(points, t1)
    return before is not None and after is not None and after != before


def check_counter_resets(
    series: Iterable[RangeSeries],
    process_starts: Mapping[tuple[str, str], Sequence[tuple[float, float]]],
    start_metrics: Mapping[str, str] | None = None,
    other_starts: Mapping[tuple[str, str], Sequence[Sequence[tuple[float, float]]]] | None = None,
) -> CounterReport:
    """Every decrease between two consecutive samples must coincide with a process restart.

    ``series`` are raw samples of counter series; ``process_starts`` maps ``(job, instance)`` to the
    raw samples of that target's start-time gauge: ``process_start_time_seconds`` unless
    ``start_metrics`` names another one for the job (an exporter's counters reset when the server it
    exports restarts, e.g. ``redis_start_time_seconds``). ``other_starts``: the raw samples of the
    target's other ``*_start_time_seconds`` gauges — an exporter exports its own process' start and the
    server's, and a counter of either resets when that one restarts. A decrease while every start time
    stays the same is a finding; one where one changed is a reported restart.
    """
    report = CounterReport()
    for item in series:
        name = item.labels.get("__name__", "?")
        shown = format_series(name, item.labels)
        target = (item.labels.get("job", ""), item.labels.get("instance", ""))
        starts = process_starts.get(target)
        others = (other_starts or {}).get(target, ())
        start_metric = (start_metrics or {}).get(target[0], "process_start_time_seconds")
        points = item.points
        for (t0, v0), (t1, v1) in itertools.pairwise(points):
            if v1 >= v0 or math.isnan(v0) or math.isnan(v1):
                continue
            if any(_changed(other, t0, t1) for other in others):
                report.restarts.append(Restart(shown, t1, v0, v1))
                continue
            if not starts:
                report.findings.append(
                    Finding(
                        "counters",
                        shown,
                        f"went down from {v0:g} to {v1:g} at {_clock(t1)}, and job '{target[0]}' instance "
                        f"'{target[1]}' exports no {start_metric} to tell whether it restarted — export it (or "
                        "name the job's start_time_metric in the contract) so resets can be told from bugs",
                        rule="metric/counter-reset",
                    )
                )
                continue
            before, after = _value_at(starts, t0), _value_at(starts, t1)
            if _changed(starts, t0, t1):
                report.restarts.append(Restart(shown, t1, v0, v1))
                continue
            report.findings.append(
                Finding(
                    "counters",
                    shown,
                    f"went down from {v0:g} to {v1:g} between {_clock(t0)} and {_clock(t1)} without a restart "
                    f"({start_metric} stayed {before if before is not None else after:.3f}) — a "
                    "counter must only go up and reset only when its process restarts; rate() reads this as a "
                    "reset and over-counts",
                    rule="metric/counter-reset",
                )
            )
    return report


# -- histograms -----------------------------------------------------------------------------------


_SeriesKey = tuple[tuple[str, str], ...]


def _le(text: str) -> float:
    return math.inf if text in ("+Inf", "Inf", "inf") else float(text)


def check_histogram(name: str, samples: Iterable[Sample], *, nonnegative: bool | None = None) -> list[Finding]:
    """Consistency of every series of histogram ``name`` at one instant.

    Checks: buckets present with a ``+Inf`` bucket; cumulative (non-decreasing in ``le``);
    ``+Inf`` == ``_count``; ``_sum`` >= 0 when observations are non-negative (by default: a unit suffix
    such as ``_seconds``/``_bytes``); the same bucket boundaries on every series; no NaN.
    """
    if nonnegative is None:
        nonnegative = name.endswith(_NONNEGATIVE_UNITS)
    buckets, counts, sums = _histogram_series(name, samples)
    findings: list[Finding] = []
    if not buckets:
        return [
            Finding("histograms", name, f"no {name}_bucket series — is it really a histogram?", rule="metric/histogram")
        ]
    reference: tuple[float, ...] | None = None
    reference_series = ""
    for key in sorted(set(buckets) | set(counts)):
        labels = dict(key)
        shown = format_series(name, labels)
        bounds = buckets.get(key, {})
        if not bounds:
            findings.append(
                Finding("histograms", shown, f"has {name}_count but no {name}_bucket series", rule="metric/histogram")
            )
            continue
        ordered = sorted(bounds.items())
        findings.extend(_bucket_findings(shown, ordered))
        findings.extend(_total_findings(name, shown, bounds, counts.get(key), sums.get(key), nonnegative=nonnegative))
        edges = tuple(le for le, _ in ordered)
        if reference is None:
            reference, reference_series = edges, shown
        elif edges != reference:
            findings.append(_boundaries_differ(shown, edges, reference, reference_series))
    return findings


def _histogram_series(
    name: str, samples: Iterable[Sample]
) -> tuple[dict[_SeriesKey, dict[float, float]], dict[_SeriesKey, float], dict[_SeriesKey, float]]:
    """The buckets (``le`` -> value), ``_count`` and ``_sum`` of each series of histogram ``name``."""
    buckets: dict[_SeriesKey, dict[float, float]] = defaultdict(dict)
    counts: dict[_SeriesKey, float] = {}
    sums: dict[_SeriesKey, float] = {}
    for sample in samples:
        key = tuple(sorted((k, v) for k, v in sample.labels.items() if k not in ("__name__", "le")))
        sample_name = sample.labels.get("__name__", "")
        if sample_name == f"{name}_bucket" and "le" in sample.labels:
            buckets[key][_le(sample.labels["le"])] = sample.value
        elif sample_name == f"{name}_count":
            counts[key] = sample.value
        elif sample_name == f"{name}_sum":
            sums[key] = sample.value
    return buckets, counts, sums


def _bucket_findings(shown: str, ordered: Sequence[tuple[float, float]]) -> list[Finding]:
    """A NaN bucket, and buckets that are not cumulative, of one series (``ordered`` by ``le``)."""
    findings: list[Finding] = []
    nan = [le for le, v in ordered if math.isnan(v)]
    if nan:
        findings.append(Finding("histograms", shown, f'bucket le="{nan[0]:g}" is NaN', rule="metric/histogram"))
    for (le0, v0), (le1, v1) in itertools.pairwise(ordered):
        if v0 > v1:
            findings.append(
                Finding(
                    "histograms",
                    shown,
                    f'bucket le="{le0:g}" = {v0:g} > le="{le1:g}" = {v1:g} — buckets must be cumulative '
                    "(non-decreasing in le)",
                    rule="metric/histogram",
                )
            )
    return findings


def _total_findings(
    name: str,
    shown: str,
    bounds: Mapping[float, float],
    count: float | None,
    total: float | None,
    *,
    nonnegative: bool,
) -> list[Finding]:
    """One series' ``+Inf`` bucket against its ``_count``, and its ``_sum`` when it cannot be negative."""
    findings: list[Finding] = []
    if math.inf not in bounds:
        findings.append(
            Finding("histograms", shown, 'has no le="+Inf" bucket — every histogram needs one', rule="metric/histogram")
        )
    elif count is not None and bounds[math.inf] != count:
        findings.append(
            Finding(
                "histograms",
                shown,
                f'le="+Inf" bucket = {bounds[math.inf]:g} but {name}_count = {count:g} — they must be '
                "equal (every observation falls in +Inf)",
                rule="metric/histogram",
            )
        )
    elif count is None:
        findings.append(Finding("histograms", shown, f"has buckets but no {name}_count", rule="metric/histogram"))
    if nonnegative and total is not None and total < 0:
        findings.append(
            Finding(
                "histograms",
                shown,
                f"{name}_sum = {total:g} < 0 although its observations cannot be negative",
                rule="metric/histogram",
            )
        )
    return findings


def _boundaries_differ(
    shown: str, edges: tuple[float, ...], reference: tuple[float, ...], reference_series: str
) -> Finding:
    only_here = sorted(set(edges) - set(reference))
    only_there = sorted(set(reference) - set(edges))
    return Finding(
        "histograms",
        shown,
        f"bucket boundaries differ from {reference_series}: only here {only_here}, only there "
        f"{only_there} — one metric must use one set of buckets (or quantiles cannot be aggregated)",
        rule="metric/histogram",
    )


def bucket_width(bounds: Sequence[float], value: float) -> tuple[float, float, float]:
    """``(lower, upper, width)`` of the bucket holding ``value`` (bounds sorted, finite)."""
    lower = 0.0
    for upper in bounds:
        if value <= upper:
            return lower, upper, upper - lower
        lower = upper
    return lower, math.inf, math.inf


def check_quantile(
    name: str, quantile: float, from_histogram: float, measured: float, bounds: Sequence[float]
) -> list[Finding]:
    """``histogram_quantile`` must agree with the latency the workload measured within one bucket width."""
    finite = sorted(b for b in bounds if math.isfinite(b))
    lower, upper, width = bucket_width(finite, measured)
    label = f"p{quantile * 100:g}"
    if math.isinf(width):
        return [
            Finding(
                "histograms",
                f"{name} {label}",
                f"the workload measured {measured * 1000:.1f} ms, beyond the last finite bucket "
                f"({lower:g} s): the histogram cannot resolve it — add larger buckets",
                rule="metric/quantile",
            )
        ]
    if math.isnan(from_histogram) or abs(from_histogram - measured) > width:
        return [
            Finding(
                "histograms",
                f"{name} {label}",
                f"histogram_quantile gives {from_histogram * 1000:.1f} ms, the workload measured "
                f"{measured * 1000:.1f} ms: off by more than one bucket width ({width * 1000:g} ms, bucket "
                f"({lower:g}, {upper:g}] s) — the histogram does not describe the latency clients saw",
                rule="metric/quantile",
            )
        ]
    return []


# -- gauges ---------------------------------------------------------------------------------------


def check_gauge_range(metric: Metric, samples: Iterable[Sample], limit: int = 5) -> list[Finding]:
    """Every series within the contract's ``range``; NaN and ±Inf are always findings."""
    bad: list[str] = []
    total = 0
    for sample in samples:
        total += 1
        value = sample.value
        shown = format_series(metric.name, sample.labels)
        if math.isnan(value):
            bad.append(f"{shown} is NaN")
        elif math.isinf(value):
            bad.append(f"{shown} is {value:+}")
        elif metric.range_min is not None and value < metric.range_min:
            bad.append(f"{shown} = {value:g} < min {metric.range_min:g}")
        elif metric.range_max is not None and value > metric.range_max:
            bad.append(f"{shown} = {value:g} > max {metric.range_max:g}")
    if not bad:
        return []
    shown_bad = "; ".join(bad[:limit]) + (f"; … {len(bad) - limit} more" if len(bad) > limit else "")
    bounds = f"[{_bound(metric.range_min)}, {_bound(metric.range_max)}]"
    return [
        Finding(
            "gauges",
            f"metric {metric.name}",
            f"{len(bad)} of {total} series outside the contract range {bounds} or not finite: {shown_bad}",
            rule="metric/range",
        )
    ]


def _bound(value: float | None) -> str:
    return "-inf" if value is None else f"{value:g}"


# -- cardinality ----------------------------------------------------------------------------------


def check_cardinality(
    metric: Metric,
    series: int,
    distinct_values: Mapping[str, int],
    top_values: Mapping[str, Sequence[tuple[str, float]]] | None = None,
) -> list[Finding]:
    """``series`` (all series of the metric, incl. ``_bucket``/``_sum``/``_count``) <= ``max_series``.

    ``distinct_values`` maps each label to its number of distinct values; the labels with the most
    values are named as the likely cause, with their most frequent values.
    """
    if metric.max_series is None or series <= metric.max_series:
        return []
    offenders = sorted(distinct_values.items(), key=lambda kv: -kv[1])
    parts = []
    for label, count in offenders[:3]:
        examples = ""
        if top_values and top_values.get(label):
            shown = ", ".join(f"{v}" for v, _ in list(top_values[label])[:3])
            examples = f": {shown}, …" if count > 3 else f": {shown}"
        parts.append(f"{label} ({count} values{examples})")
    culprits = "; ".join(parts) or "no labels"
    return [
        Finding(
            "cardinality",
            f"metric {metric.name}",
            f"{series} series, over the budget of {metric.max_series}; labels with the most values: {culprits} — "
            "bound the label values or raise max_series in the contract",
            rule="metric/cardinality",
        )
    ]


# -- freshness ------------------------------------------------------------------------------------


def check_freshness(
    metric: Metric,
    now: float,
    current: Iterable[Sample],
    recent: Iterable[Mapping[str, str]],
    intervals: Mapping[str, float],
    *,
    max_intervals: float = 3.0,
    default_interval: float = 15.0,
) -> list[Finding]:
    """Every series has a sample newer than ``max_intervals`` scrape intervals of its job, and no series
    seen recently has gone stale.

    ``current`` are the samples of an instant query of ``timestamp(<metric>)`` (value = sample time);
    ``recent`` are the label sets ``/api/v1/series`` reports over the recent window; ``intervals`` maps
    job -> scrape interval.
    """
    findings: list[Finding] = []
    now_keys: set[_SeriesKey] = set()
    old: list[str] = []
    for sample in current:
        labels = {k: v for k, v in sample.labels.items() if k != "__name__"}
        now_keys.add(tuple(sorted(labels.items())))
        interval = intervals.get(labels.get("job", ""), default_interval)
        age = now - sample.value
        if age > max_intervals * interval:
            limit = max_intervals * interval
            old.append(f"{format_series(metric.query_name, labels)} is {age:.1f}s old (limit {limit:g}s)")
    if old:
        findings.append(
            Finding(
                "freshness",
                f"metric {metric.name}",
                f"{len(old)} series have no sample newer than {max_intervals:g} scrape intervals: "
                + "; ".join(old[:5]),
                rule="metric/freshness",
            )
        )
    findings.extend(_gone_series(metric, now_keys, recent))
    return findings


def _gone_series(metric: Metric, now_keys: set[_SeriesKey], recent: Iterable[Mapping[str, str]]) -> list[Finding]:
    """The series seen recently but not now: stale (their target is gone), or churned (it still exports)."""
    findings: list[Finding] = []
    # a target still exporting other series of the metric is up: its gone series are label churn (an info
    # metric's run id after a restart of what it exports, a label value that went away), a warning
    exporting = {(dict(k).get("job", ""), dict(k).get("instance", "")) for k in now_keys}
    stale: list[str] = []
    churned: list[str] = []
    for recent_labels in recent:
        key = tuple(sorted((k, v) for k, v in recent_labels.items() if k != "__name__"))
        if key not in now_keys:
            labels = dict(key)
            gone = churned if (labels.get("job", ""), labels.get("instance", "")) in exporting else stale
            gone.append(format_series(metric.query_name, labels))
    if stale:
        findings.append(
            Finding(
                "freshness",
                f"metric {metric.name}",
                f"{len(stale)} series went stale (seen recently, gone now — is their target down?): "
                + "; ".join(sorted(stale)[:5]),
                rule="metric/freshness",
            )
        )
    if churned:
        findings.append(
            Finding(
                "freshness",
                f"metric {metric.name}",
                f"{len(churned)} series gone while their target still exports others of it (a label value "
                "changed or went away — an info metric's run id after a restart, a device removed): "
                + "; ".join(sorted(churned)[:5]),
                severity="warning",
                rule="metric/freshness",
            )
        )
    return findings
