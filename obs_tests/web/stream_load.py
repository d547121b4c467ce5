"""Load-testing the dashboard's live stream: clients that count what they receive, the audit of it, and
the server process' resource use.

:class:`StreamClient` reads ``/api/stream`` (WebSocket or SSE) in a thread and keeps, per message, only
its ``seq`` and — for a message published while it was connected — its delivery latency (receive time
minus the server's ``ts``: both ends on one machine share the clock). With ``reconnect_every`` it drops
its connection after that many messages and comes back with ``since=<last seq>``, as the page does;
with ``stall`` a connection silent that long counts as a stall and is replaced the same way.
:func:`audit` then says which sequence numbers a client lost or got twice; :class:`ResourceMonitor`
samples a process' RSS and CPU and :meth:`ResourceMonitor.summary` compares warm-up with the end.

Example::

    client = StreamClient("http://127.0.0.1:5558", "ws", since=head, reconnect_every=50)
    client.start()
    ...                                   # a run publishes messages head+1 .. last
    client.wait_for(last, timeout=30)
    audit(client.seqs, head + 1, last)    # Delivery(lost=(), duplicated=(), ...) — .ok
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
import psutil
import requests
import uvicorn
from starlette.applications import Starlette
from websockets.exceptions import ConnectionClosedOK
from websockets.sync.client import ClientConnection, connect

from obs_tests.core.waiting import Poll, wait_for

__all__ = [
    "Delivery",
    "ResourceMonitor",
    "ResourceSummary",
    "StreamClient",
    "ThreadedServer",
    "audit",
    "percentile",
    "summarize",
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
    """A connection stayed silent ``stall`` seconds."""


class StreamClient:
    """One client of ``/api/stream``, read in a daemon thread (see the module's docstring)."""

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
        #: WebSocket: ask for every waiting message in one frame (``batch=1``), as the page does
        self.batch = batch
        self.transport = transport
        self.since = since
        self.reconnect_every = reconnect_every
        self.stall = stall
        self.token = token
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
        self._closer: list[ClientConnection | requests.Response] = []
        self._thread = threading.Thread(target=self._loop, name=f"stream-{transport}", daemon=True)

    @property
    def last(self) -> int:
        return self.seqs[-1] if self.seqs else self.since

    def start(self) -> StreamClient:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._connection()
            except _Stalled:
                self.stalls += 1
                self.errors.append(f"stalled: no message for {self.stall} s after seq {self.last}")
            except Exception as exc:  # noqa: BLE001 - a dropped connection is reconnected, and counted
                if not self._stop.is_set():
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    self._stop.wait(0.05)  # a short back-off before reconnecting

    def _connection(self) -> None:
        since = self.last
        connected = time.time()
        self.connections += 1
        budget = self.reconnect_every or -1
        for raw in self._frames(since):
            message = orjson.loads(raw)
            at = time.time()
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
                for closer in self._closer:
                    with contextlib.suppress(OSError):
                        _drop(closer)
                return
            if self._stop.is_set():
                return

    def _frames(self, since: int) -> Iterator[bytes | str]:
        query = f"/api/stream?since={since}"
        if self.transport == "ws":
            url = self.base_url.replace("http://", "ws://", 1) + query + ("&batch=1" if self.batch else "")
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
            # max_queue=None: websockets' client stops reading the socket when 16 frames wait unread, and
            # then its close() waits forever for the server, whose sends wait for it (a browser has no such
            # limit)
            # ping_interval=None: no client keepalive (a browser sends none; pings unanswered for 20 s by a
            # busy server would end the connection and count as the server's fault)
            # logger: a connection dropped on purpose (shut down mid-read, as a reconnect cycle does) makes
            # websockets log "unexpected internal error"; the client counts its real errors itself
            options: dict[str, Any] = {
                "max_size": MAX_MESSAGE,
                "max_queue": None,
                "ping_interval": None,
                "logger": _QUIET_WS,
            }
            with connect(url, proxy=None, additional_headers=headers, **options) as ws:
                self._closer = [ws]
                while True:
                    try:
                        frame = ws.recv(timeout=self.stall)
                    except ConnectionClosedOK:
                        return
                    except TimeoutError:
                        raise _Stalled from None
                    if self.batch:
                        yield from frame.split("\n")
                    else:
                        yield frame
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        read_timeout = self.stall or 120.0
        with requests.get(self.base_url + query, headers=headers, stream=True, timeout=(5, read_timeout)) as response:
            response.raise_for_status()
            self._closer = [response]
            try:
                yield from _sse_data(response)
            except requests.ConnectionError as exc:
                if "timed out" in str(exc):  # silent past the read timeout (heartbeats come every 15 s)
                    raise _Stalled from None
                raise

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
        """Disconnect and end the thread; ``abrupt``: drop the TCP connection without a goodbye; ``wait``:
        until the thread ended (10 s at most; stop many clients with ``wait=False``, then :meth:`join`)."""
        self._stop.set()
        for closer in list(self._closer):
            with contextlib.suppress(Exception):
                if abrupt or isinstance(closer, requests.Response):  # an SSE client leaves by hanging up
                    _drop(closer)
                closer.close()
        if wait:
            self.join(10)

    def join(self, timeout: float) -> None:
        """Wait for the client's thread to end (after :meth:`stop`)."""
        self._thread.join(timeout=timeout)


def _drop(closer: ClientConnection | requests.Response) -> None:
    """Shut the socket under a connection down (no WebSocket close frame, no orderly HTTP end)."""
    sock = closer.socket if isinstance(closer, ClientConnection) else _response_socket(closer)
    if sock is not None:
        sock.shutdown(socket.SHUT_RDWR)


def _response_socket(response: requests.Response) -> socket.socket | None:
    connection = getattr(response.raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _sse_data(response: requests.Response) -> Iterator[bytes]:
    """The ``data:`` payloads of a Server-Sent Events body, one per event."""
    data: list[bytes] = []
    for line in response.iter_lines(chunk_size=65536):
        if not line:
            if data:
                yield b"\n".join(data)
            data = []
        elif line.startswith(b"data:"):
            data.append(line[5:].strip())


@dataclass(frozen=True)
class ResourceSummary:
    """A process' RSS (MB) and CPU (% of one core) after warm-up and at the end of a run."""

    samples: int
    warm_rss: float
    end_rss: float
    peak_rss: float
    warm_cpu: float
    end_cpu: float
    rss_growth_limit: float
    cpu_growth_limit: float

    @property
    def rss_growth(self) -> float:
        return self.end_rss - self.warm_rss

    @property
    def stable(self) -> bool:
        """No RSS growth after warm-up beyond the limit, and CPU not climbing beyond its limit."""
        return self.rss_growth <= self.rss_growth_limit and self.end_cpu <= self.warm_cpu + self.cpu_growth_limit

    def describe(self) -> str:
        verdict = "stable" if self.stable else "GROWING"
        return (
            f"RSS {self.warm_rss:.0f} MB after warm-up → {self.end_rss:.0f} MB at the end ({self.rss_growth:+.1f} MB, "
            f"limit +{self.rss_growth_limit:.0f}), peak {self.peak_rss:.0f} MB; CPU {self.warm_cpu:.0f} % → "
            f"{self.end_cpu:.0f} % of a core (limit +{self.cpu_growth_limit:.0f}); {self.samples} samples: {verdict}"
        )


@dataclass
class ResourceMonitor:
    """Samples ``pid``'s RSS and CPU every ``interval`` seconds in a thread, from :meth:`start` to :meth:`stop`."""

    pid: int
    interval: float = 0.5
    samples: list[tuple[float, float, float]] = field(default_factory=list)  # (t, RSS MB, CPU %)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> ResourceMonitor:
        process = psutil.Process(self.pid)
        process.cpu_percent(None)
        started = time.monotonic()

        def sample() -> None:
            while not self._stop.wait(self.interval):
                with contextlib.suppress(psutil.Error):
                    rss = process.memory_info().rss / 1e6
                    self.samples.append((time.monotonic() - started, rss, process.cpu_percent(None)))

        self._thread = threading.Thread(target=sample, name="resource-monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def summary(self, warmup: float, *, rss_limit: float = 25.0, cpu_limit: float = 25.0) -> ResourceSummary:
        """Warm-up = the samples of the ``warmup`` seconds after it; end = the last ``warmup`` seconds.

        Medians of each window, so one slow sample does not decide. ``rss_limit`` in MB, ``cpu_limit`` in
        points of one core.
        """
        return summarize(self.samples, warmup, rss_limit=rss_limit, cpu_limit=cpu_limit)


def summarize(
    samples: Sequence[tuple[float, float, float]], warmup: float, *, rss_limit: float = 25.0, cpu_limit: float = 25.0
) -> ResourceSummary:
    """:meth:`ResourceMonitor.summary` of given ``(t, RSS MB, CPU %)`` samples."""
    if not samples:
        raise ValueError("no resource samples: the monitor never ran")
    end_t = samples[-1][0]
    warm = [s for s in samples if warmup <= s[0] < 2 * warmup] or list(samples[: max(1, len(samples) // 4)])
    end = [s for s in samples if s[0] > end_t - warmup] or list(samples[-1:])

    def median(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[len(ordered) // 2]

    return ResourceSummary(
        samples=len(samples),
        warm_rss=median([s[1] for s in warm]),
        end_rss=median([s[1] for s in end]),
        peak_rss=max(s[1] for s in samples),
        warm_cpu=median([s[2] for s in warm]),
        end_cpu=median([s[2] for s in end]),
        rss_growth_limit=rss_limit,
        cpu_growth_limit=cpu_limit,
    )


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
