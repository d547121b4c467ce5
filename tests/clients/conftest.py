"""A tiny local HTTP server whose answers each test scripts."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest


@dataclass
class Scripted:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    requests: list[str] = field(default_factory=list)


class _Handler(http.server.BaseHTTPRequestHandler):
    script: Scripted

    def _answer(self) -> None:
        self.script.requests.append(f"{self.command} {self.path}")
        self.send_response(self.script.status)
        self.send_header("Content-Type", self.script.content_type)
        self.send_header("Content-Length", str(len(self.script.body)))
        self.end_headers()
        self.wfile.write(self.script.body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[tuple[str, Scripted]]:
    script = Scripted()
    handler = type("H", (_Handler,), {"script": script})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", script
    server.shutdown()
    server.server_close()
    thread.join()
