"""Structured JSON logs, one object per line on stdout, cheap enough for the request hot path.

No ``logging`` module: each line is one ``orjson.dumps`` and one ``os.write`` so lines from one process
never interleave and reach a pipe or file at once (the supervisor and tests read them live)::

    {"ts":"2026-11-22T10:00:00.123Z","level":"INFO","component":"gateway","msg":"signal accepted",
     "correlation_id":"4f0c…","subject":"signals.trade.buy"}
"""

from __future__ import annotations

import os
import time
from typing import Any, Final

import orjson

__all__ = ["LEVELS", "JsonLogger", "format_ts"]

LEVELS: Final = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}


def format_ts(epoch: float) -> str:
    """RFC 3339 UTC with milliseconds, e.g. ``2026-11-22T10:00:00.123Z``."""
    seconds = int(epoch)
    millis = int((epoch - seconds) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


class JsonLogger:
    """Writes one JSON object per line to a file descriptor (stdout by default).

    >>> log = JsonLogger("gateway", level="INFO")
    >>> log.info("signal accepted", correlation_id="abc")  # doctest: +SKIP
    """

    __slots__ = ("_fd", "_threshold", "component")

    def __init__(self, component: str, level: str = "INFO", fd: int = 1) -> None:
        if level.upper() not in LEVELS:
            raise ValueError(f"unknown log level {level!r}; known: {', '.join(LEVELS)}")
        self.component = component
        self._threshold = LEVELS[level.upper()]
        self._fd = fd

    def enabled(self, level: str) -> bool:
        """Whether ``level`` is logged (to skip building expensive fields)."""
        return LEVELS[level] >= self._threshold

    def log(self, level: str, msg: str, **fields: Any) -> None:
        """Write one line at ``level`` with extra ``fields`` (``correlation_id`` etc.)."""
        if LEVELS[level] < self._threshold:
            return
        record = {"ts": format_ts(time.time()), "level": level, "component": self.component, "msg": msg}
        record.update(fields)
        line = orjson.dumps(record, default=str, option=orjson.OPT_APPEND_NEWLINE)
        try:  # noqa: SIM105 -- cheaper than contextlib.suppress on the hot path
            os.write(self._fd, line)
        except OSError:  # a closed or full stdout must never break the service
            pass

    def debug(self, msg: str, **fields: Any) -> None:
        """Log at DEBUG."""
        if self._threshold <= 10:
            self.log("DEBUG", msg, **fields)

    def info(self, msg: str, **fields: Any) -> None:
        """Log at INFO."""
        if self._threshold <= 20:
            self.log("INFO", msg, **fields)

    def warning(self, msg: str, **fields: Any) -> None:
        """Log at WARNING."""
        self.log("WARNING", msg, **fields)

    def error(self, msg: str, **fields: Any) -> None:
        """Log at ERROR."""
        self.log("ERROR", msg, **fields)
