"""The exchange feed: plays a market scenario (:mod:`obs_tests.demo.market`) as price metrics.

Every ``--tick-seconds`` is one "fetch" from the upstream feed per pair: ``exchange_price_fetches_total``
+1; an injected ``error_rate`` failure counts ``exchange_price_fetch_failures_total`` and leaves the
price and ``exchange_last_update_timestamp_seconds`` stale; otherwise ``exchange_price`` is updated and
the tick is published (best effort) on core NATS ``prices.<pair>``. ``hang`` stops the ticking;
``latency`` delays each tick.

``GET /admin/scenario`` → ``{"scenario", "seed", "started_at"}``; ``PUT /admin/scenario
{"scenario": "flash_crash", "seed": 42}`` restarts the generator from the current prices.

The exchange also serves the bot's *candle feed* (:mod:`obs_tests.demo.candles`): ``GET /candles/next``,
one candle of a scenario per fetch (market time = candles), configured by ``PUT /admin/candles``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from prometheus_client import Counter, Gauge

from obs_tests.demo.bus import NatsLink
from obs_tests.demo.candles import CandleEndpoints
from obs_tests.demo.http_messages import Request, Response, json_response
from obs_tests.demo.market import PAIRS, SCENARIOS, MarketGenerator
from obs_tests.demo.runtime import CommonOptions, Service
from obs_tests.demo.service_metrics import preinit
from obs_tests.demo.signal_routing import price_subject

__all__ = ["Exchange"]


class Exchange(Service):
    """The exchange price-feed service (``python -m obs_tests.demo exchange``)."""

    component = "exchange"

    def __init__(self, options: CommonOptions, *, tick_seconds: float = 0.25, scenario: str = "sideways") -> None:
        super().__init__(options)
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
        self.tick_seconds = tick_seconds
        self.link = NatsLink(options.nats_url, name="exchange", log=self.log, faults=self.faults)
        self.market = MarketGenerator(scenario, options.seed or 0, tick_seconds=tick_seconds)
        self.started_at = time.time()
        registry = self.registry
        self._price = Gauge("exchange_price", "Last fetched price of the pair.", ["pair"], registry=registry)
        fetches = Counter(
            "exchange_price_fetches_total",
            "Price fetches from the upstream feed.",
            ["pair"],
            registry=registry,
        )
        failures = Counter(
            "exchange_price_fetch_failures_total",
            "Price fetches that failed (the price stays stale).",
            ["pair"],
            registry=registry,
        )
        self._updated = Gauge(
            "exchange_last_update_timestamp_seconds",
            "Unix time of the last successful price fetch.",
            ["pair"],
            registry=registry,
        )
        self._scenario = Gauge(
            "exchange_scenario_info",
            "1 for the market scenario being played.",
            ["scenario"],
            registry=registry,
        )
        preinit(fetches, "pair", PAIRS)
        preinit(failures, "pair", PAIRS)
        self._fetches = {pair: fetches.labels(pair=pair) for pair in PAIRS}
        self._failures = {pair: failures.labels(pair=pair) for pair in PAIRS}
        self._set_scenario_info()
        now = time.time()
        for pair, price in self.market.prices.items():
            self._price.labels(pair=pair).set(price)
            self._updated.labels(pair=pair).set(now)
        guarded = self.admin.wrap(self._admin_scenario)
        self.router.add("GET", "/admin/scenario", guarded)
        self.router.add("PUT", "/admin/scenario", guarded)
        self.candles = CandleEndpoints(self.router, self.admin, self.faults, self.log, options.seed or 0)

    def _set_scenario_info(self) -> None:
        for name in SCENARIOS:
            self._scenario.labels(scenario=name).set(1 if name == self.market.scenario.name else 0)

    async def start(self) -> None:
        """Tick, and connect to NATS (optional) in the background."""
        await super().start()
        self.spawn(self.link.run(), "nats-connect")
        self.spawn(self._ticker(), "ticker")

    async def stop(self) -> None:
        """Stop ticking and close NATS."""
        await super().stop()
        await self.link.close()

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Always healthy (NATS is optional for the exchange); reports the NATS state."""
        return True, {"nats": "connected" if self.link.connected else "disconnected"}

    async def _ticker(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        while True:
            deadline += self.tick_seconds
            await asyncio.sleep(max(0.0, deadline - loop.time()))
            if self.faults.hung or self.faults.faults.latency is not None:
                await self.faults.hold()
                deadline = max(deadline, loop.time())
            await self._tick()

    async def _tick(self) -> None:
        prices = self.market.tick()
        now = time.time()
        for pair, price in prices.items():
            self._fetches[pair].inc()
            if self.faults.should_fail():
                self._failures[pair].inc()
                continue
            self._price.labels(pair=pair).set(price)
            self._updated.labels(pair=pair).set(now)
            if self.link.connected:
                payload = orjson.dumps({"pair": pair, "price": price, "ts": now, "scenario": self.market.scenario.name})
                await self.link.publish_core(price_subject(pair), payload)

    def scenario_doc(self) -> dict[str, Any]:
        """What ``GET /admin/scenario`` answers."""
        return {
            "scenario": self.market.scenario.name,
            "seed": self.market.seed,
            "started_at": self.started_at,
            "elapsed_seconds": self.market.elapsed,
            "prices": self.market.prices,
            "known": list(SCENARIOS),
        }

    async def _admin_scenario(self, request: Request) -> Response:
        if request.method == "GET":
            return json_response(self.scenario_doc())
        try:
            doc = orjson.loads(request.body)
        except orjson.JSONDecodeError as exc:
            return json_response({"status": "rejected", "error": f"body is not JSON: {exc}"}, 400)
        known = ", ".join(SCENARIOS)
        if not isinstance(doc, dict) or not isinstance(doc.get("scenario"), str):
            return json_response(
                {
                    "status": "rejected",
                    "error": f"expected {{'scenario': <name>, 'seed': <int>}}; known: {known}",
                },
                400,
            )
        extra = set(doc) - {"scenario", "seed"}
        if extra:
            return json_response({"status": "rejected", "error": f"unknown field(s): {', '.join(sorted(extra))}"}, 400)
        name = doc["scenario"]
        if name not in SCENARIOS:
            return json_response(
                {
                    "status": "rejected",
                    "error": f"unknown scenario {name!r}; known: {known}",
                    "known": list(SCENARIOS),
                },
                400,
            )
        seed = doc.get("seed", self.market.seed)
        if not isinstance(seed, int) or isinstance(seed, bool):
            return json_response({"status": "rejected", "error": "seed must be an integer"}, 400)
        self.market = MarketGenerator(name, seed, self.market.prices, self.tick_seconds)
        self.started_at = time.time()
        self._set_scenario_info()
        self.log.info("scenario switched", scenario=name, seed=seed)
        return json_response(self.scenario_doc())
