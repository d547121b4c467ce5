"""Free loopback ports for the embedded stack.

All ports of a stack are reserved in one go by binding every socket to port 0 at the same time (so
the kernel hands out distinct ports) and released just before the processes start. Parallel stacks
on one machine therefore never pick the same port; the remaining window (another program binding the
port between release and our server's bind) is reported by the stack as a start error naming the port.
"""

from __future__ import annotations

import socket
import threading
from collections import deque

__all__ = ["LOOPBACK", "allocate_ports", "port_in_use"]

LOOPBACK = "127.0.0.1"


# Ports handed out recently by this process: stacks started at the same time (scenarios on several
# stacks) must not be given a port another one was given a moment ago and has not bound yet.
_RECENT = 4096
_handed_out: deque[int] = deque()
_handed_out_set: set[int] = set()
_lock = threading.Lock()


def allocate_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """Return ``count`` distinct ports that were free on ``host`` a moment ago (and not handed out by
    an earlier call of this process)."""
    if count < 0:
        raise ValueError("count must be >= 0")
    sockets: list[socket.socket] = []
    ports: list[int] = []
    with _lock:
        try:
            while len(ports) < count:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.bind((host, 0))
                sockets.append(sock)  # held until the end: the kernel gives each bind another port
                port = int(sock.getsockname()[1])
                if port not in _handed_out_set:
                    ports.append(port)
        finally:
            for sock in sockets:
                sock.close()
        for port in ports:
            _handed_out.append(port)
            _handed_out_set.add(port)
            if len(_handed_out) > _RECENT:
                _handed_out_set.discard(_handed_out.popleft())
    return ports


def port_in_use(port: int, host: str = LOOPBACK) -> bool:
    """True when something listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0
