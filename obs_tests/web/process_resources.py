"""A process' resource use under load: RSS and CPU sampled in a thread, and whether they stay flat after a
warm-up — the stream load benchmark's "resource use stable" criterion.

Example::

    monitor = ResourceMonitor(server_pid).start()
    ...                                    # the load
    monitor.stop()
    monitor.summary(warmup=15).stable      # RSS and CPU at the end vs. after warm-up
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import psutil

__all__ = ["ResourceMonitor", "ResourceSummary", "summarize"]


@dataclass(frozen=True)
class ResourceSummary:
    """A process' RSS (MB) and CPU (% of one core) after warm-up and at the end of a run."""

    samples: int
    warm_rss: float
    end_rss: float
    peak_rss: float
    warm_cpu: float
    end_cpu: float
    rss_growth_limit: float
    cpu_growth_limit: float

    @property
    def rss_growth(self) -> float:
        return self.end_rss - self.warm_rss

    @property
    def stable(self) -> bool:
        """No RSS growth after warm-up beyond the limit, and CPU not climbing beyond its limit."""
        return self.rss_growth <= self.rss_growth_limit and self.end_cpu <= self.warm_cpu + self.cpu_growth_limit

    def describe(self) -> str:
        verdict = "stable" if self.stable else "GROWING"
        return (
            f"RSS {self.warm_rss:.0f} MB after warm-up → {self.end_rss:.0f} MB at the end ({self.rss_growth:+.1f} MB, "
            f"limit +{self.rss_growth_limit:.0f}), peak {self.peak_rss:.0f} MB; CPU {self.warm_cpu:.0f} % → "
            f"{self.end_cpu:.0f} % of a core (limit +{self.cpu_growth_limit:.0f}); {self.samples} samples: {verdict}"
        )


@dataclass
class ResourceMonitor:
    """Samples ``pid``'s RSS and CPU every ``interval`` seconds in a thread, from :meth:`start` to :meth:`stop`."""

    pid: int
    interval: float = 0.5
    samples: list[tuple[float, float, float]] = field(default_factory=list)  # (t, RSS MB, CPU %)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _started: float = 0.0

    def start(self) -> ResourceMonitor:
        process = psutil.Process(self.pid)
        process.cpu_percent(None)
        started = self._started = time.monotonic()

        def sample() -> None:
            while not self._stop.wait(self.interval):
                with contextlib.suppress(psutil.Error):
                    rss = process.memory_info().rss / 1e6
                    self.samples.append((time.monotonic() - started, rss, process.cpu_percent(None)))

        self._thread = threading.Thread(target=sample, name="resource-monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def elapsed(self) -> float:
        """Seconds since :meth:`start` (the samples' time base): mark when a warm-up ended."""
        return time.monotonic() - self._started

    def summary(
        self, warmup: float, *, warmed: float | None = None, rss_limit: float = 25.0, cpu_limit: float = 25.0
    ) -> ResourceSummary:
        """After warm-up = the ``warmup`` seconds of samples from ``warmed`` (default: from ``warmup``); end =
        the last ``warmup`` seconds.

        Medians of each window, so one slow sample does not decide. ``rss_limit`` in MB, ``cpu_limit`` in
        points of one core.
        """
        return summarize(self.samples, warmup, warmed=warmed, rss_limit=rss_limit, cpu_limit=cpu_limit)


def summarize(
    samples: Sequence[tuple[float, float, float]],
    warmup: float,
    *,
    warmed: float | None = None,
    rss_limit: float = 25.0,
    cpu_limit: float = 25.0,
) -> ResourceSummary:
    """:meth:`ResourceMonitor.summary` of given ``(t, RSS MB, CPU %)`` samples."""
    if not samples:
        raise ValueError("no resource samples: the monitor never ran")
    end_t = samples[-1][0]
    start = warmup if warmed is None else warmed
    warm = [s for s in samples if start <= s[0] < start + warmup] or list(samples[: max(1, len(samples) // 4)])
    end = [s for s in samples if s[0] > end_t - warmup] or list(samples[-1:])

    def median(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[len(ordered) // 2]

    return ResourceSummary(
        samples=len(samples),
        warm_rss=median([s[1] for s in warm]),
        end_rss=median([s[1] for s in end]),
        peak_rss=max(s[1] for s in samples),
        warm_cpu=median([s[2] for s in warm]),
        end_cpu=median([s[2] for s in end]),
        rss_growth_limit=rss_limit,
        cpu_growth_limit=cpu_limit,
    )
