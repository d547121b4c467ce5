"""Who may talk to the dashboard.

- It binds 127.0.0.1 by default. Binding any other (non-loopback) address needs ``OBS_DASHBOARD_TOKEN``:
  :func:`check_binding` refuses to start without it, and refuses a token that is easy to guess (shorter
  than 16 characters, with whitespace, fewer than 8 different characters, or a repeated pattern such as
  ``abcabcabc…``); ``openssl rand -hex 16`` makes a good one. The token is never printed.
- When a token is set, every ``/api/`` request — REST, WebSocket, SSE, reports — must carry it:
  ``Authorization: Bearer <token>``, or ``?token=<token>`` where a browser cannot set headers (WebSocket,
  EventSource, report links). A missing or wrong token gets 401; the token is never echoed.
- Bound to loopback, requests must name a loopback host (``Host: 127.0.0.1:5558``, ``localhost``,
  ``[::1]``): a web page on another site that re-points its DNS name at 127.0.0.1 (DNS rebinding) gets 403.
- A state-changing request (POST) or a WebSocket from a browser page of another origin (``Origin``
  header not matching ``Host``) gets 403 (cross-site request forgery, cross-site WebSocket hijacking).
- Every response carries ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``, no
  framing by other sites, ``Cache-Control: no-store`` for the API, and the page a strict
  Content-Security-Policy (own scripts and styles only: it needs nothing from the network).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from obs_tests.errors import UsageError

__all__ = [
    "MIN_TOKEN_DISTINCT",
    "MIN_TOKEN_LENGTH",
    "TOKEN_ENV",
    "SecurityMiddleware",
    "check_binding",
    "check_token",
    "is_loopback",
]

TOKEN_ENV = "OBS_DASHBOARD_TOKEN"  # noqa: S105 - the name of the variable, not a secret
MIN_TOKEN_LENGTH = 16
MIN_TOKEN_DISTINCT = 8
_HOW_TO_MAKE_ONE = "make one with `export OBS_DASHBOARD_TOKEN=$(openssl rand -hex 16)`"
_HOST = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$")
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) is this machine only."""
    name = host.strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _period(token: str) -> int:
    """The length of the shortest unit ``token`` repeats (``len(token)`` when it repeats nothing)."""
    for size in range(1, len(token) // 2 + 1):
        if (token[:size] * (len(token) // size + 1))[: len(token)] == token:
            return size
    return len(token)


def check_token(token: str) -> None:
    """Refuse a token that is easy to guess (:class:`UsageError`, exit 2); the message never shows it."""
    problem = None
    if any(c.isspace() or not c.isprintable() for c in token):
        problem = "contains whitespace or control characters (a header cannot carry them)"
    elif len(token) < MIN_TOKEN_LENGTH:
        problem = f"is too short ({len(token)} characters), at least {MIN_TOKEN_LENGTH} are needed"
    elif len(set(token)) < MIN_TOKEN_DISTINCT:
        problem = f"is too easy to guess (fewer than {MIN_TOKEN_DISTINCT} different characters)"
    elif _period(token) < len(token):
        problem = f"is too easy to guess (a pattern of {_period(token)} characters, repeated)"
    if problem is not None:
        raise UsageError(f"{TOKEN_ENV} {problem} — {_HOW_TO_MAKE_ONE}")


def check_binding(host: str, token: str | None) -> None:
    """Refuse to expose the dashboard beyond this machine without a token, and any guessable token."""
    if token is not None:
        check_token(token)
    if not is_loopback(host) and not token:
        raise UsageError(
            f"--host {host} exposes the dashboard beyond this machine: set {TOKEN_ENV} ({_HOW_TO_MAKE_ONE}; clients "
            "then send `Authorization: Bearer <token>`) — or keep the default --host 127.0.0.1"
        )


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}


class SecurityMiddleware:
    """The checks and headers of the module docstring, as pure ASGI (streams pass through untouched)."""

    def __init__(self, app: ASGIApp, *, token: str | None, loopback_only: bool) -> None:
        self.app = app
        self.token = token
        self.loopback_only = loopback_only

    def _token_ok(self, scope: Scope, headers: dict[str, str]) -> bool:
        if not self.token:
            return True
        offered = ""
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            offered = auth[7:].strip()
        if not offered:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            offered = (query.get("token") or [""])[0]
        return bool(offered) and hmac.compare_digest(offered.encode(), self.token.encode())

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        host = headers.get("host", "")
        if self.loopback_only:
            match = _HOST.match(host)
            if match is None or not is_loopback(match.group(1)):
                return 403, "the dashboard answers only to a loopback Host (127.0.0.1, localhost, [::1])"
        origin = headers.get("origin")
        if origin is not None and (scope["type"] == "websocket" or scope.get("method") not in ("GET", "HEAD")):
            parts = urlsplit(origin)
            if origin == "null" or parts.netloc.lower() != host.lower():
                return 403, "cross-origin request refused: the Origin does not match the dashboard's address"
        if scope["path"].startswith("/api/") and not self._token_ok(scope, headers):
            return 401, (
                "missing or wrong token: send `Authorization: Bearer <OBS_DASHBOARD_TOKEN>` "
                "(or ?token= on stream and report URLs)"
            )
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            status, message = refusal
            if scope["type"] == "websocket":
                await self._deny_websocket(scope, receive, send, status, message)
            else:
                await self._deny(send, status, message)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                    (b"cross-origin-resource-policy", b"same-origin"),
                ]
                if api:
                    extra.append((b"cache-control", b"no-store"))
                names = {k.lower() for k, _ in message.get("headers") or []}
                message["headers"] = list(message.get("headers") or []) + [h for h in extra if h[0] not in names]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    def _body(status: int, message: str) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        body = json.dumps({"error": message, "status": status}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"cache-control", b"no-store"),
        ]
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="obs-tests"'))
        return body, headers

    async def _deny(self, send: Send, status: int, message: str) -> None:
        body, headers = self._body(status, message)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _deny_websocket(self, scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
        """Refuse the handshake with an HTTP answer (401/403 and the reason) when the server supports it."""
        first = await receive()
        if first.get("type") != "websocket.connect":
            return
        if "websocket.http.response" in (scope.get("extensions") or {}):
            body, headers = self._body(status, message)
            await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
            return
        await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
