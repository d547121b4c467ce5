"""The load report: per Locust request name, the success rate, average, median, p95, p99 and max response time
and requests/s — Locust's own numbers, computed from its ``--json-file`` stats exactly as Locust computes its
end-of-run table (its rounded response-time histogram, its percentile and median rules, requests/s over the
run's span) — next to what the gateway's own latency histogram says for the same window (request count and
p50/p95/p99 by ``histogram_quantile`` over the observations between the scrape before the first request and
the scrape after the last).

One report for every Locust run: the scenario runner's load (``result.load``), the load checks of
``obs-tests check`` and a plain ``locust -f load/locustfile.py`` run (printed at its end). The report is a
JSON document (:meth:`LoadReport.to_json`); the terminal table (:func:`report_lines`) and the HTML/Markdown
reports are written from that document.

Example::

    report = load_report(json.loads(Path("stats.json").read_text()))      # Locust's --json-file
    report = report.compared(prom)          # next to the gateway histogram's view of the same window
    print("\\n".join(report.lines()))

Or from a shell: ``python -m obs_tests.workloads.load_table stats.json`` (:mod:`~obs_tests.workloads.load_table`).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.errors import ObsTestsError, UsageError, WaitTimeout
from obs_tests.reports.templates import format_ms

__all__ = [
    "GATEWAY_HISTOGRAM",
    "GatewayWindow",
    "LoadReport",
    "LoadRow",
    "gateway_line",
    "gateway_window",
    "load_report",
    "locust_percentile",
    "read_report",
    "report_lines",
]

#: the gateway's latency histogram (seconds) the report compares Locust's response times with
GATEWAY_HISTOGRAM = "gateway_processing_duration_seconds"
#: the histogram quantiles reported for the gateway's window
QUANTILES = (0.5, 0.95, 0.99)
_AGGREGATED = "Aggregated"


def locust_percentile(response_times: Mapping[int, int], requests: int, q: float) -> float:
    """The response time (ms) ``q`` of the requests finished within — Locust's rule
    (``calculate_response_time_percentile``): walking down from the slowest, the first rounded time at which
    no more than ``int(requests * q)`` requests remain; 0 without any."""
    below = int(requests * q)
    seen = 0
    for ms in sorted(response_times, reverse=True):
        seen += response_times[ms]
        if requests - seen <= below:
            return float(ms)
    return 0.0


@dataclass(frozen=True)
class LoadRow:
    """One line of the table: a request name (or ``Aggregated``), in Locust's terms. The times are None for a
    name without a timed request (there is no time to report, not a time of 0)."""

    name: str
    method: str
    requests: int
    failures: int
    avg_ms: float | None
    median_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    rps: float | None

    @property
    def success_percent(self) -> float | None:
        """Requests that succeeded, in % of the requests (None without a request)."""
        return None if self.requests == 0 else 100.0 * (self.requests - self.failures) / self.requests

    def to_json(self) -> dict[str, Any]:
        """The row as the JSON report has it."""
        return {
            "name": self.name,
            "method": self.method,
            "requests": self.requests,
            "failures": self.failures,
            "success_percent": self.success_percent,
            "avg_ms": self.avg_ms,
            "median_ms": self.median_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
            "rps": self.rps,
        }


def _row(name: str, method: str, entries: Sequence[Mapping[str, Any]], span: float | None) -> LoadRow:
    """One row from Locust stats entries (several: merged as Locust aggregates them)."""
    times: Counter[int] = Counter()
    for entry in entries:
        for ms, count in (entry.get("response_times") or {}).items():
            times[int(float(ms))] += int(count)
    requests = sum(int(e.get("num_requests") or 0) for e in entries)
    failures = sum(int(e.get("num_failures") or 0) for e in entries)
    timed = requests - sum(int(e.get("num_none_requests") or 0) for e in entries)
    maxima = [float(e["max_response_time"]) for e in entries if e.get("max_response_time") is not None]
    minima = [float(e["min_response_time"]) for e in entries if e.get("min_response_time") is not None]
    rps = requests / span if span else None
    if timed <= 0 or not times:
        return LoadRow(name, method, requests, failures, None, None, None, None, max(maxima, default=None), rps)
    total_ms = sum(float(e.get("total_response_time") or 0.0) for e in entries)
    top, bottom = max(maxima, default=math.inf), min(minima, default=-math.inf)
    # Locust's median: its percentile 0.5 of the rounded times, kept within the exact min and max
    median = min(max(locust_percentile(times, timed, 0.5), bottom), top)
    return LoadRow(
        name,
        method,
        requests,
        failures,
        total_ms / timed,
        median,
        locust_percentile(times, timed, 0.95),
        locust_percentile(times, timed, 0.99),
        max(maxima, default=None),
        rps,
    )


@dataclass(frozen=True)
class GatewayWindow:
    """What the gateway's latency histogram counted between two scrapes: ``requests`` observations and their
    quantiles (ms, ``histogram_quantile``: interpolated within the bucket); ``note`` says what is missing or
    approximate (empty: exact over the window)."""

    metric: str
    started_at: float
    ended_at: float
    requests: float | None
    quantiles_ms: Mapping[str, float | None] = field(default_factory=dict)
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        """The comparison as the JSON report has it."""
        return {
            "metric": self.metric,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "requests": self.requests,
            "p50_ms": self.quantiles_ms.get("p50"),
            "p95_ms": self.quantiles_ms.get("p95"),
            "p99_ms": self.quantiles_ms.get("p99"),
            "note": self.note,
        }


@dataclass(frozen=True)
class LoadReport:
    """A Locust run's table (a row per request name, then ``total``) and the gateway's view of its window."""

    rows: tuple[LoadRow, ...]
    total: LoadRow
    #: the run's span: Locust's first stats entry start to its last request (None: no request)
    started_at: float | None
    ended_at: float | None
    gateway: GatewayWindow | None = None

    def with_gateway(self, gateway: GatewayWindow | None) -> LoadReport:
        """The same table with the gateway's view of the window."""
        return replace(self, gateway=gateway)

    def compared(self, prom: PrometheusClient, *, metric: str = GATEWAY_HISTOGRAM, timeout: float = 15.0) -> LoadReport:
        """The same table next to what ``metric`` counted over the run's window (:func:`gateway_window`);
        unchanged for a run without a request (no window). Locust opens a name's stats when its first request
        completes, so the window opens one slowest response time earlier: the gateway saw that request then."""
        if self.started_at is None or self.ended_at is None:
            return self
        opened = self.started_at - (self.total.max_ms or 0.0) / 1000.0
        return self.with_gateway(gateway_window(prom, opened, self.ended_at, metric=metric, timeout=timeout))

    def to_json(self) -> dict[str, Any]:
        """The report document (the ``load`` of a scenario result, of the check report)."""
        span = self.ended_at - self.started_at if self.started_at is not None and self.ended_at is not None else None
        return {
            "rows": [row.to_json() for row in self.rows],
            "total": self.total.to_json(),
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration_seconds": span,
            "gateway": self.gateway.to_json() if self.gateway else None,
        }

    def lines(self) -> list[str]:
        """The terminal table (:func:`report_lines` of :meth:`to_json`)."""
        return report_lines(self.to_json())


