from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from obs_tests.demo.http import AdminGuard, App, Router
from obs_tests.demo.logs import JsonLogger
from tests.demo.routes import echo, echo_router


def test_http_router_resolves_exact_prefix_404_405() -> None:
    router = echo_router()
    handler, tail, _ = router.resolve("GET", "/a")
    assert handler is echo
    assert tail == ""
    handler, tail, _ = router.resolve("POST", "/hook/team-x")
    assert handler is echo
    assert tail == "team-x"
    assert router.resolve("GET", "/zzz") == (None, "", ())
    handler, _, allowed = router.resolve("DELETE", "/a")
    assert handler is None
    assert set(allowed) == {"GET", "POST"}
    assert router.resolve("HEAD", "/a")[0] is echo


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
    app = App(echo_router(), log=JsonLogger("t", fd=-1))
    result = _run(app, "POST", "/hook/x", [b'{"a"', b": 1}"])
    assert result["status"] == 200
    assert orjson.loads(result["body"]) == {"path": "/hook/x", "tail": "x", "body": '{"a": 1}'}
    assert result["headers"][b"content-length"] == str(len(result["body"])).encode()


def test_http_app_404_405_413_500() -> None:
    app = App(echo_router(), log=JsonLogger("t", fd=-1), max_body=10)
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
    router.add("GET", "/admin/x", AdminGuard(["10.0.0.0/8"]).wrap(echo))
    app = App(router, log=JsonLogger("t", fd=-1))
    assert _run(app, "GET", "/admin/x", [b""])["status"] == 403
    assert _run(app, "GET", "/admin/x", [b""], client="10.1.1.1")["status"] == 200
