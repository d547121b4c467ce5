"""Load-testing the dashboard's live stream: clients that count what they receive, the audit of it, and
the server process' resource use.

:class:`StreamClient` reads ``/api/stream`` (WebSocket with ``batch=1`` as the page, or SSE) on one event
loop shared by every client of the process (a thread each spent the time waiting for the GIL), and keeps,
per message, only its ``seq`` and — for a message published while it was connected — its delivery latency
(the time its frame or chunk arrived minus the server's ``ts``: both ends on one machine share the clock; a
frame's messages arrived together, so decoding one does not count against the next). With
``reconnect_every`` it drops its connection after that many messages and comes back with
``since=<last seq>``, as the page does; with ``stall`` a connection silent that long counts as a stall and
is replaced the same way.
:func:`audit` then says which sequence numbers a client lost or got twice
(:mod:`obs_tests.web.process_resources` samples the server's RSS and CPU).

Example::

    client = StreamClient("http://127.0.0.1:5558", "ws", since=head, reconnect_every=50)
    client.start()
    ...                                   # a run publishes messages head+1 .. last
    client.wait_for(last, timeout=30)
    audit(client.seqs, head + 1, last)    # Delivery(lost=(), duplicated=(), ...) — .ok
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import socket
import threading
import time
from array import array
from collections.abc import AsyncGenerator, Awaitable, Sequence
from dataclasses import dataclass
from typing import Literal

import orjson
import uvicorn
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosedOK

from obs_tests.core.waiting import Poll, wait_for

__all__ = [
    "Delivery",
    "StreamClient",
    "ThreadedServer",
    "audit",
    "percentile",
]

Transport = Literal["ws", "sse"]
#: the largest message a client accepts (the server sends any size; websockets' own default is 1 MiB)
MAX_MESSAGE = 16 * 1024 * 1024


#: websockets' log of the benchmark's own client connections (see StreamClient._frames)
_QUIET_WS = logging.getLogger(__name__ + ".client")
_QUIET_WS.setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class Delivery:
    """What one client received of the messages ``first``..``last`` (by ``seq``)."""

    first: int
    last: int
    received: int
    lost: tuple[int, ...]
    duplicated: tuple[int, ...]
    out_of_order: int

    @property
    def ok(self) -> bool:
        return not self.lost and not self.duplicated and not self.out_of_order

    def describe(self) -> str:
        """``"12,345 of 12,345 messages"`` or what went wrong, with the first sequence numbers."""
        expected = self.last - self.first + 1
        parts = [f"{self.received:,} of {expected:,} messages ({self.first}..{self.last})"]
        if self.lost:
            parts.append(f"lost {len(self.lost)} (seq {_first_few(self.lost)})")
        if self.duplicated:
            parts.append(f"duplicated {len(self.duplicated)} (seq {_first_few(self.duplicated)})")
        if self.out_of_order:
            parts.append(f"{self.out_of_order} out of order")
        return ", ".join(parts)


def _first_few(values: tuple[int, ...], limit: int = 5) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (", …" if len(values) > limit else "")


def audit(seqs: Sequence[int], first: int, last: int) -> Delivery:
    """Check that ``seqs`` (in the order received, over every connection) holds each of ``first``..``last``
    exactly once, in order. Numbers outside the range are ignored (messages of before or after)."""
    seen: set[int] = set()
    duplicated: list[int] = []
    out_of_order = 0
    previous = first - 1
    received = 0
    for seq in seqs:
        if seq < first or seq > last:
            continue
        received += 1
        if seq in seen:
            duplicated.append(seq)
            continue
        seen.add(seq)
        if seq < previous:
            out_of_order += 1
        previous = max(previous, seq)
    lost = tuple(s for s in range(first, last + 1) if s not in seen)
    return Delivery(first, last, received, lost, tuple(duplicated), out_of_order)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of sorted ``values`` (nearest rank; ``inf`` for none)."""
    if not values:
        return float("inf")
    return values[min(len(values) - 1, int(len(values) * q))]


class _Stalled(Exception):
    """A connection silent longer than the client's ``stall``."""


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop when it is installed (uvicorn's, the server's too), else asyncio's."""
    try:
        import uvloop  # noqa: PLC0415 - optional: a dependency of uvicorn[standard]
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class _ClientLoop:
    """The event loop every :class:`StreamClient` of this process reads on, in one daemon thread.

    One loop, not a thread per client: a hundred threads reading sockets spent their time waiting for the
    GIL, and that wait counted as the server's delivery latency."""

    _loop: asyncio.AbstractEventLoop | None = None
    _lock = threading.Lock()

    @classmethod
    def get(cls) -> asyncio.AbstractEventLoop:
        with cls._lock:
            if cls._loop is None or cls._loop.is_closed():
                loop = _new_loop()
                threading.Thread(target=loop.run_forever, name="stream-clients", daemon=True).start()
                cls._loop = loop
            return cls._loop


