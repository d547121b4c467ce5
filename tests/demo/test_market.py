from __future__ import annotations

from collections import deque

import pytest

from obs_tests.demo.market import DEFAULT_PRICES, PAIRS, SCENARIOS, MarketGenerator, simulate


def _series(path: list[tuple[float, dict[str, float]]], pair: str) -> list[tuple[float, float]]:
    return [(elapsed, prices[pair]) for elapsed, prices in path]


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("pair", PAIRS)
def test_market_flash_crash_drops_more_than_15_percent_within_5s(seed: int, pair: str) -> None:
    series = _series(simulate("flash_crash", seed, seconds=60, tick_seconds=0.25), pair)
    start = DEFAULT_PRICES[pair]
    low_in_5s = min(price for elapsed, price in series if elapsed <= 5.0)
    assert low_in_5s < 0.85 * start
    final = series[-1][1]
    assert low_in_5s < final < start, "flash_crash must partially recover"


def _max_window_move(prices: list[float], window: int) -> float:
    """Largest max/min - 1 over every run of ``window + 1`` consecutive prices (monotonic deques)."""
    highs: deque[int] = deque()
    lows: deque[int] = deque()
    worst = 0.0
    for index, price in enumerate(prices):
        while highs and prices[highs[-1]] <= price:
            highs.pop()
        while lows and prices[lows[-1]] >= price:
            lows.pop()
        highs.append(index)
        lows.append(index)
        while highs[0] < index - window:
            highs.popleft()
        while lows[0] < index - window:
            lows.popleft()
        worst = max(worst, prices[highs[0]] / prices[lows[0]] - 1)
    return worst


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("tick", [0.1, 0.25, 1.0])
def test_market_sideways_never_moves_more_than_5_percent_in_a_minute(seed: int, tick: float) -> None:
    path = simulate("sideways", seed, seconds=300, tick_seconds=tick)
    for pair in PAIRS:
        prices = [price for _, price in _series(path, pair)]
        assert _max_window_move(prices, round(60 / tick)) < 0.05


def test_market_window_move_helper() -> None:
    assert _max_window_move([100, 104, 100, 106], 1) == pytest.approx(0.06)
    assert _max_window_move([100, 110, 100, 110], 0) == 0.0


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_market_same_seed_same_path_other_seed_other_path(scenario: str) -> None:
    first = simulate(scenario, 7, seconds=10)
    assert first == simulate(scenario, 7, seconds=10)
    assert first != simulate(scenario, 8, seconds=10)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_market_prices_stay_positive_and_finite(scenario: str) -> None:
    for _, prices in simulate(scenario, 3, seconds=600, tick_seconds=1.0):
        for price in prices.values():
            assert 0 < price < float("inf")


@pytest.mark.parametrize(
    ("scenario", "seconds", "low", "high"),
    [
        pytest.param("bull_run", 120, 1.05, 1.30, id="bull_run-rises"),
        pytest.param("bear_crash", 60, 0.70, 0.85, id="bear_crash-falls"),
        pytest.param("pump_and_dump", 20, 1.30, 1.50, id="pump-top"),
        pytest.param("pump_and_dump", 40, 0.65, 0.75, id="dump-bottom"),
        pytest.param("dead_cat_bounce", 10, 0.65, 0.75, id="dead-cat-first-drop"),
        pytest.param("dead_cat_bounce", 20, 0.76, 0.84, id="dead-cat-bounce"),
        pytest.param("dead_cat_bounce", 60, 0.55, 0.65, id="dead-cat-new-low"),
        pytest.param("volatile", 60, 0.80, 1.20, id="volatile-bounded"),
    ],
)
def test_market_scenario_shapes(scenario: str, seconds: float, low: float, high: float) -> None:
    path = simulate(scenario, 1, seconds=seconds, tick_seconds=0.25)
    for pair in PAIRS:
        ratio = path[-1][1][pair] / DEFAULT_PRICES[pair]
        assert low < ratio < high, f"{scenario} {pair} at {seconds}s: {ratio:.3f}"


def test_market_volatile_moves_more_than_sideways() -> None:
    def spread(name: str) -> float:
        prices = [p["SOL-USD"] for _, p in simulate(name, 5, seconds=60)]
        return max(prices) / min(prices)

    assert spread("volatile") > spread("sideways") * 1.05