def load_report(stats: Sequence[Mapping[str, Any]]) -> LoadReport:
    """The report of Locust's ``--json-file`` rows (``[{name, method, num_requests, num_failures,
    response_times, total_response_time, max_response_time, start_time, last_request_timestamp, …}]``)."""
    entries = [e for e in stats if int(e.get("num_requests") or 0) or int(e.get("num_failures") or 0)]
    starts = [float(e["start_time"]) for e in entries if e.get("start_time") is not None]
    lasts = [float(e["last_request_timestamp"]) for e in entries if e.get("last_request_timestamp") is not None]
    started = min(starts) if starts else None
    ended = max(lasts) if lasts else None
    span = ended - started if started is not None and ended is not None and ended > started else None
    rows = tuple(
        _row(str(e.get("name", "")), str(e.get("method") or ""), [e], span)
        for e in sorted(entries, key=lambda e: (str(e.get("name", "")), str(e.get("method") or "")))
    )
    return LoadReport(rows, _row(_AGGREGATED, "", entries, span), started, ended)


def read_report(path: Path) -> LoadReport:
    """The report of a Locust ``--json-file`` (``UsageError`` naming the file when it is not one)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read Locust's stats ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise UsageError(f"{path}: not JSON ({exc}); expected Locust's --json-file output") from None
    if not isinstance(data, list) or not all(isinstance(row, dict) and "name" in row for row in data):
        raise UsageError(f"{path}: not Locust's --json-file output (a list of stats rows with a 'name' each)")
    try:
        return load_report(data)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{path}: a stats row has a value of the wrong type ({exc})") from None


# -- the gateway's view of the same window ----------------------------------------------------------------


def _delta(prom: PrometheusClient, series: str, t0: float, t1: float, by: str = "") -> tuple[str, str]:
    """The PromQL of what ``series`` (a counter) rose by between ``t0`` and ``t1`` — exact (``@`` t1 minus
    ``@`` t0) unless the counter reset in between (the gateway restarted): then ``increase()`` (extrapolated)
    — and the note that says so."""
    group = f" by ({by})" if by else ""
    window = f"{max(1, math.ceil(t1 - t0))}s"
    resets = prom.query_value(f"sum(resets({series}[{window}] @ {t1:.3f}))") or 0.0
    if resets:
        note = "the gateway restarted during the run: its counts are increase() over the window (extrapolated)"
        return f"sum{group} (increase({series}[{window}] @ {t1:.3f}))", note
    return f"(sum{group} ({series} @ {t1:.3f}) - sum{group} ({series} @ {t0:.3f}))", ""


def _scrape_after(prom: PrometheusClient, metric: str, after: float, timeout: float) -> tuple[float, str]:
    """The time of the first scrape of ``metric`` after ``after`` (and ""), or of the last one with why it
    is not later when none came within ``timeout`` s."""
    expr = f"min(timestamp({metric}_count))"

    def probe() -> Poll[float]:
        last = prom.query_value(expr)
        return Poll(last is not None and last > after, last or 0.0, f"last scrape at {last}")

    try:
        return wait_for(
            probe,
            timeout=timeout,
            interval=0.1,
            expected=f"a scrape of {metric} after the load's last request",
            bound="one scrape interval",
        ), ""
    except WaitTimeout:
        last = prom.query_value(expr)
        if last is None:
            raise
        return last, f"no scrape of {metric} within {timeout:g}s of the load's end: the last second may be missing"


def gateway_window(
    prom: PrometheusClient,
    started_at: float,
    ended_at: float,
    *,
    metric: str = GATEWAY_HISTOGRAM,
    timeout: float = 15.0,
) -> GatewayWindow:
    """What ``metric`` (a histogram, seconds) counted from the scrape before ``started_at`` to the first scrape
    after ``ended_at`` (waited for up to ``timeout`` s): its observations and p50/p95/p99. Never raises for
    a Prometheus that cannot say: the window's ``note`` says why (unreachable, no such series)."""
    try:
        t1, note = _scrape_after(prom, metric, ended_at, timeout)
        count_expr, reset_note = _delta(prom, f"{metric}_count", started_at, t1)
        requests = prom.query_value(count_expr)
        buckets, _ = _delta(prom, f"{metric}_bucket", started_at, t1, by="le")
        quantiles: dict[str, float | None] = {}
        for q in QUANTILES:
            value = prom.query_value(f"histogram_quantile({q}, {buckets})") if requests else None
            quantiles[f"p{q * 100:g}"] = None if value is None or math.isnan(value) else value * 1000.0
    except WaitTimeout:
        return GatewayWindow(metric, started_at, ended_at, None, note=f"Prometheus has no series {metric}_count")
    except ObsTestsError as exc:
        return GatewayWindow(metric, started_at, ended_at, None, note=f"{type(exc).__name__}: {exc}")
    notes = "; ".join(n for n in (note, reset_note) if n)
    return GatewayWindow(metric, started_at, t1, requests, quantiles, notes)


