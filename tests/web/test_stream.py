"""The stream buffer: numbering, validation, resume, overflow, filters — and overflow through a real server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from obs_tests.config.contract import load_contract
from obs_tests.config.validation import Validator, load_schema
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.scenarios.model import Catalog
from obs_tests.web.app import create_app
from obs_tests.web.runs import RunManager
from obs_tests.web.scenario_files import ScenarioFiles
from obs_tests.web.stream import Stream, StreamMessageInvalid, validate_message

from .helpers import FIXTURES, ROOT

RUN = "20261122-081618-a1b2c3"
OTHER = "20261122-081619-d4e5f6"


def log(stream: Stream, text: str, test_id: str = RUN) -> int:
    return stream.publish("log", {"level": "INFO", "message": text, "t": 0.0}, test_id)


def stack(stream: Stream, text: str) -> int:
    return stream.publish("stack", {"state": "ready", "time_scale": 0.02, "message": text})


async def take(stream: Stream, count: int, **kwargs: Any) -> list[dict[str, Any]]:
    out = []
    async with contextlib.aclosing(stream.subscribe(**kwargs)) as messages:
        async for item in messages:
            if item is None:
                out.append({"type": "heartbeat"})
            else:
                seq, raw = item
                message = json.loads(raw)
                assert message["seq"] == seq
                validate_message(message)
                out.append(message)
            if len(out) == count:
                break
    return out


def test_messages_are_numbered_from_one_and_valid() -> None:
    stream = Stream(100)
    assert [log(stream, f"m{i}") for i in range(3)] == [1, 2, 3]
    assert stream.seq == 3 and stream.oldest == 1
    messages = asyncio.run(take(stream, 4, since=0))
    assert [m["type"] for m in messages] == ["hello", "log", "log", "log"]
    assert messages[0]["data"] == {"head": 3, "oldest": 1, "buffer": 100, "since": 0, "test_id": None}
    assert [m["data"]["message"] for m in messages[1:]] == ["m0", "m1", "m2"]


def test_an_invalid_run_message_becomes_an_error_log_and_a_server_message_raises() -> None:
    stream = Stream(10)
    stream.publish("log", {"level": "LOUD", "message": "x", "t": 0}, RUN)
    (message,) = asyncio.run(take(stream, 2, since=0))[1:]
    assert message["type"] == "log" and message["data"]["level"] == "ERROR"
    assert "stream message dropped: log message: data.level: 'LOUD' is not one of" in message["data"]["message"]
    assert stream.invalid == 1
    with pytest.raises(StreamMessageInvalid, match=r"^stack message: data\.state: 'melting' is not one of \["):
        stream.publish("stack", {"state": "melting", "time_scale": 0.02, "message": ""})


def test_without_since_the_stream_starts_now() -> None:
    stream = Stream(10)
    log(stream, "old")

    async def scenario() -> list[dict[str, Any]]:
        out = []
        async with contextlib.aclosing(stream.subscribe()) as messages:
            async for item in messages:
                assert item is not None
                out.append(json.loads(item[1]))
                if len(out) == 1:  # subscribed (the hello came): publish from another thread
                    await asyncio.to_thread(log, stream, "new")
                else:
                    break
        return out

    hello, new = asyncio.run(scenario())
    assert hello["seq"] == 1 and hello["data"]["since"] == 1
    assert new["seq"] == 2 and new["data"]["message"] == "new"


def test_resume_replays_everything_after_since_then_goes_live_from_other_threads() -> None:
    stream = Stream(100)
    for i in range(5):
        log(stream, f"before {i}")

    async def scenario() -> list[dict[str, Any]]:
        task = asyncio.create_task(take(stream, 1 + 3 + 4, since=2))
        writer = threading.Thread(target=lambda: [log(stream, f"after {i}") for i in range(4)])
        writer.start()
        result = await task
        writer.join()
        return result

    messages = asyncio.run(scenario())
    assert messages[0]["type"] == "hello" and messages[0]["seq"] == 2
    assert [m["seq"] for m in messages[1:]] == [3, 4, 5, 6, 7, 8, 9]


def test_a_client_too_far_behind_gets_an_overflow_message() -> None:
    stream = Stream(5)
    for i in range(12):
        log(stream, f"m{i}")
    hello, overflow, *rest = asyncio.run(take(stream, 7, since=2))
    assert hello["seq"] == 2
    assert overflow["type"] == "overflow" and overflow["seq"] == 7
    assert overflow["data"]["missed_from"] == 3 and overflow["data"]["missed_to"] == 7
    assert overflow["data"]["missed"] == 5 and overflow["data"]["buffer"] == 5
    assert [m["seq"] for m in rest] == [8, 9, 10, 11, 12]


def test_a_slow_subscriber_falling_behind_mid_stream_gets_an_overflow() -> None:
    stream = Stream(5)
    log(stream, "first")

    async def scenario() -> list[dict[str, Any]]:
        out = []
        async with contextlib.aclosing(stream.subscribe(since=0)) as messages:
            async for item in messages:
                assert item is not None
                out.append(json.loads(item[1]))
                if len(out) == 2:  # hello and "first" read; now 10 more are published at once
                    for i in range(10):
                        log(stream, f"burst {i}")
                if len(out) == 8:
                    break
        return out

    messages = asyncio.run(scenario())
    assert [m["type"] for m in messages[:3]] == ["hello", "log", "overflow"]
    assert messages[2]["data"]["missed_from"] == 2 and messages[2]["data"]["missed_to"] == 6
    assert [m["seq"] for m in messages[3:]] == [7, 8, 9, 10, 11]


def test_a_test_id_filter_keeps_the_run_and_server_messages() -> None:
    stream = Stream(50)
    log(stream, "mine")
    log(stream, "other", OTHER)
    stack(stream, "server")
    log(stream, "mine again")
    messages = asyncio.run(take(stream, 4, since=0, test_id=RUN))
    assert [m["seq"] for m in messages[1:]] == [1, 3, 4]
    assert messages[0]["data"]["test_id"] == RUN


def test_heartbeats_while_silent_and_close_ends_subscriptions() -> None:
    stream = Stream(10, heartbeat=0.05)

    async def scenario() -> list[str]:
        kinds = []
        async with contextlib.aclosing(stream.subscribe()) as messages:
            async for item in messages:
                kinds.append("heartbeat" if item is None else json.loads(item[1])["type"])
                if kinds == ["hello", "heartbeat"]:
                    stream.close()
        return kinds  # the loop ended: close() ended the subscription

    assert asyncio.run(asyncio.wait_for(scenario(), timeout=10)) == ["hello", "heartbeat"]
    assert log(stream, "after close") == 0


@pytest.fixture
def small_buffer_server(tmp_path: Path) -> Iterator[tuple[str, Stream]]:
    """The real app (no stack) on a loopback port, served by uvicorn in a thread, with a 10-message buffer."""
    contract = load_contract(ROOT / "obs.yaml")
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "broken.yaml").write_text((FIXTURES / "broken.yaml").read_text())
    stream = Stream(10)
    manager = RunManager(
        contract,
        files=ScenarioFiles(scenarios, Catalog.from_contract(contract)),
        report_dir=tmp_path / "reports",
        stream=stream,
    )
    app = create_app(manager, start_stack=False)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: Poll(server.started, server.started), timeout=15, expected="uvicorn started")
        yield f"127.0.0.1:{sock.getsockname()[1]}", stream
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        assert not thread.is_alive()


def test_overflow_over_a_real_websocket(small_buffer_server: tuple[str, Stream]) -> None:
    address, stream = small_buffer_server
    for i in range(30):
        stack(stream, f"change {i}")
    with connect(f"ws://{address}/api/stream?since=0", proxy=None) as ws:
        messages = [json.loads(ws.recv(timeout=10)) for _ in range(12)]
    for message in messages:
        validate_message(message)
    assert [m["type"] for m in messages[:2]] == ["hello", "overflow"]
    assert messages[1]["data"]["missed_from"] == 1 and messages[1]["data"]["missed_to"] == 20
    assert [m["seq"] for m in messages[2:]] == list(range(21, 31))


def test_batched_websocket_frames_carry_every_waiting_message_a_line_each(
    small_buffer_server: tuple[str, Stream],
) -> None:
    address, stream = small_buffer_server
    for i in range(8):
        stack(stream, f"change {i}")
    with connect(f"ws://{address}/api/stream?since=2&batch=1", proxy=None) as ws:
        frames = [ws.recv(timeout=10) for _ in range(2)]
        stack(stream, "live")
        live = ws.recv(timeout=10)
    assert isinstance(frames[0], str) and json.loads(frames[0])["type"] == "hello"
    waiting = [json.loads(line) for line in frames[1].split("\n")]  # the 6 waiting messages: one frame
    for message in waiting:
        validate_message(message)
    assert [m["seq"] for m in waiting] == [3, 4, 5, 6, 7, 8]
    assert json.loads(live)["seq"] == 9  # one message waiting: a frame of one line


def test_unbatched_websocket_frames_carry_one_message_each(small_buffer_server: tuple[str, Stream]) -> None:
    address, stream = small_buffer_server
    for i in range(3):
        stack(stream, f"change {i}")
    with connect(f"ws://{address}/api/stream?since=0&batch=0", proxy=None) as ws:
        seqs = [json.loads(ws.recv(timeout=10))["seq"] for _ in range(4)]
    assert seqs == [0, 1, 2, 3]


def test_a_bad_batch_parameter_refuses_the_websocket(small_buffer_server: tuple[str, Stream]) -> None:
    # refused before the upgrade, as a bad since= is (SSE answers 400 with the reason)
    address, _ = small_buffer_server
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://{address}/api/stream?batch=yes", proxy=None)
    assert refused.value.response.status_code == 403


def test_what_waits_for_a_client_comes_in_one_batch_and_a_full_buffer_resumes_from_its_newest_end() -> None:
    async def main() -> tuple[list[list[int] | None], list[int]]:
        stream = Stream(size=5)
        for i in range(12):
            log(stream, f"m{i}")
        got: list[list[int] | None] = []
        async with contextlib.aclosing(stream.batches(since=9)) as batches:
            async for batch in batches:
                got.append(None if batch is None else [seq for seq, _ in batch])
                if len(got) == 2:
                    break
        behind = await take(stream, 3, since=2)  # 3..7 are gone: overflow, then from the oldest (8)
        return got, [m["seq"] for m in behind]

    got, behind = asyncio.run(main())
    assert got == [[9], [10, 11, 12]]  # the hello (at 9), then the 3 waiting messages at once
    assert behind == [2, 7, 8]  # hello at 2, overflow up to 7, then 8


def test_a_publish_wakes_the_sleeping_subscribers_with_one_call_per_event_loop() -> None:
    """At 100 clients, waking every subscriber by a call per message was most of the server's work."""

    async def main() -> tuple[int, list[int]]:
        stream = Stream(size=100)
        loop = asyncio.get_running_loop()
        calls: list[object] = []
        original = loop.call_soon_threadsafe

        def counting(callback: Any, *args: Any) -> Any:
            calls.append(callback)
            return original(callback, *args)

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign,assignment]
        generators = [stream.subscribe() for _ in range(50)]
        for generator in generators:
            assert json.loads((await anext(generator))[1])["type"] == "hello"  # type: ignore[index]
        reads = [asyncio.create_task(anext(g)) for g in generators]
        deadline = loop.time() + 10
        while len(stream._asleep) < 50 and loop.time() < deadline:
            await asyncio.sleep(0)  # let each subscriber reach its wait
        assert len(stream._asleep) == 50
        await asyncio.to_thread(log, stream, "wake up")  # from a run's thread, as runs publish
        seqs = [item[0] for item in await asyncio.gather(*reads)]  # type: ignore[index]
        for generator in generators:
            await generator.aclose()
        return sum(1 for c in calls if getattr(c, "__name__", "") == "_set_all"), seqs  # to_thread calls too

    wakes, seqs = asyncio.run(main())
    assert seqs == [1] * 50
    assert wakes == 1


