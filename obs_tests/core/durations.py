"""Prometheus-style durations (``500ms``, ``1m30s``) to seconds and back.

Example::

    parse_duration("1m30s")   # -> 90.0
    format_duration(90.0)     # -> "1m30s"
"""

from __future__ import annotations

import re

__all__ = ["format_duration", "parse_duration"]

_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 31536000.0}


def parse_duration(text: str) -> float:
    """Parse a Prometheus-style duration (``500ms``, ``1m30s``) into seconds.

    >>> parse_duration("1m30s")
    90.0
    """
    pos = 0
    total = 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"not a duration: {text[:40]!r} (use e.g. 500ms, 1s, 2m)")
    return total


def format_duration(seconds: float) -> str:
    """A Prometheus duration for ``seconds`` in whole milliseconds, largest unit first (``h`` at most).

    Prometheus config (``scrape_interval``), rule files (``for:``, range selectors) and promtool unit
    tests all read it; negative values give ``0s``.

    >>> format_duration(12.0), format_duration(0.25), format_duration(3600)
    ('12s', '250ms', '1h')
    >>> format_duration(90.5), format_duration(0)
    ('1m30s500ms', '0s')
    """
    ms = max(round(seconds * 1000), 0)
    if ms == 0:
        return "0s"
    parts = []
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, ms = divmod(ms, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
