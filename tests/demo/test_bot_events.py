"""The bot's event envelope: checksum over the sorted data, decode refusing what is not an event, seq per
name, and a subscriber telling in-order, late, lost, duplicate, corrupt and other-run events apart."""

from __future__ import annotations

import doctest
import zlib

import orjson
import pytest

from obs_tests.demo import bot_events
from obs_tests.demo.bot_events import (
    EVENT_FIELDS,
    NUMERIC_FIELDS,
    Inbox,
    SeqTracker,
    Sequencer,
    checksum,
    decode,
    event_name,
    make_event,
    subject,
    verify,
)


def test_bot_events_module_example_runs() -> None:
    assert doctest.testmod(bot_events).failed == 0


def test_checksum_is_crc32_hex_of_the_sorted_data() -> None:
    data = {"price": 1.5, "pair": "BTC/USDT"}
    sorted_json = b'{"pair":"BTC/USDT","price":1.5}'
    expected = format(zlib.crc32(sorted_json), "08x")
    assert checksum(data) == expected == checksum({"pair": "BTC/USDT", "price": 1.5})
    assert len(checksum({})) == 8


def test_an_event_round_trips_and_a_modified_one_no_longer_verifies() -> None:
    event = make_event("MarketPriceFetched", "r1", seq=3, cycle=4, data={"price": 10.0}, at=5.0)
    doc = orjson.loads(event.encode())
    assert doc == {"event": "MarketPriceFetched", "run": "r1", "seq": 3, "cycle": 4, "time": 5.0} | {
        "data": {"price": 10.0},
        "checksum": checksum({"price": 10.0}),
    }
    assert decode(event.encode()) == event and verify(event)
    assert not verify(event.with_data({"price": 10.5}))
    assert event.stamped(9.0).time == 9.0 and verify(event.stamped(9.0))


@pytest.mark.parametrize(
    ("payload", "said"),
    [
        pytest.param(b"\xff garbled", "not JSON", id="garbled"),
        pytest.param(b"[1]", "not a JSON object", id="list"),
        pytest.param(b'{"event": "X"}', "no 'run' in the envelope", id="missing"),
        pytest.param(
            b'{"event":"X","run":"r","seq":"1","cycle":1,"time":1,"data":{},"checksum":"0"}', "seq", id="seq-str"
        ),
        pytest.param(
            b'{"event":"X","run":"r","seq":1,"cycle":1,"time":1,"data":[],"checksum":"0"}', "data", id="data-list"
        ),
    ],
)
def test_decode_refuses_what_is_not_an_event(payload: bytes, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        decode(payload)


def test_subjects_and_fields() -> None:
    assert subject("PositionSold") == "bot.events.PositionSold"
    assert event_name("bot.events.PositionSold") == "PositionSold"
    assert next(iter(EVENT_FIELDS)) == "BotMonitoringCycleStarted" and len(EVENT_FIELDS) == 8
    assert "price" in NUMERIC_FIELDS and "reason" not in NUMERIC_FIELDS


def test_sequencer_counts_per_name_and_restarts() -> None:
    seq = Sequencer()
    assert [seq.next("A"), seq.next("A"), seq.next("B"), seq.next("A")] == [1, 2, 1, 3]
    seq.reset()
    assert seq.next("A") == 1


def test_tracker_a_late_event_is_not_lost_a_missing_one_counts_once_after_the_grace() -> None:
    tracker = SeqTracker(grace_seconds=1.0)
    assert [tracker.observe(1, 0.0), tracker.observe(2, 0.0), tracker.observe(5, 0.0)] == ["in_order"] * 2 + ["gap"]
    assert sorted(tracker.pending) == [3, 4]
    assert tracker.observe(3, 0.5) == "late"
    assert tracker.expire(0.9) == 0, "still within the grace"
    assert tracker.expire(1.0) == 1, "4 is lost"
    assert tracker.expire(5.0) == 0, "counted once"
    assert tracker.observe(4, 6.0) == "duplicate", "too late: already counted missing"
    assert tracker.observe(6, 6.0) == "in_order"


def test_tracker_a_huge_gap_is_bounded_and_still_counted() -> None:
    tracker = SeqTracker(grace_seconds=0.0)
    tracker.observe(1, 0.0)
    tracker.observe(50_002, 0.0)
    assert len(tracker.pending) == 10_000
    assert tracker.expire(0.0) == 50_000


def _payload(name: str, seq: int, run: str = "r", data: dict[str, object] | None = None) -> bytes:
    return make_event(name, run, seq=seq, cycle=seq, data=data or {"price": 1.0}).encode()


def test_inbox_judges_each_message() -> None:
    inbox = Inbox("r", grace_seconds=0.5)
    subject_ = subject("MarketPriceFetched")
    assert inbox.accept(subject_, _payload("MarketPriceFetched", 1), 0.0).verdict == "ok"
    assert inbox.accept(subject_, _payload("MarketPriceFetched", 3), 0.0).verdict == "ok"
    assert inbox.accept(subject_, _payload("MarketPriceFetched", 2), 0.1).verdict == "late"
    assert inbox.accept(subject_, _payload("MarketPriceFetched", 1, run="old"), 0.1).verdict == "other_run"
    tampered = make_event("MarketPriceFetched", "r", seq=4, cycle=4, data={"price": 1.0}).with_data({"price": 2.0})
    corrupt = inbox.accept(subject_, tampered.encode(), 0.2)
    assert (corrupt.verdict, corrupt.error, corrupt.accepted) == ("corrupt", "checksum mismatch", False)
    garbled = inbox.accept(subject_, b"\xffgarbage", 0.2)
    assert (garbled.verdict, garbled.name, garbled.event) == ("corrupt", "MarketPriceFetched", None)
    assert inbox.accept(subject_, _payload("MarketPriceFetched", 7), 0.3).verdict == "ok"
    assert inbox.expire(0.5) == {}
    assert inbox.expire(0.8) == {"MarketPriceFetched": 2}, "5 and 6 never came"
    wrong = inbox.accept(subject("BuyConditionMet"), _payload("MarketPriceFetched", 8), 0.9)
    assert wrong.verdict == "corrupt" and wrong.error == "wrong subject"


def test_inbox_reset_forgets_the_sequences_of_the_old_run() -> None:
    inbox = Inbox("a")
    inbox.accept(subject("PositionSold"), _payload("PositionSold", 5, run="a"), 0.0)
    inbox.reset("b", grace_seconds=3.0)
    assert inbox.trackers == {} and inbox.grace_seconds == 3.0
    assert inbox.accept(subject("PositionSold"), _payload("PositionSold", 1, run="b"), 0.0).verdict == "ok"
