"""The paper-trading bot's brain, pure: indicators over fetched prices, the pools it trades, and its two
strategies. The bot service (:mod:`obs_tests.demo.bot`) runs these pieces in stages on the NATS bus;
:func:`replay` runs them in one loop over a price path (for tests and tuning)::

    >>> run = replay([100.0 + i for i in range(30)], "trend")
    >>> [trade.kind for trade in run.trades][:2], run.final_equity > 10_000.0
    (['buy', 'buy'], True)

**Indicators** (:class:`IndicatorWindow`): ``sma_short`` and ``sma_long`` are the means of the last 5 and
20 prices (of what there is, before 20), ``change_pct`` the price's change over the short window (vs the
price 5 fetches ago), ``drawdown_pct`` how far it is below the highest price of the long window.

**trend** (:class:`TrendStrategy`), from the 6th price on (a full short window and its change):

- *buy* into a free pool (``initial_capital / pool_count`` each) when ``sma_short > sma_long`` and the
  price rose over the short window, at most once per ``cooldown`` (4) cycles, never while crashing;
- *sell* a pool at ``take_profit`` (+10 % over its entry); on a confirmed trend reversal (``sma_short``
  more than 1 % under ``sma_long`` for 3 cycles in a row); at ``stop_loss`` (-10 %) while the trend is
  down — but the last two only once the market has stabilised: while it *crashes* (the price fell more
  than 2 % since the last cycle, or is more than 5 % under ``sma_long``) trend holds every pool.

**panic** (:class:`PanicStrategy`): the same, except that a drop of more than 3 % over the short window
sells every open pool at once with reason ``panic`` — into the crash, usually at a loss.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Final

__all__ = [
    "SELL_REASONS",
    "STRATEGIES",
    "IndicatorWindow",
    "Indicators",
    "PanicStrategy",
    "Portfolio",
    "Position",
    "Replay",
    "Sale",
    "Signal",
    "Trade",
    "TrendParams",
    "TrendStrategy",
    "replay",
]

SELL_REASONS: Final = ("take_profit", "trend_reversal", "stop_loss", "panic")


@dataclass(frozen=True)
class Indicators:
    """What the indicators stage computed from one price (the data of ``IndicatorsCalculated``)."""

    price: float
    sma_short: float
    sma_long: float
    change_pct: float
    drawdown_pct: float

    def to_json(self) -> dict[str, float]:
        """The event data."""
        return asdict(self)


class IndicatorWindow:
    """The last ``long`` prices and the :class:`Indicators` of each new one."""

    def __init__(self, short: int = 5, long: int = 20) -> None:
        if not 0 < short <= long:
            raise ValueError("need 0 < short <= long")
        self.short, self.long = short, long
        self._prices: deque[float] = deque(maxlen=long + 1)

    def __len__(self) -> int:
        return len(self._prices)

    def update(self, price: float) -> Indicators:
        """Add ``price``; its indicators."""
        prices = self._prices
        prices.append(price)
        recent = list(prices)[-self.long :]
        short = recent[-self.short :]
        before = prices[-self.short - 1] if len(prices) > self.short else prices[0]
        high = max(recent)
        return Indicators(
            price=price,
            sma_short=sum(short) / len(short),
            sma_long=sum(recent) / len(recent),
            change_pct=(price / before - 1.0) * 100.0,
            drawdown_pct=(1.0 - price / high) * 100.0,
        )


@dataclass(frozen=True)
class Position:
    """An open pool: bought ``size`` at ``price`` for ``cost`` in ``cycle``."""

    pool: int
    price: float
    size: float
    cost: float
    cycle: int


@dataclass(frozen=True)
class Sale:
    """A closed pool: the position, the price it sold at, what it brought."""

    position: Position
    price: float
    proceeds: float
    pnl: float


class Portfolio:
    """Cash and ``pool_count`` pools of ``initial_capital / pool_count`` each, marked at the last price."""

    def __init__(self, initial_capital: float = 10_000.0, pool_count: int = 5) -> None:
        if initial_capital <= 0 or pool_count < 1:
            raise ValueError("need initial_capital > 0 and pool_count >= 1")
        self.initial_capital = initial_capital
        self.pool_count = pool_count
        self.budget = initial_capital / pool_count
        self.cash = initial_capital
        self.pools: dict[int, Position] = {}
        self.last_price: float | None = None
        self.peak_equity = initial_capital

    @property
    def open_positions(self) -> int:
        """How many pools hold a position."""
        return len(self.pools)

    @property
    def equity(self) -> float:
        """Cash plus every open position at the last price (at its entry before any price)."""
        return self.cash + sum(p.size * (self.last_price or p.price) for p in self.pools.values())

    @property
    def drawdown(self) -> float:
        """``1 - equity / peak_equity`` (0 at the peak)."""
        return max(0.0, 1.0 - self.equity / self.peak_equity)

    def _track_peak(self) -> None:
        self.peak_equity = max(self.peak_equity, self.equity)

    def mark(self, price: float) -> None:
        """The market is at ``price`` now."""
        self.last_price = price
        self._track_peak()

    def free_pool(self) -> int | None:
        """The lowest free pool number (1-based), None when all hold a position or cash is short."""
        if self.cash < self.budget * 0.5:
            return None
        return next((pool for pool in range(1, self.pool_count + 1) if pool not in self.pools), None)

    def buy(self, price: float, cycle: int) -> Position | None:
        """Spend one pool's budget (or the cash left) at ``price``; None when no pool is free."""
        pool = self.free_pool()
        if pool is None or price <= 0:
            return None
        cost = min(self.budget, self.cash)
        position = Position(pool, price, cost / price, cost, cycle)
        self.pools[pool] = position
        self.cash -= cost
        self.last_price = price
        self._track_peak()
        return position

    def sell(self, pool: int, price: float) -> Sale | None:
        """Close ``pool`` at ``price``; None when it holds nothing."""
        position = self.pools.pop(pool, None)
        if position is None:
            return None
        proceeds = position.size * price
        self.cash += proceeds
        self.last_price = price
        self._track_peak()
        return Sale(position, price, proceeds, proceeds - position.cost)


