"""The dashboard's live stream: sequence-numbered messages in a bounded buffer, resumable.

Runs publish from their own threads (:meth:`Stream.publish` is thread-safe); WebSocket and SSE clients
read with :meth:`Stream.subscribe` on the server's event loop. Every message is checked against the
published schema ``obs_tests/schemas/stream.schema.json`` before it is buffered, and encoded once.

Resume: a client that saw messages up to ``seq`` N subscribes with ``since=N`` and receives every
message after N, in order. The buffer keeps the last ``size`` messages; when the ones a client needs
are gone (it was away too long, or reads slower than runs write) it receives one ``overflow`` message
naming the lost range, then the stream goes on from the oldest message still buffered.

Example::

    stream = Stream(size=10_000)
    stream.publish("log", {"level": "INFO", "message": "hello", "t": 0.0}, test_id="20261122-081618-a1b2c3")
    async for item in stream.subscribe(since=0):
        ...  # (seq, bytes of one JSON message), or None on a heartbeat
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import sys
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import fastjsonschema
import orjson
from jsonschema.exceptions import best_match

from obs_tests.config.validation import Validator, load_schema
from obs_tests.core.yamlfile import format_path

__all__ = ["DEFAULT_BUFFER", "MESSAGE_TYPES", "Stream", "StreamMessageInvalid", "validate_message"]

DEFAULT_BUFFER = 10_000
#: the most messages one :meth:`Stream.batches` item holds (an SSE chunk, a run of WebSocket frames)
BATCH = 256
MESSAGE_TYPES = ("hello", "overflow", "stack", "run", "status", "log", "event", "assertion")


class StreamMessageInvalid(ValueError):
    """A message does not match ``stream.schema.json`` (a bug in the publisher, never the client's fault)."""


_SCHEMA = load_schema("stream")
_VALIDATOR = Validator(_SCHEMA)
#: the schema compiled to Python: ~12 µs a message against jsonschema's ~160 (benchmarks/schema_validation.py).
#: A verbose run under load publishes 250 messages/s from its own thread, and that thread's time is GIL time
#: the server's event loop waits for; jsonschema only explains a message that failed.
_CHECK = fastjsonschema.compile(copy.deepcopy(_SCHEMA))


def validate_message(message: dict[str, Any]) -> None:
    """Check one message against ``stream.schema.json`` (raises :class:`StreamMessageInvalid`).

    The message names the field: ``log message: data.level: 'LOUD' is not one of ['INFO', …]``.
    """
    try:
        _CHECK(message)
    except fastjsonschema.JsonSchemaValueException as exc:
        error = best_match(_VALIDATOR.iter_errors(message))
        where, problem = (format_path(error.absolute_path), error.message) if error else (exc.name, exc.message)
        problem = problem if len(problem) <= 200 else problem[:199] + "…"
        raise StreamMessageInvalid(f"{message.get('type')} message: {where}: {problem}") from None


@dataclass(frozen=True)
class _Item:
    seq: int
    test_id: str | None
    raw: bytes


def _encode(message: dict[str, Any]) -> bytes:
    return orjson.dumps(message, default=str, option=orjson.OPT_NON_STR_KEYS)


class Stream:
    """A bounded, sequence-numbered, thread-safe message buffer with async subscribers."""

    def __init__(self, size: int = DEFAULT_BUFFER, *, heartbeat: float = 15.0) -> None:
        if size < 1:
            raise ValueError(f"stream buffer size {size}: must be at least 1")
        self.size = size
        self.heartbeat = heartbeat
        self._items: deque[_Item] = deque(maxlen=size)
        self._seq = 0
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        #: the waiters asleep on their event: a publish wakes those only, with one call per event loop
        #: (not one per subscriber per message: at 100 clients that was most of the server's work)
        self._asleep: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._closed = False
        #: messages replaced because they failed validation (a publisher bug; logged to stderr)
        self.invalid = 0

    @property
    def seq(self) -> int:
        """The sequence number of the newest message (0 before the first)."""
        return self._seq

    @property
    def oldest(self) -> int:
        """The sequence number of the oldest buffered message (0 when empty)."""
        with self._lock:
            return self._items[0].seq if self._items else 0

    def publish(self, kind: str, data: dict[str, Any], test_id: str | None = None) -> int:
        """Validate, number and buffer one message; wake every subscriber. Returns its ``seq``.

        A message that fails validation is replaced by an ERROR ``log`` (or dropped when it has no run)
        so the stream stays valid for every client; the failure goes to stderr.
        """
        message = self._checked(kind, data, test_id)
        with self._lock:
            if self._closed:
                return self._seq
            self._seq += 1
            message["seq"] = self._seq
            message["ts"] = time.time()
            item = _Item(self._seq, test_id, _encode(message))
            self._items.append(item)
            asleep, self._asleep = self._asleep, set()
        _wake(asleep)
        return item.seq

    def _checked(self, kind: str, data: dict[str, Any], test_id: str | None) -> dict[str, Any]:
        message: dict[str, Any] = {"seq": 0, "type": kind, "ts": 0.0, "test_id": test_id, "data": data}
        # what the client will see: JSON types only (tuples become lists, odd values strings)
        message = orjson.loads(_encode(message))
        try:
            validate_message(message)
        except StreamMessageInvalid as exc:
            self.invalid += 1
            print(f"obs-tests serve: stream message dropped: {exc}", file=sys.stderr)
            if test_id is None:
                raise
            message["type"] = "log"
            message["data"] = {"level": "ERROR", "message": f"(internal) stream message dropped: {exc}", "t": 0.0}
        return message

    def close(self) -> None:
        """End every subscription (server shutdown)."""
        with self._lock:
            self._closed = True
            waiters = set(self._waiters)
        _wake(waiters)

    def _control(self, kind: str, position: int, data: dict[str, Any]) -> tuple[int, bytes]:
        message = {"seq": position, "type": kind, "ts": time.time(), "test_id": None, "data": data}
        validate_message(message)
        return position, _encode(message)

    def _after(self, position: int) -> tuple[list[_Item], int]:
        """Buffered items after ``position`` and the first seq still buffered (under the lock); read from
        the newest end, so a client that is up to date costs nothing however full the buffer is."""
        with self._lock:
            if not self._items:
                return [], self._seq + 1
            oldest = self._items[0].seq
            count = min(self._seq - position, len(self._items))
            newest_first = list(itertools.islice(reversed(self._items), max(count, 0)))
            return newest_first[::-1], oldest

    def _sleep_unless_newer(self, entry: tuple[asyncio.AbstractEventLoop, asyncio.Event], position: int) -> bool:
        """Mark ``entry`` asleep unless a message after ``position`` came meanwhile; whether it sleeps."""
        with self._lock:
            if self._seq > position or self._closed:
                return False
            self._asleep.add(entry)
            return True

    async def subscribe(
        self, since: int | None = None, test_id: str | None = None
    ) -> AsyncGenerator[tuple[int, bytes] | None, None]:
        """``(seq, encoded message)`` after ``since`` (default: from now on), only ``test_id``'s (and
        server-wide ones) when given.

        Starts with a ``hello`` (the position), yields ``None`` every ``heartbeat`` seconds of silence
        (SSE keep-alive), and ends when the stream is closed. ``since`` beyond the newest message means
        "from now on".
        """
        async with contextlib.aclosing(self.batches(since, test_id)) as batches:
            async for batch in batches:
                if batch is None:
                    yield None
                    continue
                for item in batch:
                    yield item

    async def batches(
        self, since: int | None = None, test_id: str | None = None
    ) -> AsyncGenerator[list[tuple[int, bytes]] | None, None]:
        """What :meth:`subscribe` yields, as lists: every message waiting for the client at once (an SSE
        response writes them in one chunk), at most ``BATCH`` each; ``None`` on a heartbeat."""
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        entry = (loop, wake)
        with self._lock:
            self._waiters.add(entry)
            head = self._seq
            oldest = self._items[0].seq if self._items else 0
        position = head if since is None or since > head else since
        try:
            hello = {"head": head, "oldest": oldest, "buffer": self.size, "since": position, "test_id": test_id}
            yield [self._control("hello", position, hello)]
            while not self._closed:
                wake.clear()
                items, first = self._after(position)
                batch: list[tuple[int, bytes]] = []
                if position + 1 < first:
                    batch.append(self._overflow(position, first - 1))
                    position = first - 1
                for item in items:
                    position = item.seq
                    if test_id is None or item.test_id in (test_id, None):
                        batch.append((item.seq, item.raw))
                    if len(batch) >= BATCH:
                        yield batch
                        batch = []
                if batch:
                    yield batch
                if items or not self._sleep_unless_newer(entry, position):
                    continue
                try:
                    # not wait_for: Python 3.11's returns when the subscriber is cancelled (its client gone)
                    # as the wake-up comes — the cancellation swallowed, the subscription ran on
                    async with asyncio.timeout(self.heartbeat):
                        await wake.wait()
                except TimeoutError:
                    yield None
        finally:
            with self._lock:
                self._waiters.discard(entry)
                self._asleep.discard(entry)

    def _overflow(self, position: int, lost_to: int) -> tuple[int, bytes]:
        return self._control(
            "overflow",
            lost_to,
            {
                "missed_from": position + 1,
                "missed_to": lost_to,
                "missed": lost_to - position,
                "buffer": self.size,
                "message": f"messages {position + 1} to {lost_to} are no longer buffered (the server keeps "
                f"the last {self.size}); fetch /api/status/<test_id> for the current state",
            },
        )


def _wake(entries: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]) -> None:
    """Set every entry's event from any thread: one ``call_soon_threadsafe`` per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Event]] = {}
    for loop, event in entries:
        by_loop.setdefault(loop, []).append(event)
    for loop, events in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop is closed
            loop.call_soon_threadsafe(_set_all, events)


def _set_all(events: list[asyncio.Event]) -> None:
    for event in events:
        event.set()
