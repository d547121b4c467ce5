"""Apply faults and guarantee their revert: on success, failure, exception, SIGINT and SIGTERM.

:class:`ChaosController` is a context manager. Every applied fault is remembered; leaving the block
reverts whatever is still active, newest first, and logs each revert. While reverting, SIGINT and
SIGTERM are held back (recorded, then re-raised as ``KeyboardInterrupt`` once every revert ran), so an
impatient Ctrl-C or a CI timeout cannot leave a component killed or a fault set. Inside the block
(main thread) SIGTERM raises ``KeyboardInterrupt`` like SIGINT does, so ``finally`` clauses run.

Example::

    with ChaosController(stack, log=print) as chaos:
        chaos.apply(FaultSpec("gw", "kill", "gateway"))
        ...                      # wait for GatewayDown
        chaos.revert("gw")       # or leave the block
"""

from __future__ import annotations

import signal
import threading
import time
import types
from collections.abc import Callable
from typing import Any

from obs_tests.chaos.faults import CHAOS_COUNTERS, EventFault, Fault, FaultSpec, build_fault
from obs_tests.core.interrupts import Interrupted, note_signal, raise_interrupt
from obs_tests.errors import ObsTestsError, UsageError
from obs_tests.stack.protocol import Stack

__all__ = ["ChaosController", "ChaosEvent"]

ChaosEvent = tuple[float, str, str, str]  # (time, "applied"|"reverted"|"revert_failed", fault name, what)


class ChaosController:
    """Applies faults to ``backend`` and reverts every one of them on exit."""

    def __init__(self, backend: Stack, *, log: Callable[[str, str], None] | None = None) -> None:
        self.backend = backend
        self.faults: dict[str, Fault] = {}
        self.events: list[ChaosEvent] = []
        self.errors: list[str] = []
        self._log = log or (lambda level, msg: None)
        self._lock = threading.RLock()
        self._old: dict[int, Any] = {}

    # -- context ---------------------------------------------------------------------------------
    def __enter__(self) -> ChaosController:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old[sig] = signal.signal(sig, raise_interrupt)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.revert_all()
        finally:
            for sig, handler in self._old.items():
                signal.signal(sig, handler)
            self._old.clear()

    # -- faults ----------------------------------------------------------------------------------
    def apply(self, spec: FaultSpec) -> Fault:
        """Build and apply a fault; it is reverted on exit if nobody reverts it before."""
        with self._lock:
            if spec.name in self.faults and self.faults[spec.name].active:
                raise UsageError(f"fault {spec.name} is already applied")
            fault = build_fault(spec, self.backend)
            self.faults[spec.name] = fault
            try:
                fault.apply()
            except BaseException:
                # half-applied (e.g. the admin call timed out after taking effect): revert on exit too
                fault.applied_at = time.time()
                raise
            self.events.append((fault.applied_at or time.time(), "applied", spec.name, fault.describe()))
            self._log("WARNING", f"fault applied: {spec.name} ({fault.describe()})")
            return fault

    def revert(self, name: str) -> bool:
        """Revert one fault by name (False when it was not active)."""
        with self._lock:
            fault = self.faults.get(name)
            if fault is None:
                raise UsageError(f"no fault named '{name}' — applied: {', '.join(self.faults) or 'none'}")
            return self._revert(fault)

    def _revert(self, fault: Fault) -> bool:
        try:
            done = fault.revert()
        except (ObsTestsError, OSError) as exc:
            message = f"revert of {fault.name} ({fault.describe()}) failed: {exc}"
            self.errors.append(message)
            self.events.append((time.time(), "revert_failed", fault.name, str(exc)))
            self._log("ERROR", message)
            return False
        if done:
            self.events.append((fault.reverted_at or time.time(), "reverted", fault.name, fault.describe()))
            self._log("INFO", f"fault reverted: {fault.name} ({fault.describe()})")
        return done

    def revert_all(self) -> None:
        """Revert every active fault, newest first, with SIGINT/SIGTERM held back until done."""
        pending: list[int] = []
        saved: dict[int, Any] = {}
        main = threading.current_thread() is threading.main_thread()
        if main:

            def hold(signum: int, frame: types.FrameType | None) -> None:
                note_signal(signum)
                pending.append(signum)
                self._log("WARNING", f"{signal.Signals(signum).name} received: finishing the reverts first")

            for sig in (signal.SIGTERM, signal.SIGINT):
                saved[sig] = signal.signal(sig, hold)
        try:
            with self._lock:
                active = [f for f in self.faults.values() if f.active]
                for fault in sorted(active, key=lambda f: f.applied_at or 0.0, reverse=True):
                    self._revert(fault)
        finally:
            for held, handler in saved.items():
                signal.signal(held, handler)
        if pending:
            raise Interrupted(pending[0], " (faults reverted)")

    @property
    def active(self) -> list[str]:
        """Names of the faults applied and not reverted."""
        return [name for name, f in self.faults.items() if f.active]

    def stats(self) -> dict[str, int]:
        """Applied / reverted / failed-revert counts for reports."""
        return {
            "applied": sum(1 for e in self.events if e[1] == "applied"),
            "reverted": sum(1 for e in self.events if e[1] == "reverted"),
            "revert_failed": len(self.errors),
            "active": len(self.active),
        }

    def summary(self, started_at: float) -> dict[str, Any]:
        """A scenario result's ``chaos`` section: :meth:`stats`, what event chaos did (events delayed,
        dropped, modified, failures injected, total delay), the revert errors, and each fault with when it was
        applied and reverted (seconds since ``started_at``)."""
        counters: dict[str, float] = dict.fromkeys(CHAOS_COUNTERS, 0)
        for fault in self.faults.values():
            if isinstance(fault, EventFault):
                for key in CHAOS_COUNTERS:
                    counters[key] += fault.stats.get(key, 0)
        return {
            **self.stats(),
            **counters,
            "errors": list(self.errors),
            "faults": [
                {
                    "name": f.name,
                    "what": f.describe(),
                    "applied_at": None if f.applied_at is None else round(f.applied_at - started_at, 3),
                    "reverted_at": None if f.reverted_at is None else round(f.reverted_at - started_at, 3),
                }
                for f in self.faults.values()
            ],
        }
