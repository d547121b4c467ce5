"""The signal handlers a stack holds while it runs: SIGINT, SIGTERM and SIGHUP raise ``KeyboardInterrupt``
(so every ``finally`` runs and the stack is torn down); while it is torn down they are only noted
(teardown is already happening and is bounded in time); afterwards the previous handlers are back.

Handlers can only be set from the main thread: a guard made elsewhere does nothing.

Example::

    guard = SignalGuard()
    guard.install()
    try:
        run()
    finally:
        guard.quiet()
        teardown()
        guard.restore()
"""

from __future__ import annotations

import contextlib
import signal
import threading
import types
from typing import Any

from obs_tests.core.interrupts import INTERRUPT_SIGNALS, note_signal, raise_interrupt

__all__ = ["SignalGuard"]


def _ignore(signum: int, frame: types.FrameType | None) -> None:
    """Signals during teardown: teardown is already happening and is bounded in time."""
    note_signal(signum)


class SignalGuard:
    """Install, quiet and restore the interrupt handlers of one stack (see the module docstring);
    ``enabled=False``: it never touches a handler."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._old_handlers: dict[int, Any] = {}

    def install(self) -> None:
        """Signals raise ``KeyboardInterrupt`` from now on (main thread only)."""
        if not self.enabled or threading.current_thread() is not threading.main_thread():
            return
        for sig in INTERRUPT_SIGNALS:
            with contextlib.suppress(ValueError, OSError):
                self._old_handlers[sig] = signal.signal(sig, raise_interrupt)

    def quiet(self) -> None:
        """Teardown starts: signals are noted, not raised."""
        if self._old_handlers and threading.current_thread() is threading.main_thread():
            for sig in self._old_handlers:
                signal.signal(sig, _ignore)

    def restore(self) -> None:
        """Teardown done: the handlers from before :meth:`install` are back."""
        if self._old_handlers and threading.current_thread() is threading.main_thread():
            for sig, handler in self._old_handlers.items():
                signal.signal(sig, handler)
            self._old_handlers.clear()
