"""Soak: ramp to ``OBS_SOAK_USERS`` users over ``OBS_SOAK_RAMP`` seconds, hold them for
``OBS_SOAK_SECONDS`` (leaks, slow drift, lag building up), stop.

    locust -f load/locustfile.py,load/shapes/soak.py --headless --host http://127.0.0.1:PORT
"""

from __future__ import annotations

import os

from locust import LoadTestShape


class SoakShape(LoadTestShape):
    """20 users held for 10 minutes after a 30 s ramp, by default."""

    users = int(os.environ.get("OBS_SOAK_USERS", "20"))
    ramp = float(os.environ.get("OBS_SOAK_RAMP", "30"))
    hold = float(os.environ.get("OBS_SOAK_SECONDS", "600"))

    def tick(self) -> tuple[int, float] | None:
        if self.get_run_time() >= self.ramp + self.hold:
            return None
        return self.users, max(self.users / max(self.ramp, 1.0), 1.0)
