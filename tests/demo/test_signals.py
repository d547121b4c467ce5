from __future__ import annotations

import json
import random

import orjson
import pytest

from obs_tests.demo.signals import REASONS, correlation_id_from, parse_signal
from obs_tests.errors import SignalRejected

VALID = {
    "timestamp": "2026-11-22T10:00:00Z",
    "instrument": "BTCUSD",
    "action": "buy",
    "confidence": 0.8,
    "price": 100.0,
    "stop_loss": 95.0,
    "take_profit": 110.0,
}


def _with(**changes: object) -> bytes:
    doc = dict(VALID)
    for key, value in changes.items():
        if value is ...:
            doc.pop(key)
        else:
            doc[key] = value
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(orjson.dumps(VALID), id="minimal"),
        pytest.param(_with(timestamp=1763800000), id="epoch-int"),
        pytest.param(_with(timestamp=1763800000.5), id="epoch-float"),
        pytest.param(_with(timestamp="2026-11-22T10:00:00.123+01:00"), id="offset"),
        pytest.param(_with(instrument="EURUSD", action="sell"), id="fx-sell"),
        pytest.param(_with(instrument="AAPL", action="hold"), id="stock-hold"),
        pytest.param(_with(instrument="BINANCE:BTC/USDT.P"), id="exchange-prefixed"),
        pytest.param(_with(confidence=0), id="confidence-0"),
        pytest.param(_with(confidence=1), id="confidence-1"),
        pytest.param(_with(strategy="ema-cross", timeframe="15m"), id="optional-fields"),
        pytest.param(b"  " + orjson.dumps(VALID) + b"\n", id="whitespace"),
    ],
)
def test_signals_valid_bodies_accepted(body: bytes) -> None:
    assert parse_signal(body)["instrument"]


@pytest.mark.parametrize(
    ("body", "reason", "field"),
    [
        pytest.param(b"", "empty_body", "", id="empty"),
        pytest.param(b"  \n", "empty_body", "", id="blank"),
        pytest.param(b"{", "invalid_json", "", id="truncated"),
        pytest.param(b"[1, 2]", "invalid_json", "", id="array"),
        pytest.param(b'"buy"', "invalid_json", "", id="string"),
        pytest.param(b"null", "invalid_json", "", id="null"),
        pytest.param(b"\xff\xfe{}", "invalid_json", "", id="non-utf8"),
        pytest.param(b'{"price": NaN}', "invalid_json", "", id="nan"),
        pytest.param(b'{"price": Infinity}', "invalid_json", "", id="infinity"),
        pytest.param(b'{"price": 1e400}', "invalid_json", "", id="overflow-double"),
        pytest.param(b"{}", "missing_field", "timestamp", id="empty-object"),
        pytest.param(_with(price=...), "missing_field", "price", id="missing-price"),
        pytest.param(_with(action=..., stop_loss=...), "missing_field", "stop_loss", id="missing-two"),
        pytest.param(_with(foo=1), "unknown_field", "foo", id="unknown"),
        pytest.param(_with(Price=1), "unknown_field", "Price", id="wrong-case"),
        pytest.param(_with(confidence="0.5"), "wrong_type", "confidence", id="confidence-string"),
        pytest.param(_with(confidence=True), "wrong_type", "confidence", id="confidence-bool"),
        pytest.param(_with(price=None), "wrong_type", "price", id="price-null"),
        pytest.param(_with(price=[1]), "wrong_type", "price", id="price-list"),
        pytest.param(_with(instrument=42), "wrong_type", "instrument", id="instrument-number"),
        pytest.param(_with(timestamp=True), "wrong_type", "timestamp", id="timestamp-bool"),
        pytest.param(_with(timestamp={"$date": 1}), "wrong_type", "timestamp", id="timestamp-object"),
        pytest.param(_with(strategy=7), "wrong_type", "strategy", id="strategy-number"),
        pytest.param(_with(confidence=1.01), "out_of_range", "confidence", id="confidence-high"),
        pytest.param(_with(confidence=-0.01), "out_of_range", "confidence", id="confidence-low"),
        pytest.param(_with(price=0), "out_of_range", "price", id="price-zero"),
        pytest.param(_with(stop_loss=-5), "out_of_range", "stop_loss", id="stop-negative"),
        pytest.param(_with(take_profit=1e300), "out_of_range", "take_profit", id="take-profit-huge"),
        pytest.param(_with(price=10**30), "out_of_range", "price", id="price-huge-int"),
        pytest.param(_with(action="short"), "out_of_range", "action", id="action-enum"),
        pytest.param(_with(action="BUY"), "out_of_range", "action", id="action-case"),
        pytest.param(_with(instrument="btcusd"), "out_of_range", "instrument", id="instrument-lowercase"),
        pytest.param(_with(instrument=""), "out_of_range", "instrument", id="instrument-empty"),
        pytest.param(_with(instrument="A" * 33), "out_of_range", "instrument", id="instrument-long"),
        pytest.param(_with(timestamp="yesterday"), "out_of_range", "timestamp", id="timestamp-words"),
        pytest.param(_with(timestamp="2026-13-01T00:00:00Z"), "out_of_range", "timestamp", id="timestamp-month"),
        pytest.param(_with(timestamp=-1), "out_of_range", "timestamp", id="timestamp-negative"),
        pytest.param(_with(strategy="x" * 65), "out_of_range", "strategy", id="strategy-long"),
        pytest.param(_with(timeframe="x" * 17), "out_of_range", "timeframe", id="timeframe-long"),
    ],
)
def test_signals_bad_bodies_classified(body: bytes, reason: str, field: str) -> None:
    with pytest.raises(SignalRejected) as info:
        parse_signal(body)
    assert info.value.reason == reason
    assert info.value.reason in REASONS
    assert field in info.value.message