def _kinds() -> dict[str, dict[str, Any]]:
    """A valid message of each kind, after the JSON round trip ``Stream`` makes."""
    data: dict[str, dict[str, Any]] = {
        "hello": {"head": 3, "oldest": 1, "buffer": 100, "since": 0, "test_id": None},
        "overflow": {"missed_from": 1, "missed_to": 4, "missed": 4, "buffer": 10, "message": "gone"},
        "stack": {"state": "ready", "time_scale": 0.02, "message": ""},
        "run": {"scenario": "gateway-down", "status": "running", "phase": "running", "options": {"verbose": True}},
        "status": {
            "status": "passed",
            "phase": "finished",
            "duration": 14.2,
            "assertions_passed": 3,
            "assertions_total": 3,
            "chaos": {"applied": 1, "reverted": 1, "active": []},
        },
        "log": {"level": "WARNING", "message": "x" * 500, "t": 1.5},
        "event": {"t": 2.0, "kind": "alert", "name": "Down", "state": "firing", "labels": {"a": "b"}, "detail": {}},
        "assertion": {"name": "n", "passed": False, "expected": "e", "actual": "a", "message": "m"},
    }
    server_wide = ("hello", "overflow", "stack")
    return {
        kind: json.loads(
            json.dumps(
                {"seq": 1, "type": kind, "ts": 1.0, "test_id": None if kind in server_wide else RUN, "data": doc}
            )
        )
        for kind, doc in data.items()
    }


