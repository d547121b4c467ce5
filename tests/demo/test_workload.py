"""The waits the accounting relies on, on a scripted Prometheus whose NATS scrapes land between the queries of
one probe — the race a slow machine showed (92 of 8,000 workflows read before they were counted). The same
functions against a live stack: tests/integration/test_accounting.py."""

from __future__ import annotations

import pytest

from obs_tests.core.waiting import WaitTimeout
from obs_tests.demo.workload import wait_drained
from tests.demo.scripted import Scrape, ScriptedPrometheus


def test_drained_is_when_the_drained_scrape_ended_not_when_it_started() -> None:
    prom = ScriptedPrometheus([Scrape(100.0, 0.4, 0.0)], tick=0.0)
    assert wait_drained(prom, after=99.0, timeout=1.0) == pytest.approx(100.4)


def test_the_backlog_is_read_from_the_scrape_whose_time_is_returned() -> None:
    # the scrape at 101 still had 92 decisions in flight; the one at 102 saw none. A probe that reads the
    # time (101) and then the backlog of whatever scrape is latest (102: 0) answers "drained at 101", and a
    # pipeline scrape at 101.5 is taken as complete while 92 workflows were not counted yet.
    scrapes = [Scrape(101.0, 0.3, 92.0), Scrape(102.0, 0.3, 0.0), Scrape(103.0, 0.3, 0.0)]
    prom = ScriptedPrometheus(scrapes, tick=1.0)
    drained = wait_drained(prom, after=100.0, timeout=2.0)
    assert drained >= 102.3
    assert all("@ " in q for q in prom.queries if "num_pending" in q or "scrape_duration" in q)


def test_a_backlog_that_never_drains_times_out_saying_what_it_saw() -> None:
    prom = ScriptedPrometheus([Scrape(100.0, 0.1, 7.0)], tick=0.0)
    with pytest.raises(WaitTimeout) as caught:
        wait_drained(prom, after=99.0, timeout=0.3)
    assert "consumer backlog 7.0 in the scrape at 100.000" in str(caught.value)


def test_a_scrape_before_the_workload_does_not_count() -> None:
    prom = ScriptedPrometheus([Scrape(100.0, 0.1, 0.0)], tick=0.0)
    with pytest.raises(WaitTimeout) as caught:
        wait_drained(prom, after=100.0, timeout=0.3)
    assert "need > 100.000" in str(caught.value)
