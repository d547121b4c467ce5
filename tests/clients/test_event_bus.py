"""The validator's NATS connection, against a real nats-server on a free loopback port."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from obs_tests.clients.event_bus import EventBus
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.errors import ApiError


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def nats_url() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        ["nats-server", "-a", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:

        def listening() -> Poll[bool]:
            with socket.socket() as sock:
                ok = sock.connect_ex(("127.0.0.1", port)) == 0
            return Poll(ok, ok)

        wait_for(listening, timeout=10, interval=0.05, expected="nats-server listening")
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_what_is_published_after_subscribing_is_received_in_order(nats_url: str) -> None:
    received: list[tuple[bytes, str]] = []
    done = threading.Event()

    def handler(body: bytes, subject: str) -> None:
        received.append((body, subject))
        if len(received) == 3:
            done.set()

    with EventBus(nats_url) as bus:
        bus.subscribe("bot.events.>", handler)
        bus.publish("bot.events.A", b"1")
        bus.publish_many([("bot.events.B", b"2"), ("other.C", b"x"), ("bot.events.C", b"3")])
        assert done.wait(10), f"received only {received}"
    assert received == [(b"1", "bot.events.A"), (b"2", "bot.events.B"), (b"3", "bot.events.C")]


def test_no_server_is_a_clear_error_and_leaves_no_thread() -> None:
    before = threading.active_count()
    started = time.monotonic()
    with pytest.raises(ApiError, match=r"NATS at nats://127.0.0.1:\d+: cannot connect"):
        EventBus(f"nats://127.0.0.1:{_free_port()}", timeout=1)
    assert time.monotonic() - started < 15
    assert threading.active_count() == before
