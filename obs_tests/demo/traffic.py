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

import http.client
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson

__all__ = [
    "ACTIONS",
    "INSTRUMENTS",
    "INVALID_KINDS",
    "SentSignals",
    "invalid_signal",
    "mixed_workload",
    "send_concurrently",
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
    statuses: Counter[int] = field(default_factory=Counter)
    correlation_ids: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Every request sent."""
        return self.accepted + self.invalid + self.errors


class _Connection:
    """One keep-alive HTTP/1.1 connection to the gateway (http.client: far cheaper per request than
    requests, so the client is not the bottleneck of a workload)."""

    def __init__(self, base_url: str, timeout: float) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request("POST", path, body=body, headers=headers)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # the server closed an idle keep-alive connection: reconnect once; nothing was processed
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def send_signals(gateway_url: str, bodies: Iterable[bytes], *, timeout: float = 10.0) -> SentSignals:
    """POST each body to the gateway's webhook, sequentially, on one keep-alive connection; tally the
    answers (each request carries a fresh ``X-Correlation-ID``)."""
    connection = _Connection(gateway_url, timeout)
    sent = SentSignals()
    try:
        for body in bodies:
            cid = uuid.uuid4().hex
            headers = {"Content-Type": "application/json", "X-Correlation-ID": cid}
            started = time.perf_counter()
            status, answer = connection.post(WEBHOOK_PATH, body, headers)
            sent.latencies.append(time.perf_counter() - started)
            sent.statuses[status] += 1
            if status == 200:
                sent.accepted += 1
                sent.correlation_ids.append(cid)
                payload: dict[str, Any] = orjson.loads(body)
                sent.by_action[str(payload["action"])] += 1
            elif status in (400, 413):
                sent.invalid += 1
                try:
                    sent.by_reason[str(orjson.loads(answer).get("reason", "?"))] += 1
                except (orjson.JSONDecodeError, AttributeError):
                    sent.by_reason["?"] += 1
            else:
                sent.errors += 1
    finally:
        connection.close()
    return sent


def mixed_workload(n_valid: int, n_invalid: int, *, seed: int = 1, prefix: str = "ACC") -> list[bytes]:
    """``n_valid`` valid signals (each with its own instrument ``<prefix><i>``) and ``n_invalid``
    malformed ones (cycling through every :data:`INVALID_KINDS`), shuffled with ``seed``."""
    rng = random.Random(seed)
    bodies = [valid_signal(rng, instrument=f"{prefix}{i:06d}") for i in range(n_valid)]
    kinds = list(INVALID_KINDS)
    bodies += [invalid_signal(rng, kinds[i % len(kinds)]) for i in range(n_invalid)]
    rng.shuffle(bodies)
    return bodies


def _merge(into: SentSignals, part: SentSignals) -> None:
    into.accepted += part.accepted
    into.invalid += part.invalid
    into.errors += part.errors
    into.by_action.update(part.by_action)
    into.by_reason.update(part.by_reason)
    into.statuses.update(part.statuses)
    into.correlation_ids += part.correlation_ids
    into.latencies += part.latencies


def send_concurrently(
    gateway_url: str, bodies: Sequence[bytes], *, workers: int = 8, timeout: float = 10.0
) -> SentSignals:
    """Send ``bodies`` from ``workers`` threads (one keep-alive connection each); tallies merged."""
    if workers <= 1 or len(bodies) < 2:
        return send_signals(gateway_url, bodies, timeout=timeout)
    chunks = [bodies[i::workers] for i in range(workers)]
    total = SentSignals()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for part in pool.map(lambda chunk: send_signals(gateway_url, chunk, timeout=timeout), chunks):
            _merge(total, part)
    return total
