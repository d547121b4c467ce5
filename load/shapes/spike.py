"""Spike: ``OBS_SPIKE_BASE`` users, a spike to ``OBS_SPIKE_PEAK`` users for ``OBS_SPIKE_SECONDS`` in the
middle of ``OBS_SPIKE_DURATION`` seconds, then back to base.

    locust -f load/locustfile.py,load/shapes/spike.py --headless --host http://127.0.0.1:PORT
"""

from __future__ import annotations

import os

from locust import LoadTestShape


class SpikeShape(LoadTestShape):
    """10 users for 30 s with a 10 s spike to 100 users at 10 s, by default."""

    base = int(os.environ.get("OBS_SPIKE_BASE", "10"))
    peak = int(os.environ.get("OBS_SPIKE_PEAK", "100"))
    spike_seconds = float(os.environ.get("OBS_SPIKE_SECONDS", "10"))
    duration = float(os.environ.get("OBS_SPIKE_DURATION", "30"))

    def tick(self) -> tuple[int, float] | None:
        run_time = self.get_run_time()
        if run_time >= self.duration:
            return None
        start = (self.duration - self.spike_seconds) / 2
        if start <= run_time < start + self.spike_seconds:
            return self.peak, float(self.peak)  # all spike users at once
        return self.base, float(self.peak)
