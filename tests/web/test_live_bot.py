"""Following a trading-bot run while it goes: samples of the events recorded so far and the event-chaos
counters, handed on only when they change, the counters never going down."""

from __future__ import annotations

import threading
from typing import Any

from obs_tests.core.waiting import Poll, wait_for
from obs_tests.scenarios.events import EventLog, RecordedEvent, checksum
from obs_tests.web.live_bot import LiveBot, sample


def _event(
    name: str, seq: int, cycle: int, data: dict[str, Any] | None = None, *, corrupt: bool = False
) -> RecordedEvent:
    body = data or {"price": 50000.0 + seq}
    sent = checksum(body)
    if corrupt:
        body = {**body, "price": body["price"] * 1.5}
    return RecordedEvent(name, "r1", seq, cycle, 0.0, body, sent, 0.0)


class FakeSession:
    """What LiveBot reads of an EventSession: its log and the bot's chaos stats."""

    def __init__(self) -> None:
        self.log = EventLog(run="r1")
        self.stats: dict[str, Any] | None = {"by_rule": {}}
        self.reads = 0

    def chaos_stats(self) -> dict[str, Any] | None:
        self.reads += 1
        return self.stats


def test_a_sample_counts_events_by_name_cycles_missing_and_corrupted() -> None:
    log = EventLog(run="r1")
    for event in (
        _event("BotMonitoringCycleStarted", 1, 1),
        _event("MarketPriceFetched", 1, 1),
        _event("BotMonitoringCycleStarted", 2, 2),
        _event("MarketPriceFetched", 3, 3, corrupt=True),  # #2 lost on the way, #3 modified
        _event("BotMonitoringCycleStarted", 3, 3),
    ):
        log.add(event)
    stats = {"by_rule": {"drop": {"events_dropped": 1}, "modify": {"events_modified": 1}}}
    view = sample(log, stats)
    assert view["live"] is True
    assert view["events"] == {
        "total": 5,
        "by_name": {"BotMonitoringCycleStarted": 3, "MarketPriceFetched": 2},
        "cycles": 3,
        "missing": {"MarketPriceFetched": 1},
        "missing_total": 1,
        "corrupted": 1,
    }
    assert view["chaos"]["events_dropped"] == 1 and view["chaos"]["events_modified"] == 1
    assert view["chaos"]["failures_injected"] == 0


def test_poll_hands_on_only_changes_and_nothing_without_a_session() -> None:
    seen: list[dict[str, Any]] = []
    session: FakeSession | None = None
    live = LiveBot(lambda: session, seen.append)  # type: ignore[arg-type,return-value]
    assert live.poll() is None and seen == []
    session = FakeSession()
    session.log.add(_event("BotMonitoringCycleStarted", 1, 1))
    first = live.poll()
    assert first is not None and first["events"]["total"] == 1 and len(seen) == 1
    live.poll()
    assert len(seen) == 1  # nothing changed: nothing handed on
    session.log.add(_event("MarketPriceFetched", 1, 1))
    live.poll()
    assert len(seen) == 2 and seen[-1]["events"]["by_name"] == {"BotMonitoringCycleStarted": 1, "MarketPriceFetched": 1}


def test_chaos_counters_never_go_down_when_the_bot_is_reset_at_the_end() -> None:
    seen: list[dict[str, Any]] = []
    session = FakeSession()
    live = LiveBot(lambda: session, seen.append)  # type: ignore[arg-type,return-value]
    session.stats = {"by_rule": {"delay": {"events_delayed": 4, "total_delay_ms": 2000.0}}}
    live.poll()
    session.stats = {"by_rule": {}}  # the session reset the bot as the run ended
    live.poll()
    assert seen[-1]["chaos"]["events_delayed"] == 4 and seen[-1]["chaos"]["total_delay_ms"] == 2000.0
    session.stats = None  # the bot does not answer
    live.poll()
    assert seen[-1]["chaos"]["events_delayed"] == 4


def test_the_sampler_runs_in_its_own_thread_until_the_context_ends() -> None:
    session = FakeSession()
    seen: list[dict[str, Any]] = []
    changed = threading.Event()

    def on_sample(doc: dict[str, Any]) -> None:
        seen.append(doc)
        changed.set()

    with LiveBot(lambda: session, on_sample, interval=0.01) as live:  # type: ignore[arg-type,return-value]
        session.log.add(_event("BotMonitoringCycleStarted", 1, 1))
        wait_for(lambda: Poll(changed.is_set(), len(seen)), timeout=5, expected="a sample")
        session.log.add(_event("BotMonitoringCycleStarted", 2, 2))
        wait_for(lambda: Poll(seen[-1]["events"]["cycles"] == 2, seen[-1]), timeout=5, expected="cycle 2 sampled")
    reads = session.reads
    assert not live._thread.is_alive()
    session.log.add(_event("BotMonitoringCycleStarted", 3, 3))
    assert session.reads == reads and seen[-1]["events"]["cycles"] == 2  # stopped: no more samples
