"""The bot's metrics (names fixed by the issue's spec; every labelled counter pre-initialised for each
known label value, so a series exists at 0 before anything happened)::

    >>> from prometheus_client import CollectorRegistry
    >>> metrics = BotMetrics(CollectorRegistry())
    >>> metrics.published.labels(event="PositionSold").inc()
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from obs_tests.demo.bot_events import EVENT_NAMES
from obs_tests.demo.bot_strategy import SELL_REASONS, STRATEGIES, Portfolio
from obs_tests.demo.service_metrics import DURATION_BUCKETS, preinit

__all__ = ["CHAOS_ACTIONS", "BotMetrics"]

CHAOS_ACTIONS = ("delayed", "dropped", "injected", "modified")


class BotMetrics:
    """Every metric of the bot, registered on one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.cycles = Counter("bot_cycles_total", "Monitoring cycles run.", registry=registry)
        self.cycle_duration = Histogram(
            "bot_cycle_duration_seconds",
            "Time of one monitoring cycle: faults held, price fetched, its event published.",
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.last_cycle = Gauge(
            "bot_last_cycle_timestamp_seconds", "Unix time the last cycle ended.", registry=registry
        )
        self.capital = Gauge("bot_capital", "Cash not in any position.", registry=registry)
        self.equity = Gauge("bot_equity", "Cash plus open positions at the last price.", registry=registry)
        self.peak_equity = Gauge("bot_peak_equity", "Highest equity of this run.", registry=registry)
        self.drawdown = Gauge("bot_drawdown_ratio", "1 - equity / peak equity.", registry=registry)
        self.open_positions = Gauge("bot_open_positions", "Pools holding a position.", registry=registry)
        self.pools = Gauge("bot_pools", "Pools the capital is split into.", registry=registry)
        self._event_counters(registry)
        self.fetches = Counter("bot_price_fetches_total", "Price fetches attempted.", registry=registry)
        self.fetch_failures = Counter(
            "bot_price_fetch_failures_total", "Price fetches that failed (injected ones too).", registry=registry
        )
        self.consecutive_failures = Gauge(
            "bot_consecutive_fetch_failures", "Price fetches failed in a row.", registry=registry
        )
        self.opened = Counter("bot_positions_opened_total", "Positions bought.", registry=registry)
        self.closed = Counter("bot_positions_closed_total", "Positions sold, by reason.", ["reason"], registry=registry)
        self.chaos = Counter("bot_event_chaos_total", "What event chaos did, by action.", ["action"], registry=registry)
        self.strategy = Gauge("bot_strategy_info", "1 for the strategy trading.", ["strategy"], registry=registry)
        preinit(self.closed, "reason", SELL_REASONS)
        preinit(self.chaos, "action", CHAOS_ACTIONS)
        preinit(self.strategy, "strategy", STRATEGIES)

    def _event_counters(self, registry: CollectorRegistry) -> None:
        self.published = Counter(
            "bot_events_published_total", "Events put on the bus, by name.", ["event"], registry=registry
        )
        self.received = Counter(
            "bot_events_received_total", "Events of the current run received by a stage.", ["event"], registry=registry
        )
        self.missing = Counter(
            "bot_events_missing_total",
            "Events a stage never received (seq gaps past the grace).",
            ["event"],
            registry=registry,
        )
        self.corrupt = Counter(
            "bot_events_corrupt_total",
            "Events rejected: checksum mismatch or undecodable.",
            ["event"],
            registry=registry,
        )
        for counter in (self.published, self.received, self.missing, self.corrupt):
            preinit(counter, "event", EVENT_NAMES)

    def show_strategy(self, name: str) -> None:
        """``bot_strategy_info{strategy}`` 1 for ``name``, 0 for the others."""
        for known in STRATEGIES:
            self.strategy.labels(strategy=known).set(1 if known == name else 0)

    def show_portfolio(self, book: Portfolio) -> None:
        """The capital gauges from ``book``."""
        self.capital.set(book.cash)
        self.equity.set(book.equity)
        self.peak_equity.set(book.peak_equity)
        self.drawdown.set(book.drawdown)
        self.open_positions.set(book.open_positions)
        self.pools.set(book.pool_count)
