"""The application side of every mock service: a tiny router and the ASGI application over it.

No web framework: the gateway must sustain thousands of requests per second on one core, so a request
is a slotted :class:`~obs_tests.demo.http_messages.Request`, a handler is ``async def handler(request) ->
Response`` and routing is one dict lookup (plus a short list of prefix routes)::

    router = Router()
    router.add("GET", "/healthz", healthz)
    router.add_prefix("POST", "/hook/", hook)  # request.tail is the rest of the path
    app = App(router, on_startup=service.start, on_shutdown=service.stop)

Unknown paths answer 404, known paths with another method 405 (with ``Allow``), bodies over
``max_body`` bytes 413, and a handler that raises answers 500 and is logged. :class:`AdminGuard` keeps
``/admin`` to the allowed networks.

:class:`App` is an ASGI application (lifespan and plain HTTP);
:func:`~obs_tests.demo.http_connection.http_protocol` gives the connection protocol that serves it without
ASGI, and :mod:`~obs_tests.demo.http_messages` the requests and responses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import orjson

from obs_tests.demo.http_messages import Request, Response, internal_error, json_response
from obs_tests.demo.logs import JsonLogger

__all__ = ["AdminGuard", "App", "Handler", "Router"]

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

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
            return internal_error()

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
        return Response(405, _METHOD_NOT_ALLOWED, headers=[(b"allow", ", ".join(sorted(allowed)).encode())])
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