def test_market_restart_from_current_prices() -> None:
    crash = MarketGenerator("flash_crash", 1)
    for _ in range(12):
        crash.tick()
    resumed = MarketGenerator("sideways", 1, crash.prices)
    assert resumed.prices == crash.prices
    assert abs(resumed.tick()["BTC-USD"] / crash.prices["BTC-USD"] - 1) < 0.03


def test_market_rejects_unknown_scenario_and_bad_tick() -> None:
    with pytest.raises(KeyError, match="known: bull_run"):
        MarketGenerator("moon")
    with pytest.raises(ValueError, match="positive"):
        MarketGenerator("sideways", tick_seconds=0)


def _candles(scenario: str, seed: int, seconds: int, multiplier: float = 1.0) -> list[float]:
    market = MarketGenerator(scenario, seed, {"BTC/USDT": 100.0}, 1.0, ("BTC/USDT",), multiplier)
    return [market.tick()["BTC/USDT"] for _ in range(seconds)]


@pytest.mark.parametrize("seed", range(6))
def test_market_accumulation_is_a_quiet_base_then_a_late_breakout(seed: int) -> None:
    prices = _candles("accumulation", seed, 70)
    base = prices[:44]
    assert max(base) / min(base) - 1 < 0.03, "the base stays within 3 %"
    assert base[-1] > base[0] * 0.995, "the base drifts up, never down more than noise"
    assert 1.07 < prices[59] / 100.0 < 1.13, "the breakout reaches about +10 % by 55 s"
    assert _max_window_move(base, 1) < 0.01, "quiet candles before the breakout"


@pytest.mark.parametrize("seed", range(6))
def test_market_distribution_is_a_choppy_top_then_a_late_breakdown(seed: int) -> None:
    prices = _candles("distribution", seed, 70)
    top = prices[:44]
    assert max(top) / min(top) - 1 < 0.06
    assert 0.87 < prices[59] / 100.0 < 0.93, "the breakdown reaches about -10 % by 55 s"
    quiet = _candles("accumulation", seed, 44)
    assert _max_window_move(top, 1) > _max_window_move(quiet, 1), "the top is choppier than a base"


def _gaps(prices: list[float], threshold: float) -> list[int]:
    return [i for i in range(1, len(prices)) if abs(prices[i] / prices[i - 1] - 1) > threshold]


@pytest.mark.parametrize("seed", range(10))
def test_market_irregular_candles_jump_between_calm_candles(seed: int) -> None:
    prices = _candles("irregular_candles", seed, 120)
    gaps = _gaps(prices, 0.025)
    assert len(gaps) >= 4, f"a gap of several % about every 8 s: {gaps}"
    ups = [i for i in gaps if prices[i] > prices[i - 1]]
    assert ups and len(ups) < len(gaps), "gaps go both ways"
    calm = [i for i in range(1, len(prices)) if i not in gaps]
    assert all(abs(prices[i] / prices[i - 1] - 1) < 0.012 for i in calm), "the other candles are calm"
    assert all(0.85 < price / 100.0 < 1.15 for price in prices), "their sum stays within ±12 % (plus noise)"


def test_market_irregular_candles_gaps_fall_where_the_seed_says() -> None:
    assert _gaps(_candles("irregular_candles", 1, 120), 0.025) == _gaps(_candles("irregular_candles", 1, 120), 0.025)
    assert _gaps(_candles("irregular_candles", 1, 120), 0.025) != _gaps(_candles("irregular_candles", 2, 120), 0.025)


def test_market_volatility_multiplier_scales_the_noise_not_the_envelope() -> None:
    still = _candles("flash_crash", 3, 60, multiplier=0.0)
    assert still[1] == pytest.approx(72.0), "no noise: the envelope itself"
    assert still[-1] == pytest.approx(90.0)
    calm, wild = _candles("sideways", 3, 300, 0.5), _candles("sideways", 3, 300, 3.0)
    assert max(wild) / min(wild) > max(calm) / min(calm) * 1.02
    with pytest.raises(ValueError, match="volatility_multiplier"):
        MarketGenerator("sideways", volatility_multiplier=-1)
