"""Say what a long run is waiting for, and for how long at most — to a person or to a log.

A :class:`Progress` prints one line when a phase starts (what, and its bound when it has one) and one
when it ends (how long it took). That is all a log gets (CI: no TTY, no progress bar). On a terminal
(TTY) a status line below the phase's first line is redrawn every ``interval`` seconds while the phase
runs: the time so far, the phase's own status (``12/19 done``) and the waits in progress
(:func:`obs_tests.core.waiting.active_waits`: what each waits for, seconds so far of at most how many); it is
erased before anything else is printed.

Example::

    progress = Progress.to(sys.stdout)
    with progress.phase("starting the embedded stack", at_most=60):
        stack.start()
    # starting the embedded stack (at most 60s) …
    # starting the embedded stack: done after 6.2s
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from obs_tests.core.waiting import ActiveWait, active_waits

__all__ = ["Progress", "describe_waits", "is_terminal", "terminal_width"]

#: waits shorter than this are not worth a status line (probes, short polls)
_MIN_SHOWN = 1.0


def is_terminal(stream: TextIO) -> bool:
    """A person is watching ``stream``: a TTY, and not a dumb terminal."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        return False
    return tty and os.environ.get("TERM", "") != "dumb"


def _seconds(value: float) -> str:
    return f"{value:.0f}s" if value >= 10 else f"{value:.1f}s"


def describe_waits(waits: list[ActiveWait], now: float, *, limit: int = 2) -> str:
    """``waiting for GatewayDown firing (2.1s of at most 5.6s); +1 more`` — the longest-running first,
    waits younger than a second left out."""
    shown = [w for w in waits if w.elapsed(now) >= _MIN_SHOWN]
    if not shown:
        return ""
    parts = [f"{w.expected} ({_seconds(w.elapsed(now))} of at most {_seconds(w.timeout)})" for w in shown[:limit]]
    more = f"; +{len(shown) - limit} more" if len(shown) > limit else ""
    return "waiting for " + "; ".join(parts) + more


class Progress:
    """Phase lines for everyone, a redrawn status line for a terminal; see the module docstring.

    ``write_line`` prints one whole line; ``draw`` (None: no terminal watches) writes raw text to the
    terminal, for the status line; ``width`` is the terminal's width (0: unknown).
    """

    def __init__(
        self,
        write_line: Callable[[str], None],
        draw: Callable[[str], None] | None = None,
        *,
        width: Callable[[], int] = lambda: 0,
        interval: float = 0.5,
        waits: Callable[[], list[ActiveWait]] = active_waits,
    ) -> None:
        self._write_line = write_line
        self._draw_raw = draw
        self._width = width
        self._interval = interval
        self._waits = waits
        self._lock = threading.Lock()
        self._shown = False

    @classmethod
    def to(cls, stream: TextIO) -> Progress:
        """Lines to ``stream``, and the status line too when a person watches it."""

        def write(text: str) -> None:
            stream.write(text)
            stream.flush()

        if not is_terminal(stream):
            return cls(lambda line: write(line + "\n"))
        return cls(lambda line: write(line + "\n"), write, width=lambda: terminal_width(stream))

    @property
    def live(self) -> bool:
        """A status line is drawn (a terminal watches)."""
        return self._draw_raw is not None

    def line(self, text: str) -> None:
        """Print one line (the status line, if shown, is erased first and redrawn on the next tick)."""
        with self._lock:
            self._erase()
            self._write_line(text)

    @contextmanager
    def phase(
        self, title: str, *, at_most: float | None = None, status: Callable[[], str] | None = None
    ) -> Iterator[None]:
        """Announce ``title`` (with ``at_most`` seconds, when bounded), keep a terminal's status line
        current while the block runs, then say how long it took — or that it failed or was interrupted."""
        bound = f" (at most {_seconds(at_most)})" if at_most is not None else ""
        self.line(f"{title}{bound} …")
        started = time.monotonic()
        done = threading.Event()
        ticker = None
        if self._draw_raw is not None:
            ticker = threading.Thread(
                target=self._tick, args=(started, at_most, status, done), name="progress", daemon=True
            )
            ticker.start()
        outcome = "failed"
        try:
            yield
            outcome = "done"
        except KeyboardInterrupt:
            outcome = "interrupted"
            raise
        finally:
            done.set()
            if ticker is not None:
                ticker.join()
            extra = status() if status is not None and outcome == "done" else ""
            took = _seconds(time.monotonic() - started)
            self.line(f"{title}: {outcome} after {took}" + (f", {extra}" if extra else ""))

    def _tick(
        self, started: float, at_most: float | None, status: Callable[[], str] | None, done: threading.Event
    ) -> None:
        while not done.wait(self._interval):
            now = time.monotonic()
            parts = [_seconds(now - started) + (f" of at most {_seconds(at_most)}" if at_most is not None else "")]
            if status is not None:
                parts.append(status())
            if waiting := describe_waits(self._waits(), now):
                parts.append(waiting)
            self._draw("  " + " · ".join(p for p in parts if p))

    def _draw(self, text: str) -> None:
        draw = self._draw_raw
        assert draw is not None
        with self._lock:
            if (width := self._width()) > 1:
                text = text[: width - 1]
            draw("\r\x1b[K" + text)
            self._shown = True

    def _erase(self) -> None:
        if self._shown and self._draw_raw is not None:
            self._draw_raw("\r\x1b[K")
            self._shown = False


def terminal_width(stream: TextIO) -> int:
    """The width of the terminal ``stream`` writes to (0: unknown)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 0
