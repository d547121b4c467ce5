"""Trading-signal payloads and a small in-process traffic generator for the mock gateway.

The payload factories are shared by the warm-up, the accounting checks and the Locust users, so
"what a valid signal looks like" is defined once.

Example::

    rng = random.Random(7)
    body = valid_signal(rng, action="buy")
    sent = send_signals("http://127.0.0.1:8000", [body, invalid_signal(rng, "missing_field")])
    sent.accepted, sent.invalid
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import requests

__all__ = [
    "ACTIONS",
    "INSTRUMENTS",
    "INVALID_KINDS",
    "SentSignals",
    "invalid_signal",
    "send_signals",
    "valid_signal",
]

WEBHOOK_PATH = "/webhook/tradingview"
ACTIONS = ("buy", "sell", "hold")
INSTRUMENTS = ("BTCUSD", "ETHUSD", "SOLUSD", "EURUSD", "GBPJPY", "AAPL", "MSFT", "NVDA", "XAUUSD", "SPX500")

#: kind of malformed payload -> the gateway's ``gateway_validation_errors_total{reason}``
INVALID_KINDS: dict[str, str] = {
    "empty": "empty_body",
    "not_json": "invalid_json",
    "not_object": "invalid_json",
    "missing_field": "missing_field",
    "unknown_field": "unknown_field",
    "null_field": "wrong_type",
    "wrong_type": "wrong_type",
    "out_of_range": "out_of_range",
    "bad_action": "out_of_range",
}


def valid_signal(rng: random.Random, *, action: str | None = None, instrument: str | None = None) -> bytes:
    """A schema-valid TradingView-style signal as JSON bytes."""
    act = action or rng.choice(ACTIONS)
    price = round(rng.uniform(1.0, 60000.0), 2)
    up = act != "sell"
    body = {
        "timestamp": datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "instrument": instrument or rng.choice(INSTRUMENTS),
        "action": act,
        "confidence": round(rng.random(), 4),
        "price": price,
        "stop_loss": round(price * (0.97 if up else 1.03), 2),
        "take_profit": round(price * (1.05 if up else 0.95), 2),
        "strategy": rng.choice(("ema_cross", "breakout", "mean_revert")),
        "timeframe": rng.choice(("1m", "5m", "1h", "4h")),
    }
    return orjson.dumps(body)


def invalid_signal(rng: random.Random, kind: str) -> bytes:
    """A malformed payload of ``kind`` (a key of :data:`INVALID_KINDS`)."""
    base = orjson.loads(valid_signal(rng))
    if kind == "empty":
        return b""
    if kind == "not_json":
        return b"{not json"
    if kind == "not_object":
        return b"[1, 2, 3]"
    if kind == "missing_field":
        base.pop(rng.choice(("instrument", "action", "price", "confidence")))
    elif kind == "unknown_field":
        base["leverage"] = 100
    elif kind == "null_field":
        base["price"] = None
    elif kind == "wrong_type":
        base["confidence"] = "very"
    elif kind == "out_of_range":
        base["confidence"] = 1.5
    elif kind == "bad_action":
        base["action"] = "yolo"
    else:
        raise ValueError(f"unknown invalid kind {kind!r}; known: {', '.join(INVALID_KINDS)}")
    return orjson.dumps(base)


@dataclass
class SentSignals:
    """What a traffic run sent and what the gateway answered."""

    accepted: int = 0
    invalid: int = 0
    errors: int = 0
    by_action: Counter[str] = field(default_factory=Counter)
    by_reason: Counter[str] = field(default_factory=Counter)
    correlation_ids: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Every request sent."""
        return self.accepted + self.invalid + self.errors


def send_signals(
    gateway_url: str,
    bodies: Iterable[bytes],
    *,
    timeout: float = 10.0,
    session: requests.Session | None = None,
) -> SentSignals:
    """POST each body to the gateway's webhook, sequentially; tally the answers."""
    own = session is None
    http = session or requests.Session()
    sent = SentSignals()
    try:
        for body in bodies:
            cid = uuid.uuid4().hex
            started = time.perf_counter()
            resp = http.post(
                f"{gateway_url}{WEBHOOK_PATH}",
                data=body,
                headers={"Content-Type": "application/json", "X-Correlation-ID": cid},
                timeout=timeout,
            )
            sent.latencies.append(time.perf_counter() - started)
            if resp.status_code == 200:
                sent.accepted += 1
                sent.correlation_ids.append(cid)
                payload: dict[str, Any] = orjson.loads(body)
                sent.by_action[str(payload["action"])] += 1
            elif resp.status_code == 400:
                sent.invalid += 1
                try:
                    sent.by_reason[str(resp.json().get("reason", "?"))] += 1
                except ValueError:
                    sent.by_reason["?"] += 1
            else:
                sent.errors += 1
    finally:
        if own:
            http.close()
    return sent
