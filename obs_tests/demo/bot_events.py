"""The bot's events on the bus, pure: names and data fields, the envelope, its checksum, and how a
subscriber tells a lost, late or corrupted event.

An event is published on ``bot.events.<name>`` as JSON::

    {"event": "MarketPriceFetched", "run": "default", "seq": 7, "cycle": 7, "time": 1767225600.0,
     "data": {"pair": "BTC/USDT", "price": 50012.5, ...}, "checksum": "1c291ca3"}

``seq`` counts per event name per run from 1; ``checksum`` is the CRC-32 (8 hex digits) of
``orjson.dumps(data, OPT_SORT_KEYS)`` — the language's own function
(:func:`obs_tests.scenarios.events.checksum`, which the recorder checks with) — computed when the event is
made, before any event chaos, so a modified event no longer matches it::

    >>> event = make_event("BuyConditionMet", "r1", seq=1, cycle=12, data={"price": 100.0, "reason": "trend_up"})
    >>> verify(event), verify(event.with_data({**event.data, "price": 1.0}))
    (True, False)

A subscriber keeps one :class:`SeqTracker` per event name (in an :class:`Inbox`): a sequence number
skipped is *pending*, a pending one that arrives is *late* (a delayed event, not lost), and one still
pending ``grace_seconds`` later is *missing* (lost).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from obs_tests.scenarios.events import checksum, envelope

__all__ = [
    "EVENT_FIELDS",
    "EVENT_NAMES",
    "NUMERIC_FIELDS",
    "SUBJECT_PREFIX",
    "Event",
    "Inbox",
    "Receipt",
    "SeqTracker",
    "Sequencer",
    "checksum",
    "decode",
    "event_name",
    "make_event",
    "subject",
    "verify",
]

SUBJECT_PREFIX: Final = "bot.events."

EVENT_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "BotMonitoringCycleStarted": ("capital", "equity", "open_positions"),
    "MarketPriceFetched": ("pair", "price", "bid", "ask", "candle"),
    "MarketPriceFetchFailed": ("pair", "error", "consecutive_failures", "injected"),
    "IndicatorsCalculated": ("price", "sma_short", "sma_long", "change_pct", "drawdown_pct"),
    "BuyConditionMet": ("price", "reason"),
    "SellConditionMet": ("price", "reason", "pool"),
    "PositionPurchased": ("pool", "price", "size", "cost", "capital", "equity"),
    "PositionSold": ("pool", "price", "size", "proceeds", "pnl", "reason", "capital", "equity"),
}
"""Every event the bot publishes and the fields of its data, in the order of the cycle."""

EVENT_NAMES: Final = tuple(EVENT_FIELDS)

NUMERIC_FIELDS: Final = frozenset(
    {"capital", "equity", "open_positions", "price", "bid", "ask", "candle", "consecutive_failures"}
    | {"sma_short", "sma_long", "change_pct", "drawdown_pct", "pool", "size", "cost", "proceeds", "pnl"}
)
"""Fields holding a number (``modify_event`` may multiply these)."""


def subject(name: str) -> str:
    """The NATS subject of event ``name``."""
    return SUBJECT_PREFIX + name


def event_name(subject_: str) -> str:
    """The event name of a ``bot.events.<name>`` subject."""
    return subject_.removeprefix(SUBJECT_PREFIX)


@dataclass(frozen=True)
class Event:
    """One event's envelope."""

    name: str
    run: str
    seq: int
    cycle: int
    time: float
    data: dict[str, Any]
    checksum: str

    def to_json(self) -> dict[str, Any]:
        """The JSON form (``event`` is the name)."""
        return envelope(self)

    def encode(self) -> bytes:
        """The bytes published."""
        return orjson.dumps(self.to_json())

    def with_data(self, data: dict[str, Any]) -> Event:
        """The same envelope (checksum included) around other data."""
        return Event(self.name, self.run, self.seq, self.cycle, self.time, data, self.checksum)

    def stamped(self, at: float) -> Event:
        """The same event sent at ``at`` (the time says when it went on the bus)."""
        return Event(self.name, self.run, self.seq, self.cycle, at, self.data, self.checksum)


def make_event(name: str, run: str, *, seq: int, cycle: int, data: dict[str, Any], at: float | None = None) -> Event:
    """A new event with its checksum."""
    return Event(name, run, seq, cycle, time.time() if at is None else at, data, checksum(data))


def verify(event: Event) -> bool:
    """Whether the data still matches the checksum."""
    return checksum(event.data) == event.checksum


