"""The event model: envelopes, checksums, what a run's events say."""

from __future__ import annotations

import orjson
import pytest

from obs_tests.scenarios.events import EVENT_NAMES, EventLog, RecordedEvent, checksum, exchange_summary


def event(name: str, cycle: int, seq: int = 1, run: str = "r1", **data: object) -> RecordedEvent:
    return RecordedEvent(name, run, seq, cycle, 1000.0 + cycle, dict(data), checksum(dict(data)), 2000.0 + cycle)


def test_a_checksum_is_over_the_sorted_data_and_changes_with_it() -> None:
    assert checksum({"a": 1, "b": 2.5}) == checksum({"b": 2.5, "a": 1})
    assert checksum({"price": 100.0}) != checksum({"price": 100.5})
    assert len(checksum({})) == 8


def test_an_event_with_its_original_data_is_intact_and_a_modified_one_is_not() -> None:
    good = event("MarketPriceFetched", 3, price=50_000.0)
    assert good.intact
    corrupted = RecordedEvent(**{**good.__dict__, "data": {"price": 5.0}})
    assert not corrupted.intact


def test_a_message_body_becomes_an_event_of_its_run_and_others_are_left_out() -> None:
    log = EventLog(run="r1")
    body = {"event": "BotMonitoringCycleStarted", "run": "r1", "seq": 1, "cycle": 1, "time": 1.0, "data": {}}
    kept = log.add_raw(orjson.dumps({**body, "checksum": checksum({})}), received_at=5.0)
    assert log.add_raw(orjson.dumps({**body, "run": "other"})) is None
    assert log.add_raw(b"not json") is None and log.add_raw(b"[1, 2]") is None
    assert log.add_raw(b'{"no": "event"}') is None
    assert len(log) == 1 and log.rejected == 3 and log.events == [kept] and kept.received_at == 5.0


def test_from_json_refuses_what_is_not_an_event() -> None:
    with pytest.raises(ValueError, match="not an event"):
        RecordedEvent.from_json({"event": "X", "seq": "three"})
    with pytest.raises(ValueError, match="data is not a mapping"):
        RecordedEvent.from_json({"event": "X", "data": [1]})


def test_counts_cycles_capital_and_positions_come_from_the_events() -> None:
    log = EventLog()
    log.add(event("BotMonitoringCycleStarted", 1, equity=10_000.0, capital=10_000.0))
    log.add(event("MarketPriceFetched", 1, price=100.0))
    log.add(event("PositionPurchased", 2, pool=0, equity=10_000.0))
    log.add(event("MarketPriceFetched", 4, seq=2, price=110.0))  # cycle 3's start was lost: cycles still 4
    log.add(event("PositionSold", 4, pnl=12.5, equity=10_012.5))
    counts = log.counts()
    assert (
        counts["MarketPriceFetched"] == 2 and counts["PositionPurchased"] == 1 and counts["IndicatorsCalculated"] == 0
    )
    assert list(counts)[: len(EVENT_NAMES)] == list(EVENT_NAMES)
    assert log.cycles() == 4
    assert log.initial_capital() == 10_000.0 and log.final_capital() == 10_012.5
    assert log.positions_opened() == 1
    assert log.prices() == [100.0, 110.0]


def test_a_cycle_is_over_when_its_fetch_outcome_arrived_or_a_later_one_began() -> None:
    """Begun is not over: cycle 2's start alone leaves cycle 1 the last one over (its price event may still
    be on the bus) — the race `wait_for_cycles` then `event_count` lost at 39 of 40."""
    log = EventLog()
    assert log.completed_cycles() == 0
    log.add(event("BotMonitoringCycleStarted", 1))
    assert log.cycles() == 1 and log.completed_cycles() == 0
    log.add(event("MarketPriceFetched", 1, price=100.0))
    assert log.completed_cycles() == 1
    log.add(event("BotMonitoringCycleStarted", 2, seq=2))
    assert log.completed_cycles() == 1
    log.add(event("MarketPriceFetchFailed", 2, error="timeout"))
    assert log.completed_cycles() == 2
    log.add(event("BotMonitoringCycleStarted", 4, seq=4))  # cycle 3's events were all lost: 3 is over
    assert log.completed_cycles() == 3


def test_gaps_in_a_names_seq_are_missing_events_and_bad_checksums_are_corrupted() -> None:
    log = EventLog()
    for seq in (1, 2, 5):
        log.add(event("BuyConditionMet", seq, seq=seq, price=1.0))
    bad = event("MarketPriceFetched", 1, price=100.0)
    log.add(RecordedEvent(**{**bad.__dict__, "data": {"price": 1.0}}))
    assert log.missing() == {"BuyConditionMet": 2}
    assert [e.name for e in log.corrupted()] == ["MarketPriceFetched"]
    assert log.prices() == []  # a corrupted price is not a price
    summary = log.summary()
    assert summary["total"] == 4 and summary["corrupted"] == 1 and summary["missing"] == {"BuyConditionMet": 2}


def test_no_capital_without_an_event_that_carries_it() -> None:
    log = EventLog()
    log.add(event("MarketPriceFetched", 1, price=1.0))
    assert log.final_capital() is None and log.initial_capital() is None


def test_the_exchange_block_is_min_max_and_return_of_the_fetched_prices() -> None:
    assert exchange_summary([100.0, 80.0, 120.0, 110.0]) == {
        "min_price": 80.0,
        "max_price": 120.0,
        "total_return_pct": 10.0,
    }
    assert exchange_summary([]) == {"min_price": None, "max_price": None, "total_return_pct": None}


def test_a_recorded_event_round_trips_through_json() -> None:
    original = event("PositionSold", 7, seq=2, pnl=-3.0, pool=1)
    assert RecordedEvent.from_json(original.to_json()) == original
