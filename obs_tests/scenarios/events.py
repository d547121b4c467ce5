"""The events of a trading bot on the bus, as a scenario records them, and what a run's events say.

An event is a JSON message on the bus (NATS subject ``bot.events.<Name>``)::

    {"event": "PositionPurchased", "run": "r1", "seq": 3, "cycle": 21, "time": 1764758400.1,
     "data": {"pool": 2, "price": 50120.0, "size": 0.0399, "cost": 2000.0, "capital": 6000.0, ...},
     "checksum": "8c5e1f2a"}

``seq`` counts per event name per run from 1 (a gap is a lost event), ``checksum`` is the CRC-32 of the
data as published (a mismatch is a corrupted event). :class:`EventLog` holds a run's events in arrival
order, thread-safe, and answers what the assertions and the result need: cycles seen, counts by name,
the final capital, the positions taken, the prices fetched, lost and corrupted events. A live run and a
replay of its recording fill the same log, so every assertion judges both the same way.

Example::

    log = EventLog(run="r1")
    log.add_raw(b'{"event": "BotMonitoringCycleStarted", "run": "r1", "seq": 1, "cycle": 1, ...}')
    log.cycles(), log.count("PositionPurchased"), log.final_capital()
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

__all__ = [
    "EVENT_NAMES",
    "EVENT_SUBJECT_PREFIX",
    "BotWorld",
    "EventLog",
    "RecordedEvent",
    "checksum",
    "envelope",
    "exchange_summary",
]

#: the subject prefix of the bot's events (``bot.events.PositionPurchased``)
EVENT_SUBJECT_PREFIX = "bot.events"
#: every event the language knows, in the order of one monitoring cycle
EVENT_NAMES = (
    "BotMonitoringCycleStarted",
    "MarketPriceFetched",
    "MarketPriceFetchFailed",
    "IndicatorsCalculated",
    "BuyConditionMet",
    "SellConditionMet",
    "PositionPurchased",
    "PositionSold",
)
CYCLE_EVENT = "BotMonitoringCycleStarted"
#: the events that end a cycle's price fetch (the bot publishes one of them before its next cycle starts)
FETCH_OUTCOMES = frozenset({"MarketPriceFetched", "MarketPriceFetchFailed"})


def checksum(data: Mapping[str, Any]) -> str:
    """The CRC-32 (8 hex digits) of ``data`` serialised with sorted keys — what the publisher computes."""
    return f"{zlib.crc32(orjson.dumps(dict(data), option=orjson.OPT_SORT_KEYS)) & 0xFFFFFFFF:08x}"


class _Envelope(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def run(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def cycle(self) -> int: ...
    @property
    def time(self) -> float: ...
    @property
    def data(self) -> Mapping[str, Any]: ...
    @property
    def checksum(self) -> str: ...


def envelope(event: _Envelope) -> dict[str, Any]:
    """An event's message body (``event`` is the name): what the bot publishes and a recording keeps."""
    return {
        "event": event.name,
        "run": event.run,
        "seq": event.seq,
        "cycle": event.cycle,
        "time": event.time,
        "data": dict(event.data),
        "checksum": event.checksum,
    }


