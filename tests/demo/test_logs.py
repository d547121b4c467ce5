from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

import orjson
import pytest

from obs_tests.demo.logs import JsonLogger, format_ts
from obs_tests.demo.runtime import BufferedJsonLogger


def _capture(level: str, emit: str) -> list[dict[str, object]]:
    read, write = os.pipe()
    try:
        log = JsonLogger("gateway", level, fd=write)
        getattr(log, emit)("hello", correlation_id="abc", n=1)
        os.close(write)
        data = os.read(read, 65536)
    finally:
        os.close(read)
    return [orjson.loads(line) for line in data.splitlines()]


def test_logs_one_json_object_per_line() -> None:
    (record,) = _capture("INFO", "info")
    assert record["level"] == "INFO"
    assert record["component"] == "gateway"
    assert record["msg"] == "hello"
    assert record["correlation_id"] == "abc"
    assert record["n"] == 1
    assert str(record["ts"]).endswith("Z")


@pytest.mark.parametrize(
    ("level", "emit", "logged"),
    [
        ("INFO", "debug", False),
        ("DEBUG", "debug", True),
        ("WARNING", "info", False),
        ("ERROR", "warning", False),
        ("ERROR", "error", True),
    ],
)
def test_logs_threshold(level: str, emit: str, logged: bool) -> None:
    assert bool(_capture(level, emit)) is logged


def test_logs_format_ts_millis() -> None:
    assert format_ts(0.123) == "1970-01-01T00:00:00.123Z"


def test_logs_unknown_level() -> None:
    with pytest.raises(ValueError, match="known"):
        JsonLogger("x", "TRACE")


def test_logs_closed_fd_never_raises() -> None:
    JsonLogger("x", fd=-1).error("nowhere to go")


def _buffered_lines(script: Callable[[BufferedJsonLogger], None]) -> list[dict[str, object]]:
    read, write = os.pipe()
    try:
        script(BufferedJsonLogger("gateway", "INFO", fd=write))
        os.close(write)
        data = os.read(read, 1 << 20)
    finally:
        os.close(read)
    return [orjson.loads(line) for line in data.splitlines()]


def test_buffered_logger_batches_per_loop_iteration_and_keeps_order() -> None:
    seen_before_yield: list[int] = []

    def script(log: BufferedJsonLogger) -> None:
        async def main() -> None:
            log.info("one")
            log.info("two")
            seen_before_yield.append(len(log._lines))
            log.warning("three")  # written at once, after what was buffered
            seen_before_yield.append(len(log._lines))
            log.info("four")
            log.debug("below the level")
            await asyncio.sleep(0)  # the flush callback runs

        asyncio.run(main())

    records = _buffered_lines(script)
    assert [r["msg"] for r in records] == ["one", "two", "three", "four"]
    assert seen_before_yield == [2, 0]
    assert all(str(r["ts"]).endswith("Z") and r["component"] == "gateway" for r in records)


def test_buffered_logger_without_a_loop_writes_at_once() -> None:
    def script(log: BufferedJsonLogger) -> None:
        log.info("no loop", n=1)
        assert not log._lines

    (record,) = _buffered_lines(script)
    assert (record["msg"], record["n"]) == ("no loop", 1)
