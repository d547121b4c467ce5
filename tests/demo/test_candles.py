"""The candle feed: warm-up then the scenario, one candle per fetch, deterministic by config; its config
refused with the field named; its endpoints under the exchange's faults and allow-list."""

from __future__ import annotations

import asyncio
import doctest
from typing import Any

import orjson
import pytest

from obs_tests.demo import candles
from obs_tests.demo.candles import CandleConfig, CandleEndpoints, CandleFeed, parse_candle_config
from obs_tests.demo.fault_modes import FaultState
from obs_tests.demo.http import AdminGuard, Router
from obs_tests.demo.http_messages import Request, Response
from obs_tests.demo.logs import JsonLogger
from obs_tests.demo.market import SCENARIOS
from obs_tests.errors import AdminRequestInvalid


def _prices(config: CandleConfig, count: int) -> list[float]:
    feed = CandleFeed(config)
    return [feed.next()["price"] for _ in range(count)]


def test_candles_module_example_runs() -> None:
    assert doctest.testmod(candles).failed == 0


@pytest.mark.parametrize("seed", [42, 1, 7, 123])
def test_candles_flash_crash_crashes_after_the_warm_up_and_recovers_by_55(seed: int) -> None:
    prices = _prices(CandleConfig(scenario="flash_crash", seed=seed), 60)
    start = 50_000.0
    assert all(0.97 * start < p < 1.03 * start for p in prices[:20]), "candles 1-20: calm sideways"
    assert prices[21] < 0.75 * start, "candle 22 is at the bottom (-28 %)"
    assert prices[20] < 0.9 * start, "the crash starts at candle 21"
    assert min(prices[21:24]) == min(prices), "and bottoms out at candles 22-24"
    assert 0.87 * start < prices[54] < 0.93 * start, "recovered to about -10 % by candle 55"


def test_candles_say_their_number_scenario_and_spread() -> None:
    feed = CandleFeed(CandleConfig(scenario="bull_run", warmup_candles=2, spread_bps=20, pair="ETH/USDT"))
    first, second, third = feed.next(), feed.next(), feed.next()
    assert [c["candle"] for c in (first, second, third)] == [1, 2, 3]
    assert [c["scenario"] for c in (first, second, third)] == ["sideways", "sideways", "bull_run"]
    assert third["pair"] == "ETH/USDT"
    assert third["bid"] == pytest.approx(third["price"] * 0.999)
    assert third["ask"] == pytest.approx(third["price"] * 1.001)


def test_candles_without_warm_up_start_with_the_scenario_at_the_initial_price() -> None:
    prices = _prices(CandleConfig(scenario="flash_crash", warmup_candles=0, initial_price=100.0), 3)
    assert prices[1] < 75.0 < prices[0] < 100.0


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_candles_same_config_same_candles_other_seed_other_candles(scenario: str) -> None:
    config = CandleConfig(scenario=scenario, seed=5, warmup_candles=3)
    assert _prices(config, 30) == _prices(config, 30)
    assert _prices(config, 30) != _prices(CandleConfig(scenario=scenario, seed=6, warmup_candles=3), 30)


def test_candles_volatility_multiplier_widens_the_range() -> None:
    calm = _prices(CandleConfig(seed=3, volatility_multiplier=0.5), 200)
    wild = _prices(CandleConfig(seed=3, volatility_multiplier=3.0), 200)
    assert max(wild) - min(wild) > 2 * (max(calm) - min(calm))


def test_candles_state_tracks_first_last_min_max() -> None:
    feed = CandleFeed(CandleConfig(scenario="flash_crash", seed=42))
    assert feed.state()["candle"] == 0 and feed.state()["first_price"] is None
    served = [feed.next()["price"] for _ in range(30)]
    state = feed.state()
    assert state["candle"] == 30
    assert (state["first_price"], state["last_price"]) == (served[0], served[-1])
    assert (state["min_price"], state["max_price"]) == (min(served), max(served))
    assert state["scenario"] == "flash_crash" and state["warmup_candles"] == 20


def test_candle_config_defaults_and_overrides() -> None:
    assert parse_candle_config({}, default_seed=9) == CandleConfig(seed=9)
    doc = {"scenario": "irregular_candles", "seed": 4, "initial_price": 3000, "pair": "ETH/USDT"}
    doc |= {"volatility_multiplier": 2, "spread_bps": 0, "warmup_candles": 0}
    config = parse_candle_config(doc)
    assert config.to_json() == {**doc, "initial_price": 3000.0, "volatility_multiplier": 2.0, "spread_bps": 0.0}