# -- the table --------------------------------------------------------------------------------------------

_HEADER = ("name", "reqs", "fails", "success", "avg ms", "med ms", "p95 ms", "p99 ms", "max ms", "req/s")


def _cells(row: Mapping[str, Any]) -> list[str]:
    success = row.get("success_percent")
    rps = row.get("rps")
    return [
        str(row.get("name", "")),
        str(row.get("requests", 0)),
        str(row.get("failures", 0)),
        "—" if success is None else f"{float(success):.1f}%",
        *(format_ms(row.get(key)) for key in ("avg_ms", "median_ms", "p95_ms", "p99_ms", "max_ms")),
        "—" if rps is None else f"{float(rps):.1f}",
    ]


def gateway_line(gateway: Mapping[str, Any] | None, locust_requests: int) -> str:
    """The gateway histogram's view in one line (empty without one)."""
    if not gateway:
        return ""
    metric = gateway.get("metric", GATEWAY_HISTOGRAM)
    if gateway.get("requests") is None:
        return f"gateway histogram {metric}: not available — {gateway.get('note') or 'no data'}"
    counted = float(gateway["requests"])
    quantiles = ", ".join(f"{q} {format_ms(gateway.get(f'{q}_ms'))} ms" for q in ("p50", "p95", "p99"))
    line = f"gateway histogram {metric}, same window: {counted:.0f} requests (Locust: {locust_requests}), {quantiles}"
    return line + (f" — {gateway['note']}" if gateway.get("note") else "")


def report_lines(doc: Mapping[str, Any]) -> list[str]:
    """The table of a report document (:meth:`LoadReport.to_json`): a row per request name, the aggregated
    row, then the gateway histogram's view of the same window."""
    total = doc.get("total") or {}
    rows = list(doc.get("rows") or [])
    if not rows and not total.get("requests"):
        lines = ["Locust sent no request: no response time or rate to report (0 requests)"]
        return lines + [line for line in [gateway_line(doc.get("gateway"), 0)] if line]
    table = [list(_HEADER), *(_cells(row) for row in rows), _cells({**total, "name": _AGGREGATED})]
    widths = [max(len(line[i]) for line in table) for i in range(len(_HEADER))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True)))
             for line in table]  # fmt: skip
    duration = doc.get("duration_seconds")
    lines.insert(0, f"Locust: {total.get('requests', 0)} requests" + (f" in {duration:.1f}s" if duration else ""))
    gateway = gateway_line(doc.get("gateway"), int(total.get("requests") or 0))
    return lines + ([gateway] if gateway else [])
