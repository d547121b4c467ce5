"""Wait for a condition with a deadline and a fast poll — never a fixed sleep.

Example::

    targets = wait_for(
        lambda: Poll(all_up(prom.targets()), prom.targets()),
        timeout=20,
        expected="every target up",
        bound="first scrape ~5 s after Prometheus starts + 1 scrape interval",
    )

On timeout :class:`~obs_tests.errors.WaitTimeout` says what was expected, what was seen last and the
theoretical bound, so a failure explains itself. While it waits, the wait is listed by
:func:`active_waits` (what, since when, for how long at most), which :mod:`obs_tests.core.progress` shows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from obs_tests.errors import WaitTimeout

__all__ = ["ActiveWait", "Poll", "active_waits", "wait_for"]

T = TypeVar("T")

DEFAULT_INTERVAL = 0.1


@dataclass(frozen=True)
class Poll(Generic[T]):
    """One observation: whether the condition holds, the value observed, and how to describe it."""

    ok: bool
    value: T
    seen: str = ""


@dataclass(frozen=True)
class ActiveWait:
    """A :func:`wait_for` in progress: what it waits for, when it started and its timeout (monotonic clock)."""

    expected: str
    started: float
    timeout: float
    thread: str

    def elapsed(self, now: float | None = None) -> float:
        """Seconds waited so far."""
        return (time.monotonic() if now is None else now) - self.started


_active: dict[int, ActiveWait] = {}
_active_lock = threading.Lock()


def active_waits() -> list[ActiveWait]:
    """Every :func:`wait_for` in progress in this process (any thread), the longest-running first."""
    with _active_lock:
        return sorted(_active.values(), key=lambda w: w.started)


def _describe(poll: Poll[T] | None, error: BaseException | None) -> str:
    if error is not None and poll is None:
        return f"error: {error}"
    if poll is None:
        return "nothing (the condition was never evaluated)"
    return poll.seen or repr(poll.value)


def wait_for(
    probe: Callable[[], Poll[T]],
    *,
    timeout: float,
    expected: str,
    bound: str = "",
    interval: float = DEFAULT_INTERVAL,
    transient: tuple[type[BaseException], ...] = (),
    stop: threading.Event | None = None,
) -> T:
    """Poll ``probe`` until it reports ``ok`` or ``timeout`` seconds pass; return the final value.

    Exceptions listed in ``transient`` count as "not yet" (the last one is reported on timeout); any
    other exception propagates. ``stop`` aborts the wait early (raising :class:`WaitTimeout`).
    """
    started = time.monotonic()
    deadline = started + timeout
    token = object()
    with _active_lock:
        _active[id(token)] = ActiveWait(expected, started, timeout, threading.current_thread().name)
    try:
        return _poll(probe, started, deadline, expected, bound, interval, transient, stop)
    finally:
        with _active_lock:
            del _active[id(token)]


def _poll(
    probe: Callable[[], Poll[T]],
    started: float,
    deadline: float,
    expected: str,
    bound: str,
    interval: float,
    transient: tuple[type[BaseException], ...],
    stop: threading.Event | None,
) -> T:
    last: Poll[T] | None = None
    last_error: BaseException | None = None
    while True:
        try:
            last = probe()
            last_error = None
            if last.ok:
                return last.value
        except transient as exc:
            last_error = exc
        remaining = deadline - time.monotonic()
        if remaining <= 0 or (stop is not None and stop.is_set()):
            break
        pause = min(interval, remaining)
        if stop is not None:
            stop.wait(pause)
        else:
            time.sleep(pause)  # poll spacing, not a wait for state
    waited = time.monotonic() - started
    seen = _describe(last, last_error)
    message = f"timed out after {waited:.1f}s waiting for {expected}; last seen: {seen}"
    if bound:
        message += f"; theoretical bound: {bound}"
    raise WaitTimeout(message, expected=expected, last_seen=seen, bound=bound)
