"""What a load sent, read back exactly from Locust's ``--json-file``: per request name, the requests, failures and
response-time histogram (:class:`EndpointStats`), and the run's totals, rates and percentiles (:class:`LoadResult`);
its table as users know it is :meth:`LoadResult.report` (:mod:`obs_tests.workloads.load_report`). Percentiles
follow Locust's rule, so they are the numbers Locust prints.

Example::

    result.requests, result.failures, result.endpoint("signal").p95_ms, result.by_prefix("malformed:")
    print("\n".join(result.report().lines()))
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obs_tests.workloads.load_report import LoadReport, load_report, locust_percentile
from obs_tests.workloads.load_spec import LoadSpec

__all__ = ["EndpointStats", "LoadResult", "parse_rows", "parse_stats", "read_rows"]


def _percentile(times: Mapping[str, int], q: float) -> float:
    """Percentile (ms) of Locust's rounded response-time histogram ``{"12": count, …}``, by Locust's rule
    (NaN without any response time)."""
    counts = Counter({int(float(ms)): int(n) for ms, n in times.items()})
    total = sum(counts.values())
    return locust_percentile(counts, total, q) if total else float("nan")


@dataclass(frozen=True)
class EndpointStats:
    """One row of Locust's stats (a request name)."""

    name: str
    method: str
    requests: int
    failures: int
    response_times: dict[str, int]
    avg_ms: float
    max_ms: float

    def percentile_ms(self, q: float) -> float:
        """The ``q`` percentile of the response time (ms, Locust's rounding)."""
        return _percentile(self.response_times, q)

    @property
    def p50_ms(self) -> float:
        """Median response time (ms)."""
        return self.percentile_ms(0.5)

    @property
    def p95_ms(self) -> float:
        """95th percentile (ms)."""
        return self.percentile_ms(0.95)


@dataclass
class LoadResult:
    """What Locust sent, per request name, and how the run went."""

    spec: LoadSpec
    endpoints: dict[str, EndpointStats]
    started_at: float
    ended_at: float
    returncode: int
    #: Locust's output, kept when the run counted failures and the caller named a ``keep_logs`` directory
    log: Path | None = None
    #: the end of Locust's output (its summary and error report)
    output: str = ""
    #: Locust's ``--json-file`` rows as read (start and last-request times, minima: what the report uses)
    stats: list[dict[str, Any]] = field(default_factory=list)

    @property
    def requests(self) -> int:
        """Every request sent."""
        return sum(e.requests for e in self.endpoints.values())

    @property
    def failures(self) -> int:
        """Requests Locust counted as failed."""
        return sum(e.failures for e in self.endpoints.values())

    def endpoint(self, name: str) -> EndpointStats:
        """Stats of one request name (an empty row when it was never sent)."""
        return self.endpoints.get(name, EndpointStats(name, "POST", 0, 0, {}, 0.0, 0.0))

    def by_prefix(self, prefix: str) -> Counter[str]:
        """Requests per name suffix, for names ``<prefix><suffix>`` (e.g. ``malformed:`` -> kinds)."""
        return Counter({n.removeprefix(prefix): e.requests for n, e in self.endpoints.items() if n.startswith(prefix)})

    def percentile_ms(self, q: float, names: tuple[str, ...] | None = None) -> float:
        """Percentile over all (or the given) request names together."""
        merged: Counter[str] = Counter()
        for name, stats in self.endpoints.items():
            if names is None or name in names:
                merged.update(stats.response_times)
        return _percentile(merged, q)

    @property
    def rps(self) -> float:
        """Requests per second over the run."""
        return self.requests / max(self.ended_at - self.started_at, 1e-9)

    def report(self) -> LoadReport:
        """The run's table per request name (success rate, average, median, p95, p99, max, requests/s), from
        Locust's rows; a result built without them (``stats`` empty) is reported from its endpoints over
        ``started_at``-``ended_at``."""
        if self.stats:
            return load_report(self.stats)
        rows = [
            {
                "name": e.name,
                "method": e.method,
                "num_requests": e.requests,
                "num_failures": e.failures,
                "response_times": e.response_times,
                "total_response_time": e.avg_ms * e.requests,
                "max_response_time": e.max_ms if e.requests else None,
                "start_time": self.started_at,
                "last_request_timestamp": self.ended_at,
            }
            for e in self.endpoints.values()
        ]
        return load_report(rows)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of Locust's stats file (``--json-file``), as written."""
    rows: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return rows


def parse_stats(path: Path) -> dict[str, EndpointStats]:
    """Locust's stats file (``--json-file``): one row per request name."""
    return parse_rows(read_rows(path))


def parse_rows(rows: list[dict[str, Any]]) -> dict[str, EndpointStats]:
    """Locust's stats rows: one :class:`EndpointStats` per request name."""
    out = {}
    for row in rows:
        requests = int(row.get("num_requests", 0))
        out[row["name"]] = EndpointStats(
            name=row["name"],
            method=row.get("method", ""),
            requests=requests,
            failures=int(row.get("num_failures", 0)),
            response_times={str(k): int(v) for k, v in (row.get("response_times") or {}).items()},
            avg_ms=float(row.get("total_response_time", 0.0)) / requests if requests else 0.0,
            max_ms=float(row.get("max_response_time") or 0.0),
        )
    return out
