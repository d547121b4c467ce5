"""Readiness probes: cheap, non-blocking-ish checks that a component answers.

Each probe is a callable returning ``(ready, detail)``; the supervisor polls them with a deadline.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["HttpProbe", "Probe", "RedisProbe", "TcpProbe"]

Probe = Callable[[], tuple[bool, str]]

# Loopback only: no proxy (and no proxy settings read from the environment, which another thread may
# be changing — pytest does between tests).
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class HttpProbe:
    """Ready when ``GET url`` answers 200 within ``timeout``."""

    url: str
    timeout: float = 0.5

    def __call__(self) -> tuple[bool, str]:
        try:
            with _OPENER.open(self.url, timeout=self.timeout) as resp:
                return resp.status == 200, f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            return False, f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return False, str(reason)


@dataclass(frozen=True)
class TcpProbe:
    """Ready when a TCP connection to ``host:port`` succeeds."""

    host: str
    port: int
    timeout: float = 0.5

    def __call__(self) -> tuple[bool, str]:
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout):
                return True, "accepting connections"
        except OSError as exc:
            return False, str(exc)


@dataclass(frozen=True)
class RedisProbe:
    """Ready when Redis answers ``PING`` with ``+PONG``."""

    host: str
    port: int
    timeout: float = 0.5

    def __call__(self) -> tuple[bool, str]:
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout) as sock:
                sock.sendall(b"PING\r\n")
                reply = sock.recv(64)
        except OSError as exc:
            return False, str(exc)
        if reply.startswith(b"+PONG"):
            return True, "PONG"
        return False, reply.decode("ascii", "replace").strip() or "no reply"
