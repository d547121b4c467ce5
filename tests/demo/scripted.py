"""A Prometheus on a script, for the waits the demo's workloads make on it (:func:`wait_drained` and the
pipeline scrape after it): the NATS exporter's scrapes as listed, the pipeline's other jobs scraped every
second, and a clock — a scrape is seen once the clock has reached it, each query moves the clock on, and a
test moves it further for what takes time (a send). Shared by tests/demo/test_workload.py and
tests/demo/test_system.py."""

from __future__ import annotations

import re
from dataclasses import dataclass

from obs_tests.clients.prometheus import PrometheusClient, Sample

_PINNED = re.compile(r"@ ([0-9.]+)")
_JOBS = re.compile(r'job=~?"([^"]+)"')


@dataclass(frozen=True)
class Scrape:
    """One scrape of the NATS exporter: when it started, how long it took, the consumer backlog it read."""

    at: float
    duration: float = 0.01
    backlog: float = 0.0


class ScriptedPrometheus(PrometheusClient):
    """Answers ``time()``, ``timestamp(up)`` by job, and the NATS scrape's duration and consumer backlog
    (``@`` a scrape's time: from that scrape; else from the latest seen). ``tick`` is how far each query
    moves the clock before it is answered; the pipeline's jobs are scraped every second from ``pipeline_from``."""

    def __init__(
        self, nats: list[Scrape], *, clock: float = 100.0, tick: float = 0.05, pipeline_from: float = 100.3
    ) -> None:
        super().__init__("http://scripted:9090")
        self.nats = nats
        self.clock = clock
        self.tick = tick
        self.pipeline_from = pipeline_from
        self.queries: list[str] = []

    def _nats(self, expr: str) -> Scrape:
        seen = [s for s in self.nats if s.at <= self.clock]
        pinned = _PINNED.search(expr)
        if pinned is not None:
            seen = [s for s in seen if s.at <= float(pinned.group(1))]
        assert seen, f"no NATS scrape by {self.clock} for {expr}"
        return seen[-1]

    def _scraped(self, job: str) -> float:
        if job == "nats":
            return max((s.at for s in self.nats if s.at <= self.clock), default=0.0)
        passed = int(self.clock - self.pipeline_from) if self.clock >= self.pipeline_from else -1
        return self.pipeline_from + passed if passed >= 0 else 0.0

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        self.queries.append(expr)
        self.clock += self.tick
        if expr == "time()":
            return [Sample({}, self.clock, self.clock)]
        if expr.startswith("min by (job) (timestamp(up"):
            jobs = _JOBS.search(expr)
            assert jobs is not None, expr
            return [Sample({"job": job}, self._scraped(job), self.clock) for job in jobs.group(1).split("|")]
        if "scrape_duration_seconds" in expr:
            return [Sample({}, self._nats(expr).duration, self.clock)]
        if "nats_jetstream_consumer_num_pending" in expr:
            return [Sample({}, self._nats(expr).backlog, self.clock)]
        raise AssertionError(f"not scripted: {expr}")
