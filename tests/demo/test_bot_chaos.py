"""Event chaos: each rule type does what it says within its window of cycles, random draws repeat with the
seed, the stats count what was done, and a bad rule is refused naming the key and the known values."""

from __future__ import annotations

import doctest
from typing import Any

import pytest

from obs_tests.demo import bot_chaos
from obs_tests.demo.bot_chaos import EventChaos, parse_rule, parse_rules
from obs_tests.errors import AdminRequestInvalid

PRICE = {"pair": "BTC/USDT", "price": 100.0, "bid": 99.9, "ask": 100.1, "candle": 1}


def _chaos(rules: dict[str, Any], cycle: int = 0, seed: int = 7) -> EventChaos:
    chaos = EventChaos(seed)
    chaos.replace(parse_rules(rules), cycle)
    return chaos


def test_bot_chaos_module_example_runs() -> None:
    assert doctest.testmod(bot_chaos).failed == 0


def test_delay_event_at_a_cycle_lasts_one_cycle_by_default() -> None:
    chaos = _chaos({"d": {"type": "delay_event", "event": "IndicatorsCalculated", "delay_ms": 5000, "at_cycle": 25}})
    delays = {c: chaos.on_publish("IndicatorsCalculated", c, {}).delay_ms for c in (24, 25, 26)}
    assert delays == {24: 0.0, 25: 5000.0, 26: 0.0}
    assert chaos.on_publish("BuyConditionMet", 25, {}).delay_ms == 0.0, "only its event"
    stats = chaos.to_json()["stats"]
    assert (stats["events_delayed"], stats["total_delay_ms"]) == (1, 5000.0)
    assert stats["by_rule"]["d"]["events_delayed"] == 1
    assert chaos.to_json()["rules"]["d"]["window"] == {"from_cycle": 25, "until_cycle": 26}


def test_drop_event_with_probability_repeats_with_the_seed() -> None:
    rule = {"x": {"type": "drop_event", "event": "BuyConditionMet", "probability": 0.3}}

    def dropped(seed: int) -> list[bool]:
        chaos = _chaos(rule, seed=seed)
        return [chaos.on_publish("BuyConditionMet", c, {}).drop for c in range(200)]

    assert dropped(1) == dropped(1) != dropped(2)
    assert 30 < sum(dropped(1)) < 90
    certain = _chaos({"x": {"type": "drop_event", "event": "BuyConditionMet"}})
    verdict = certain.on_publish("BuyConditionMet", 1, {"price": 1.0})
    assert verdict.drop and verdict.actions == ("dropped",)
    assert certain.to_json()["stats"]["events_dropped"] == 1


def test_modify_event_sets_or_scales_a_field_and_leaves_the_original_alone() -> None:
    scaled = _chaos({"m": {"type": "modify_event", "event": "MarketPriceFetched", "field": "price", "multiplier": 1.5}})
    verdict = scaled.on_publish("MarketPriceFetched", 3, PRICE)
    assert verdict.data is not None and verdict.data["price"] == 150.0 and PRICE["price"] == 100.0
    assert verdict.actions == ("modified",) and scaled.to_json()["stats"]["events_modified"] == 1
    pair = {"type": "modify_event", "event": "MarketPriceFetched", "field": "pair", "value": "ETH/USDT"}
    replaced = _chaos({"m": pair}).on_publish("MarketPriceFetched", 3, PRICE)
    assert replaced.data is not None and replaced.data["pair"] == "ETH/USDT"


def test_network_latency_delays_every_event_within_its_window() -> None:
    rule = {"type": "network_latency", "min_delay_ms": 100, "max_delay_ms": 1000, "at_cycle": 20}
    chaos = _chaos({"lag": rule | {"duration_cycles": 10}})
    assert chaos.on_publish("PositionSold", 19, {}).delay_ms == 0.0
    delays = [chaos.on_publish(name, c, {}).delay_ms for c in range(20, 30) for name in ("A", "B")]
    assert all(100.0 <= d <= 1000.0 for d in delays) and len(set(delays)) > 10
    assert chaos.on_publish("PositionSold", 30, {}).delay_ms == 0.0
    stats = chaos.to_json()["stats"]
    assert stats["events_delayed"] == 20 and stats["total_delay_ms"] == pytest.approx(sum(delays))


def test_delays_add_up_and_a_drop_wins() -> None:
    chaos = _chaos(
        {
            "slow": {"type": "delay_event", "event": "BuyConditionMet", "delay_ms": 10},
            "lag": {"type": "network_latency", "min_delay_ms": 5, "max_delay_ms": 5},
        }
    )
    verdict = chaos.on_publish("BuyConditionMet", 1, {})
    assert verdict.delay_ms == 15.0 and verdict.actions == ("delayed",)
    assert chaos.to_json()["stats"]["events_delayed"] == 1, "one event delayed (by two rules)"
    chaos.merge(parse_rules({"gone": {"type": "drop_event", "event": "BuyConditionMet"}}), cycle=1)
    assert chaos.on_publish("BuyConditionMet", 2, {}).drop


