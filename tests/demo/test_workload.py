"""The waits the accounting relies on, on a scripted Prometheus whose NATS scrapes land between the queries of
one probe — the race a slow machine showed (92 of 8,000 workflows read before they were counted). The same
functions against a live stack: tests/integration/test_accounting.py."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from obs_tests.clients.prometheus import PrometheusClient, Sample
from obs_tests.core.waiting import WaitTimeout
from obs_tests.demo.workload import wait_drained


@dataclass(frozen=True)
class Scrape:
    """One scrape of the NATS exporter: when it started, how long it took, the backlog it read."""

    at: float
    duration: float
    backlog: float


class ScriptedNats(PrometheusClient):
    """Answers the queries of :func:`wait_drained` from a list of scrapes; each query lets the next scrape
    land first when ``land_between`` is set (a new scrape between the "when" and the "how much" query)."""

    def __init__(self, scrapes: list[Scrape], *, land_between: bool) -> None:
        super().__init__("http://scripted:9090")
        self.scrapes = scrapes
        self.land_between = land_between
        self.visible = 1
        self.queries: list[str] = []

    def _at(self, expr: str) -> Scrape:
        match = re.search(r"@ ([0-9.]+)", expr)
        seen = self.scrapes[: self.visible]
        if match is None:
            return seen[-1]
        return [s for s in seen if s.at <= float(match.group(1))][-1]

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        self.queries.append(expr)
        scrape = self._at(expr)
        if expr.startswith("min by (job) (timestamp(up"):
            answer = [Sample({"job": "nats"}, scrape.at, scrape.at)]
        elif "scrape_duration_seconds" in expr:
            answer = [Sample({}, scrape.duration, scrape.at)]
        elif "nats_jetstream_consumer_num_pending" in expr:
            answer = [Sample({}, scrape.backlog, scrape.at)]
        else:
            raise AssertionError(f"not scripted: {expr}")
        if self.land_between:
            self.visible = min(len(self.scrapes), self.visible + 1)
        return answer


def test_drained_is_when_the_drained_scrape_ended_not_when_it_started() -> None:
    prom = ScriptedNats([Scrape(100.0, 0.4, 0.0)], land_between=False)
    assert wait_drained(prom, after=99.0, timeout=1.0) == pytest.approx(100.4)


def test_the_backlog_is_read_from_the_scrape_whose_time_is_returned() -> None:
    # the scrape at 101 still had 92 decisions in flight; the one at 102 saw none. A probe that reads the
    # time (101) and then the backlog of whatever scrape is latest (102: 0) answers "drained at 101", and a
    # pipeline scrape at 101.5 is taken as complete while 92 workflows were not counted yet.
    scrapes = [Scrape(101.0, 0.3, 92.0), Scrape(102.0, 0.3, 0.0), Scrape(103.0, 0.3, 0.0)]
    prom = ScriptedNats(scrapes, land_between=True)
    drained = wait_drained(prom, after=100.0, timeout=2.0)
    assert drained >= 102.3
    assert all("@ " in q for q in prom.queries if "num_pending" in q or "scrape_duration" in q)


def test_a_backlog_that_never_drains_times_out_saying_what_it_saw() -> None:
    prom = ScriptedNats([Scrape(100.0, 0.1, 7.0)], land_between=False)
    with pytest.raises(WaitTimeout) as caught:
        wait_drained(prom, after=99.0, timeout=0.3)
    assert "consumer backlog 7.0 in the scrape at 100.000" in str(caught.value)


def test_a_scrape_before_the_workload_does_not_count() -> None:
    prom = ScriptedNats([Scrape(100.0, 0.1, 0.0)], land_between=False)
    with pytest.raises(WaitTimeout) as caught:
        wait_drained(prom, after=100.0, timeout=0.3)
    assert "need > 100.000" in str(caught.value)