def test_signals_duplicate_keys_take_the_last() -> None:
    body = orjson.dumps(VALID)[:-1] + b', "action": "sell"}'
    assert parse_signal(body)["action"] == "sell"


def test_signals_random_garbage_never_escapes_classification() -> None:
    rng = random.Random(11)
    reasons: set[str] = set()
    for _ in range(2000):
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
        try:
            parse_signal(body)
        except SignalRejected as exc:
            reasons.add(exc.reason)
    assert reasons <= set(REASONS)
    assert "invalid_json" in reasons


def test_signals_random_field_values_never_escape_classification() -> None:
    rng = random.Random(5)
    reasons: set[str] = set()
    junk: list[object] = [None, True, -1, 0, 1e308, "", "x" * 100, [], {}, {"a": [1, {"b": None}]}, 10**20, -0.0]
    for _ in range(2000):
        doc: dict[str, object] = dict(VALID)
        for key in rng.sample(sorted(VALID), rng.randrange(1, 4)):
            doc[key] = rng.choice(junk)
        try:
            parse_signal(json.dumps(doc).encode())
        except SignalRejected as exc:
            reasons.add(exc.reason)
    assert reasons <= set(REASONS)
    assert {"wrong_type", "out_of_range"} <= reasons


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(b"abc-123", "abc-123", id="plain"),
        pytest.param(b"a.b:c_d-e", "a.b:c_d-e", id="punctuation"),
        pytest.param(b"x" * 128, "x" * 128, id="max-length"),
        pytest.param(b"x" * 129, None, id="too-long"),
        pytest.param(b"", None, id="empty"),
        pytest.param(b"has space", None, id="space"),
        pytest.param(b"caf\xc3\xa9", None, id="non-ascii"),
        pytest.param(b"a\nb", None, id="newline"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_signals_correlation_id_header(header: bytes | None, expected: str | None) -> None:
    assert correlation_id_from(header) == expected
