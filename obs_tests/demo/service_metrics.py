"""The ``/metrics`` exposition of a mock service: one registry per process and one rendering pipeline.

Each service builds its metrics on :attr:`Exposition.registry`, which already carries the default
process, platform and GC collectors (``process_start_time_seconds`` tells a restart). :meth:`render`
produces the Prometheus text format and passes it through :attr:`Exposition.hooks` — the one place where
a later change can inject *exposition corruptions* (a counter going down, a non-monotonic bucket, …)
without touching the services::

    >>> exposition = Exposition()
    >>> exposition.hooks.append(lambda text: text.replace(b"process_", b"proc_"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.registry import Collector

__all__ = [
    "CONTENT_TYPE",
    "DURATION_BUCKETS",
    "NOOP",
    "Exposition",
    "ExpositionHook",
    "NoOpMetric",
    "preinit",
]

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

ExpositionHook = Callable[[bytes], bytes]
"""Transforms the rendered exposition text; applied in order by :meth:`Exposition.render`."""


class Exposition:
    """A service's metric registry (with the default collectors) and its rendering pipeline."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.hooks: list[ExpositionHook] = []

    def register(self, collector: Collector) -> None:
        """Add a custom collector (e.g. the NATS exporter's)."""
        self.registry.register(collector)

    def render(self) -> bytes:
        """The text exposition after every hook."""
        text = generate_latest(self.registry)
        for hook in self.hooks:
            text = hook(text)
        return text


def preinit(metric: Counter | Gauge | Histogram, label_name: str, values: Iterable[str], **fixed: str) -> None:
    """Create the child of every known label value so its series exists (at 0) on an idle system.

    >>> errors = Counter("x_errors_total", "doc", ["reason"], registry=CollectorRegistry())
    >>> preinit(errors, "reason", ["empty_body", "invalid_json"])
    """
    for value in values:
        metric.labels(**{label_name: value, **fixed})


class NoOpMetric:
    """Stands in for a metric (or one of its children) and ignores every update.

    A service started with ``--no-instrumentation`` holds these instead of its metric children: its
    series are still registered (and exposed at 0), the hot path still calls ``inc``/``observe``, and
    nothing is counted — the baseline that the cost of instrumentation is measured against.

    >>> NOOP.labels(status="accepted").inc()
    """

    __slots__ = ()

    def inc(self, amount: float = 1) -> None:
        """Ignored."""

    def dec(self, amount: float = 1) -> None:
        """Ignored."""

    def set(self, value: float) -> None:
        """Ignored."""

    def observe(self, amount: float) -> None:
        """Ignored."""

    def labels(self, *values: str, **labels: str) -> NoOpMetric:
        """Itself: every child of a no-op metric is a no-op."""
        return self


NOOP: Final = NoOpMetric()
"""The one :class:`NoOpMetric` instance (it has no state)."""
