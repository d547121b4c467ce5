"""The NATS side of a mock service: connect in the background, set up JetStream, publish with faults.

:class:`NatsLink` connects with retry (so every process of the stack can start in parallel), ensures
the streams the service uses exist, runs the service's own setup (consumers, subscriptions) after every
(re)connect, and reports ``ready`` only when all of that succeeded. :meth:`NatsLink.publish` applies the
publish faults (fail, silent drop, corrupt payload). :class:`PullWorker` fetches batches from a durable
pull consumer and hands them to the service, re-binding after NATS lost its state.

A JetStream publish is a core publish with a reply subject plus the stream's ack on that subject.
:meth:`NatsLink.publish` does exactly that on the gateway's hot path, leaner than the client's
``JetStreamContext.publish`` (one wildcard ack subscription per connection, a counter as the reply
token, one timer per publish instead of ``asyncio.wait_for``, the ack parsed with orjson).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any

import nats
import nats.errors
import nats.js.errors
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from obs_tests.demo.fault_modes import FaultState
from obs_tests.demo.logs import JsonLogger
from obs_tests.demo.signal_routing import ConsumerSpec, StreamSpec
from obs_tests.errors import PublishError

__all__ = [
    "NatsLink",
    "PullWorker",
    "SeenSequences",
    "ensure_consumer",
    "ensure_stream",
    "message_key",
]

_STREAM_NAME_IN_USE = 10058


def _expire(future: asyncio.Future[Msg]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


def _duplicate_from_ack(msg: Msg) -> bool:
    """Whether the JetStream ack ``msg`` reports a duplicate; :class:`PublishError` for an error reply."""
    data = msg.data
    if not data:  # a status reply, e.g. 503: no stream listens on the subject
        status = (msg.headers or {}).get("Status", "?")
        raise PublishError(f"no JetStream stream answered (status {status})")
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise PublishError(f"unreadable JetStream ack: {exc}") from None
    if not isinstance(doc, dict):
        raise PublishError(f"unreadable JetStream ack: {data[:80]!r}")
    error = doc.get("error")
    if error is not None:
        if isinstance(error, dict):
            raise PublishError(f"JetStream error {error.get('err_code')}: {error.get('description')}")
        raise PublishError(f"JetStream error: {error}")
    return bool(doc.get("duplicate"))


def _stream_config(spec: StreamSpec) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.MEMORY,
        discard=DiscardPolicy.OLD,
        max_age=spec.max_age_seconds,
        max_bytes=spec.max_bytes,
        duplicate_window=spec.duplicate_window_seconds,
    )


async def ensure_stream(js: JetStreamContext, spec: StreamSpec) -> None:
    """Create ``spec`` if missing; tolerate a concurrent creator (same config) and update a stale config."""
    config = _stream_config(spec)
    try:
        await js.add_stream(config)
    except nats.js.errors.BadRequestError as exc:
        if exc.err_code != _STREAM_NAME_IN_USE:
            raise
        await js.update_stream(config)


async def ensure_consumer(js: JetStreamContext, spec: ConsumerSpec) -> None:
    """Create (or keep) the durable pull consumer ``spec``: explicit acks, everything from the start."""
    config = ConsumerConfig(
        name=spec.durable,
        durable_name=spec.durable,
        filter_subject=spec.filter_subject,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=spec.ack_wait_seconds,
        max_ack_pending=spec.max_ack_pending,
    )
    await js.add_consumer(spec.stream, config=config)


MessageKey = tuple[int, object]
"""Identifies a stored message: (stream sequence, store timestamp). The timestamp tells a message of a
re-created stream (NATS restarted without its memory streams: sequences start at 1 again) from an old
one with the same sequence."""


def message_key(msg: Msg) -> MessageKey:
    """The :data:`MessageKey` of a JetStream message."""
    metadata = msg.metadata
    return (metadata.sequence.stream, metadata.timestamp)


class SeenSequences:
    """The last ``capacity`` messages processed (by :func:`message_key`): bounded-memory redelivery dedupe."""

    def __init__(self, capacity: int = 200_000) -> None:
        self._set: set[Hashable] = set()
        self._order: deque[Hashable] = deque()
        self._capacity = capacity

    def __contains__(self, key: object) -> bool:
        return key in self._set

    def __len__(self) -> int:
        return len(self._set)

    def add(self, key: Hashable) -> None:
        """Remember ``key``, forgetting the oldest beyond capacity."""
        if key in self._set:
            return
        self._set.add(key)
        self._order.append(key)
        if len(self._order) > self._capacity:
            self._set.discard(self._order.popleft())


SetupHook = Callable[[JetStreamContext], Awaitable[None]]


class NatsLink:
    """One NATS connection made in the background, with JetStream set up after every (re)connect."""

    def __init__(
        self,
        url: str,
        *,
        name: str,
        log: JsonLogger,
        faults: FaultState,
        streams: Sequence[StreamSpec] = (),
        setup: SetupHook | None = None,
    ) -> None:
        self.url = url
        self.name = name
        self.log = log
        self.faults = faults
        self.streams = tuple(streams)
        self._setup_hook = setup
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None
        self._ready = asyncio.Event()
        self._setup_task: asyncio.Task[None] | None = None
        self._closing = False
        self._ack_prefix: str | None = None
        self._acks: dict[str, asyncio.Future[Msg]] = {}
        self._next_ack = 0

    @property
    def connected(self) -> bool:
        """Whether the TCP connection to NATS is up."""
        return self.nc is not None and self.nc.is_connected

    @property
    def ready(self) -> bool:
        """Connected and JetStream (streams + the service's setup) done since the last reconnect."""
        return self._ready.is_set() and self.connected

    def state(self) -> str:
        """``ready`` | ``setting_up`` | ``disconnected``, for ``/healthz``."""
        if not self.connected:
            return "disconnected"
        return "ready" if self._ready.is_set() else "setting_up"

    async def wait_ready(self) -> None:
        """Block until :attr:`ready`; always gives the event loop a turn.

        The setup may still be marked done when the connection has just dropped (the client's
        disconnect callback, which clears it, is a task that has not run yet): returning at once then
        made callers spin without ever letting that callback — or the HTTP server — run.
        """
        while True:
            await self._ready.wait()
            if self.connected:
                return
            await asyncio.sleep(0.05)

    async def run(self) -> None:
        """Connect with retry, then set up; returns once the first setup has started."""
        attempt = 0
        while not self._closing:
            try:
                self.nc = await nats.connect(
                    self.url,
                    name=self.name,
                    connect_timeout=1,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.25,
                    ping_interval=5,
                    max_outstanding_pings=2,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                )
            except (TimeoutError, OSError, nats.errors.Error) as exc:
                if attempt % 20 == 0:
                    self.log.warning("NATS not reachable yet; retrying", url=self.url, error=repr(exc))
                attempt += 1
                await asyncio.sleep(0.25)
                continue
            self.js = self.nc.jetstream(timeout=2.0)
            self.log.info("connected to NATS", url=self.url)
            await self._open_ack_inbox(self.nc)
            self._start_setup()
            return

    async def _open_ack_inbox(self, nc: Client) -> None:
        """Subscribe once to ``<inbox>.*``: every JetStream ack of :meth:`publish` arrives there.

        The client re-subscribes it after a reconnect. Acks for publishes that gave up are dropped.
        """
        prefix = f"{nc.new_inbox()}."
        try:
            await nc.subscribe(f"{prefix}*", cb=self._on_ack)
        except (nats.errors.Error, OSError) as exc:  # publish re-tries the subscription later
            self.log.warning("could not subscribe to the JetStream ack inbox", error=repr(exc))
            return
        self._ack_prefix = prefix

    async def _on_ack(self, msg: Msg) -> None:
        prefix = self._ack_prefix
        future = self._acks.get(msg.subject[len(prefix) :]) if prefix is not None else None
        if future is not None and not future.done():
            future.set_result(msg)

    def _start_setup(self) -> None:
        self._ready.clear()
        if self._setup_task is not None and not self._setup_task.done():
            self._setup_task.cancel()
        self._setup_task = asyncio.get_running_loop().create_task(self._setup(), name="nats-setup")

    def resetup(self) -> None:
        """Run the setup again (a consumer vanished, e.g. NATS restarted without its memory streams)."""
        if self._setup_task is None or self._setup_task.done():
            self._start_setup()

    async def _setup(self) -> None:
        attempt = 0
        while not self._closing:
            js = self.js
            if js is None or not self.connected:
                await asyncio.sleep(0.1)
                continue
            try:
                for spec in self.streams:
                    await ensure_stream(js, spec)
                if self._setup_hook is not None:
                    await self._setup_hook(js)
            except (TimeoutError, nats.errors.Error, OSError) as exc:
                if attempt % 20 == 0:
                    self.log.warning("JetStream setup failed; retrying", error=repr(exc))
                attempt += 1
                await asyncio.sleep(0.25)
                continue
            if self.nc is None or not self.nc.is_connected:  # dropped meanwhile: set up again once back
                continue
            self._ready.set()
            self.log.info("JetStream ready", streams=[spec.name for spec in self.streams])
            return

    async def _on_error(self, exc: Exception) -> None:
        self.log.debug("NATS client error", error=repr(exc))

    async def _on_disconnected(self) -> None:
        if not self._closing:
            self.log.warning("disconnected from NATS")
        self._ready.clear()

    async def _on_reconnected(self) -> None:
        self.log.info("reconnected to NATS")
        self._start_setup()

    async def publish(self, subject: str, payload: bytes, headers: dict[str, str] | None, timeout: float) -> bool:
        """Publish to JetStream and wait (at most ``timeout`` s) for its ack; True when it was a duplicate.

        Faults: ``publish_failure_rate`` raises, ``drop_publishes`` returns without sending,
        ``corrupt_payloads`` garbles the bytes. Raises :class:`PublishError` on any failure.
        """
        faults = self.faults
        if faults.should_fail_publish():
            raise PublishError("injected publish failure")
        if faults.should_drop_publish():
            return False
        payload = faults.maybe_corrupt(payload)
        nc = self.nc
        if nc is None or not nc.is_connected or self.js is None:
            raise PublishError("NATS is not connected")
        if self._ack_prefix is None:
            await self._open_ack_inbox(nc)
        prefix = self._ack_prefix
        if prefix is None:
            raise PublishError("NATS is not connected (no JetStream ack inbox)")
        token = str(self._next_ack)
        self._next_ack += 1
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Msg] = loop.create_future()
        acks = self._acks
        acks[token] = future
        expiry = loop.call_later(timeout, _expire, future)
        try:
            await nc.publish(subject, payload, reply=prefix + token, headers=headers)
            msg = await future
        except TimeoutError:
            raise PublishError(f"TimeoutError: no JetStream ack within {timeout:g}s") from None
        except (nats.errors.Error, OSError) as exc:
            if future.done():
                future.exception()  # an expiry nobody awaits: retrieved, so asyncio does not report it
            raise PublishError(f"{type(exc).__name__}: {exc}") from exc
        finally:
            expiry.cancel()
            del acks[token]
        return _duplicate_from_ack(msg)

    async def publish_core(self, subject: str, payload: bytes) -> None:
        """Best-effort core NATS publish (no ack), with the drop/corrupt faults; never raises."""
        faults = self.faults
        if faults.should_fail_publish() or faults.should_drop_publish():
            return
        nc = self.nc
        if nc is None or not nc.is_connected:
            return
        with contextlib.suppress(nats.errors.Error, OSError):
            await nc.publish(subject, faults.maybe_corrupt(payload))

    async def consumer_pending(self, stream: str, durable: str) -> int | None:
        """``num_pending`` of a consumer, None when it cannot be read now."""
        js = self.js
        if js is None or not self.connected:
            return None
        try:
            info = await js.consumer_info(stream, durable, timeout=0.5)
        except (TimeoutError, nats.errors.Error, OSError):
            return None
        return int(info.num_pending or 0)

    async def close(self) -> None:
        """Drain (bounded) and close the connection; cancel the setup."""
        self._closing = True
        if self._setup_task is not None:
            self._setup_task.cancel()
        nc = self.nc
        if nc is None or nc.is_closed:
            return
        with contextlib.suppress(TimeoutError, nats.errors.Error, OSError):
            async with asyncio.timeout(0.3):  # not wait_for: Python 3.11's can swallow a cancellation
                await nc.drain()
        if not nc.is_closed:
            with contextlib.suppress(nats.errors.Error, TimeoutError, OSError):
                async with asyncio.timeout(0.2):
                    await nc.close()


