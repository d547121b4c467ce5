"""The `assert` step on bus events: each bound passes and fails with the seed framework's names and
messages."""

from __future__ import annotations

import sys
import types

import pytest

from obs_tests.errors import ScenarioInvalid
from obs_tests.scenarios.event_asserts import AssertEvents, Bounds, judge_events, parse_assert_events
from obs_tests.scenarios.events import EventLog, RecordedEvent, checksum


def _log(*items: tuple[str, int, dict[str, object]]) -> EventLog:
    log = EventLog()
    seqs: dict[str, int] = {}
    for name, cycle, data in items:
        seqs[name] = seqs.get(name, 0) + 1
        log.add(RecordedEvent(name, "r", seqs[name], cycle, float(cycle), data, checksum(data), float(cycle)))
    return log


CYCLE = [
    ("BotMonitoringCycleStarted", 1, {"equity": 10_000.0}),
    ("MarketPriceFetched", 1, {"price": 100.0}),
    ("IndicatorsCalculated", 1, {"price": 100.0}),
    ("BuyConditionMet", 1, {"price": 100.0}),
    ("PositionPurchased", 1, {"pool": 0, "price": 100.0, "equity": 10_000.0}),
]
SOLD_AT_A_LOSS = ("PositionSold", 22, {"pool": 0, "price": 72.0, "pnl": -560.0, "reason": "panic", "equity": 9_440.0})


def _results(raw: dict[str, object], log: EventLog) -> dict[str, tuple[bool, str]]:
    return {r.name: (r.passed, r.message) for r in judge_events(parse_assert_events(raw, "steps[3].assert"), log)}


def test_event_count_bounds_pass_with_the_seed_names_and_messages() -> None:
    results = _results(
        {"event_count": {"PositionPurchased": {"min": 1, "max": 10}, "PositionSold": {"max": 2}}}, _log(*CYCLE)
    )
    assert results == {
        "event_count.PositionPurchased.min": (True, "Expected at least 1 PositionPurchased events, got 1"),
        "event_count.PositionPurchased.max": (True, "Expected at most 10 PositionPurchased events, got 1"),
        "event_count.PositionSold.max": (True, "Expected at most 2 PositionSold events, got 0"),
    }


def test_event_count_fails_below_min_above_max_and_off_exact() -> None:
    log = _log(*CYCLE)
    results = _results({"event_count": {"PositionPurchased": {"min": 3}, "MarketPriceFetched": {"exact": 2}}}, log)
    assert results["event_count.PositionPurchased.min"] == (
        False,
        "Expected at least 3 PositionPurchased events, got 1",
    )
    assert results["event_count.MarketPriceFetched.exact"] == (
        False,
        "Expected exactly 2 MarketPriceFetched events, got 1",
    )
    assert (
        _results({"event_count": {"BuyConditionMet": {"max": 0}}}, log)["event_count.BuyConditionMet.max"][0] is False
    )


def test_event_sequence_holds_in_order_with_others_between_and_fails_naming_the_missing_one() -> None:
    log = _log(*CYCLE)
    wanted = ["BotMonitoringCycleStarted", "IndicatorsCalculated", "PositionPurchased"]
    assert _results({"event_sequence": wanted}, log)["event_sequence"][0] is True
    passed, message = _results({"event_sequence": ["PositionPurchased", "BuyConditionMet"]}, log)["event_sequence"]
    assert not passed
    assert message == (
        "Expected events in order PositionPurchased → BuyConditionMet; found only PositionPurchased "
        "(next missing: BuyConditionMet)"
    )


def test_no_panic_sell_fails_for_a_sale_at_a_loss_in_the_window_only() -> None:
    window = {"no_panic_sell": {"crash_start_cycle": 20, "crash_end_cycle": 30}}
    passed, message = _results(window, _log(*CYCLE, SOLD_AT_A_LOSS))["no_panic_sell"]
    assert not passed
    assert message.startswith("Panic sell during the crash: 1 position(s) sold at a loss in cycles 20-30, first pool 0")
    assert "cycle 22 (pnl -560.00, reason panic)" in message
    outside = ("PositionSold", 31, {**SOLD_AT_A_LOSS[2]})
    profit = ("PositionSold", 25, {"pool": 1, "price": 110.0, "pnl": 40.0, "equity": 10_040.0})
    assert _results(window, _log(*CYCLE, outside, profit))["no_panic_sell"] == (
        True,
        "No panic sell during cycles 20-30 (1 sale(s) in the window, none at a loss)",
    )


def test_final_capital_and_position_count_judge_the_last_equity_and_the_positions_taken() -> None:
    log = _log(*CYCLE, SOLD_AT_A_LOSS)
    results = _results({"final_capital": {"min": 9_000.0, "max": 9_400.0}, "position_count": {"min": 3}}, log)
    assert results["final_capital.min"] == (True, "Expected at least 9000.00 final capital, got 9440.00")
    assert results["final_capital.max"] == (False, "Expected at most 9400.00 final capital, got 9440.00")
    assert results["position_count.min"] == (False, "Expected at least 3 positions, got 1")
    assert _results({"final_capital": {"min": 1.0}}, EventLog())["final_capital.min"] == (
        False,
        "Expected at least 1.00 final capital, got none",
    )


def test_custom_gets_the_events_and_reports_its_verdict_or_its_error(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("user_checks")
    module.profitable = lambda events: (
        any(e["event"] == "PositionSold" and e["data"]["pnl"] > 0 for e in events),
        "no profit",
    )  # type: ignore[attr-defined]
    module.boom = lambda events: 1 / 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "user_checks", module)
    log = _log(*CYCLE, SOLD_AT_A_LOSS)
    results = _results({"custom": ["user_checks:profitable", "user_checks:boom", "user_checks:absent"]}, log)
    assert results["custom.user_checks:profitable"] == (False, "no profit")
    assert results["custom.user_checks:boom"] == (False, "user_checks:boom raised ZeroDivisionError: division by zero")
    assert (
        results["custom.user_checks:absent"][0] is False and "cannot import" in results["custom.user_checks:absent"][1]
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"event_count": {"PositionBought": {"min": 1}}}, r"event_count: unknown event 'PositionBought' — known: Bot"),
        ({"event_count": {"PositionSold": {"min": 3, "max": 1}}}, r"PositionSold: min 3 is above max 1"),
        ({"event_count": {"PositionSold": {"exact": 1, "max": 2}}}, r"exact excludes min and max"),
        ({"event_count": {"PositionSold": {"atleast": 1}}}, r"unknown field 'atleast' — known: min, max, exact"),
        ({"event_count": {"PositionSold": {"min": "3"}}}, r"PositionSold.min: expected a number, got '3'"),
        ({"no_panic_sell": {"crash_start_cycle": 30, "crash_end_cycle": 20}}, r"crash_start_cycle <= crash_end_cycle"),
        ({"event_sequence": []}, r"event_sequence: expected a list of event names"),
        ({"custom": 3}, r"custom: expected 'module:function' or a list of them"),
        ({"event_count": {}, "alert": "X"}, r"'alert' cannot be mixed with event assertions"),
    ],
)
def test_a_malformed_event_assertion_is_refused_where_it_is(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ScenarioInvalid, match=message):
        parse_assert_events(raw, "steps[3].assert")


def test_the_step_describes_what_it_asserts() -> None:
    step = AssertEvents(event_count={"PositionSold": Bounds(max=2)}, position_count=Bounds(min=3))
    assert step.describe() == "event_count, position_count"
    assert step.written_fields()["event_count"] == {"PositionSold": {"max": 2}}
