"""Wait for a condition with a deadline and a fast poll — never a fixed sleep.

Example::

    targets = wait_for(
        lambda: Poll(all_up(prom.targets()), prom.targets()),
        timeout=20,
        expected="every target up",
        bound="first scrape ~5 s after Prometheus starts + 1 scrape interval",
    )

On timeout :class:`~obs_tests.errors.WaitTimeout` says what was expected, what was seen last and the
theoretical bound, so a failure explains itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from obs_tests.errors import WaitTimeout

__all__ = ["Poll", "wait_for"]

T = TypeVar("T")

DEFAULT_INTERVAL = 0.1


@dataclass(frozen=True)
class Poll(Generic[T]):
    """One observation: whether the condition holds, the value observed, and how to describe it."""

    ok: bool
    value: T
    seen: str = ""


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
    deadline = time.monotonic() + timeout
    started = time.monotonic()
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
