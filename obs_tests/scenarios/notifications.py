"""The end of a run: give the notifications a scenario expects the time they may take — to arrive, and,
for an exact ``count``, for a duplicate to show up.

Each expected notification is awaited until its alert's change to that status + its bound
(``notify``/``notify_resolved`` of :mod:`~obs_tests.scenarios.bounds`) + the scenario's tolerance. An
``expect.notifications`` entry with ``count`` is held further, until the dedup bound has passed after
its first notification (:attr:`~obs_tests.config.topology.Topology.dedup_bound`: the last Alertmanager
peer's wait, ``(peers - 1) x peer_timeout``, + 2 s), so that "exactly once" is judged over the time a
duplicate could take.

Example::

    await_notifications(scenario, timeline, bounds, stop)  # then the judge counts them
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from obs_tests.core.waiting import Poll, wait_for
from obs_tests.errors import WaitTimeout
from obs_tests.scenarios.bounds import BoundsModel
from obs_tests.scenarios.model import Scenario
from obs_tests.scenarios.timeline import Event, Timeline, notified_from

__all__ = ["Wanted", "await_notifications", "matching_notifications"]

#: seconds a notification is given when its alert's bounds are unknown (no rule loaded)
UNKNOWN_BOUND = 30.0


@dataclass(frozen=True)
class Wanted:
    """A notification the scenario expects: of ``alert`` with ``status``, to ``receiver`` (None: any);
    ``count``: exactly that many."""

    alert: str
    status: str
    receiver: str | None = None
    count: int | None = None

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> Wanted:
        """From an ``expect.notifications`` entry."""
        receiver = entry.get("receiver")
        count = entry.get("count")
        return cls(
            str(entry["alert"]),
            str(entry.get("status", "firing")),
            str(receiver) if receiver is not None else None,
            int(count) if count is not None else None,
        )


def matching_notifications(timeline: Timeline, wanted: Wanted, since: float | None = None) -> list[Event]:
    """The notifications on ``timeline`` that ``wanted`` counts (``since``: from that time on)."""
    return [
        e
        for e in timeline.find("notification", wanted.alert, wanted.status)
        if (wanted.receiver is None or e.detail.get("receiver") == wanted.receiver) and (since is None or e.t >= since)
    ]


def _wanted(scenario: Scenario) -> list[Wanted]:
    wanted: list[Wanted] = []
    for must in scenario.expect.must_fire:
        if must.notify:
            wanted.append(Wanted(must.alert, "firing"))
            if must.clears:
                wanted.append(Wanted(must.alert, "resolved"))
    wanted += [Wanted.from_entry(n) for n in scenario.expect.notifications if "absent_while" not in n]
    return wanted


def await_notifications(
    scenario: Scenario, timeline: Timeline, bounds: BoundsModel | None, stop: threading.Event
) -> None:
    """Wait until every notification ``scenario`` expects came, or is past its bound, and every counted
    one's dedup bound has passed after its first (never raises: the judge says what is missing)."""
    wanted = _wanted(scenario)
    if not wanted:
        return
    dedup = bounds.dedup_bound if bounds is not None else 2.0

    def bound(alert: str, status: str) -> float:
        b = bounds.bounds(alert) if bounds is not None else None
        if b is None:
            return UNKNOWN_BOUND
        return (b.notify() if status == "firing" else b.notify_resolved()) + scenario.tolerance

    def probe() -> Poll[list[str]]:
        missing, deadline, hold = [], 0.0, 0.0
        for want in wanted:
            change = timeline.first("alert", want.alert, want.status)
            if change is None:
                continue  # the alert never got there: nothing to wait for
            came = matching_notifications(timeline, want, since=notified_from(change))
            if not came:
                missing.append(f"{want.alert}/{want.status}")
                deadline = max(deadline, change.t + bound(want.alert, want.status))
            elif want.count is not None:
                hold = max(hold, came[0].t + dedup + scenario.tolerance)
        now = time.time()
        # Done when nothing is missing (or every missing one is past its bound) and no count is held.
        done = (not missing or now > deadline) and now > hold
        held = f"; counting for {hold - now:.1f}s more" if hold > now else ""
        return Poll(done, missing, f"missing: {', '.join(missing) or 'none'}{held}")

    longest = max(bound(w.alert, w.status) for w in wanted) + dedup + scenario.tolerance + 1.0
    with contextlib.suppress(WaitTimeout):
        wait_for(probe, timeout=longest, interval=0.1, expected="every expected notification", stop=stop)
