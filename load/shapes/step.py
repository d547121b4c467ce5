"""Step load: add ``OBS_STEP_USERS`` users every ``OBS_STEP_SECONDS`` until ``OBS_STEP_MAX`` users, hold
for one more step, stop.

    locust -f load/locustfile.py,load/shapes/step.py --headless --host http://127.0.0.1:PORT
"""

from __future__ import annotations

import os

from locust import LoadTestShape


class StepShape(LoadTestShape):
    """10 → 20 → … → 50 users, one step every 10 s by default."""

    step_users = int(os.environ.get("OBS_STEP_USERS", "10"))
    step_seconds = float(os.environ.get("OBS_STEP_SECONDS", "10"))
    max_users = int(os.environ.get("OBS_STEP_MAX", "50"))

    def tick(self) -> tuple[int, float] | None:
        run_time = self.get_run_time()
        steps = int(run_time // self.step_seconds) + 1
        last = -(-self.max_users // self.step_users)  # ceil: the step that reaches max_users
        if steps > last + 1:
            return None
        return min(steps * self.step_users, self.max_users), float(self.step_users)
