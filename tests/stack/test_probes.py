"""Readiness probes: ready only when the component answers as it should; a refused, hung or wrong answer
is "not yet", with what was seen."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from obs_tests.stack.probes import HttpProbe, RedisProbe, TcpProbe


@pytest.fixture
def http_status() -> Iterator[tuple[str, list[int]]]:
    """A loopback HTTP server answering ``GET /healthz`` with the status in the list's first element."""
    status = [200]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status[0])
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/healthz", status
    server.shutdown()
    server.server_close()
    thread.join()


def test_http_probe_is_ready_on_200_only(http_status: tuple[str, list[int]]) -> None:
    url, status = http_status
    assert HttpProbe(url)() == (True, "HTTP 200")
    status[0] = 503
    assert HttpProbe(url)() == (False, "HTTP 503")
    status[0] = 204
    assert HttpProbe(url)() == (False, "HTTP 204")


def test_http_probe_refused_and_hung_are_not_ready(closed_port: int, silent_port: int) -> None:
    ready, detail = HttpProbe(f"http://127.0.0.1:{closed_port}/healthz")()
    assert not ready and "refused" in detail.lower()
    ready, detail = HttpProbe(f"http://127.0.0.1:{silent_port}/healthz", timeout=0.2)()
    assert not ready and "timed out" in detail.lower()


def test_tcp_probe(closed_port: int, silent_port: int) -> None:
    assert TcpProbe("127.0.0.1", silent_port)() == (True, "accepting connections")
    ready, detail = TcpProbe("127.0.0.1", closed_port)()
    assert not ready and "refused" in detail.lower()


def _answering(reply: bytes) -> tuple[socket.socket, threading.Thread]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(64)
            conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (b"+PONG\r\n", (True, "PONG")),
        (
            b"-LOADING Redis is loading the dataset in memory\r\n",
            (False, "-LOADING Redis is loading the dataset in memory"),
        ),
        (b"", (False, "no reply")),
    ],
    ids=["pong", "loading", "closed"],
)
def test_redis_probe_wants_pong(reply: bytes, expected: tuple[bool, str]) -> None:
    listener, thread = _answering(reply)
    try:
        assert RedisProbe("127.0.0.1", listener.getsockname()[1])() == expected
    finally:
        thread.join(5)
        listener.close()


def test_redis_probe_refused(closed_port: int) -> None:
    ready, detail = RedisProbe("127.0.0.1", closed_port)()
    assert not ready and "refused" in detail.lower()
