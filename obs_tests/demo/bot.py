"""The paper-trading bot (``python -m obs_tests.demo bot --exchange-url URL``): monitoring cycles every
``poll_interval_seconds``, its stages talking over the real NATS bus (core pub/sub on
``bot.events.<EventName>``), event chaos between publisher and subscribers.

A cycle: ``BotMonitoringCycleStarted``, then the price fetch — ``GET <exchange>/candles/next`` (bounded
by ``--fetch-timeout``) or, at an ``inject_failure`` cycle, an injected failure — published as
``MarketPriceFetched`` or ``MarketPriceFetchFailed``. The indicators, decision and executor stages are
NATS subscribers (:mod:`obs_tests.demo.bot_stages`); a dropped ``BuyConditionMet`` never reaches the
executor, a delayed ``IndicatorsCalculated`` delays the decision, a modified event fails its checksum
and is rejected (``bot_events_corrupt_total``), and a sequence gap still open after
``max(1 s, 3 poll intervals)`` counts ``bot_events_missing_total``. The cycle loop survives any error
(logged); ``/healthz`` is 200 once the subscriptions are set up.

Admin (loopback by default):

- ``PUT /admin/bot {initial_capital, pool_count, poll_interval_seconds, strategy, pair, run, running}``
  resets the bot (cycle 0, cash, empty pools, sequences from 1, chaos stats to zero, run id ``run``)
  and cycles unless ``running`` is false; a body with only ``running`` pauses or resumes without a
  reset. ``GET`` answers the state, ``DELETE`` resets to the process defaults.
- ``GET|PUT|PATCH|DELETE /admin/events``: event-chaos rules by name (:mod:`obs_tests.demo.bot_chaos`).
- ``/admin/faults``: ``hang`` stalls the cycle loop, ``latency`` slows each cycle, ``error_rate`` fails
  price fetches, the publish faults act on the events sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from typing import Any
from urllib.parse import urlsplit

import nats.errors
import orjson
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from obs_tests.demo.bot_bus import EventBus, Subscriptions
from obs_tests.demo.bot_chaos import EventChaos, parse_rules
from obs_tests.demo.bot_events import Event, subject
from obs_tests.demo.bot_metrics import BotMetrics
from obs_tests.demo.bot_stages import STAGES, BotConfig, Pipeline, parse_bot_config
from obs_tests.demo.bus import NatsLink
from obs_tests.demo.http_messages import Request, Response, json_response
from obs_tests.demo.runtime import CommonOptions, Service
from obs_tests.errors import AdminRequestInvalid

__all__ = ["Bot", "fetch_candle"]


async def fetch_candle(base_url: str, timeout: float) -> dict[str, Any]:
    """``GET <base_url>/candles/next``, its candle checked; ``OSError``, ``TimeoutError`` or a ``ValueError``
    saying what the exchange answered."""

    async def get() -> dict[str, Any]:
        parts = urlsplit(base_url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(f"GET {parts.path.rstrip('/')}/candles/next HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n".encode())
            await writer.drain()
            data = await reader.read()
        finally:
            writer.close()
        head, _, body = data.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0].split(b" ")
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            doc = None
        if len(status) < 2 or status[1] != b"200":
            said = doc.get("error") if isinstance(doc, dict) else body[:120].decode(errors="replace")
            raise ValueError(f"exchange answered {b' '.join(status[1:]).decode(errors='replace')}: {said}")
        return _candle(doc)

    # asyncio.timeout, not wait_for: Python 3.11's wait_for returns the answer when the task is cancelled as it
    # arrives — the cancellation swallowed, and a reset bot's cycle loop ran on beside the new one
    async with asyncio.timeout(timeout):
        return await get()


def _candle(doc: object) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise ValueError(f"exchange answered no candle: {doc!r}"[:200])
    values = [doc.get(key) for key in ("price", "bid", "ask")]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < math.inf for v in values):
        raise ValueError(f"exchange answered a candle without usable prices: {doc!r}"[:200])
    candle = doc.get("candle")
    return {"pair": str(doc.get("pair")), "price": values[0], "bid": values[1], "ask": values[2], "candle": candle}


class Bot(Service):
    """The paper-trading bot service (see the module doc)."""

    component = "bot"

    def __init__(
        self, options: CommonOptions, *, exchange_url: str, poll_interval: float = 0.6, fetch_timeout: float = 2.0
    ) -> None:
        super().__init__(options)
        self.exchange_url = exchange_url.rstrip("/")
        self.fetch_timeout = fetch_timeout
        self.defaults = BotConfig(poll_interval_seconds=poll_interval)
        self.metrics = BotMetrics(self.registry)
        self.chaos = EventChaos(options.seed or 0)
        self.link = NatsLink(options.nats_url, name="bot", log=self.log, faults=self.faults, setup=self._subscribe)
        run = self.defaults.run
        self.bus = EventBus(self._send, self.chaos, self.metrics, self.log, run)
        grace = _grace(self.defaults)
        self.subscriptions = Subscriptions(STAGES, self._dispatch, self.metrics, self.log, run, grace)
        self.config = self.defaults
        self.pipeline = self._pipeline(self.config)
        self.running = True
        self.cycle = 0
        self.consecutive_failures = 0
        self._subscribed = False
        self._cycler: asyncio.Task[None] | None = None
        self._show()
        bot = self.admin.wrap(self._admin_bot)
        for method in ("GET", "PUT", "DELETE"):
            self.router.add(method, "/admin/bot", bot)
        events = self.admin.wrap(self._admin_events)
        for method in ("GET", "PUT", "PATCH", "DELETE"):
            self.router.add(method, "/admin/events", events)

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect to NATS and subscribe the stages in the background; cycle once subscribed."""
        await super().start()
        self.spawn(self.link.run(), "nats-connect")
        self._start_cycling()

    async def stop(self) -> None:
        """Stop cycling, drop delayed events, close NATS."""
        await self._stop_cycling()
        self.bus.cancel()
        await super().stop()
        await self.link.close()

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy once the stages' NATS subscriptions are set up and NATS is connected."""
        ready = self._subscribed and self.link.connected
        return ready, {"nats": self.link.state(), "running": self.running, "cycle": self.cycle, "run": self.config.run}

    async def _subscribe(self, js: JetStreamContext) -> None:
        """NATS setup hook: one core subscription per event, for the stage consuming it (once: the client
        re-subscribes by itself after a reconnect)."""
        nc = self.link.nc
        if self._subscribed or nc is None:
            return
        for stage, names in STAGES.items():
            for name in names:
                await nc.subscribe(subject(name), cb=self._receiver(stage))
        await nc.flush(timeout=2)
        self._subscribed = True
        self.log.info("stages subscribed", stages=list(STAGES))

    def _receiver(self, stage: str) -> Any:
        async def receive(msg: Msg) -> None:
            await self.subscriptions.receive(stage, msg.subject, msg.data)

        return receive

    async def _dispatch(self, stage: str, event: Event) -> None:
        await self.pipeline.handle(event)
        self._show()

    def _pipeline(self, config: BotConfig) -> Pipeline:
        """The stages of a run, publishing as that run only (a stage of an older run, still finishing an
        event when the bot was reset, publishes nothing)."""

        async def publish(name: str, cycle: int, data: dict[str, Any]) -> None:
            if self.bus.run == config.run and self.pipeline is pipeline:
                await self._publish(name, cycle, data)

        pipeline = Pipeline(config, publish)
        return pipeline

    async def _publish(self, name: str, cycle: int, data: dict[str, Any]) -> None:
        """A stage's event onto the bus; a trade is counted as done whatever chaos does to its event."""
        if name == "PositionPurchased":
            self.metrics.opened.inc()
        elif name == "PositionSold":
            self.metrics.closed.labels(reason=str(data.get("reason"))).inc()
        await self.bus.publish(name, cycle, data)

    async def _send(self, subject_: str, payload: bytes) -> bool:
        faults, nc = self.faults, self.link.nc
        if faults.should_fail_publish() or faults.should_drop_publish() or nc is None or not nc.is_connected:
            return False
        try:
            await nc.publish(subject_, faults.maybe_corrupt(payload))
        except (nats.errors.Error, OSError):
            return False
        return True

    # -- cycles ----------------------------------------------------------------------------------

    def _start_cycling(self) -> None:
        if self._cycler is None or self._cycler.done():
            self._cycler = asyncio.get_running_loop().create_task(self._cycle_loop(), name="cycles")

    async def _stop_cycling(self) -> None:
        task, self._cycler = self._cycler, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _cycle_loop(self) -> None:
        loop = asyncio.get_running_loop()
        await self.link.wait_ready()
        due = loop.time()
        while True:
            try:
                if self.faults.holding:
                    await self.faults.hold()
                await self.link.wait_ready()
                await self._run_cycle()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 -- the loop must outlive any one cycle
                self.log.error("cycle failed", cycle=self.cycle, error=repr(exc))
            due = max(due + self.config.poll_interval_seconds, loop.time())
            await asyncio.sleep(due - loop.time())

    async def _run_cycle(self) -> None:
        started = time.perf_counter()
        self.cycle += 1
        cycle, publish = self.cycle, self.bus.publish
        await publish("BotMonitoringCycleStarted", cycle, self.pipeline.cycle_started())
        candle, error, injected = await self._fetch(cycle)
        if candle is not None:
            self.consecutive_failures = 0
            await publish("MarketPriceFetched", cycle, candle)
        else:
            self.consecutive_failures += 1
            self.metrics.fetch_failures.inc()
            data = {"pair": self.config.pair, "error": error, "consecutive_failures": self.consecutive_failures}
            await publish("MarketPriceFetchFailed", cycle, {**data, "injected": injected})
        self.subscriptions.expire()
        self.metrics.consecutive_failures.set(self.consecutive_failures)
        self.metrics.cycles.inc()
        self.metrics.cycle_duration.observe(time.perf_counter() - started)
        self.metrics.last_cycle.set(time.time())

    async def _fetch(self, cycle: int) -> tuple[dict[str, Any] | None, str, bool]:
        """``(candle, error, injected)``: the candle, or why there is none and whether that was injected
        (an ``inject_failure`` rule, or the ``error_rate`` fault)."""
        self.metrics.fetches.inc()
        rule = self.chaos.injected_failure(cycle)
        if rule is not None:
            self.metrics.chaos.labels(action="injected").inc()
            return None, rule.error_message, True
        if self.faults.should_fail():
            return None, "injected fetch failure (error_rate fault)", True
        try:
            return await fetch_candle(self.exchange_url, self.fetch_timeout), "", False
        except TimeoutError:
            return None, f"no answer from the exchange within {self.fetch_timeout:g}s", False
        except (OSError, ValueError) as exc:
            return None, str(exc) or repr(exc), False

    # -- state -----------------------------------------------------------------------------------

    def _show(self) -> None:
        self.metrics.show_portfolio(self.pipeline.portfolio)
        self.metrics.show_strategy(self.config.strategy)

    async def _reset(self, config: BotConfig, running: bool) -> None:
        await self._stop_cycling()
        self.config = config
        self.bus.reset(config.run)
        self.subscriptions.reset(config.run, _grace(config))
        self.chaos.reset()
        self.pipeline = self._pipeline(config)
        self.cycle = 0
        self.consecutive_failures = 0
        self.metrics.consecutive_failures.set(0)
        self.running = running
        self._show()
        if running:
            self._start_cycling()
        self.log.info("bot reset", running=running, **config.to_json())

    def state(self) -> dict[str, Any]:
        """What ``GET /admin/bot`` answers."""
        book, config = self.pipeline.portfolio, self.config
        positions = [
            {"pool": p.pool, "price": p.price, "size": p.size, "cost": p.cost, "cycle": p.cycle}
            for p in sorted(book.pools.values(), key=lambda p: p.pool)
        ]
        return {
            **config.to_json(),
            "running": self.running,
            "cycle": self.cycle,
            "capital": book.cash,
            "equity": book.equity,
            "peak_equity": book.peak_equity,
            "drawdown_ratio": book.drawdown,
            "open_positions": book.open_positions,
            "last_price": book.last_price,
            "consecutive_fetch_failures": self.consecutive_failures,
            "positions": positions,
        }

    # -- admin -----------------------------------------------------------------------------------

    async def _admin_bot(self, request: Request) -> Response:
        if request.method == "GET":
            return json_response(self.state())
        if request.method == "DELETE":
            await self._reset(self.defaults, running=True)
            return json_response(self.state())
        try:
            config, running = parse_bot_config(_body(request), self.defaults)
        except AdminRequestInvalid as exc:
            return json_response({"status": "rejected", "error": exc.message}, 400)
        if config is None:
            self.running = running
            if running:
                self._start_cycling()
            else:
                await self._stop_cycling()
            self.log.info("bot paused" if not running else "bot resumed", cycle=self.cycle)
        else:
            await self._reset(config, running)
        return json_response(self.state())

    async def _admin_events(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.chaos.clear()
            self.log.info("event chaos cleared")
        elif request.method in ("PUT", "PATCH"):
            try:
                rules = parse_rules(_body(request))
            except AdminRequestInvalid as exc:
                return json_response({"status": "rejected", "error": exc.message}, 400)
            (self.chaos.replace if request.method == "PUT" else self.chaos.merge)(rules, self.cycle)
            self.log.info("event chaos set", rules=self.chaos.to_json()["rules"])
        return json_response(self.chaos.to_json())


def _grace(config: BotConfig) -> float:
    """How long a sequence gap may stay open before its events count as missing (delays are late, not lost)."""
    return max(1.0, 3.0 * config.poll_interval_seconds)


def _body(request: Request) -> Any:
    if not request.body.strip():
        return {}
    try:
        return orjson.loads(request.body)
    except orjson.JSONDecodeError as exc:
        raise AdminRequestInvalid(f"body is not JSON: {exc}") from None