@dataclass(frozen=True)
class RecordedEvent:
    """One event as received: its envelope, its data, and when it arrived (unix seconds)."""

    name: str
    run: str
    seq: int
    cycle: int
    time: float
    data: Mapping[str, Any]
    checksum: str
    received_at: float

    @property
    def intact(self) -> bool:
        """Whether the data still matches the checksum it was published with."""
        return checksum(self.data) == self.checksum

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], received_at: float | None = None) -> RecordedEvent:
        """From the message body (or a recording's entry); :class:`ValueError` when it is not an event."""
        try:
            data = doc.get("data") or {}
            if not isinstance(data, Mapping):
                raise TypeError("data is not a mapping")
            return cls(
                name=str(doc["event"]),
                run=str(doc.get("run", "")),
                seq=int(doc.get("seq", 0)),
                cycle=int(doc.get("cycle", 0)),
                time=float(doc.get("time", 0.0)),
                data=dict(data),
                checksum=str(doc.get("checksum", "")),
                received_at=float(received_at if received_at is not None else doc.get("received_at", time.time())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not an event ({exc}): {str(dict(doc))[:120]}") from None

    def to_json(self) -> dict[str, Any]:
        """The recording's form (the message body plus ``received_at``)."""
        return {**envelope(self), "received_at": self.received_at}


@dataclass
class EventLog:
    """The events of one run (``run``: only events of that run id are kept; ``""`` keeps all)."""

    run: str = ""
    _events: list[RecordedEvent] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    rejected: int = 0
    #: the highest cycle of any event, and of a fetch outcome (kept as events arrive: a wait on cycles
    #: polls them, and scanning a long run's events at every poll was most of a busy server's work)
    _top_cycle: int = 0
    _top_fetched: int = 0

    def add(self, event: RecordedEvent) -> bool:
        """Keep ``event`` when it belongs to the run; True when kept."""
        if self.run and event.run != self.run:
            return False
        with self._changed:
            self._events.append(event)
            self._top_cycle = max(self._top_cycle, event.cycle)
            if event.name in FETCH_OUTCOMES:
                self._top_fetched = max(self._top_fetched, event.cycle)
            self._changed.notify_all()
        return True

    def add_raw(self, body: bytes, received_at: float | None = None) -> RecordedEvent | None:
        """Keep a message body when it is an event of the run; the event kept, or None (unreadable bodies are
        counted, not kept)."""
        try:
            doc = orjson.loads(body)
            if not isinstance(doc, dict):
                raise ValueError("not a JSON object")
            event = RecordedEvent.from_json(doc, received_at if received_at is not None else time.time())
        except (orjson.JSONDecodeError, ValueError):
            self.rejected += 1
            return None
        return event if self.add(event) else None

    def wait(self, timeout: float) -> None:
        """Block until an event arrives or ``timeout`` passes."""
        with self._changed:
            self._changed.wait(timeout)

    @property
    def events(self) -> list[RecordedEvent]:
        """A snapshot of the events, in arrival order."""
        with self._changed:
            return list(self._events)

    def __len__(self) -> int:
        with self._changed:
            return len(self._events)

    def __iter__(self) -> Iterator[RecordedEvent]:
        return iter(self.events)

    def named(self, name: str) -> list[RecordedEvent]:
        """The events called ``name``."""
        return [e for e in self.events if e.name == name]

    def count(self, name: str) -> int:
        """How many ``name`` events arrived."""
        return len(self.named(name))

    def counts(self) -> dict[str, int]:
        """Events by name (every known name, 0 when none arrived, then any other name seen)."""
        result = dict.fromkeys(EVENT_NAMES, 0)
        for event in self.events:
            result[event.name] = result.get(event.name, 0) + 1
        return result

    def cycles(self) -> int:
        """The highest cycle any event belongs to (cycles whose start event was lost still count)."""
        with self._changed:
            return self._top_cycle

    def completed_cycles(self) -> int:
        """The highest cycle known to be over: its price fetch's outcome arrived, or a later cycle began (the
        bot starts a cycle once the previous one's fetch is done; a lost outcome event does not hold it)."""
        with self._changed:
            return max(self._top_fetched, self._top_cycle - 1)

    def final_capital(self) -> float | None:
        """The bot's equity (cash + open positions at the last price) in its latest event that carries it."""
        for event in reversed(self.events):
            value = event.data.get("equity")
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
        return None

    def initial_capital(self) -> float | None:
        """The equity in the run's first event that carries it."""
        for event in self.events:
            value = event.data.get("equity")
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
        return None

    def positions_opened(self) -> int:
        """Positions the bot took (``PositionPurchased`` events)."""
        return self.count("PositionPurchased")

    def prices(self) -> list[float]:
        """The prices of ``MarketPriceFetched`` events, in arrival order."""
        values = (e.data.get("price") for e in self.named("MarketPriceFetched") if e.intact)
        return [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]

    def corrupted(self) -> list[RecordedEvent]:
        """Events whose data no longer matches their checksum."""
        return [e for e in self.events if not e.intact]

    def missing(self) -> dict[str, int]:
        """Events lost on the way, by name: gaps in each name's ``seq`` up to the highest seen."""
        seqs: dict[str, set[int]] = {}
        for event in self.events:
            seqs.setdefault(event.name, set()).add(event.seq)
        return {name: max(seen) - len(seen) for name, seen in seqs.items() if seen and max(seen) > len(seen)}

    def summary(self) -> dict[str, Any]:
        """What the result's ``events`` block says."""
        return {
            "total": len(self),
            "by_name": {k: v for k, v in self.counts().items() if v},
            "cycles": self.cycles(),
            "missing": self.missing(),
            "corrupted": len(self.corrupted()),
        }


def exchange_summary(prices: Sequence[float]) -> dict[str, float | None]:
    """The result's ``exchange`` block from the prices the bot fetched: min, max, and the return from the
    first to the last price in percent (all None when no price was fetched)."""
    if not prices:
        return {"min_price": None, "max_price": None, "total_return_pct": None}
    first, last = prices[0], prices[-1]
    change = round((last - first) / first * 100.0, 4) if first else None
    return {"min_price": min(prices), "max_price": max(prices), "total_return_pct": change}


@dataclass(frozen=True)
class BotWorld:
    """What the steps of a trading-bot scenario see: the run's events, the seconds one bot cycle takes, and
    the time scale its durations (``wait_for_time``) are multiplied by."""

    events: EventLog
    cycle_seconds: float
    time_scale: float = 1.0
