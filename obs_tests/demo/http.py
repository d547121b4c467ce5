"""A raw HTTP layer with a tiny router: the HTTP side of every mock service.

No web framework: the gateway must sustain thousands of requests per second on one core, so a request
is a slotted :class:`Request`, a handler is ``async def handler(request) -> Response`` and routing is
one dict lookup (plus a short list of prefix routes)::

    router = Router()
    router.add("GET", "/healthz", healthz)
    router.add_prefix("POST", "/hook/", hook)  # request.tail is the rest of the path
    app = App(router, on_startup=service.start, on_shutdown=service.stop)

Unknown paths answer 404, known paths with another method 405 (with ``Allow``), bodies over
``max_body`` bytes 413, and a handler that raises answers 500 and is logged.

:class:`App` is an ASGI application (lifespan and plain HTTP), and :func:`http_protocol` gives the
connection protocol that serves it without ASGI: httptools parses, the handler runs as one task per
request and the whole response leaves in a single write. uvicorn runs that protocol (``http=``),
keeping its socket, signal, lifespan and graceful-shutdown handling.
"""

from __future__ import annotations

import asyncio
import http
import ipaddress
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, cast
from urllib.parse import parse_qsl, unquote

import httptools
import orjson

from obs_tests.demo.logs import JsonLogger

__all__ = [
    "AdminGuard",
    "App",
    "Handler",
    "HttpProtocol",
    "Request",
    "Response",
    "Router",
    "encode_response",
    "http_protocol",
    "json_response",
]

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON = b"application/json"


