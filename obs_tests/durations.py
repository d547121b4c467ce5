"""Prometheus-style durations (``500ms``, ``1m30s``) as seconds.

Example::

    parse_duration("1m30s")   # -> 90.0
"""

from __future__ import annotations

import re

__all__ = ["parse_duration"]

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