class StreamClient:
    """One client of ``/api/stream``, read on the clients' event loop (see the module's docstring)."""

    def __init__(
        self,
        base_url: str,
        transport: Transport,
        *,
        since: int,
        reconnect_every: int = 0,
        stall: float | None = None,
        token: str | None = None,
        batch: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.transport = transport
        self.since = since
        self.reconnect_every = reconnect_every
        self.stall = stall
        self.token = token
        #: WebSocket: ask for every waiting message in one frame (``batch=1``), as the page does
        self.batch = batch
        #: every data message's seq, in the order received, over all connections
        self.seqs: array[int] = array("q")
        #: delivery latencies (s) of the messages published while connected (replays after a reconnect excluded)
        self.latencies: array[float] = array("d")
        self.largest = 0  # bytes of the largest message received
        self.largest_latency = 0.0
        self.connections = 0
        self.hellos = 0  # connections the server answered (its hello arrived)
        self.bad_hello = 0  # a hello whose position is not the since asked for
        self.stalls = 0  # connections that stayed silent ``stall`` seconds (then reconnected)
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._transport: asyncio.WriteTransport | None = None
        self._closing: asyncio.Task[None] | None = None
        self._ws: ClientConnection | None = None
        self._future: concurrent.futures.Future[None] | None = None
        self._loop = _ClientLoop.get()

    @property
    def last(self) -> int:
        return self.seqs[-1] if self.seqs else self.since

    def start(self) -> StreamClient:
        self._future = asyncio.run_coroutine_threadsafe(self._run(), self._loop)
        return self

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self._connection()
            except _Stalled:
                self.stalls += 1
                self.errors.append(f"stalled: no message for {self.stall} s after seq {self.last}")
            except Exception as exc:  # noqa: BLE001 - a dropped connection is reconnected, and counted
                if not self._stop.is_set():
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    await asyncio.sleep(0.05)  # a short back-off before reconnecting
            finally:
                self._transport = self._ws = None

    async def _connection(self) -> None:
        since = self.last
        connected = time.time()
        self.connections += 1
        budget = self.reconnect_every or -1
        frames = self._ws_frames(since) if self.transport == "ws" else self._sse_frames(since)
        async with contextlib.aclosing(frames) as messages:
            async for at, raw in messages:
                message = orjson.loads(raw)
                if message["type"] == "hello":
                    self.hellos += 1
                    self.bad_hello += message["seq"] != since
                    continue
                if message["type"] == "overflow":
                    self.errors.append(f"overflow: {message['data']['message']}")
                    continue
                self.seqs.append(message["seq"])
                if message["ts"] >= connected:
                    self.latencies.append(at - message["ts"])
                if len(raw) > self.largest:
                    self.largest, self.largest_latency = len(raw), at - message["ts"]
                budget -= 1
                if budget == 0:
                    # a reconnect cycle drops the connection as a flaky network does: websockets' close
                    # handshake against the server under load hung about once in 300 reconnects (see
                    # benchmarks/README.md, issue 20.1)
                    self._hang_up()
                    return
                if self._stop.is_set():
                    return

    async def _ws_frames(self, since: int) -> AsyncGenerator[tuple[float, bytes | str], None]:
        """Each message with when its frame arrived (a batched frame's messages arrived together)."""
        url = self.base_url.replace("http://", "ws://", 1) + f"/api/stream?since={since}"
        url += "&batch=1" if self.batch else ""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        # max_queue=None: websockets' client stops reading the socket when 16 frames wait unread (a browser
        # has no such limit); ping_interval=None: no client keepalive (a browser sends none; pings unanswered
        # for 20 s by a busy server would end the connection and count as the server's fault)
        async with ws_connect(
            url,
            proxy=None,
            additional_headers=headers,
            max_size=MAX_MESSAGE,
            max_queue=None,
            ping_interval=None,
            logger=_QUIET_WS,
        ) as ws:
            self._ws, self._transport = ws, ws.transport
            while True:
                try:
                    async with asyncio.timeout(self.stall):  # no task per frame, as wait_for makes
                        frame = await ws.recv()
                except ConnectionClosedOK:
                    return
                except TimeoutError:
                    raise _Stalled from None
                at = time.time()
                if self.batch and isinstance(frame, str):
                    for line in frame.split("\n"):
                        yield at, line
                else:
                    yield at, frame

    async def _sse_frames(self, since: int) -> AsyncGenerator[tuple[float, bytes], None]:
        """The ``data:`` payloads of ``GET /api/stream`` as Server-Sent Events (HTTP/1.1, chunked), each with
        when the chunk that completed it arrived."""
        host, _, port = self.base_url.removeprefix("http://").partition(":")
        reader, writer = await asyncio.open_connection(host, int(port or 80), limit=MAX_MESSAGE)
        self._transport = writer.transport
        auth = f"Authorization: Bearer {self.token}\r\n" if self.token else ""
        writer.write(
            f"GET /api/stream?since={since} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
            f"{auth}\r\n".encode()
        )
        timeout = self.stall or 120.0  # silent past it: stalled (heartbeats come every 15 s)
        try:
            head = await self._read(reader.readuntil(b"\r\n\r\n"), timeout)
            status = head.split(b" ", 2)[1]
            if status != b"200":
                raise ConnectionError(f"HTTP {status.decode()}: {head[:200]!r}")
            pending = b""
            while True:
                size = int((await self._read(reader.readline(), timeout)).split(b";")[0], 16)
                if size == 0:
                    return  # the server ended the stream
                pending += (await self._read(reader.readexactly(size + 2), timeout))[:-2]
                at = time.time()
                *events, pending = pending.split(b"\n\n")
                for event in events:  # "id: <seq>\ndata: <json>", or ": keep-alive"
                    data = [line[5:].strip() for line in event.split(b"\n") if line.startswith(b"data:")]
                    if data:
                        yield at, b"\n".join(data)
        finally:
            writer.transport.abort()

    async def _read(self, step: Awaitable[bytes], timeout: float) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await step
        except TimeoutError:
            raise _Stalled from None
        except asyncio.IncompleteReadError as exc:
            raise ConnectionError("the server closed the stream") from exc

    def _hang_up(self, *, abrupt: bool = True) -> None:
        """On the loop: drop the connection (TCP closed, no goodbye), or close a WebSocket cleanly."""
        if not abrupt and self._ws is not None:
            self._closing = asyncio.ensure_future(self._ws.close())
        elif self._transport is not None:
            self._transport.abort()

    def wait_for(self, seq: int, timeout: float) -> None:
        """Until this client has received ``seq`` (or a later one)."""
        wait_for(
            lambda: Poll(self.last >= seq, self.last, self.describe()),
            timeout=timeout,
            interval=0.05,
            expected=f"the {self.transport} client at seq {seq}",
        )

    def describe(self) -> str:
        """Where this client is: ``ws client at seq 1234, 3 connections, last error: …``."""
        error = f", last error: {self.errors[-1]}" if self.errors else ""
        return f"{self.transport} client at seq {self.last}, {self.connections} connections{error}"

    def stop(self, *, abrupt: bool = False, wait: bool = True) -> None:
        """Disconnect and end; ``abrupt``: drop the TCP connection without a goodbye (an SSE client always
        leaves by hanging up); ``wait``: until the client ended (10 s at most; stop many clients with
        ``wait=False``, then :meth:`join`)."""
        self._stop.set()
        with contextlib.suppress(RuntimeError):  # the loop is closed
            self._loop.call_soon_threadsafe(lambda: self._hang_up(abrupt=abrupt or self.transport == "sse"))
        if wait:
            self.join(10)

    def join(self, timeout: float) -> None:
        """Wait for the client to end (after :meth:`stop`)."""
        if self._future is not None:
            with contextlib.suppress(concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
                self._future.result(timeout=timeout)


class ThreadedServer:
    """The dashboard app served by uvicorn on a loopback port, in a thread of this process.

    :meth:`kill` is the page's server side dying: its event loop stops where it is (no shutdown, no
    lifespan: the runs and the stream are not told), every socket it had — the listening one and each
    client's — is closed as the kernel would close a dead process' files, and the loop is closed. What
    publishes into the stream from other threads (the runs) goes on. :meth:`stop` is the graceful end.
    """

    def __init__(self, app: Starlette) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="on",
            ws="wsproto",
            ws_per_message_deflate=False,  # as `obs-tests serve`
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="dashboard-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        with contextlib.suppress(RuntimeError):  # "Event loop stopped before Future completed": kill()
            self.loop.run_until_complete(self.server.serve(sockets=[self.sock]))

    def start(self, timeout: float = 30) -> ThreadedServer:
        self._thread.start()
        wait_for(lambda: Poll(self.server.started, None), timeout=timeout, expected="uvicorn started")
        return self

    def kill(self) -> None:
        """Stop the server side dead (see the class docstring)."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        selector = getattr(self.loop, "_selector", None)  # every socket the loop watched ...
        own = {getattr(self.loop, "_ssock", None), getattr(self.loop, "_csock", None)}  # ... but its wake-up pipe
        for key in list(selector.get_map().values()) if selector is not None else []:
            if isinstance(key.fileobj, socket.socket) and key.fileobj not in own:
                with contextlib.suppress(OSError):
                    key.fileobj.shutdown(socket.SHUT_RDWR)
                key.fileobj.close()
        self.sock.close()
        with contextlib.suppress(RuntimeError, OSError):
            self.loop.close()

    def stop(self) -> None:
        """The graceful end: uvicorn's shutdown and the app's lifespan (which stops the runs)."""
        self.server.should_exit = True
        self._thread.join(timeout=30)
        self.sock.close()
        self.loop.close()
