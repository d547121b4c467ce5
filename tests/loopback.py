"""A throwaway HTTP server on loopback for tests that need something to answer (recorded APIs, a lenient
gateway): ``with serving(Handler) as url: ...`` — shut down and joined on exit."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from obs_tests.demo.signals import parse_signal
from obs_tests.errors import ObsTestsError


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a threaded server of ``handler``, for the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def lenient_gateway(fail_every: int = 0) -> type[BaseHTTPRequestHandler]:
    """A gateway for Locust runs of ``load/locustfile.py``: 200 for a valid signal, 400 for a malformed one,
    0-30 ms of latency; with ``fail_every`` N every Nth valid signal gets a 503 (a failure for Locust)."""
    lock = threading.Lock()
    seen = {"valid": 0}

    class Gateway(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(random.uniform(0.0, 0.03))
            try:
                parse_signal(body)
            except (ObsTestsError, ValueError, TypeError, KeyError):
                status = 400
            else:
                with lock:
                    seen["valid"] += 1
                    status = 503 if fail_every and seen["valid"] % fail_every == 0 else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    return Gateway
