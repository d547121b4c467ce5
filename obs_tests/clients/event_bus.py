"""A NATS connection for the validator: subscribe to a system's events and publish recorded ones.

The connection lives in a thread of its own with its own asyncio loop, so the synchronous runner can use
it: ``subscribe`` hands every message (body, subject) to a callback on that thread, ``publish`` sends and
flushes. Closing stops the loop and the thread on every path (a context manager).

Example::

    with EventBus("nats://127.0.0.1:4222") as bus:
        bus.subscribe("bot.events.>", lambda body, subject: log.add_raw(body))
        bus.publish("bot.events.Replayed", b"{}")
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit

import nats
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from obs_tests.errors import ApiError

__all__ = ["EventBus"]

_T = TypeVar("_T")
Handler = Callable[[bytes, str], object]


class EventBus:
    """One NATS connection on a background thread (see the module docstring)."""

    def __init__(self, url: str, *, timeout: float = 10.0, name: str = "obs-tests") -> None:
        self.url = url
        self.timeout = timeout
        self._name = name
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="event-bus", daemon=True)
        self._client: Client | None = None
        self._thread.start()
        try:
            self._client = self._call(self._connect())
        except BaseException:
            self._stop_loop()
            raise

    async def _connect(self) -> Client:
        """Reach the server once (a refused or silent port fails at once), then connect with reconnects
        (the subscription survives a NATS restart during a run)."""
        parts = urlsplit(self.url)
        try:
            async with asyncio.timeout(self.timeout):  # not wait_for: Python 3.11's can swallow a cancellation
                _reader, writer = await asyncio.open_connection(parts.hostname or "127.0.0.1", parts.port or 4222)
            writer.close()
            return await nats.connect(
                self.url,
                name=self._name,
                connect_timeout=round(self.timeout),
                max_reconnect_attempts=-1,
                allow_reconnect=True,
            )
        except (OSError, nats.errors.Error, TimeoutError) as exc:
            raise ApiError(f"NATS at {self.url}: cannot connect ({type(exc).__name__}: {exc})") from None

    def _call(self, coro: Coroutine[Any, Any, _T]) -> _T:
        future: Future[_T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(self.timeout + 5)
        except TimeoutError:
            future.cancel()
            raise ApiError(f"NATS at {self.url}: no answer within {self.timeout:g}s") from None

    @property
    def client(self) -> Client:
        """The connected client (on the bus' own loop)."""
        if self._client is None:
            raise ApiError(f"NATS at {self.url}: not connected")
        return self._client

    def subscribe(self, subject: str, handler: Handler) -> None:
        """Call ``handler(body, subject)`` for every message on ``subject`` (wildcards allowed); returns
        once NATS has the subscription, so nothing published afterwards is missed."""

        async def on_message(msg: Msg) -> None:
            handler(msg.data, msg.subject)

        async def go() -> None:
            await self.client.subscribe(subject, cb=on_message)
            await self.client.flush(timeout=max(1, round(self.timeout)))

        self._call(go())

    def publish(self, subject: str, body: bytes) -> None:
        """Publish ``body`` on ``subject`` and flush."""

        async def go() -> None:
            await self.client.publish(subject, body)
            await self.client.flush(timeout=max(1, round(self.timeout)))

        self._call(go())

    def publish_many(self, messages: list[tuple[str, bytes]]) -> None:
        """Publish several messages, then flush once."""

        async def go() -> None:
            for subject, body in messages:
                await self.client.publish(subject, body)
            await self.client.flush(timeout=max(1, round(self.timeout)))

        self._call(go())

    def close(self) -> None:
        """Drain the connection and stop the thread (idempotent)."""
        client, self._client = self._client, None
        if client is not None and self._loop.is_running():
            with contextlib.suppress(ApiError, nats.errors.Error, OSError):
                self._call(client.drain())
        self._stop_loop()

    def _stop_loop(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._loop.is_running() and not self._loop.is_closed():
            self._loop.close()

    def __enter__(self) -> EventBus:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