BatchHandler = Callable[[list[Msg]], Awaitable[None]]


class PullWorker:
    """Fetches batches from one durable pull consumer and passes them to ``handle``.

    Long-polls (``fetch_timeout``) so an idle worker costs ~nothing; waits while the ``hang`` fault
    is set; re-runs the link setup when the consumer vanished.
    """

    def __init__(
        self,
        link: NatsLink,
        spec: ConsumerSpec,
        handle: BatchHandler,
        *,
        batch: int = 256,
        fetch_timeout: float = 1.0,
    ) -> None:
        self.link = link
        self.spec = spec
        self.handle = handle
        self.batch = batch
        self.fetch_timeout = fetch_timeout
        self._sub: Any = None

    async def bind(self, js: JetStreamContext) -> None:
        """Setup hook: ensure the consumer exists and bind a fresh pull subscription to it."""
        await ensure_consumer(js, self.spec)
        old, self._sub = self._sub, None
        if old is not None:
            with contextlib.suppress(nats.errors.Error, ValueError):
                await old.unsubscribe()
        self._sub = await js.pull_subscribe_bind(durable=self.spec.durable, stream=self.spec.stream)

    async def run(self) -> None:
        """The fetch loop; runs until cancelled."""
        faults = self.link.faults
        while True:
            await faults.wait_unhung()
            sub = self._sub
            if sub is None or not self.link.ready:
                await self.link.wait_ready()
                if self._sub is None:
                    await asyncio.sleep(0.1)
                continue
            try:
                msgs = await sub.fetch(self.batch, timeout=self.fetch_timeout)
            except nats.errors.TimeoutError:
                continue
            except (TimeoutError, nats.errors.Error, OSError, ValueError) as exc:
                self.link.log.warning("fetch failed; re-binding the consumer", error=repr(exc))
                self.link.resetup()
                await asyncio.sleep(0.25)
                continue
            if msgs:
                try:
                    await self.handle(msgs)
                except (nats.errors.Error, OSError) as exc:  # acks lost: JetStream redelivers
                    self.link.log.warning("batch handling interrupted", error=repr(exc))
