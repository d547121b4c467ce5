from __future__ import annotations

import asyncio
from typing import Any

import orjson

from obs_tests.demo.http import App
from obs_tests.demo.http_connection import http_protocol
from obs_tests.demo.http_messages import Request, Response, json_response
from obs_tests.demo.logs import JsonLogger
from tests.demo.routes import echo_router

# -- HttpProtocol over a real loopback socket ------------------------------------------------------


async def _slow(request: Request) -> Response:
    await asyncio.sleep(0.05)  # makes the first of two pipelined requests finish after the second arrived
    return json_response({"path": request.path})


def _serve_raw(app: App, script: Any, *, keep_alive: float = 5.0) -> Any:
    """Serve ``app`` with :func:`http_protocol` on 127.0.0.1 and run ``script(reader, writer)``."""

    class Config:
        timeout_keep_alive = keep_alive

    async def main() -> Any:
        protocol = http_protocol(app)
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: protocol(Config()), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(script(reader, writer), timeout=10)
        finally:
            writer.close()
            server.close()
            await server.wait_closed()

    return asyncio.run(main())


async def _response(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.split(b": ", 1) for line in lines[1:] if line)
    body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
    return status, headers, body


def _raw_app(max_body: int = 1 << 20) -> App:
    router = echo_router()
    router.add("GET", "/slow", _slow)
    return App(router, log=JsonLogger("t", fd=-1), max_body=max_body)


def test_http_protocol_keep_alive_and_pipelining_in_order() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> list[Any]:
        writer.write(
            b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /hook/abc HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
            b"GET /a?q=1 HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        return [await _response(reader) for _ in range(3)]

    (s1, _, b1), (s2, _, b2), (s3, _, b3) = _serve_raw(_raw_app(), script)
    assert (s1, s2, s3) == (200, 200, 200)
    assert orjson.loads(b1) == {"path": "/slow"}  # answered first although it finished last
    assert orjson.loads(b2) == {"path": "/hook/abc", "tail": "abc", "body": "hi"}
    assert orjson.loads(b3)["path"] == "/a"


def test_http_protocol_chunked_body_100_continue_and_404_405() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> list[Any]:
        writer.write(b"POST /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n")
        interim = await reader.readuntil(b"\r\n\r\n")
        writer.write(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        first = await _response(reader)
        writer.write(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\nDELETE /a HTTP/1.1\r\nHost: x\r\n\r\n")
        return [interim, first, await _response(reader), await _response(reader)]

    interim, (status, _, body), (s404, _, _), (s405, h405, _) = _serve_raw(_raw_app(), script)
    assert interim.startswith(b"HTTP/1.1 100 Continue")
    assert status == 200
    assert orjson.loads(body)["body"] == "abcde"
    assert s404 == 404
    assert (s405, h405[b"allow"]) == (405, b"GET, POST")


def test_http_protocol_413_keeps_the_connection_usable() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> list[Any]:
        writer.write(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n" + b"x" * 20)
        writer.write(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        return [await _response(reader), await _response(reader)]

    (s1, _, _), (s2, _, _) = _serve_raw(_raw_app(max_body=10), script)
    assert (s1, s2) == (413, 200)


def test_http_protocol_garbage_answers_400_and_closes() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[Any, bytes]:
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        first = await _response(reader)
        return first, await reader.read()

    (status, headers, _), rest = _serve_raw(_raw_app(), script)
    assert status == 400
    assert headers[b"connection"] == b"close"
    assert rest == b""  # closed by the server


def test_http_protocol_connection_close_and_idle_timeout() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[Any, bytes, float]:
        writer.write(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        first = await _response(reader)
        started = asyncio.get_running_loop().time()
        rest = await reader.read()  # the idle keep-alive connection is closed by the server
        return first, rest, asyncio.get_running_loop().time() - started

    (status, _, _), rest, idle = _serve_raw(_raw_app(), script, keep_alive=0.2)
    assert status == 200
    assert rest == b""
    assert idle < 5.0

    async def close_script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[Any, bytes]:
        writer.write(b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        first = await _response(reader)
        return first, await reader.read()

    (status, headers, _), rest = _serve_raw(_raw_app(), close_script)
    assert (status, headers[b"connection"], rest) == (200, b"close", b"")
