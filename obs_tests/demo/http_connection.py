"""One HTTP/1.1 connection of a mock service, served without ASGI: httptools parses, the app's handler runs
as one task per request and the whole response leaves in a single write (keep-alive, pipelining,
``Expect: 100-continue``, a body over the limit drained and answered 413, garbage answered 400). uvicorn runs
it (``uvicorn.Config(http=http_protocol(app))``), keeping its socket, signal, lifespan and graceful-shutdown
handling.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, ClassVar, Final, cast
from urllib.parse import unquote

import httptools
import orjson

from obs_tests.demo.http import App
from obs_tests.demo.http_messages import Request, Response, encode_response, internal_error

__all__ = ["HttpProtocol", "http_protocol"]

_BAD_REQUEST = orjson.dumps({"status": "rejected", "error": "invalid HTTP request"})
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
_MAX_PIPELINE: Final = 32


class HttpProtocol(asyncio.Protocol):
    """One HTTP/1.1 connection serving :attr:`app` (keep-alive, pipelining, ``Expect: 100-continue``).

    Built for uvicorn's ``http=`` setting (its constructor takes uvicorn's ``config`` and
    ``server_state``; it registers in ``server_state.connections`` and its request tasks in
    ``server_state.tasks``, and implements ``shutdown()``), so uvicorn's graceful shutdown waits for
    in-flight requests. Requests of one connection are answered in order; a body over
    ``app.max_body`` is drained and answered 413 on a connection that stays usable; unparsable input is
    answered 400 and the connection closed; an idle connection is closed after ``timeout_keep_alive``.
    Use :func:`http_protocol` to get the class bound to an app.
    """

    __slots__ = (
        "_body",
        "_busy",
        "_closing",
        "_expect_continue",
        "_headers",
        "_last_active",
        "_pipeline",
        "_size",
        "_timer",
        "_too_large",
        "_url",
        "client",
        "connections",
        "keep_alive_timeout",
        "loop",
        "parser",
        "tasks",
        "transport",
    )

    app: ClassVar[App]

    def __init__(
        self,
        config: Any = None,
        server_state: Any = None,
        app_state: Any = None,
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.loop = _loop or asyncio.get_running_loop()
        self.connections: set[Any] = server_state.connections if server_state is not None else set()
        self.tasks: set[asyncio.Task[None]] = server_state.tasks if server_state is not None else set()
        self.keep_alive_timeout = float(getattr(config, "timeout_keep_alive", 5.0))
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.client: str | None = None
        self._pipeline: deque[tuple[Request, bool, bool]] = deque()
        self._busy = False
        self._closing = False
        self._timer: asyncio.TimerHandle | None = None
        self._last_active = 0.0
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._size = 0
        self._too_large = False
        self._expect_continue = False

    # -- connection ------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Register the connection and arm the idle timer."""
        self.transport = cast("asyncio.Transport", transport)  # uvloop's transports do not subclass it
        peer = transport.get_extra_info("peername")
        self.client = str(peer[0]) if isinstance(peer, tuple) and peer else None
        self.connections.add(self)
        self._last_active = self.loop.time()
        self._arm_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection; a request still being handled finishes but is not answered."""
        self.connections.discard(self)
        self._pipeline.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def data_received(self, data: bytes) -> None:
        """Feed the parser; complete requests are dispatched from its callbacks."""
        self._last_active = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._closing = True  # no protocol upgrade: answer the request, then close
        except httptools.HttpParserError:
            self._bad_request()

    def pause_writing(self) -> None:
        """The client does not read its responses: stop reading its requests."""
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        """The client reads again."""
        if self.transport is not None and len(self._pipeline) < _MAX_PIPELINE:
            self.transport.resume_reading()

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown: close now when idle, else after the response in progress."""
        self._closing = True
        if not self._busy and self.transport is not None:
            self.transport.close()

    def _bad_request(self) -> None:
        transport = self.transport
        self._closing = True
        if transport is None or transport.is_closing():
            return
        if not self._busy:
            transport.write(encode_response(Response(400, _BAD_REQUEST), keep_alive=False))
            transport.close()

    def _arm_timer(self) -> None:
        if self._timer is None:
            self._timer = self.loop.call_later(self.keep_alive_timeout, self._idle_check)

    def _idle_check(self) -> None:
        self._timer = None
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        idle = self.loop.time() - self._last_active
        if not self._busy and idle >= self.keep_alive_timeout:
            transport.close()
            return
        delay = self.keep_alive_timeout if self._busy else self.keep_alive_timeout - idle
        self._timer = self.loop.call_later(max(delay, 0.05), self._idle_check)

    # -- httptools callbacks ---------------------------------------------------------------------

    def on_message_begin(self) -> None:
        """A new request starts."""
        self._url = b""
        self._headers = []
        self._body = []
        self._size = 0
        self._too_large = False
        self._expect_continue = False

    def on_url(self, url: bytes) -> None:
        """Part of the request target."""
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        """One header; names are kept lower-case."""
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self._expect_continue = True
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        """Tell a client waiting on ``Expect: 100-continue`` to send its body."""
        transport = self.transport
        if self._expect_continue and not self._busy and transport is not None and not transport.is_closing():
            transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        """A chunk of the body (de-chunked by httptools); dropped past ``max_body``."""
        if self._too_large:
            return
        self._size += len(body)
        if self._size > self.app.max_body:
            self._too_large = True
            self._body = []
        else:
            self._body.append(body)

    def on_message_complete(self) -> None:
        """The request is complete: answer it now, or after the ones before it."""
        parser = self.parser
        url = httptools.parse_url(self._url)
        path = url.path.decode("ascii")
        if "%" in path:
            path = unquote(path)
        chunks = self._body
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        request = Request(parser.get_method().decode("ascii"), path, url.query or b"", self._headers, self.client, body)
        item = (request, parser.should_keep_alive(), self._too_large)
        if self._busy:
            self._pipeline.append(item)
            if len(self._pipeline) >= _MAX_PIPELINE and self.transport is not None:
                self.transport.pause_reading()
        else:
            self._start(item)

    # -- answering -------------------------------------------------------------------------------

    def _start(self, item: tuple[Request, bool, bool]) -> None:
        self._busy = True
        task = self.loop.create_task(self._respond(*item))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _respond(self, request: Request, keep_alive: bool, too_large: bool) -> None:
        try:
            response = await self.app.handle(request, too_large=too_large)
        finally:
            self._busy = False
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        keep_alive = keep_alive and not self._closing
        try:
            data = encode_response(response, head=request.method == "HEAD", keep_alive=keep_alive)
        except ValueError as exc:
            self.app.log.error("invalid response", path=request.path, error=str(exc))
            data, keep_alive = encode_response(internal_error(), keep_alive=False), False
        transport.write(data)
        if not keep_alive:
            transport.close()
            return
        self._last_active = self.loop.time()
        if self._pipeline:
            self._start(self._pipeline.popleft())
            if len(self._pipeline) < _MAX_PIPELINE:
                transport.resume_reading()
        elif self._closing:
            transport.close()
        else:
            self._arm_timer()


def http_protocol(app: App) -> type[HttpProtocol]:
    """The :class:`HttpProtocol` class serving ``app`` (for ``uvicorn.Config(http=...)``)."""

    class Bound(HttpProtocol):
        __slots__ = ()

    Bound.app = app
    return Bound
