"""The bot's configuration (``PUT /admin/bot``) and its stages for one run — what each does with the event
it consumes and what it publishes — independent of the bus that carries them (:mod:`obs_tests.demo.bot`
subscribes each stage to its events on NATS; tests call the handlers directly).

===============  ==========================================  =====================================
stage            consumes                                    publishes
===============  ==========================================  =====================================
indicators       ``MarketPriceFetched``                      ``IndicatorsCalculated``
decision         ``IndicatorsCalculated``                    ``BuyConditionMet``, ``SellConditionMet``
executor         ``BuyConditionMet``, ``SellConditionMet``   ``PositionPurchased``, ``PositionSold``
ledger           the other four (it only accounts for them)  —
===============  ==========================================  =====================================

The cycle loop itself publishes ``BotMonitoringCycleStarted`` and the fetch's ``MarketPriceFetched`` or
``MarketPriceFetchFailed``. Every event carries the cycle it started from. The pools are one
:class:`~obs_tests.demo.bot_strategy.Portfolio` the decision stage reads and the executor changes: a
buy or sell it cannot do (no pool free, pool already sold) is skipped.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Final

from obs_tests.demo.bot_events import Event
from obs_tests.demo.bot_strategy import STRATEGIES, Indicators, IndicatorWindow, Portfolio
from obs_tests.errors import AdminRequestInvalid

__all__ = ["STAGES", "BotConfig", "Pipeline", "Publish", "parse_bot_config"]

Publish = Callable[[str, int, dict[str, Any]], Awaitable[None]]
"""Publishes event ``name`` of ``cycle`` with ``data``."""

STAGES: Final[dict[str, tuple[str, ...]]] = {
    "indicators": ("MarketPriceFetched",),
    "decision": ("IndicatorsCalculated",),
    "executor": ("BuyConditionMet", "SellConditionMet"),
    "ledger": ("BotMonitoringCycleStarted", "MarketPriceFetchFailed", "PositionPurchased", "PositionSold"),
}
"""Each stage and the events it subscribes to (every event has exactly one subscribing stage)."""


@dataclass(frozen=True)
class BotConfig:
    """One run of the bot (the body of ``PUT /admin/bot``)."""

    initial_capital: float = 10_000.0
    pool_count: int = 5
    poll_interval_seconds: float = 0.6
    strategy: str = "trend"
    pair: str = "BTC/USDT"
    run: str = "default"

    def to_json(self) -> dict[str, Any]:
        """The config as JSON."""
        return asdict(self)


_KNOWN: Final = (*(f.name for f in fields(BotConfig)), "running")
_INDICATOR_FIELDS: Final = tuple(f.name for f in fields(Indicators))


def _positive(doc: dict[str, Any], key: str, high: float) -> float:
    value = doc[key]
    bad = isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
    if bad or not 0 < value <= high:
        raise AdminRequestInvalid(f"{key}: must be a number > 0 and <= {high:g}, got {value!r}")
    return float(value)


def _name(doc: dict[str, Any], key: str, longest: int) -> str:
    value = doc[key]
    if not isinstance(value, str) or not 0 < len(value) <= longest or not value.isprintable():
        raise AdminRequestInvalid(f"{key}: must be a printable string of 1-{longest} characters, got {value!r}")
    return value


def parse_bot_config(doc: object, defaults: BotConfig) -> tuple[BotConfig | None, bool]:
    """``(config, running)`` of a ``PUT /admin/bot`` body: absent fields take ``defaults``, ``running``
    defaults to true; a body with only ``running`` gives ``(None, running)`` (pause or resume, no reset)."""
    if not isinstance(doc, dict):
        raise AdminRequestInvalid(f"expected a JSON object with some of: {', '.join(_KNOWN)}")
    unknown = sorted(set(doc) - set(_KNOWN))
    if unknown:
        raise AdminRequestInvalid(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(_KNOWN)}")
    running = doc.get("running", True)
    if not isinstance(running, bool):
        raise AdminRequestInvalid(f"running: must be true or false, got {running!r}")
    if set(doc) == {"running"}:
        return None, running
    changes: dict[str, Any] = {}
    if "initial_capital" in doc:
        changes["initial_capital"] = _positive(doc, "initial_capital", 1e12)
    if "pool_count" in doc:
        count = doc["pool_count"]
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100:
            raise AdminRequestInvalid(f"pool_count: must be an integer in [1, 100], got {count!r}")
        changes["pool_count"] = count
    if "poll_interval_seconds" in doc:
        changes["poll_interval_seconds"] = _positive(doc, "poll_interval_seconds", 3600.0)
    if "strategy" in doc:
        if doc["strategy"] not in STRATEGIES:
            raise AdminRequestInvalid(f"strategy: unknown {doc['strategy']!r}; known: {', '.join(STRATEGIES)}")
        changes["strategy"] = doc["strategy"]
    if "pair" in doc:
        changes["pair"] = _name(doc, "pair", 32)
    if "run" in doc:
        changes["run"] = _name(doc, "run", 128)
    return replace(defaults, **changes), running


def _price(data: dict[str, Any]) -> float:
    price = data.get("price")
    if isinstance(price, bool) or not isinstance(price, int | float) or not 0 < price < math.inf:
        raise ValueError(f"no usable price in {data!r}")
    return float(price)


class Pipeline:
    """The state of one run (pools, indicator window, strategy) and the handler of each stage."""

    def __init__(self, config: BotConfig, publish: Publish) -> None:
        self.config = config
        self.publish = publish
        self.portfolio = Portfolio(config.initial_capital, config.pool_count)
        self.window = IndicatorWindow()
        self.strategy = STRATEGIES[config.strategy]()
        self._handlers: dict[str, Callable[[Event], Awaitable[None]]] = {
            "MarketPriceFetched": self.on_price,
            "IndicatorsCalculated": self.on_indicators,
            "BuyConditionMet": self.on_buy,
            "SellConditionMet": self.on_sell,
        }

    def cycle_started(self) -> dict[str, Any]:
        """The data of ``BotMonitoringCycleStarted``."""
        book = self.portfolio
        return {"capital": book.cash, "equity": book.equity, "open_positions": book.open_positions}

    async def handle(self, event: Event) -> None:
        """Hand ``event`` to the stage consuming it (the ledger's events need nothing more)."""
        handler = self._handlers.get(event.name)
        if handler is not None:
            await handler(event)

    async def on_price(self, event: Event) -> None:
        """Indicators: the fetched price marks the pools and gives ``IndicatorsCalculated``."""
        price = _price(event.data)
        self.portfolio.mark(price)
        await self.publish("IndicatorsCalculated", event.cycle, self.window.update(price).to_json())

    async def on_indicators(self, event: Event) -> None:
        """Decision: the strategy's signals as ``SellConditionMet`` / ``BuyConditionMet``."""
        try:
            indicators = Indicators(**{key: float(event.data[key]) for key in _INDICATOR_FIELDS})
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"unusable indicators {event.data!r}: {exc}") from None
        for signal in self.strategy.decide(indicators, self.portfolio, event.cycle):
            if signal.kind == "buy":
                await self.publish("BuyConditionMet", event.cycle, {"price": signal.price, "reason": signal.reason})
            else:
                data = {"price": signal.price, "reason": signal.reason, "pool": signal.pool}
                await self.publish("SellConditionMet", event.cycle, data)

    async def on_buy(self, event: Event) -> None:
        """Executor: buy into the first free pool (skipped when none is)."""
        book = self.portfolio
        position = book.buy(_price(event.data), event.cycle)
        if position is None:
            return
        data = {"pool": position.pool, "price": position.price, "size": position.size, "cost": position.cost}
        await self.publish("PositionPurchased", event.cycle, {**data, "capital": book.cash, "equity": book.equity})

    async def on_sell(self, event: Event) -> None:
        """Executor: sell the pool named (skipped when it holds nothing)."""
        book = self.portfolio
        pool, reason = event.data.get("pool"), event.data.get("reason")
        if not isinstance(pool, int) or isinstance(pool, bool):
            raise ValueError(f"no usable pool in {event.data!r}")
        sale = book.sell(pool, _price(event.data))
        if sale is None:
            return
        data: dict[str, Any] = {"pool": pool, "price": sale.price, "size": sale.position.size}
        data |= {"proceeds": sale.proceeds, "pnl": sale.pnl, "reason": reason}
        data |= {"capital": book.cash, "equity": book.equity}
        await self.publish("PositionSold", event.cycle, data)