@dataclass(frozen=True)
class Signal:
    """A decision: ``buy`` (``BuyConditionMet``) or ``sell`` ``pool`` (``SellConditionMet``)."""

    kind: str
    price: float
    reason: str
    pool: int | None = None


@dataclass(frozen=True)
class TrendParams:
    """The strategies' knobs (percentages in %)."""

    min_history: int = 6
    cooldown: int = 4
    take_profit_pct: float = 10.0
    reversal_margin_pct: float = 1.0
    reversal_confirm: int = 3
    stop_loss_pct: float = 10.0
    crash_step_pct: float = 2.0
    crash_gap_pct: float = 5.0
    panic_drop_pct: float = 3.0


class TrendStrategy:
    """Trend following with a cooldown that holds through a crash (see the module doc)."""

    name = "trend"

    def __init__(self, params: TrendParams | None = None) -> None:
        self.params = params or TrendParams()
        self.seen = 0
        self.last_buy_cycle: int | None = None
        self.reversal_cycles = 0
        self._previous: float | None = None

    def crashing(self, ind: Indicators, previous: float | None) -> bool:
        """Whether the market is crashing: fast fall since the last price, or far under ``sma_long``."""
        p = self.params
        fell = previous is not None and (ind.price / previous - 1.0) * 100.0 <= -p.crash_step_pct
        return fell or ind.price < ind.sma_long * (1.0 - p.crash_gap_pct / 100.0)

    def decide(self, ind: Indicators, portfolio: Portfolio, cycle: int) -> list[Signal]:
        """The signals for one cycle's indicators, given the pools as they are."""
        p = self.params
        self.seen += 1
        crashing = self.crashing(ind, self._previous)
        self._previous = ind.price
        below = ind.sma_short < ind.sma_long * (1.0 - p.reversal_margin_pct / 100.0)
        if below and not crashing and ind.change_pct < 0.0:
            self.reversal_cycles += 1
        else:
            self.reversal_cycles = 0
        signals = self.sells(ind, portfolio, crashing)
        if self.should_buy(ind, portfolio, cycle, crashing):
            self.last_buy_cycle = cycle
            signals.append(Signal("buy", ind.price, "trend_up"))
        return signals

    def sells(self, ind: Indicators, portfolio: Portfolio, crashing: bool) -> list[Signal]:
        """Take-profit always; trend reversal and stop-loss only once the market is not crashing."""
        p = self.params
        signals = []
        for position in sorted(portfolio.pools.values(), key=lambda pos: pos.pool):
            gain = (ind.price / position.price - 1.0) * 100.0
            reason = None
            if gain >= p.take_profit_pct:
                reason = "take_profit"
            elif crashing:
                continue
            elif self.reversal_cycles >= p.reversal_confirm:
                reason = "trend_reversal"
            elif gain <= -p.stop_loss_pct and ind.sma_short < ind.sma_long and ind.change_pct < 0.0:
                reason = "stop_loss"
            if reason is not None:
                signals.append(Signal("sell", ind.price, reason, position.pool))
        return signals

    def should_buy(self, ind: Indicators, portfolio: Portfolio, cycle: int, crashing: bool) -> bool:
        """Uptrend, rising, past the cooldown, a pool free, not crashing."""
        p = self.params
        if self.seen < p.min_history or crashing or portfolio.free_pool() is None:
            return False
        if self.last_buy_cycle is not None and cycle - self.last_buy_cycle < p.cooldown:
            return False
        return ind.sma_short > ind.sma_long and ind.change_pct > 0.0


