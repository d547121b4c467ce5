from __future__ import annotations

import random

import pytest

from obs_tests.demo.scoring import score, verdict
from obs_tests.demo.signal_routing import ACTIONS, AGENT_TYPES


def _random_signal(rng: random.Random) -> dict[str, object]:
    price = 10 ** rng.uniform(-6, 12)
    return {
        "instrument": rng.choice(["BTCUSD", "EURUSD", "AAPL", "X", "SOL-USD"]),
        "action": rng.choice(ACTIONS),
        "confidence": rng.choice([0.0, 1.0, rng.random()]),
        "price": price,
        "stop_loss": 10 ** rng.uniform(-6, 12),
        "take_profit": rng.choice([price, 10 ** rng.uniform(-6, 12)]),
    }


@pytest.mark.parametrize("agent_type", AGENT_TYPES)
def test_scoring_always_within_unit_interval(agent_type: str) -> None:
    rng = random.Random(agent_type)
    for _ in range(5000):
        value = score(agent_type, _random_signal(rng))
        assert 0.0 <= value <= 1.0


@pytest.mark.parametrize("agent_type", AGENT_TYPES)
def test_scoring_is_deterministic(agent_type: str) -> None:
    rng = random.Random(1)
    signals = [_random_signal(rng) for _ in range(200)]
    assert [score(agent_type, s) for s in signals] == [score(agent_type, s) for s in signals]


BASE = {
    "instrument": "BTCUSD",
    "action": "buy",
    "confidence": 0.8,
    "price": 100.0,
    "stop_loss": 95.0,
    "take_profit": 110.0,
}


def test_scoring_momentum_rewards_aligned_geometry() -> None:
    aligned = score("momentum", BASE)
    against = score("momentum", {**BASE, "action": "sell"})
    assert aligned > against
    assert score("momentum", {**BASE, "action": "sell", "stop_loss": 105.0, "take_profit": 90.0}) > against


def test_scoring_risk_prefers_tight_stops() -> None:
    assert score("risk", {**BASE, "stop_loss": 99.0}) > score("risk", {**BASE, "stop_loss": 95.0})
    assert score("risk", {**BASE, "stop_loss": 50.0}) == 0.0
    assert score("risk", {**BASE, "stop_loss": 100.0}) == 1.0


def test_scoring_sentiment_follows_confidence() -> None:
    assert score("sentiment", BASE) == pytest.approx(0.8)
    assert score("sentiment", {**BASE, "action": "hold"}) == pytest.approx(0.65)


def test_scoring_correlation_depends_only_on_instrument_and_action() -> None:
    assert score("correlation", BASE) == score("correlation", {**BASE, "price": 5.0, "confidence": 0.1})
    values = {score("correlation", {**BASE, "instrument": name}) for name in ("A", "B", "C", "D")}
    assert len(values) == 4


def test_scoring_verdict_threshold() -> None:
    assert verdict(0.5) == "approve"
    assert verdict(0.4999) == "reject"


def test_scoring_unknown_agent() -> None:
    with pytest.raises(KeyError):
        score("astrology", BASE)