def decode(payload: bytes) -> Event:
    """The :class:`Event` of published bytes; ``ValueError`` naming what is wrong with them."""
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    try:
        name, run, seq, cycle = doc["event"], doc["run"], doc["seq"], doc["cycle"]
        at, data, crc = doc["time"], doc["data"], doc["checksum"]
    except KeyError as exc:
        raise ValueError(f"no {exc.args[0]!r} in the envelope") from None
    if not (isinstance(name, str) and isinstance(run, str) and isinstance(crc, str) and isinstance(data, dict)):
        raise ValueError("event, run and checksum must be strings, data an object")
    if not (_is_int(seq) and _is_int(cycle) and isinstance(at, int | float) and not isinstance(at, bool)):
        raise ValueError("seq and cycle must be integers, time a number")
    return Event(name, run, seq, cycle, float(at), data, crc)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Sequencer:
    """The publisher's ``seq`` per event name (from 1; :meth:`reset` for a new run)."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def next(self, name: str) -> int:
        """The next ``seq`` of ``name``."""
        seq = self._last.get(name, 0) + 1
        self._last[name] = seq
        return seq

    def reset(self) -> None:
        """Every name starts at 1 again."""
        self._last.clear()


_MAX_PENDING: Final = 10_000


@dataclass
class SeqTracker:
    """Gaps in the ``seq`` of one event name, as a subscriber sees them."""

    grace_seconds: float = 1.0
    expected: int = 1
    pending: dict[int, float] = field(default_factory=dict)
    overflow: int = 0

    def observe(self, seq: int, now: float) -> str:
        """``in_order``, ``gap`` (earlier ones now pending), ``late`` (a pending one) or ``duplicate``."""
        if seq == self.expected:
            self.expected += 1
            return "in_order"
        if seq > self.expected:
            skipped = seq - self.expected
            kept = min(skipped, max(0, _MAX_PENDING - len(self.pending)))
            for missing in range(self.expected, self.expected + kept):
                self.pending[missing] = now
            self.overflow += skipped - kept  # too many to remember: missing at the next expiry
            self.expected = seq + 1
            return "gap"
        if self.pending.pop(seq, None) is not None:
            return "late"
        return "duplicate"

    def expire(self, now: float) -> int:
        """How many pending numbers became missing (pending longer than the grace) — counted once."""
        gone = [seq for seq, since in self.pending.items() if now - since >= self.grace_seconds]
        for seq in gone:
            del self.pending[seq]
        overflow, self.overflow = self.overflow, 0
        return len(gone) + overflow


@dataclass(frozen=True)
class Receipt:
    """What a subscriber made of one message: the event (None when undecodable) and its verdict —
    ``ok``, ``late``, ``duplicate``, ``corrupt`` (checksum mismatch or undecodable: rejected) or
    ``other_run`` (ignored)."""

    name: str
    verdict: str
    event: Event | None = None
    error: str = ""

    @property
    def accepted(self) -> bool:
        """Whether the stage should act on it."""
        return self.verdict in ("ok", "late")


class Inbox:
    """The receiving side of one subscriber: the current run, a :class:`SeqTracker` per event name."""

    def __init__(self, run: str, grace_seconds: float = 1.0) -> None:
        self.run = run
        self.grace_seconds = grace_seconds
        self.trackers: dict[str, SeqTracker] = {}

    def reset(self, run: str, grace_seconds: float | None = None) -> None:
        """A new run: forget every sequence."""
        self.run = run
        if grace_seconds is not None:
            self.grace_seconds = grace_seconds
        self.trackers.clear()

    def _tracker(self, name: str) -> SeqTracker:
        tracker = self.trackers.get(name)
        if tracker is None:
            tracker = self.trackers[name] = SeqTracker(self.grace_seconds)
        return tracker

    def accept(self, subject_: str, payload: bytes, now: float) -> Receipt:
        """Judge one message published on ``subject_``."""
        name = event_name(subject_)
        try:
            event = decode(payload)
        except ValueError as exc:
            return Receipt(name, "corrupt", None, str(exc))
        if event.run != self.run:
            return Receipt(name, "other_run", event)
        order = self._tracker(name).observe(event.seq, now)
        if not verify(event) or event.name != name:
            return Receipt(name, "corrupt", event, "checksum mismatch" if event.name == name else "wrong subject")
        return Receipt(name, "duplicate" if order == "duplicate" else "late" if order == "late" else "ok", event)

    def expire(self, now: float) -> dict[str, int]:
        """Event name -> how many of its events became missing now (only names with some)."""
        missing = {name: tracker.expire(now) for name, tracker in self.trackers.items()}
        return {name: count for name, count in missing.items() if count}
