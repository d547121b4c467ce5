"""The bot's metrics: the names the alerts and the dashboard use, every labelled series there at 0, the
strategy and capital gauges set from the state."""

from __future__ import annotations

import doctest

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from obs_tests.demo import bot_metrics
from obs_tests.demo.bot_events import EVENT_NAMES
from obs_tests.demo.bot_metrics import CHAOS_ACTIONS, BotMetrics
from obs_tests.demo.bot_strategy import SELL_REASONS, Portfolio

NAMES = {
    "bot_cycles_total",
    "bot_cycle_duration_seconds",
    "bot_last_cycle_timestamp_seconds",
    "bot_capital",
    "bot_equity",
    "bot_peak_equity",
    "bot_drawdown_ratio",
    "bot_open_positions",
    "bot_pools",
    "bot_events_published_total",
    "bot_events_received_total",
    "bot_events_missing_total",
    "bot_events_corrupt_total",
    "bot_price_fetches_total",
    "bot_price_fetch_failures_total",
    "bot_consecutive_fetch_failures",
    "bot_positions_opened_total",
    "bot_positions_closed_total",
    "bot_event_chaos_total",
    "bot_strategy_info",
}


def _samples(registry: CollectorRegistry) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = generate_latest(registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_bot_metrics_module_example_runs() -> None:
    assert doctest.testmod(bot_metrics).failed == 0


def test_every_metric_of_the_spec_with_every_known_label_at_zero() -> None:
    registry = CollectorRegistry()
    BotMetrics(registry)
    samples = _samples(registry)
    names = {name.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum") for name, _ in samples}
    assert names >= NAMES, NAMES - names
    for family in ("published", "received", "missing", "corrupt"):
        for event in EVENT_NAMES:
            assert samples[(f"bot_events_{family}_total", frozenset({("event", event)}))] == 0.0
    for reason in SELL_REASONS:
        assert (("bot_positions_closed_total", frozenset({("reason", reason)}))) in samples
    for action in CHAOS_ACTIONS:
        assert (("bot_event_chaos_total", frozenset({("action", action)}))) in samples


def test_strategy_and_portfolio_gauges() -> None:
    registry = CollectorRegistry()
    metrics = BotMetrics(registry)
    metrics.show_strategy("panic")
    book = Portfolio(1000.0, 4)
    book.buy(10.0, cycle=1)
    book.mark(12.0)
    book.mark(9.0)
    metrics.show_portfolio(book)
    samples = _samples(registry)
    assert samples[("bot_strategy_info", frozenset({("strategy", "panic")}))] == 1.0
    assert samples[("bot_strategy_info", frozenset({("strategy", "trend")}))] == 0.0
    gauges = {name: samples[(name, frozenset())] for name in ("bot_capital", "bot_equity", "bot_peak_equity")}
    assert gauges == {"bot_capital": 750.0, "bot_equity": 975.0, "bot_peak_equity": 1050.0}
    assert samples[("bot_drawdown_ratio", frozenset())] == 1 - 975.0 / 1050.0
    assert samples[("bot_open_positions", frozenset())] == 1.0 and samples[("bot_pools", frozenset())] == 4.0
