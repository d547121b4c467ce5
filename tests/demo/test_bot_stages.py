"""The bot's config and its stages without a bus: each handler's event in, the events it publishes out."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from obs_tests.demo.bot_events import EVENT_NAMES, Event, make_event
from obs_tests.demo.bot_stages import STAGES, BotConfig, Pipeline, parse_bot_config
from obs_tests.errors import AdminRequestInvalid

DEFAULTS = BotConfig(poll_interval_seconds=0.25)


class Published:
    def __init__(self) -> None:
        self.events: list[tuple[str, int, dict[str, Any]]] = []

    async def __call__(self, name: str, cycle: int, data: dict[str, Any]) -> None:
        self.events.append((name, cycle, data))

    def names(self) -> list[str]:
        return [name for name, _, _ in self.events]


def _event(name: str, cycle: int, data: dict[str, Any]) -> Event:
    return make_event(name, "r", seq=cycle, cycle=cycle, data=data)


def test_every_event_has_exactly_one_subscribing_stage() -> None:
    subscribed = [name for names in STAGES.values() for name in names]
    assert sorted(subscribed) == sorted(EVENT_NAMES)


def test_bot_config_defaults_overrides_and_pause() -> None:
    assert parse_bot_config({}, DEFAULTS) == (DEFAULTS, True)
    doc = {"initial_capital": 5000, "pool_count": 2, "poll_interval_seconds": 0.01, "strategy": "panic"}
    config, running = parse_bot_config({**doc, "pair": "ETH/USDT", "run": "r 1", "running": False}, DEFAULTS)
    assert running is False and config is not None
    assert config.to_json() == {**doc, "initial_capital": 5000.0, "pair": "ETH/USDT", "run": "r 1"}
    assert parse_bot_config({"running": False}, DEFAULTS) == (None, False), "only running: pause, no reset"


@pytest.mark.parametrize(
    ("doc", "said"),
    [
        pytest.param({"strategy": "yolo"}, "strategy: unknown 'yolo'; known: trend, panic", id="strategy"),
        pytest.param({"initial_capital": 0}, "initial_capital: must be a number > 0", id="capital"),
        pytest.param({"initial_capital": "10000"}, "initial_capital: must be a number", id="capital-str"),
        pytest.param({"pool_count": 0}, "pool_count: must be an integer in [1, 100]", id="pools"),
        pytest.param({"pool_count": 2.5}, "pool_count: must be an integer", id="pools-float"),
        pytest.param({"poll_interval_seconds": -1}, "poll_interval_seconds: must be a number > 0", id="poll"),
        pytest.param({"run": ""}, "run: must be a printable string", id="run"),
        pytest.param({"running": "no"}, "running: must be true or false", id="running"),
        pytest.param({"poll_interval": 60}, "unknown field(s) poll_interval; known: initial_capital", id="unknown"),
        pytest.param(["trend"], "expected a JSON object", id="list"),
    ],
)
def test_bot_config_refused_naming_the_field(doc: Any, said: str) -> None:
    with pytest.raises(AdminRequestInvalid) as caught:
        parse_bot_config(doc, DEFAULTS)
    assert said in caught.value.message


def _run_prices(pipeline: Pipeline, prices: list[float]) -> None:
    async def play() -> None:
        for cycle, price in enumerate(prices, 1):
            await pipeline.handle(_event("MarketPriceFetched", cycle, {"price": price}))

    asyncio.run(play())


def test_indicators_stage_marks_the_pools_and_publishes_indicators() -> None:
    out = Published()
    pipeline = Pipeline(DEFAULTS, out)
    _run_prices(pipeline, [100.0, 102.0])
    assert out.names() == ["IndicatorsCalculated", "IndicatorsCalculated"]
    _, cycle, data = out.events[-1]
    assert cycle == 2 and data == {
        "price": 102.0,
        "sma_short": 101.0,
        "sma_long": 101.0,
        "change_pct": pytest.approx(2.0),
        "drawdown_pct": 0.0,
    }
    assert pipeline.portfolio.last_price == 102.0


def test_decision_stage_publishes_the_strategys_buy_and_sell_conditions() -> None:
    out = Published()
    pipeline = Pipeline(DEFAULTS, out)
    rising = {"price": 110.0, "sma_short": 108.0, "sma_long": 104.0, "change_pct": 2.0, "drawdown_pct": 0.0}

    async def play() -> None:
        for cycle in range(1, 7):
            await pipeline.handle(_event("IndicatorsCalculated", cycle, rising))

    asyncio.run(play())
    assert out.events == [("BuyConditionMet", 6, {"price": 110.0, "reason": "trend_up"})], "from the 6th, once"
    pipeline.portfolio.buy(100.0, cycle=6)
    asyncio.run(pipeline.handle(_event("IndicatorsCalculated", 7, rising)))
    assert out.events[-1] == ("SellConditionMet", 7, {"price": 110.0, "reason": "take_profit", "pool": 1})


def test_executor_buys_and_sells_and_skips_what_it_cannot_do() -> None:
    out = Published()
    pipeline = Pipeline(BotConfig(initial_capital=1000.0, pool_count=1), out)

    async def play() -> None:
        await pipeline.handle(_event("BuyConditionMet", 3, {"price": 50.0, "reason": "trend_up"}))
        await pipeline.handle(_event("BuyConditionMet", 4, {"price": 50.0, "reason": "trend_up"}))
        await pipeline.handle(_event("SellConditionMet", 5, {"price": 60.0, "reason": "take_profit", "pool": 1}))
        await pipeline.handle(_event("SellConditionMet", 6, {"price": 60.0, "reason": "take_profit", "pool": 1}))

    asyncio.run(play())
    assert out.names() == ["PositionPurchased", "PositionSold"], "no pool for the 2nd buy, pool 1 sold once"
    assert out.events[0][2] == {
        "pool": 1,
        "price": 50.0,
        "size": 20.0,
        "cost": 1000.0,
        "capital": 0.0,
        "equity": 1000.0,
    }
    assert out.events[1][2] == {
        "pool": 1,
        "price": 60.0,
        "size": 20.0,
        "proceeds": 1200.0,
        "pnl": 200.0,
        "reason": "take_profit",
        "capital": 1200.0,
        "equity": 1200.0,
    }
    assert pipeline.cycle_started() == {"capital": 1200.0, "equity": 1200.0, "open_positions": 0}


@pytest.mark.parametrize(
    ("name", "data"),
    [
        pytest.param("MarketPriceFetched", {"price": "high"}, id="price-string"),
        pytest.param("MarketPriceFetched", {"price": -1}, id="price-negative"),
        pytest.param("IndicatorsCalculated", {"price": 1.0}, id="indicators-missing"),
        pytest.param("SellConditionMet", {"price": 1.0, "reason": "panic", "pool": "1"}, id="pool-string"),
    ],
)
def test_a_stage_refuses_unusable_data(name: str, data: dict[str, Any]) -> None:
    out = Published()
    with pytest.raises(ValueError, match=r"unusable|no usable"):
        asyncio.run(Pipeline(DEFAULTS, out).handle(_event(name, 1, data)))
    assert out.events == []


def test_the_ledgers_events_need_nothing_more() -> None:
    out = Published()
    asyncio.run(Pipeline(DEFAULTS, out).handle(_event("PositionSold", 1, {})))
    assert out.events == []
