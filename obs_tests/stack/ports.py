"""Free loopback ports for the embedded stack.

All ports of a stack are reserved in one go by binding a socket to each at the same time and
released just before the processes start. They are taken *below* the kernel's ephemeral range
(``/proc/sys/net/ipv4/ip_local_port_range``, 32768-60999 by default): a port from that range, once
released, can be taken as the local port of any outgoing connection on the machine (a busy Locust run
makes thousands) before our server binds it. Below it, only another listening program can collide,
which the stack reports as a start error naming the port. Where the range cannot be read, or leaves
too little room below, the kernel picks (port 0).
"""

from __future__ import annotations

import random
import socket
import threading
from collections import deque

__all__ = ["LOOPBACK", "allocate_ports", "listen_range", "port_in_use"]

LOOPBACK = "127.0.0.1"


# Ports handed out recently by this process: stacks started at the same time (scenarios on several
# stacks) must not be given a port another one was given a moment ago and has not bound yet.
_RECENT = 4096
_handed_out: deque[int] = deque()
_handed_out_set: set[int] = set()
_lock = threading.Lock()


_LOWEST = 10000
_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range"


def listen_range(range_file: str = _RANGE_FILE) -> tuple[int, int] | None:
    """The ports to pick from: ``[10000, first ephemeral port)``, or None when the ephemeral range
    cannot be read or leaves fewer than 1000 ports below it."""
    try:
        with open(range_file, encoding="ascii") as handle:
            low = int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return (_LOWEST, low) if low - _LOWEST >= 1000 else None


def _bind_candidate(host: str, span: tuple[int, int] | None) -> socket.socket | None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, random.randrange(*span) if span else 0))
    except OSError:  # taken: try another
        sock.close()
        return None
    return sock


def allocate_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """Return ``count`` distinct ports that were free on ``host`` a moment ago (and not handed out by
    an earlier call of this process), below the ephemeral range when there is room."""
    if count < 0:
        raise ValueError("count must be >= 0")
    span = listen_range()
    sockets: list[socket.socket] = []
    ports: list[int] = []
    with _lock:
        try:
            attempts = 0
            while len(ports) < count:
                attempts += 1
                if span is not None and attempts > 100 * (count + 10):
                    span = None  # the range is crowded: let the kernel pick
                sock = _bind_candidate(host, span)
                if sock is None:
                    continue
                sockets.append(sock)  # held until the end: each bind gets another port
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
