"""How each agent scores a signal: deterministic, plausible, always within [0, 1].

- **momentum** rewards a trade whose geometry points the way of the action (buy: stop < price < target;
  sell: target < price < stop): ``0.5·confidence + 0.5·reward/(reward+risk)``; a trade against its own
  geometry gets ``0.25·confidence``.
- **risk** prefers tight stops: ``1 - min(|price - stop| / price / 10 %, 1)``, so a stop 10 % away or
  more scores 0 and a stop at the price scores 1.
- **sentiment** follows the signal's confidence; a hold is pulled halfway towards 0.5.
- **correlation** is a stable hash of the instrument (and action) mapped to [0, 1]: the same
  instrument always correlates the same way.

An agent approves when its score is at least 0.5::

    >>> score("sentiment", {"action": "buy", "confidence": 0.8, "price": 1, "stop_loss": 1, "take_profit": 1})
    0.8
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = ["APPROVE_THRESHOLD", "score", "verdict"]

APPROVE_THRESHOLD: Final = 0.5


def _clamp(value: float) -> float:
    if math.isnan(value):
        return 0.0
    return min(1.0, max(0.0, value))


def _momentum(signal: Mapping[str, Any]) -> float:
    price = float(signal["price"])
    stop = float(signal["stop_loss"])
    target = float(signal["take_profit"])
    confidence = float(signal["confidence"])
    reward = abs(target - price)
    risk = abs(price - stop)
    ratio = reward / (reward + risk) if reward + risk > 0 else 0.5
    action = signal["action"]
    aligned = (action == "buy" and stop < price < target) or (action == "sell" and target < price < stop)
    return 0.5 * confidence + 0.5 * ratio if aligned else 0.25 * confidence


def _risk(signal: Mapping[str, Any]) -> float:
    price = float(signal["price"])
    distance = abs(price - float(signal["stop_loss"])) / price if price > 0 else 1.0
    return 1.0 - min(distance / 0.10, 1.0)


def _sentiment(signal: Mapping[str, Any]) -> float:
    confidence = float(signal["confidence"])
    return 0.5 + (confidence - 0.5) / 2 if signal["action"] == "hold" else confidence


def _correlation(signal: Mapping[str, Any]) -> float:
    key = f"{signal['instrument']}|{signal['action']}".encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") / float(2**64)


_SCORERS: Final[dict[str, Callable[[Mapping[str, Any]], float]]] = {
    "momentum": _momentum,
    "risk": _risk,
    "sentiment": _sentiment,
    "correlation": _correlation,
}


def score(agent_type: str, signal: Mapping[str, Any]) -> float:
    """The score of ``signal`` for ``agent_type``, in [0, 1] (``KeyError`` for an unknown type)."""
    return _clamp(_SCORERS[agent_type](signal))


def verdict(value: float) -> str:
    """``approve`` at or above :data:`APPROVE_THRESHOLD`, else ``reject``."""
    return "approve" if value >= APPROVE_THRESHOLD else "reject"
