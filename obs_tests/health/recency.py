"""Recovered or going on: when the counters an incident makes grow (dropped notifications, failed sends,
missed evaluations) last grew, read from the ``*_last`` queries of :mod:`obs_tests.health.prometheus_state`,
so a check tells an incident that ended within its window from one still going on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from obs_tests.clients.prometheus import Sample

__all__ = ["ONGOING", "Recency"]


@dataclass(frozen=True)
class Recency:
    """When counter series last grew (``last``: samples whose value is that time, on Prometheus' clock), to
    tell an incident that ended within the window from one still going on: growth older than ``ongoing``
    seconds at ``now`` has ended. Without a matching sample the growth counts as going on."""

    last: Sequence[Sample] = ()
    now: float = 0.0
    ongoing: float = math.inf

    def ended(self, sample: Sample) -> float | None:
        """When the growth of ``sample``'s series ended, or None while it may still be going on."""
        for other in self.last:
            if other.labels == sample.labels and self.now - other.value > self.ongoing:
                return other.value
        return None

    def describe(self, ended: float) -> str:
        """``the last 252s ago (05:10:03 UTC), none since — recovered``."""
        clock = datetime.fromtimestamp(ended, tz=UTC).strftime("%H:%M:%S")
        return f"the last {self.now - ended:.0f}s ago ({clock} UTC), none since — recovered"

    def fields(self, ended: float | None) -> dict[str, Any]:
        """The problem's fields for when it ended (nothing while it goes on)."""
        if ended is None:
            return {}
        when = datetime.fromtimestamp(ended, tz=UTC).isoformat()
        return {"ended": when, "ended_seconds_ago": round(self.now - ended)}


#: no ``*_last`` samples: every growth counts as going on (the judges' default)
ONGOING = Recency()
