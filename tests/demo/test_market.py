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
