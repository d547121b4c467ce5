"""A seeded, deterministic price generator playing market scenarios (pure; used by the exchange).

A price path is ``start · exp(envelope(t) + noise(t))``: the scenario's *envelope* is the shape (a
piecewise-linear curve in log space, ``t`` in seconds since the scenario started) and the *noise* is a
mean-reverting (Ornstein-Uhlenbeck) random walk, clamped to ``±noise_cap``, drawn from a RNG seeded
by ``(seed, pair)`` — the same seed always gives the same path::

    >>> market = MarketGenerator("flash_crash", seed=42, tick_seconds=0.25)
    >>> prices = [market.tick()["BTC-USD"] for _ in range(12)]   # 3 s
    >>> prices[-1] < 0.85 * DEFAULT_PRICES["BTC-USD"]
    True

Timelines are compressed (seconds, not days) so alerts can fire within a test. Pairs move together
(same envelope) with their own noise; SOL is noisier than ETH, ETH noisier than BTC. A scenario with
*jumps* (``irregular_candles``) adds gaps: sudden level shifts of several percent, up or down, drawn from
their own RNG seeded by ``(scenario, seed)`` and shared by every pair. ``volatility_multiplier`` scales the
noise and the jumps (the envelope stays as it is).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Final

__all__ = [
    "DEFAULT_PRICES",
    "PAIRS",
    "SCENARIOS",
    "MarketGenerator",
    "Scenario",
    "simulate",
]

PAIRS: Final = ("BTC-USD", "ETH-USD", "SOL-USD")
DEFAULT_PRICES: Final = {"BTC-USD": 65_000.0, "ETH-USD": 3_200.0, "SOL-USD": 150.0}
_PAIR_NOISE: Final = {"BTC-USD": 1.0, "ETH-USD": 1.2, "SOL-USD": 1.5}


@dataclass(frozen=True)
class Scenario:
    """A market scenario: envelope knots ``(seconds, price multiplier)``, a tail slope, and noise.

    Between knots the log price moves linearly; after the last knot it moves by ``tail_slope`` (log
    units per second). ``volatility`` is the noise per √second, ``reversion`` its pull back to the
    envelope (1/s), ``noise_cap`` its bound in log units (≈ fraction of the price). ``jump_rate`` is the
    expected number of gaps per second, ``jump_size`` their typical size (log units; each is drawn in
    ``[0.7, 1.5] * jump_size``), ``jump_cap`` the bound of their sum (a jump that would pass it goes the
    other way).
    """

    name: str
    knots: tuple[tuple[float, float], ...]
    tail_slope: float = 0.0
    volatility: float = 0.002
    reversion: float = 0.5
    noise_cap: float = 0.01
    waves: tuple[tuple[float, float], ...] = ()
    jump_rate: float = 0.0
    jump_size: float = 0.0
    jump_cap: float = 0.12

    def envelope(self, seconds: float) -> float:
        """The log price multiplier at ``seconds`` after the start (0.0 at the start)."""
        knots = self.knots
        value = math.log(knots[-1][1]) + self.tail_slope * (seconds - knots[-1][0])
        for (t0, m0), (t1, m1) in pairwise(knots):
            if seconds <= t1:
                fraction = (seconds - t0) / (t1 - t0) if t1 > t0 else 1.0
                value = math.log(m0) + fraction * (math.log(m1) - math.log(m0))
                break
        for amplitude, period in self.waves:
            value += amplitude * math.sin(2 * math.pi * seconds / period)
        return value


SCENARIOS: Final[dict[str, Scenario]] = {
    # Steady climb, +0.1 %/s (≈ +6 %/min), mild noise.
    "bull_run": Scenario("bull_run", ((0.0, 1.0),), tail_slope=0.001, volatility=0.003, noise_cap=0.02),
    # Falls 21 % over the first minute, then keeps sliding at -0.05 %/s.
    "bear_crash": Scenario(
        "bear_crash", ((0.0, 1.0), (60.0, 0.79)), tail_slope=-0.0005, volatility=0.004, noise_cap=0.02
    ),
    # Flat: noise only, within ±2 % of the start, so never more than ~4 % in any minute.
    "sideways": Scenario("sideways", ((0.0, 1.0),), volatility=0.002, reversion=0.5, noise_cap=0.02),
    # -28 % within 2 s, holds 2 s, recovers to -10 % by 34 s, then flat.
    "flash_crash": Scenario(
        "flash_crash",
        ((0.0, 1.0), (2.0, 0.72), (4.0, 0.72), (34.0, 0.90)),
        volatility=0.002,
        noise_cap=0.01,
    ),
    # Big swings: two sine waves (±3 % over 20 s, ±2 % over 7 s) plus heavy noise (±6 %).
    "volatile": Scenario(
        "volatile",
        ((0.0, 1.0),),
        volatility=0.01,
        reversion=0.3,
        noise_cap=0.06,
        waves=((0.03, 20.0), (0.02, 7.0)),
    ),
    # A long quiet base (±0.6 % noise) creeping up +1.5 % over 45 s, then a breakout to +10 % by 55 s
    # and a slow climb after.
    "accumulation": Scenario(
        "accumulation",
        ((0.0, 1.0), (45.0, 1.015), (55.0, 1.10)),
        tail_slope=0.0005,
        volatility=0.001,
        reversion=0.8,
        noise_cap=0.006,
    ),
    # A choppy flat top (a ±0.6 % 6 s wave plus ±1.5 % noise) sagging -1.5 % over 45 s, then a breakdown
    # to -10 % by 55 s and a slow slide after.
    "distribution": Scenario(
        "distribution",
        ((0.0, 1.0), (45.0, 0.985), (55.0, 0.90)),
        tail_slope=-0.0005,
        volatility=0.003,
        reversion=0.6,
        noise_cap=0.015,
        waves=((0.006, 6.0),),
    ),
    # Calm candles (±1 % noise) broken by gaps: about one jump every 8 s of 3-6 % up or down (their sum
    # kept within ±12 %), where each jump falls depends on the seed.
    "irregular_candles": Scenario(
        "irregular_candles",
        ((0.0, 1.0),),
        volatility=0.0015,
        reversion=0.5,
        noise_cap=0.01,
        jump_rate=0.125,
        jump_size=0.04,
        jump_cap=0.12,
    ),
    # +40 % over 20 s, holds 5 s, dumps to -30 % by 35 s, then flat.
    "pump_and_dump": Scenario(
        "pump_and_dump",
        ((0.0, 1.0), (20.0, 1.4), (25.0, 1.4), (35.0, 0.7)),
        volatility=0.003,
        noise_cap=0.015,
    ),
    # -30 % in 10 s, bounces to -20 % by 20 s, then slides to new lows (-40 %) by 50 s.
    "dead_cat_bounce": Scenario(
        "dead_cat_bounce",
        ((0.0, 1.0), (10.0, 0.7), (20.0, 0.8), (50.0, 0.6)),
        volatility=0.003,
        noise_cap=0.015,
    ),
}


class MarketGenerator:
    """Plays one scenario from given start prices, one tick at a time.

    ``tick()`` advances the clock by ``tick_seconds`` and returns every pair's price. The path depends
    only on (scenario, seed, start prices, tick_seconds, volatility_multiplier).
    """

    def __init__(
        self,
        scenario: str,
        seed: int = 0,
        start_prices: Mapping[str, float] | None = None,
        tick_seconds: float = 0.25,
        pairs: Sequence[str] = PAIRS,
        volatility_multiplier: float = 1.0,
    ) -> None:
        if scenario not in SCENARIOS:
            raise KeyError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
        if tick_seconds <= 0:
            raise ValueError("tick_seconds must be positive")
        if not 0 <= volatility_multiplier < math.inf:
            raise ValueError("volatility_multiplier must be a finite number >= 0")
        self.scenario = SCENARIOS[scenario]
        self.seed = seed
        self.tick_seconds = tick_seconds
        self.pairs = tuple(pairs)
        starts = start_prices or DEFAULT_PRICES
        self.start_prices = {pair: float(starts.get(pair, DEFAULT_PRICES.get(pair, 100.0))) for pair in self.pairs}
        self._rngs = {pair: random.Random(f"{scenario}:{seed}:{pair}") for pair in self.pairs}
        self._noise = dict.fromkeys(self.pairs, 0.0)
        self.volatility_multiplier = volatility_multiplier
        self._jump_rng = random.Random(f"{scenario}:{seed}:jumps")
        self._jump = 0.0
        self.ticks = 0
        self.prices = dict(self.start_prices)

    @property
    def elapsed(self) -> float:
        """Seconds of scenario time played so far."""
        return self.ticks * self.tick_seconds

    def tick(self) -> dict[str, float]:
        """Advance one tick; the new price of every pair."""
        self.ticks += 1
        dt = self.tick_seconds
        scenario = self.scenario
        multiplier = self.volatility_multiplier
        if scenario.jump_rate > 0.0:
            self._draw_jump(dt)
        envelope = scenario.envelope(self.elapsed) + self._jump
        cap = scenario.noise_cap * multiplier
        volatility = scenario.volatility * multiplier
        for pair in self.pairs:
            scale = _PAIR_NOISE.get(pair, 1.0)
            noise = self._noise[pair]
            noise += -scenario.reversion * noise * dt
            noise += volatility * scale * math.sqrt(dt) * self._rngs[pair].gauss(0.0, 1.0)
            noise = min(cap, max(-cap, noise))
            self._noise[pair] = noise
            self.prices[pair] = self.start_prices[pair] * math.exp(envelope + noise)
        return dict(self.prices)

    def _draw_jump(self, dt: float) -> None:
        """Maybe one gap this tick (probability ``jump_rate * dt``), kept within ``±jump_cap``."""
        scenario, rng = self.scenario, self._jump_rng
        if rng.random() >= scenario.jump_rate * dt:
            return
        size = scenario.jump_size * self.volatility_multiplier * rng.uniform(0.7, 1.5)
        step = size if rng.random() < 0.5 else -size
        if abs(self._jump + step) > scenario.jump_cap * max(self.volatility_multiplier, 1e-9):
            step = -step
        self._jump += step


def simulate(
    scenario: str,
    seed: int = 0,
    seconds: float = 60.0,
    tick_seconds: float = 0.25,
    start_prices: Mapping[str, float] | None = None,
) -> list[tuple[float, dict[str, float]]]:
    """``(elapsed_seconds, prices)`` for every tick of ``seconds`` of ``scenario`` (for tests and docs)."""
    market = MarketGenerator(scenario, seed, start_prices, tick_seconds)
    steps = round(seconds / tick_seconds)
    path = []
    for _ in range(steps):
        prices = market.tick()
        path.append((market.elapsed, prices))
    return path
