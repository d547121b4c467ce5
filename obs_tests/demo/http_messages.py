"""HTTP messages of the mock services: the slotted :class:`Request` a handler gets, the :class:`Response` it
returns (:func:`json_response` for JSON), and :func:`encode_response`, the bytes of a response on the wire in
one piece — precomputed status lines, no header parsing or rewriting on the way out.

Example::

    async def healthz(request: Request) -> Response:
        return json_response({"status": "ok", "client": request.client})
"""

from __future__ import annotations

import http
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl

import orjson

__all__ = ["Request", "Response", "encode_response", "internal_error", "json_response"]

_JSON = b"application/json"
_INTERNAL = orjson.dumps({"status": "error", "error": "internal error"})


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


def internal_error() -> Response:
    """The 500 answered for a handler that raised or a response that cannot be sent (the log says why)."""
    return Response(500, _INTERNAL)


def _status_line(status: int) -> bytes:
    try:
        phrase = http.HTTPStatus(status).phrase.encode()
    except ValueError:
        phrase = b""
    return b"HTTP/1.1 %d %s\r\n" % (status, phrase)


_STATUS_LINES: Final = {status: _status_line(status) for status in range(100, 600)}


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
