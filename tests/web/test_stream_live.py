"""The live stream during a real run: valid messages, no loss across a reconnect, latency."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import jsonschema
import pytest
from websockets.sync.client import connect

from obs_tests.core.waiting import Poll, wait_for

from .helpers import Server, sse_messages

pytestmark = [pytest.mark.stack, pytest.mark.slow]


def ws_url(server: Server, query: str) -> str:
    return server.url.replace("http://", "ws://") + "/api/stream" + query


class Reader:
    """Reads a WebSocket in a thread, stamping each message with its receive time."""

    def __init__(self, url: str) -> None:
        self.connection = connect(url, proxy=None).__enter__()
        self.messages: list[dict[str, Any]] = []
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for raw in self.connection:
                message = json.loads(raw)
                message["_at"] = time.time()
                self.messages.append(message)
        except Exception:  # noqa: BLE001 - the test closes the connection under the reader
            pass
        finally:
            self.closed.set()

    def data(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] not in ("hello", "overflow")]

    def finished(self, test_id: str) -> bool:
        return any(
            m["type"] == "run" and m["test_id"] == test_id and m["data"]["status"] != "running" for m in self.messages
        )

    def close(self) -> None:
        self.connection.close()
        self.thread.join(timeout=10)


def wait_messages(reader: Reader, predicate: Any, expected: str, timeout: float = 150) -> None:
    def probe() -> Poll[int]:
        return Poll(bool(predicate()), len(reader.messages), f"{len(reader.messages)} messages")

    wait_for(probe, timeout=timeout, interval=0.05, expected=expected)


def strip(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if not k.startswith("_")}


def test_reconnect_with_last_seq_loses_nothing_and_latency_is_low(idle: Server) -> None:
    server = idle
    validator = jsonschema.Draft202012Validator(server.get("/api/stream.schema.json").json())
    start = server.info()["stream"]["seq"]
    reference = Reader(ws_url(server, f"?since={start}"))
    flaky = Reader(ws_url(server, f"?since={start}"))
    sse = server.session.get(server.url + f"/api/stream?since={start}", stream=True, timeout=(5, 300))
    sse_seen: list[dict[str, Any]] = []

    def read_sse() -> None:
        for message in sse_messages(sse):
            sse_seen.append(message)
            if message["type"] == "run" and message["data"]["status"] != "running":
                return

    sse_thread = threading.Thread(target=read_sse, daemon=True)
    sse_thread.start()
    resumed: Reader | None = None
    try:
        test_id = server.run("exchange-down", verbose=True)
        # the flaky client drops out mid-run, after a few of the run's messages ...
        wait_messages(flaky, lambda: len([m for m in flaky.data() if m["test_id"] == test_id]) >= 8, "8 messages")
        flaky.close()
        last = flaky.messages[-1]["seq"]
        # ... misses some while away ...
        wait_messages(reference, lambda: reference.messages[-1]["seq"] >= last + 15, "15 more messages")
        # ... and comes back with its last sequence number
        resumed = Reader(ws_url(server, f"?since={last}"))
        wait_messages(reference, lambda: reference.finished(test_id), "the run's final status")
        wait_messages(resumed, lambda: resumed.finished(test_id), "the run's final status on the resumed client")
        sse_thread.join(timeout=30)
    finally:
        for reader in (reference, flaky, resumed):
            if reader is not None:
                reader.close()
        sse.close()

    everything = reference.data()
    assert len(everything) > 40
    for message in reference.messages + flaky.messages + resumed.messages:
        validator.validate(strip(message))
    seqs = [m["seq"] for m in everything]
    assert seqs == list(range(start + 1, start + 1 + len(seqs))), "consecutive sequence numbers"
    hello = resumed.messages[0]
    assert hello["type"] == "hello" and hello["seq"] == last and hello["data"]["since"] == last
    union = [strip(m) for m in flaky.data()] + [strip(m) for m in resumed.data()]
    assert [m["seq"] for m in union] == seqs, "the reconnected client saw every message exactly once"
    assert union == [strip(m) for m in everything]
    sse_data = [m for m in sse_seen if m["type"] != "hello"]
    assert [m["seq"] for m in sse_data] == seqs
    assert all(m["_id"] == str(m["seq"]) for m in sse_seen)
    types = {m["type"] for m in everything}
    assert {"run", "status", "log", "event", "assertion"} <= types

    latencies = sorted(m["_at"] - m["ts"] for m in everything)
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"\nstream latency over {len(latencies)} messages: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
    assert p99 < 0.1, f"P99 server→client latency {p99 * 1000:.1f} ms (goal < 100 ms)"


def test_sse_resumes_from_last_event_id(server: Server) -> None:
    head = server.info()["stream"]["seq"]
    assert head >= 3
    with server.session.get(
        server.url + "/api/stream", headers={"Last-Event-ID": str(head - 3)}, stream=True, timeout=30
    ) as response:
        messages = []
        for message in sse_messages(response):
            messages.append(message)
            if len(messages) == 4:
                break
    assert messages[0]["type"] == "hello" and messages[0]["seq"] == head - 3
    assert [m["seq"] for m in messages[1:]] == [head - 2, head - 1, head]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        pytest.param("?since=-1", "since: '-1' is not a non-negative integer", id="negative"),
        pytest.param("?since=abc", "since: 'abc' is not a non-negative integer", id="text"),
        pytest.param("?test_id=../x", "test_id: '../x'", id="test-id"),
    ],
)
def test_bad_stream_parameters_are_400(server: Server, query: str, reason: str) -> None:
    response = server.get("/api/stream" + query)
    assert response.status_code == 400
    assert reason in response.json()["error"]


def test_websocket_frames_are_not_compressed(server: Server) -> None:
    # compressing every message for every client separately was a quarter of a busy server's work: the
    # server declines permessage-deflate, which a browser (like this client) offers
    with connect(ws_url(server, ""), proxy=None) as ws:
        hello = json.loads(ws.recv(timeout=10))
        assert ws.response is not None
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions")
    assert hello["type"] == "hello" and extensions is None
