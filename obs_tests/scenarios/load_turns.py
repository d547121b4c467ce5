"""Turns to drive load: on a small machine, what loads the CPU must take turns, or every bound stretches.

A :class:`~obs_tests.scenarios.lanes.StackPool` gives a scenario that drives Locust load (setup load,
``load`` steps or faults) a turn before it starts, and returns it when the scenario ends; at most
``limit`` turns are out at once (one per CPU core by default), so the other stacks take scenarios
without load meanwhile. A caller that drives load itself beside the pool (``obs-tests check``: its load
checks and the 1,000-webhook incident, on the session's stack) takes a turn from the same
:class:`LoadTurns` with :meth:`LoadTurns.held`, so the pool starts fewer load-driven scenarios while
that runs. A turn orders work; it guards nothing: past its ``timeout`` a caller goes ahead without one.

Example::

    turns = LoadTurns(limit=2)
    with turns.held(stop, timeout=120):
        run_the_burst()
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from obs_tests.core.interrupts import JOIN_SLICE

__all__ = ["LoadTurns"]


class LoadTurns:
    """At most ``limit`` holders of a turn at once (None: no limit)."""

    def __init__(self, limit: int | None) -> None:
        if limit is not None and limit < 1:
            raise ValueError("the limit of load turns must be >= 1")
        self.limit = limit
        self.out = 0  # turns held now
        #: the lock of :attr:`out`, notified when a turn comes back
        self.changed = threading.Condition()

    def free(self) -> bool:
        """Whether a turn is free now (call with :attr:`changed` held)."""
        return self.limit is None or self.out < self.limit

    def take(self) -> None:
        """Take a turn, free or not (call with :attr:`changed` held, after :meth:`free`)."""
        self.out += 1

    def give_back(self) -> None:
        """Return a turn and wake whoever waits for one."""
        with self.changed:
            self.out -= 1
            self.changed.notify_all()

    @contextlib.contextmanager
    def held(self, stop: threading.Event, *, timeout: float) -> Iterator[bool]:
        """Hold a turn for the block: wait until one is free, ``stop`` is set or ``timeout`` passed (then
        go ahead anyway); yields whether the turn was free when taken."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not self.free() and not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                self.changed.wait(min(left, JOIN_SLICE))
            was_free = self.free()
            self.take()
        try:
            yield was_free
        finally:
            self.give_back()
