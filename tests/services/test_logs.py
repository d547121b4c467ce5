from __future__ import annotations

import os

import orjson
import pytest

from obs_tests.services.logs import JsonLogger, format_ts


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