def _broken(message: dict[str, Any]) -> list[dict[str, Any]]:
    """``message`` broken in each way a publisher bug could break it."""
    first = next(iter(message["data"]))
    out = []
    for change in (
        lambda m: m["data"].pop(first),  # a required field missing
        lambda m: m["data"].__setitem__(first, [1]),  # a field of the wrong type
        lambda m: m["data"].__setitem__("unexpected", 1),  # a field the schema does not have
        lambda m: m.__setitem__("seq", -1),  # an envelope field out of range
        lambda m: m.__setitem__("type", "gossip"),  # an unknown kind
        lambda m: m.pop("ts"),  # the envelope incomplete
    ):
        copy = json.loads(json.dumps(message))
        change(copy)
        out.append(copy)
    return out


@pytest.mark.parametrize("kind", list(_kinds()))
def test_the_compiled_check_and_jsonschema_agree_on_every_kind_valid_and_broken(kind: str) -> None:
    # the stream validates with the compiled schema and explains a failure with jsonschema: they must agree
    reference = Validator(load_schema("stream"))
    message = _kinds()[kind]
    validate_message(message)
    assert not list(reference.iter_errors(message))
    refused = []
    for broken in _broken(message):
        if list(reference.iter_errors(broken)):
            with pytest.raises(StreamMessageInvalid, match=rf"^{broken['type']} message: "):
                validate_message(broken)
            refused.append(True)
        else:
            validate_message(broken)  # jsonschema accepts it: so must the compiled check
            refused.append(False)
    # the envelope's rules hold for every kind: a negative seq, an unknown kind, no ts are always refused
    assert refused[3:] == [True, True, True]
    assert sum(refused) >= 4, refused