@pytest.mark.parametrize(
    ("doc", "said"),
    [
        pytest.param({"scenario": "moon"}, "scenario: unknown 'moon'; known: bull_run", id="unknown-scenario"),
        pytest.param({"senario": "bull_run"}, "unknown field(s) senario; known: scenario, seed", id="unknown-field"),
        pytest.param({"initial_price": "50000"}, "initial_price: must be a number > 0", id="price-string"),
        pytest.param({"initial_price": 0}, "initial_price: must be a number > 0", id="price-zero"),
        pytest.param({"initial_price": True}, "initial_price: must be a number", id="price-bool"),
        pytest.param({"seed": 1.5}, "seed: must be an integer", id="seed-float"),
        pytest.param({"warmup_candles": -1}, "warmup_candles: must be an integer in [0, 100000]", id="warmup"),
        pytest.param({"spread_bps": -2}, "spread_bps: must be a number >= 0", id="spread"),
        pytest.param({"volatility_multiplier": None}, "volatility_multiplier: must be a number", id="null"),
        pytest.param({"pair": ""}, "pair: must be a printable string", id="empty-pair"),
        pytest.param([], "expected a JSON object with some of: scenario, seed", id="not-an-object"),
    ],
)
def test_candle_config_refused_with_the_field_named(doc: Any, said: str) -> None:
    with pytest.raises(AdminRequestInvalid) as caught:
        parse_candle_config(doc)
    assert said in caught.value.message


def _endpoints(faults: FaultState | None = None) -> tuple[Router, CandleEndpoints]:
    router = Router()
    endpoints = CandleEndpoints(router, AdminGuard(["127.0.0.0/8"]), faults or FaultState(1), JsonLogger("t"), 3)
    return router, endpoints


def _call(router: Router, method: str, path: str, body: Any = None, client: str = "127.0.0.1") -> Response:
    handler, _, _ = router.resolve(method, path)
    assert handler is not None
    raw = body if isinstance(body, bytes) else (b"" if body is None else orjson.dumps(body))
    return asyncio.run(handler(Request(method, path, b"", [], client, raw)))


def _json(response: Response) -> Any:
    return orjson.loads(response.body)


def test_candle_endpoints_serve_candles_and_restart_the_feed() -> None:
    router, _ = _endpoints()
    assert _json(_call(router, "GET", "/candles/next"))["candle"] == 1
    assert _json(_call(router, "GET", "/candles/next"))["candle"] == 2
    assert _json(_call(router, "GET", "/admin/candles"))["seed"] == 3
    put = _call(router, "PUT", "/admin/candles", {"scenario": "flash_crash", "seed": 42})
    assert put.status == 200 and _json(put)["candle"] == 0 and _json(put)["scenario"] == "flash_crash"
    assert _json(_call(router, "GET", "/candles/next")) == CandleFeed(CandleConfig("flash_crash", 42)).next()
    assert _json(_call(router, "DELETE", "/admin/candles"))["scenario"] == "sideways"
    assert _json(_call(router, "PUT", "/admin/candles"))["candle"] == 0, "an empty PUT restarts with the defaults"


def test_candle_endpoints_refuse_bad_bodies_and_other_clients() -> None:
    router, endpoints = _endpoints()
    bad = _call(router, "PUT", "/admin/candles", {"scenario": "moon"})
    assert bad.status == 400 and "known: bull_run" in _json(bad)["error"]
    garbled = _call(router, "PUT", "/admin/candles", b"{nope")
    assert garbled.status == 400 and "not JSON" in _json(garbled)["error"]
    assert _call(router, "PUT", "/admin/candles", {"scenario": "bull_run"}, client="10.1.2.3").status == 403
    assert endpoints.feed.config.scenario == "sideways", "a refused body leaves the feed as it was"


def test_candle_endpoints_fail_with_the_exchanges_error_rate_without_advancing() -> None:
    faults = FaultState(1)
    router, endpoints = _endpoints(faults)
    faults.replace({"error_rate": 1})
    failed = _call(router, "GET", "/candles/next")
    assert failed.status == 503 and "error_rate" in _json(failed)["error"]
    assert endpoints.feed.candle == 0
    faults.clear()
    assert _json(_call(router, "GET", "/candles/next"))["candle"] == 1


def test_candle_endpoints_hold_while_the_exchange_hangs() -> None:
    faults = FaultState(1)
    _, endpoints = _endpoints(faults)

    async def scenario() -> tuple[bool, int]:
        faults.replace({"hang": True})
        fetch = asyncio.ensure_future(endpoints.next_candle(Request("GET", "/candles/next", b"", [], None)))
        done, _ = await asyncio.wait([fetch], timeout=0.2)
        held = not done
        faults.clear()
        response = await asyncio.wait_for(fetch, 5)
        return held, _json(response)["candle"]

    assert asyncio.run(scenario()) == (True, 1)
