"""What a load sent, read back exactly from Locust's ``--json-file``: per request name, the requests, failures and
response-time histogram (:class:`EndpointStats`), and the run's totals, rates and percentiles (:class:`LoadResult`).

Example::

    result.requests, result.failures, result.endpoint("signal").p95_ms, result.by_prefix("malformed:")
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from obs_tests.workloads.load_spec import LoadSpec

__all__ = ["EndpointStats", "LoadResult", "parse_stats"]


def _percentile(times: Mapping[str, int], q: float) -> float:
    """Percentile (ms) of Locust's rounded response-time histogram ``{"12": count, …}``."""
    points = sorted((float(ms), int(n)) for ms, n in times.items())
    total = sum(n for _, n in points)
    if total == 0:
        return float("nan")
    rank = q * total
    seen = 0
    for ms, n in points:
        seen += n
        if seen >= rank:
            return ms
    return points[-1][0]


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


def parse_stats(path: Path) -> dict[str, EndpointStats]:
    """Locust's stats file (``--json-file``): one row per request name."""
    rows: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
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
