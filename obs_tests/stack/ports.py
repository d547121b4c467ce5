"""Free loopback ports for the embedded stack.

All ports of a stack are reserved in one go by binding every socket to port 0 at the same time (so
the kernel hands out distinct ports) and released just before the processes start. Parallel stacks
on one machine therefore never pick the same port; the remaining window (another program binding the
port between release and our server's bind) is reported by the stack as a start error naming the port.
"""

from __future__ import annotations

import socket

__all__ = ["LOOPBACK", "allocate_ports", "port_in_use"]

LOOPBACK = "127.0.0.1"


def allocate_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """Return ``count`` distinct ports that were free on ``host`` a moment ago."""
    if count < 0:
        raise ValueError("count must be >= 0")
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_in_use(port: int, host: str = LOOPBACK) -> bool:
    """True when something listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0
