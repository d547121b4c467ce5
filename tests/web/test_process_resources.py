"""The resource summary of a process under load: flat after warm-up is stable, growth or climbing CPU is
flagged, and a warm-up that ends later is measured from its end; and the monitor samples a real process."""

from __future__ import annotations

import os

import pytest

from obs_tests.core.waiting import Poll, wait_for
from obs_tests.web.process_resources import ResourceMonitor, summarize


def _samples(rss: list[float], cpu: list[float]) -> list[tuple[float, float, float]]:
    return [(float(t), r, c) for t, (r, c) in enumerate(zip(rss, cpu, strict=True))]


def test_resources_flat_after_warm_up_are_stable() -> None:
    # the warm-up (first 10 s) grows, then flat: stable
    rss = [50 + 3 * t for t in range(10)] + [90.0] * 30
    summary = summarize(_samples(rss, [40.0] * 40), warmup=10)
    assert summary.stable and summary.rss_growth == 0
    assert "stable" in summary.describe()


def test_a_warm_up_that_ends_later_is_measured_from_its_end() -> None:
    # growing for 25 s (a buffer filling), flat after: stable from the end of the warm-up, not from 10 s
    rss = [25 + 3 * t for t in range(25)] + [100.0] * 25
    assert not summarize(_samples(rss, [40.0] * 50), warmup=10).stable
    summary = summarize(_samples(rss, [40.0] * 50), warmup=10, warmed=25)
    assert summary.stable and summary.warm_rss == 100.0 and summary.rss_growth == 0


@pytest.mark.parametrize(
    ("rss", "cpu", "said"),
    [
        pytest.param([90.0 + 2 * t for t in range(40)], [40.0] * 40, "+40.0 MB", id="rss-grows"),
        pytest.param([90.0] * 40, [20.0] * 20 + [80.0] * 20, "CPU 20 % → 80 %", id="cpu-climbs"),
    ],
)
def test_resources_growing_after_warm_up_are_flagged(rss: list[float], cpu: list[float], said: str) -> None:
    summary = summarize(_samples(rss, cpu), warmup=10)
    assert not summary.stable
    assert said in summary.describe() and "GROWING" in summary.describe()


def test_the_monitor_samples_a_real_process() -> None:
    monitor = ResourceMonitor(os.getpid(), interval=0.05).start()
    try:
        wait_for(lambda: Poll(len(monitor.samples) >= 3, None), timeout=10, expected="3 samples")
    finally:
        monitor.stop()
    assert all(rss > 1 for _, rss, _ in monitor.samples) and monitor.elapsed() > 0
    assert "samples" in monitor.summary(warmup=0.05).describe()