@dataclass(slots=True)
class Request:
    """One HTTP request with its whole body read."""

    method: str
    path: str
    query_string: bytes
    headers: list[tuple[bytes, bytes]]
    client: str | None
    body: bytes = b""
    tail: str = ""

    def header(self, name: bytes) -> bytes | None:
        """The first value of header ``name`` (lower-case bytes, e.g. ``b"x-correlation-id"``)."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def query(self) -> list[tuple[str, str]]:
        """The query parameters in order (repeated names kept)."""
        return parse_qsl(self.query_string.decode("latin-1"), keep_blank_values=True)


@dataclass(slots=True)
class Response:
    """An HTTP response; ``headers`` are extra headers besides content-type and content-length."""

    status: int
    body: bytes = b""
    content_type: bytes = _JSON
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


def json_response(doc: Any, status: int = 200, headers: list[tuple[bytes, bytes]] | None = None) -> Response:
    """A JSON response (``orjson``)."""
    return Response(status, orjson.dumps(doc), _JSON, headers if headers is not None else [])


def _status_line(status: int) -> bytes:
    try:
        phrase = http.HTTPStatus(status).phrase.encode()
    except ValueError:
        phrase = b""
    return b"HTTP/1.1 %d %s\r\n" % (status, phrase)


_STATUS_LINES: Final = {status: _status_line(status) for status in range(100, 600)}
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"


def encode_response(response: Response, *, head: bool = False, keep_alive: bool = True) -> bytes:
    """The bytes of ``response`` on the wire: status line, headers and body (none for ``HEAD``).

    Raises ``ValueError`` for a header value with CR or LF (it would split the response).
    """
    body = response.body
    parts = [
        _STATUS_LINES.get(response.status) or _status_line(response.status),
        b"content-type: ",
        response.content_type,
        b"\r\ncontent-length: ",
        b"%d" % len(body),
        b"\r\n",
    ]
    for name, value in response.headers:
        if b"\n" in value or b"\r" in value:
            raise ValueError(f"header {name!r}: value contains CR or LF")
        parts += (name, b": ", value, b"\r\n")
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts.append(b"\r\n")
    if not head:
        parts.append(body)
    return b"".join(parts)


Handler = Callable[[Request], Awaitable[Response]]


class Router:
    """Exact-path routes in a dict, prefix routes in a short list; method checked after path."""

    def __init__(self) -> None:
        self._exact: dict[str, dict[str, Handler]] = {}
        self._prefix: list[tuple[str, dict[str, Handler]]] = []

    def add(self, method: str, path: str, handler: Handler) -> None:
        """Route ``method path`` to ``handler``."""
        self._exact.setdefault(path, {})[method] = handler

    def add_prefix(self, method: str, prefix: str, handler: Handler) -> None:
        """Route every path starting with ``prefix``; the handler finds the rest in ``request.tail``."""
        for known, methods in self._prefix:
            if known == prefix:
                methods[method] = handler
                return
        self._prefix.append((prefix, {method: handler}))

    def resolve(self, method: str, path: str) -> tuple[Handler | None, str, tuple[str, ...]]:
        """``(handler, tail, allowed_methods)``; handler None with no methods = 404, with methods = 405."""
        methods = self._exact.get(path)
        tail = ""
        if methods is None:
            for prefix, candidates in self._prefix:
                if path.startswith(prefix):
                    methods, tail = candidates, path[len(prefix) :]
                    break
            else:
                return None, "", ()
        handler = methods.get(method)
        if handler is None and method == "HEAD":
            handler = methods.get("GET")
        return handler, tail, tuple(methods)


class AdminGuard:
    """Decides whether a client address may use ``/admin`` (``--admin-allow`` CIDRs)."""

    def __init__(self, cidrs: Iterable[str]) -> None:
        self.networks = tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs if cidr.strip())
        self._cache: dict[str, bool] = {}

    def allows(self, host: str | None) -> bool:
        """Whether ``host`` (an IP address string) is inside one of the allowed networks."""
        if host is None:
            return False
        verdict = self._cache.get(host)
        if verdict is None:
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                verdict = False
            else:
                if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
                    address = address.ipv4_mapped
                verdict = any(address in network for network in self.networks)
            if len(self._cache) < 4096:
                self._cache[host] = verdict
        return verdict

    def wrap(self, handler: Handler) -> Handler:
        """``handler`` behind the allow-list: other clients get 403."""

        async def guarded(request: Request) -> Response:
            if not self.allows(request.client):
                return json_response(
                    {
                        "status": "forbidden",
                        "error": f"admin endpoints are not allowed from {request.client}",
                    },
                    403,
                )
            return await handler(request)

        return guarded


_NOT_FOUND = orjson.dumps({"status": "not_found"})
_METHOD_NOT_ALLOWED = orjson.dumps({"status": "method_not_allowed"})
_TOO_LARGE = orjson.dumps({"status": "rejected", "reason": "too_large", "error": "request body too large"})
_INTERNAL = orjson.dumps({"status": "error", "error": "internal error"})
_BAD_REQUEST = orjson.dumps({"status": "rejected", "error": "invalid HTTP request"})


class App:
    """The application: routing over a :class:`Router`, lifespan hooks, and the ASGI entry point."""

    def __init__(
        self,
        router: Router,
        *,
        log: JsonLogger,
        on_startup: Callable[[], Awaitable[None]] | None = None,
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
        max_body: int = 1024 * 1024,
        on_too_large: Callable[[Request], Awaitable[Response]] | None = None,
    ) -> None:
        self.router = router
        self.log = log
        self.on_startup = on_startup
        self.on_shutdown = on_shutdown
        self.max_body = max_body
        self.on_too_large = on_too_large

    async def handle(self, request: Request, *, too_large: bool = False) -> Response:
        """The response to ``request`` (``too_large``: its body exceeded ``max_body`` and was dropped)."""
        handler, tail, allowed = self.router.resolve(request.method, request.path)
        if handler is None:
            return _unrouted(allowed)
        request.tail = tail
        if too_large:
            return await self._too_large(request)
        return await self._call(handler, request)

    async def _call(self, handler: Handler, request: Request) -> Response:
        try:
            return await handler(request)
        except Exception as exc:  # noqa: BLE001 -- a bug must answer 500, not kill the connection
            self.log.error("handler failed", path=request.path, method=request.method, error=repr(exc))
            return Response(500, _INTERNAL)

    async def _too_large(self, request: Request) -> Response:
        return await self.on_too_large(request) if self.on_too_large is not None else Response(413, _TOO_LARGE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point."""
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    if self.on_startup is not None:
                        await self.on_startup()
                except Exception as exc:  # noqa: BLE001 -- reported to uvicorn, which exits
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    if self.on_shutdown is not None:
                        await self.on_shutdown()
                finally:
                    await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        handler, tail, allowed = self.router.resolve(method, path)
        client = scope.get("client")
        request = Request(
            method, path, scope["query_string"], scope["headers"], client[0] if client else None, b"", tail
        )
        if handler is None:
            await _send(send, _unrouted(allowed))
            return
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            if chunk:
                body = body + chunk if body else chunk
                if len(body) > self.max_body:
                    await _send(send, await self._too_large(request))
                    return
            more = message.get("more_body", False)
        request.body = body
        await _send(send, await self._call(handler, request))


def _unrouted(allowed: tuple[str, ...]) -> Response:
    if allowed:
        return Response(405, _METHOD_NOT_ALLOWED, _JSON, [(b"allow", ", ".join(sorted(allowed)).encode())])
    return Response(404, _NOT_FOUND)


async def _send(send: Send, response: Response) -> None:
    headers = [
        (b"content-type", response.content_type),
        (b"content-length", str(len(response.body)).encode()),
    ]
    if response.headers:
        headers.extend(response.headers)
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


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
            data, keep_alive = encode_response(Response(500, _INTERNAL), keep_alive=False), False
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