def test_inject_failure_replaces_the_fetch_of_its_cycle() -> None:
    rule = {"type": "inject_failure", "event": "MarketPriceFetchFailed", "at_cycle": 30, "error_message": "timeout"}
    chaos = _chaos({"f": rule})
    assert chaos.injected_failure(29) is None
    injected = chaos.injected_failure(30)
    assert injected is not None and injected.error_message == "timeout"
    assert chaos.injected_failure(31) is None
    assert chaos.on_publish("MarketPriceFetchFailed", 30, {}).delay_ms == 0.0, "it does not act on publishes"
    assert chaos.to_json()["stats"]["failures_injected"] == 1


def test_a_rule_without_at_cycle_acts_at_once_or_for_the_next_cycles() -> None:
    chaos = _chaos({"always": {"type": "drop_event", "event": "PositionSold"}}, cycle=40)
    assert chaos.on_publish("PositionSold", 40, {}).drop, "until removed, from now (events in flight too)"
    windowed = _chaos({"w": {"type": "drop_event", "event": "PositionSold", "duration_cycles": 2}}, cycle=40)
    assert [windowed.on_publish("PositionSold", c, {}).drop for c in (40, 41, 42, 43)] == [False, True, True, False]
    windowed.reset()
    assert [windowed.on_publish("PositionSold", c, {}).drop for c in (1, 2, 3)] == [True, True, False]


def test_clear_stops_chaos_and_keeps_the_stats_until_reset() -> None:
    chaos = _chaos({"x": {"type": "drop_event", "event": "BuyConditionMet"}})
    chaos.on_publish("BuyConditionMet", 1, {})
    chaos.clear()
    assert not chaos.on_publish("BuyConditionMet", 2, {}).drop
    doc = chaos.to_json()
    assert doc["rules"] == {} and doc["stats"]["events_dropped"] == 1 and doc["stats"]["by_rule"]["x"]
    chaos.reset()
    assert chaos.to_json()["stats"]["events_dropped"] == 0 and chaos.to_json()["stats"]["by_rule"] == {}


def test_patch_null_removes_a_rule_and_bodies_come_in_three_shapes() -> None:
    chaos = _chaos({"rules": {"a": {"type": "drop_event", "event": "PositionSold"}}})
    assert list(chaos.to_json()["rules"]) == ["a"]
    chaos.merge(parse_rules({"a": None, "b": {"type": "drop_event", "event": "PositionSold"}}), cycle=0)
    assert list(chaos.to_json()["rules"]) == ["b"]
    listed = parse_rules([{"type": "drop_event", "event": "PositionSold"}, {"type": "inject_failure"}])
    assert list(listed) == ["1-drop_event", "2-inject_failure"]


@pytest.mark.parametrize(
    ("rule", "said"),
    [
        pytest.param({"type": "explode"}, "unknown type 'explode'; known: delay_event, drop_event", id="type"),
        pytest.param({"type": "drop_event", "event": "Nope"}, "unknown event 'Nope'; known: Bot", id="event"),
        pytest.param({"type": "drop_event"}, "drop_event needs an event", id="no-event"),
        pytest.param(
            {"type": "modify_event", "event": "MarketPriceFetched", "field": "prise", "value": 1},
            "unknown field 'prise' of MarketPriceFetched; known: pair, price, bid, ask, candle",
            id="field",
        ),
        pytest.param(
            {"type": "modify_event", "event": "MarketPriceFetched", "field": "pair", "multiplier": 2},
            "is not a number: use value",
            id="multiply-a-string",
        ),
        pytest.param(
            {"type": "modify_event", "event": "MarketPriceFetched", "field": "price"},
            "either value (set the field) or multiplier",
            id="neither",
        ),
        pytest.param({"type": "delay_event", "event": "PositionSold"}, "delay_event needs delay_ms", id="no-delay"),
        pytest.param(
            {"type": "drop_event", "event": "PositionSold", "delay_ms": 5},
            "unknown key(s) delay_ms for drop_event",
            id="key",
        ),
        pytest.param({"type": "drop_event", "event": "A", "probability": 2}, "unknown event", id="event-first"),
        pytest.param(
            {"type": "drop_event", "event": "PositionSold", "probability": 2},
            "probability must be in [0, 1]",
            id="probability",
        ),
        pytest.param(
            {"type": "network_latency", "min_delay_ms": 9, "max_delay_ms": 1},
            "min_delay_ms (9) must not exceed max_delay_ms (1)",
            id="bounds",
        ),
        pytest.param(
            {"type": "inject_failure", "event": "PositionSold"},
            "inject_failure injects MarketPriceFetchFailed",
            id="inject-other",
        ),
        pytest.param(
            {"type": "drop_event", "event": "PositionSold", "at_cycle": "5"}, "at_cycle must be an integer", id="at"
        ),
        pytest.param(
            {"type": "drop_event", "event": "PositionSold", "duration_cycles": 0},
            "duration_cycles must be an integer >= 1",
            id="duration",
        ),
        pytest.param("drop", "must be an object", id="not-an-object"),
    ],
)
def test_a_bad_rule_is_refused_naming_what_is_wrong(rule: Any, said: str) -> None:
    with pytest.raises(AdminRequestInvalid) as caught:
        parse_rule("r1", rule)
    assert said in caught.value.message and caught.value.message.startswith("rule 'r1': ")


def test_bad_bodies_and_names_are_refused() -> None:
    with pytest.raises(AdminRequestInvalid, match="expected"):
        parse_rules("drop everything")
    with pytest.raises(AdminRequestInvalid, match="rule name ''"):
        parse_rule("", {"type": "drop_event", "event": "PositionSold"})
