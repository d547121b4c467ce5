"""The bot's pure brain: indicators, pools, the trend and panic strategies on synthetic paths, and — on the
exchange's own candle feed — the numbers the shipped scenarios rely on (deterministic, no processes)."""

from __future__ import annotations

import doctest
import itertools

import pytest

from obs_tests.demo import bot_strategy
from obs_tests.demo.bot_strategy import (
    IndicatorWindow,
    PanicStrategy,
    Portfolio,
    TrendParams,
    TrendStrategy,
    replay,
)
from obs_tests.demo.candles import CandleConfig, CandleFeed


def _candles(scenario: str, seed: int, count: int = 60) -> list[float]:
    feed = CandleFeed(CandleConfig(scenario=scenario, seed=seed))
    return [feed.next()["price"] for _ in range(count)]


def test_bot_strategy_module_example_runs() -> None:
    assert doctest.testmod(bot_strategy).failed == 0


def test_indicators_over_a_known_series() -> None:
    window = IndicatorWindow(short=2, long=4)
    first = window.update(100.0)
    assert (first.sma_short, first.sma_long, first.change_pct, first.drawdown_pct) == (100.0, 100.0, 0.0, 0.0)
    for price in (110.0, 120.0, 130.0):
        window.update(price)
    last = window.update(104.0)
    assert last.sma_short == pytest.approx(117.0)
    assert last.sma_long == pytest.approx((110 + 120 + 130 + 104) / 4)
    assert last.change_pct == pytest.approx((104 / 120 - 1) * 100), "vs the price 2 fetches ago"
    assert last.drawdown_pct == pytest.approx(20.0), "20 % under the high of the long window"
    assert len(window) == 5
    with pytest.raises(ValueError, match="short <= long"):
        IndicatorWindow(short=5, long=3)


def test_portfolio_pools_cash_equity_and_drawdown() -> None:
    book = Portfolio(1000.0, 4)
    first = book.buy(10.0, cycle=1)
    assert first is not None and (first.pool, first.size, first.cost) == (1, 25.0, 250.0)
    assert book.cash == 750.0 and book.open_positions == 1
    book.mark(12.0)
    assert book.equity == 1050.0 and book.peak_equity == 1050.0
    book.mark(8.0)
    assert book.equity == 950.0 and book.drawdown == pytest.approx(1 - 950 / 1050)
    for _ in range(3):
        book.buy(8.0, cycle=2)
    assert book.free_pool() is None and book.buy(8.0, cycle=3) is None
    sale = book.sell(1, 11.0)
    assert sale is not None and sale.pnl == pytest.approx(25.0) and sale.proceeds == pytest.approx(275.0)
    assert book.sell(1, 11.0) is None, "a pool sold twice sells once"
    assert book.free_pool() == 1
    with pytest.raises(ValueError):
        Portfolio(0.0, 5)


def test_trend_buys_a_rising_market_once_per_cooldown_and_not_before_its_history() -> None:
    run = replay([100.0 * 1.002**i for i in range(40)], "trend")
    buys = [t.cycle for t in run.trades if t.kind == "buy"]
    assert buys[0] == TrendParams().min_history
    assert all(b - a >= TrendParams().cooldown for a, b in itertools.pairwise(buys))
    assert len(buys) == 5, "one per pool"
    assert run.final_equity > 10_000.0


def test_trend_takes_profit_at_plus_10_percent() -> None:
    prices = [100.0 * 1.01**i for i in range(30)]
    run = replay(prices, "trend")
    first_sale = next(t for t in run.trades if t.kind == "sell")
    bought = next(t for t in run.trades if t.kind == "buy" and t.pool == first_sale.pool)
    assert first_sale.reason == "take_profit" and first_sale.price / bought.price - 1 >= 0.10
    assert first_sale.pnl > 0


def _rise_then(tail: list[float]) -> list[float]:
    return [100.0 * 1.003**i for i in range(15)] + tail


def test_trend_holds_through_a_crash() -> None:
    crash = _rise_then([90.0, 80.0, 75.0, 75.0, 75.5, 75.2, 75.0, 75.4, 75.1, 75.3])
    run = replay(crash, "trend")
    assert run.count("buy") >= 2 and run.count("sell") == 0


