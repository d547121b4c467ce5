"""The exchange's candle feed for the bot: a market scenario played one candle per fetch (pure
:class:`CandleFeed`), and its HTTP endpoints on the exchange (:class:`CandleEndpoints`).

Market time is candles, not wall time, so a run is the same however fast the bot polls. One candle is
one second of the scenario (:class:`~obs_tests.demo.market.MarketGenerator` with ``tick_seconds=1``,
started at ``initial_price``, noise scaled by ``volatility_multiplier``), played after
``warmup_candles`` candles of calm ``sideways`` — a bot's indicators have history before anything
happens. With the default 20, ``flash_crash`` crashes at candles 21-23 and has recovered by ~55::

    >>> feed = CandleFeed(CandleConfig(scenario="flash_crash", seed=42))
    >>> [round(feed.next()["price"]) for _ in range(22)][-3:]   # candles 20, 21, 22
    [49906, 42527, 35965]

``bid``/``ask`` are the price ∓ ``spread_bps / 2``.

Endpoints (``/admin`` behind the service's allow-list; the exchange's faults apply to
``/candles/next``: ``hang`` and ``latency`` hold it, ``error_rate`` answers 503 ``{"error": ...}``):

- ``PUT /admin/candles {scenario, seed, initial_price, pair, volatility_multiplier, spread_bps,
  warmup_candles}`` (all optional) restarts the feed at candle 0; ``GET`` answers the config with
  ``candle, first_price, last_price, min_price, max_price``; ``DELETE`` restarts it with the defaults.
- ``GET /candles/next`` → ``{"candle", "pair", "price", "bid", "ask", "scenario"}``, one candle on.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Final

import orjson

from obs_tests.demo.fault_modes import FaultState
from obs_tests.demo.http import AdminGuard, Router
from obs_tests.demo.http_messages import Request, Response, json_response
from obs_tests.demo.logs import JsonLogger
from obs_tests.demo.market import SCENARIOS, MarketGenerator
from obs_tests.errors import AdminRequestInvalid

__all__ = ["CandleConfig", "CandleEndpoints", "CandleFeed", "parse_candle_config"]

_MAX_WARMUP: Final = 100_000


@dataclass(frozen=True)
class CandleConfig:
    """What the feed plays (the body of ``PUT /admin/candles``; every field has its default)."""

    scenario: str = "sideways"
    seed: int = 0
    initial_price: float = 50_000.0
    pair: str = "BTC/USDT"
    volatility_multiplier: float = 1.0
    spread_bps: float = 20.0
    warmup_candles: int = 20

    def to_json(self) -> dict[str, Any]:
        """The config as JSON."""
        return asdict(self)


_FIELDS: Final = tuple(f.name for f in fields(CandleConfig))


def _number(doc: dict[str, Any], key: str, low: float, high: float, *, low_open: bool = False) -> float:
    value = doc[key]
    bad = isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
    if bad or value < low or value > high or (low_open and value == low):
        bound = f"{'>' if low_open else '>='} {low:g} and <= {high:g}"
        raise AdminRequestInvalid(f"{key}: must be a number {bound}, got {value!r}")
    return float(value)


def _integer(doc: dict[str, Any], key: str, low: int, high: int) -> int:
    value = doc[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise AdminRequestInvalid(f"{key}: must be an integer in [{low}, {high}], got {value!r}")
    return value


def parse_candle_config(doc: object, default_seed: int = 0) -> CandleConfig:
    """The :class:`CandleConfig` of a ``PUT /admin/candles`` body (absent fields: the defaults, the seed
    ``default_seed``); raises :class:`AdminRequestInvalid` naming the field and what it may be."""
    if not isinstance(doc, dict):
        raise AdminRequestInvalid(f"expected a JSON object with some of: {', '.join(_FIELDS)}")
    unknown = sorted(set(doc) - set(_FIELDS))
    if unknown:
        raise AdminRequestInvalid(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(_FIELDS)}")
    config = CandleConfig(seed=default_seed)
    changes: dict[str, Any] = {}
    if "scenario" in doc:
        if doc["scenario"] not in SCENARIOS:
            raise AdminRequestInvalid(f"scenario: unknown {doc['scenario']!r}; known: {', '.join(SCENARIOS)}")
        changes["scenario"] = doc["scenario"]
    if "seed" in doc:
        changes["seed"] = _integer(doc, "seed", -(2**63), 2**63 - 1)
    if "initial_price" in doc:
        changes["initial_price"] = _number(doc, "initial_price", 0.0, 1e12, low_open=True)
    if "pair" in doc:
        pair = doc["pair"]
        if not isinstance(pair, str) or not 0 < len(pair) <= 32 or not pair.isprintable():
            raise AdminRequestInvalid(f"pair: must be a printable string of 1-32 characters, got {pair!r}")
        changes["pair"] = pair
    if "volatility_multiplier" in doc:
        changes["volatility_multiplier"] = _number(doc, "volatility_multiplier", 0.0, 100.0)
    if "spread_bps" in doc:
        changes["spread_bps"] = _number(doc, "spread_bps", 0.0, 5000.0)
    if "warmup_candles" in doc:
        changes["warmup_candles"] = _integer(doc, "warmup_candles", 0, _MAX_WARMUP)
    return replace(config, **changes)


class CandleFeed:
    """Plays a :class:`CandleConfig`, one candle per :meth:`next` (candle 1 is the first served)."""

    def __init__(self, config: CandleConfig) -> None:
        self.config = config
        pair, start = config.pair, {config.pair: config.initial_price}
        multiplier = config.volatility_multiplier
        self._warmup = MarketGenerator("sideways", config.seed, start, 1.0, (pair,), multiplier)
        self._market = MarketGenerator(config.scenario, config.seed, start, 1.0, (pair,), multiplier)
        self.candle = 0
        self.first_price: float | None = None
        self.last_price: float | None = None
        self.min_price: float | None = None
        self.max_price: float | None = None

    def next(self) -> dict[str, Any]:
        """The next candle: ``{"candle", "pair", "price", "bid", "ask", "scenario"}``."""
        config = self.config
        self.candle += 1
        warming = self.candle <= config.warmup_candles
        price = (self._warmup if warming else self._market).tick()[config.pair]
        half_spread = config.spread_bps / 20_000.0
        if self.first_price is None:
            self.first_price = price
        self.last_price = price
        self.min_price = price if self.min_price is None else min(self.min_price, price)
        self.max_price = price if self.max_price is None else max(self.max_price, price)
        return {
            "candle": self.candle,
            "pair": config.pair,
            "price": price,
            "bid": price * (1.0 - half_spread),
            "ask": price * (1.0 + half_spread),
            "scenario": "sideways" if warming else config.scenario,
        }

    def state(self) -> dict[str, Any]:
        """The config and where the feed is (what ``GET /admin/candles`` answers)."""
        return {
            **self.config.to_json(),
            "candle": self.candle,
            "first_price": self.first_price,
            "last_price": self.last_price,
            "min_price": self.min_price,
            "max_price": self.max_price,
            "known": list(SCENARIOS),
        }


class CandleEndpoints:
    """The candle feed's routes on a service (the exchange): the feed API and its admin endpoint."""

    def __init__(
        self, router: Router, admin: AdminGuard, faults: FaultState, log: JsonLogger, default_seed: int = 0
    ) -> None:
        self.faults = faults
        self.log = log
        self.default_seed = default_seed
        self.feed = CandleFeed(CandleConfig(seed=default_seed))
        router.add("GET", "/candles/next", self.next_candle)
        guarded = admin.wrap(self.admin_candles)
        for method in ("GET", "PUT", "DELETE"):
            router.add(method, "/admin/candles", guarded)

    async def next_candle(self, request: Request) -> Response:
        """``GET /candles/next`` under the service's faults."""
        faults = self.faults
        if faults.holding:
            await faults.hold()
        if faults.should_fail():
            return json_response({"status": "error", "error": "injected exchange failure (error_rate)"}, 503)
        return json_response(self.feed.next())

    async def admin_candles(self, request: Request) -> Response:
        """``GET|PUT|DELETE /admin/candles``."""
        if request.method == "GET":
            return json_response(self.feed.state())
        if request.method == "DELETE":
            config = CandleConfig(seed=self.default_seed)
        else:
            try:
                doc = orjson.loads(request.body) if request.body.strip() else {}
                config = parse_candle_config(doc, self.default_seed)
            except orjson.JSONDecodeError as exc:
                return json_response({"status": "rejected", "error": f"body is not JSON: {exc}"}, 400)
            except AdminRequestInvalid as exc:
                return json_response({"status": "rejected", "error": exc.message}, 400)
        self.feed = CandleFeed(config)
        self.log.info("candle feed restarted", **config.to_json())
        return json_response(self.feed.state())