class PanicStrategy(TrendStrategy):
    """:class:`TrendStrategy`, but a drop of ``panic_drop_pct`` over the short window sells every pool."""

    name = "panic"

    def sells(self, ind: Indicators, portfolio: Portfolio, crashing: bool) -> list[Signal]:
        """Every open pool with reason ``panic`` on a sharp drop; else as trend does."""
        if ind.change_pct <= -self.params.panic_drop_pct:
            return [Signal("sell", ind.price, "panic", pool) for pool in sorted(portfolio.pools)]
        return super().sells(ind, portfolio, crashing)


STRATEGIES: Final[dict[str, type[TrendStrategy]]] = {"trend": TrendStrategy, "panic": PanicStrategy}


@dataclass(frozen=True)
class Trade:
    """One executed trade of a :func:`replay` (``pnl`` 0 for a buy)."""

    cycle: int
    kind: str
    pool: int
    price: float
    reason: str
    pnl: float = 0.0


@dataclass
class Replay:
    """What :func:`replay` did: the trades, the equity after each cycle, the portfolio at the end."""

    portfolio: Portfolio
    trades: list[Trade] = field(default_factory=list)
    equity: list[float] = field(default_factory=list)

    @property
    def final_equity(self) -> float:
        """Equity after the last cycle."""
        return self.portfolio.equity

    def count(self, kind: str) -> int:
        """How many ``buy`` or ``sell`` trades."""
        return sum(1 for trade in self.trades if trade.kind == kind)

    def sales_at_a_loss(self, cycles: Iterable[int]) -> list[Trade]:
        """The sales with ``pnl < 0`` in ``cycles``."""
        wanted = set(cycles)
        return [t for t in self.trades if t.kind == "sell" and t.pnl < 0 and t.cycle in wanted]


def replay(
    prices: Sequence[float],
    strategy: str = "trend",
    initial_capital: float = 10_000.0,
    pool_count: int = 5,
    params: TrendParams | None = None,
) -> Replay:
    """Run ``strategy`` over ``prices`` (cycle ``n`` sees ``prices[n-1]``), every signal executed at once."""
    window, brain = IndicatorWindow(), STRATEGIES[strategy](params)
    run = Replay(Portfolio(initial_capital, pool_count))
    book = run.portfolio
    for cycle, price in enumerate(prices, start=1):
        book.mark(price)
        for signal in brain.decide(window.update(price), book, cycle):
            if signal.kind == "buy":
                bought = book.buy(signal.price, cycle)
                if bought is not None:
                    run.trades.append(Trade(cycle, "buy", bought.pool, signal.price, signal.reason))
            elif signal.pool is not None:
                sold = book.sell(signal.pool, signal.price)
                if sold is not None:
                    run.trades.append(Trade(cycle, "sell", signal.pool, signal.price, signal.reason, sold.pnl))
        run.equity.append(book.equity)
    return run
