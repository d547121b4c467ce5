from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from obs_tests.demo.http import (
    AdminGuard,
    App,
    Request,
    Response,
    Router,
    encode_response,
    http_protocol,
    json_response,
)
from obs_tests.demo.logs import JsonLogger


async def _ok(request: Request) -> Response:
    return json_response({"path": request.path, "tail": request.tail, "body": request.body.decode()})


async def _boom(request: Request) -> Response:
    raise RuntimeError("bug")


def _router() -> Router:
    router = Router()
    router.add("GET", "/a", _ok)
    router.add("POST", "/a", _ok)
    router.add_prefix("POST", "/hook/", _ok)
    router.add("GET", "/boom", _boom)
    return router


def test_http_router_resolves_exact_prefix_404_405() -> None:
    router = _router()
    handler, tail, _ = router.resolve("GET", "/a")
    assert handler is _ok
    assert tail == ""
    handler, tail, _ = router.resolve("POST", "/hook/team-x")
    assert handler is _ok
    assert tail == "team-x"
    assert router.resolve("GET", "/zzz") == (None, "", ())
    handler, _, allowed = router.resolve("DELETE", "/a")
    assert handler is None
    assert set(allowed) == {"GET", "POST"}
    assert router.resolve("HEAD", "/a")[0] is _ok


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.1.2.3", False),
        ("::2", False),
        ("not-an-ip", False),
        (None, False),
    ],
)
def test_http_admin_guard(host: str | None, allowed: bool) -> None:
    assert AdminGuard(["127.0.0.0/8", "::1"]).allows(host) is allowed


def test_http_admin_guard_rejects_bad_cidr() -> None:
    with pytest.raises(ValueError):
        AdminGuard(["300.1.1.1/8"])


def _run(app: App, method: str, path: str, chunks: list[bytes], client: str = "127.0.0.1") -> dict[str, Any]:
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": [],
        "client": (client, 1234),
    }
    asyncio.run(app(scope, receive, send))
    start, body = sent
    return {"status": start["status"], "headers": dict(start["headers"]), "body": body["body"]}


def test_http_app_reads_chunked_body_and_answers() -> None:
    app = App(_router(), log=JsonLogger("t", fd=-1))
    result = _run(app, "POST", "/hook/x", [b'{"a"', b": 1}"])
    assert result["status"] == 200
    assert orjson.loads(result["body"]) == {"path": "/hook/x", "tail": "x", "body": '{"a": 1}'}
    assert result["headers"][b"content-length"] == str(len(result["body"])).encode()


def test_http_app_404_405_413_500() -> None:
    app = App(_router(), log=JsonLogger("t", fd=-1), max_body=10)
    assert _run(app, "GET", "/nope", [b""])["status"] == 404
    not_allowed = _run(app, "PUT", "/a", [b""])
    assert not_allowed["status"] == 405
    assert not_allowed["headers"][b"allow"] == b"GET, POST"
    assert _run(app, "POST", "/a", [b"x" * 6, b"y" * 6])["status"] == 413
    assert _run(app, "GET", "/boom", [b""])["status"] == 500


def test_http_app_lifespan_runs_hooks() -> None:
    events: list[str] = []

    async def startup() -> None:
        events.append("start")

    async def shutdown() -> None:
        events.append("stop")

    app = App(Router(), log=JsonLogger("t", fd=-1), on_startup=startup, on_shutdown=shutdown)
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert events == ["start", "stop"]
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_http_admin_guard_wrap_answers_403() -> None:
    router = Router()
    router.add("GET", "/admin/x", AdminGuard(["10.0.0.0/8"]).wrap(_ok))
    app = App(router, log=JsonLogger("t", fd=-1))
    assert _run(app, "GET", "/admin/x", [b""])["status"] == 403
    assert _run(app, "GET", "/admin/x", [b""], client="10.1.1.1")["status"] == 200


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
    router = _router()
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


def test_http_encode_response_rejects_header_injection() -> None:
    with pytest.raises(ValueError, match="CR or LF"):
        encode_response(Response(200, b"", headers=[(b"x-a", b"1\r\nx-b: 2")]))
    assert encode_response(Response(204, b"body"), head=True).endswith(b"\r\n\r\n")
