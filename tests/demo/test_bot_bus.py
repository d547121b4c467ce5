"""Both ends of the bot's bus without NATS: what the publisher sends (after chaos, with its sequence and the
original checksum, later when delayed) and what a subscription makes of it (counted, rejected, missing)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from obs_tests.demo.bot_bus import EventBus, Subscriptions
from obs_tests.demo.bot_chaos import EventChaos, parse_rules
from obs_tests.demo.bot_events import Event, checksum
from obs_tests.demo.bot_metrics import BotMetrics
from obs_tests.demo.logs import JsonLogger


class Wire:
    """A send function that records (or refuses) what is sent."""

    def __init__(self, up: bool = True) -> None:
        self.up = up
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, subject: str, payload: bytes) -> bool:
        if self.up:
            self.sent.append((subject, orjson.loads(payload)))
        return self.up


def _bus(rules: dict[str, Any] | None = None, up: bool = True) -> tuple[EventBus, Wire, BotMetrics]:
    chaos = EventChaos(seed=3)
    chaos.replace(parse_rules(rules or {}), cycle=0)
    wire, metrics = Wire(up), BotMetrics(CollectorRegistry())
    return EventBus(wire, chaos, metrics, JsonLogger("t", "ERROR"), "r1"), wire, metrics


def _value(metric: Any, **labels: str) -> float:
    child = metric.labels(**labels) if labels else metric
    return float(child._value.get())


def test_the_bus_sends_each_event_with_its_sequence_and_checksum() -> None:
    bus, wire, metrics = _bus()

    async def play() -> None:
        await bus.publish("MarketPriceFetched", 1, {"price": 1.0})
        await bus.publish("MarketPriceFetched", 2, {"price": 2.0})
        await bus.publish("PositionSold", 2, {"pnl": 3.0})

    asyncio.run(play())
    assert [(s, e["seq"], e["cycle"], e["run"]) for s, e in wire.sent] == [
        ("bot.events.MarketPriceFetched", 1, 1, "r1"),
        ("bot.events.MarketPriceFetched", 2, 2, "r1"),
        ("bot.events.PositionSold", 1, 2, "r1"),
    ]
    assert all(e["checksum"] == checksum(e["data"]) for _, e in wire.sent)
    assert _value(metrics.published, event="MarketPriceFetched") == 2


def test_the_bus_counts_only_what_went_out() -> None:
    bus, wire, metrics = _bus(up=False)
    asyncio.run(bus.publish("PositionSold", 1, {}))
    assert wire.sent == [] and _value(metrics.published, event="PositionSold") == 0


def test_a_dropped_event_is_not_sent_but_its_sequence_is_used() -> None:
    rule = {"type": "drop_event", "event": "BuyConditionMet", "at_cycle": 1, "duration_cycles": 1}
    bus, wire, metrics = _bus({"x": rule})

    async def play() -> None:
        for cycle in (1, 2):
            await bus.publish("BuyConditionMet", cycle, {"price": 1.0, "reason": "trend_up"})

    asyncio.run(play())
    assert [e["seq"] for _, e in wire.sent] == [2], "the subscriber will see the gap"
    assert _value(metrics.chaos, action="dropped") == 1


def test_a_modified_event_keeps_the_original_checksum() -> None:
    rule = {"type": "modify_event", "event": "MarketPriceFetched", "field": "price", "value": 0.5}
    bus, wire, metrics = _bus({"m": rule})
    asyncio.run(bus.publish("MarketPriceFetched", 1, {"price": 1.0}))
    sent = wire.sent[0][1]
    assert sent["data"] == {"price": 0.5} and sent["checksum"] == checksum({"price": 1.0})
    assert _value(metrics.chaos, action="modified") == 1


def test_a_delayed_event_is_sent_later_and_a_reset_drops_it() -> None:
    bus, wire, metrics = _bus({"slow": {"type": "delay_event", "event": "IndicatorsCalculated", "delay_ms": 30}})

    async def play() -> tuple[list[str], int]:
        await bus.publish("IndicatorsCalculated", 1, {"price": 1.0})
        await bus.publish("MarketPriceFetched", 2, {"price": 1.0})
        waiting = bus.waiting
        await asyncio.wait_for(_sent(wire, 2), 5)
        await bus.publish("IndicatorsCalculated", 3, {"price": 1.0})
        bus.reset("r2")
        await bus.publish("IndicatorsCalculated", 4, {"price": 1.0})  # as delayed: would come after cycle 3's
        await asyncio.wait_for(_sent(wire, 3), 5)
        return [(e["event"], e["run"], e["cycle"]) for _, e in wire.sent], waiting

    order, waiting = asyncio.run(play())
    assert waiting == 1
    assert order == [
        ("MarketPriceFetched", "r1", 2),
        ("IndicatorsCalculated", "r1", 1),
        ("IndicatorsCalculated", "r2", 4),
    ]
    assert _value(metrics.chaos, action="delayed") == 3 and bus.run == "r2"


async def _sent(wire: Wire, count: int) -> None:
    while len(wire.sent) < count:
        await asyncio.sleep(0.005)


def _payload(name: str, seq: int, run: str = "r1", data: dict[str, Any] | None = None) -> bytes:
    data = data if data is not None else {"price": 1.0}
    doc = {"event": name, "run": run, "seq": seq, "cycle": seq, "time": 0.0, "data": data, "checksum": checksum(data)}
    return orjson.dumps(doc)


def _subscriptions(grace: float = 0.0) -> tuple[Subscriptions, list[tuple[str, Event]], BotMetrics]:
    got: list[tuple[str, Event]] = []

    async def dispatch(stage: str, event: Event) -> None:
        if event.data.get("boom"):
            raise RuntimeError("stage bug")
        got.append((stage, event))

    metrics = BotMetrics(CollectorRegistry())
    stages = {"indicators": ("MarketPriceFetched",)}
    return Subscriptions(stages, dispatch, metrics, JsonLogger("t", "ERROR"), "r1", grace), got, metrics


def test_subscriptions_hand_on_accepted_events_and_reject_corrupt_ones() -> None:
    subs, got, metrics = _subscriptions()
    subject = "bot.events.MarketPriceFetched"

    async def play() -> None:
        await subs.receive("indicators", subject, _payload("MarketPriceFetched", 1))
        tampered = orjson.loads(_payload("MarketPriceFetched", 2))
        tampered["data"]["price"] = 9.0
        await subs.receive("indicators", subject, orjson.dumps(tampered))
        await subs.receive("indicators", subject, b"\xffgarbage")
        await subs.receive("indicators", subject, _payload("MarketPriceFetched", 1, run="old"))
        await subs.receive("indicators", subject, _payload("MarketPriceFetched", 3, data={"boom": True}))
        await subs.receive("indicators", subject, _payload("MarketPriceFetched", 4))

    asyncio.run(play())
    assert [(stage, e.seq) for stage, e in got] == [("indicators", 1), ("indicators", 4)], "a stage bug is survived"
    assert _value(metrics.received, event="MarketPriceFetched") == 5, "the other run's is not counted"
    assert _value(metrics.corrupt, event="MarketPriceFetched") == 2


def test_subscriptions_count_a_gap_missing_once_after_the_grace_and_forget_it_on_reset() -> None:
    subs, _, metrics = _subscriptions(grace=0.0)

    async def play() -> dict[str, int]:
        await subs.receive("indicators", "bot.events.MarketPriceFetched", _payload("MarketPriceFetched", 1))
        await subs.receive("indicators", "bot.events.MarketPriceFetched", _payload("MarketPriceFetched", 4))
        return subs.expire()

    assert asyncio.run(play()) == {"MarketPriceFetched": 2}
    assert subs.expire() == {}
    assert _value(metrics.missing, event="MarketPriceFetched") == 2
    subs.reset("r2", grace_seconds=5.0)
    assert subs.inboxes["indicators"].run == "r2" and subs.inboxes["indicators"].grace_seconds == 5.0