def test_trend_sells_a_confirmed_gentle_reversal() -> None:
    top = _rise_then([])
    decline = [top[-1] * 0.995**i for i in range(1, 25)]
    run = replay(top + decline, "trend")
    sales = [t for t in run.trades if t.kind == "sell"]
    assert sales and {t.reason for t in sales} == {"trend_reversal"}
    assert not run.portfolio.pools, "every pool sold"


def test_trend_stop_loss_only_while_falling_under_a_down_trend() -> None:
    strategy = TrendStrategy(TrendParams(min_history=1, reversal_confirm=1000))
    book = Portfolio(1000.0, 1)
    book.buy(100.0, cycle=1)
    window = IndicatorWindow()
    said = []
    for price in (100.0 * 0.996**i for i in range(30)):
        signals = strategy.decide(window.update(price), book, 2)
        said += [(round(price / 100 - 1, 3), s.kind, s.reason, s.pool) for s in signals]
    assert said[0] == (-0.103, "sell", "stop_loss", 1), "the first cycle 10 % under its entry, slow enough to act"
    rising = TrendStrategy(TrendParams(min_history=1, reversal_confirm=1000))
    window = IndicatorWindow()
    for price in (100.0, 90.0, 89.0, 89.5, 89.8, 90.0):
        signals = rising.decide(window.update(price), book, 2)
    assert signals == [], "under the stop but recovering: hold"


def test_panic_sells_every_pool_on_a_sharp_drop() -> None:
    crash = _rise_then([96.0, 92.0, 90.0, 90.0])
    run = replay(crash, "panic")
    panic = [t for t in run.trades if t.reason == "panic"]
    assert len(panic) >= 2 and all(t.pnl < 0 for t in panic)
    assert {t.cycle for t in panic} == {16}, "all at once, at the first drop past 3 %"
    assert isinstance(PanicStrategy(), TrendStrategy)


# -- on the exchange's candle feed: what the shipped scenarios rely on --------------------------------

FLASH_CRASH_SEEDS = [42, 1, 2, 3, 7, 11, 13, 99]


@pytest.mark.parametrize("seed", FLASH_CRASH_SEEDS)
@pytest.mark.parametrize("cycles", [50, 55, 60])
def test_trend_on_a_flash_crash_buys_3_to_10_sells_at_most_2_and_never_at_a_loss_in_the_crash(
    seed: int, cycles: int
) -> None:
    run = replay(_candles("flash_crash", seed, cycles), "trend", initial_capital=10_000.0, pool_count=5)
    assert 3 <= run.count("buy") <= 10, run.trades
    assert run.count("sell") <= 2, run.trades
    assert 9_000.0 <= run.final_equity <= 12_000.0
    assert run.sales_at_a_loss(range(20, 31)) == []


@pytest.mark.parametrize("seed", FLASH_CRASH_SEEDS)
def test_panic_on_a_flash_crash_sells_at_a_loss_in_the_crash(seed: int) -> None:
    run = replay(_candles("flash_crash", seed), "panic")
    losses = run.sales_at_a_loss(range(20, 31))
    assert losses and {t.reason for t in losses} == {"panic"}


def test_trend_without_its_crash_guard_would_sell_into_the_crash() -> None:
    unguarded = TrendParams(crash_step_pct=1000.0, crash_gap_pct=1000.0)
    run = replay(_candles("flash_crash", 42), "trend", params=unguarded)
    assert run.sales_at_a_loss(range(20, 31)), "the guard is what keeps trend from selling into it"


@pytest.mark.parametrize("seed", FLASH_CRASH_SEEDS)
def test_trend_on_a_bull_run_makes_a_profit(seed: int) -> None:
    run = replay(_candles("bull_run", seed), "trend")
    assert run.final_equity > 10_000.0 and run.count("buy") >= 3


@pytest.mark.parametrize("seed", FLASH_CRASH_SEEDS)
def test_trend_on_sideways_is_a_stable_baseline(seed: int) -> None:
    prices = _candles("sideways", seed)
    run = replay(prices, "trend")
    assert abs(run.final_equity / 10_000.0 - 1) < 0.01
    assert run.count("sell") == 0
    assert max(run.equity) / min(run.equity) - 1 < 0.02
    assert [t.price for t in replay(prices, "trend").trades] == [t.price for t in run.trades], "deterministic"
