"""Signals as exceptions, and the exit status a signal ends a run with.

SIGINT, SIGTERM and SIGHUP are turned into :class:`Interrupted` (a ``KeyboardInterrupt``) so that every
``finally`` runs: stacks stop, faults are reverted, temporary directories go. Once that is done the run
exits with the Unix convention, ``128 + signal number`` (:func:`exit_status`): SIGINT 130, SIGTERM 143,
SIGHUP 129 — what a shell reports for a process killed by that signal.

Every handler that turns a signal into an exception notes the signal (:func:`note_signal`); the first one
noted decides the exit status, whichever layer (pytest, a scenario, the stack) caught and re-raised it.

Example::

    with signals_as_interrupts():
        try:
            run()
        except KeyboardInterrupt as exc:
            sys.exit(exit_status(exc))
"""

from __future__ import annotations

import contextlib
import signal
import threading
import types
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn

__all__ = [
    "INTERRUPT_SIGNALS",
    "JOIN_SLICE",
    "Interrupted",
    "WorkThread",
    "exit_status",
    "forget_signals",
    "interrupted_line",
    "join_held",
    "note_signal",
    "raise_interrupt",
    "run_threads",
    "signal_received",
    "signals_as_interrupts",
    "signals_held_off",
]

#: the signals a run turns into :class:`Interrupted` (and tears down on)
INTERRUPT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_received: list[int] = []  # the first signal noted in this process (a list: no lock in a signal handler)


class Interrupted(KeyboardInterrupt):
    """A signal received: ``signum`` says which."""

    def __init__(self, signum: int, detail: str = "") -> None:
        super().__init__(f"received {signal.Signals(signum).name}{detail}")
        self.signum = signum


def note_signal(signum: int) -> None:
    """Remember ``signum`` as what interrupted the run (the first one noted wins)."""
    if not _received:
        _received.append(signum)


def signal_received() -> int | None:
    """The first signal noted in this run, if any."""
    return _received[0] if _received else None


def forget_signals() -> None:
    """Start a new run: no signal noted (the CLI calls it first; tests invoking it in-process rely on it)."""
    _received.clear()


def raise_interrupt(signum: int, frame: types.FrameType | None = None) -> NoReturn:
    """Signal handler: note the signal and raise :class:`Interrupted`, so ``finally`` blocks run."""
    note_signal(signum)
    raise Interrupted(signum)


def exit_status(exc: BaseException | None = None) -> int:
    """``128 + signal``: the first signal noted in this run, else the one ``exc`` (or what caused it)
    carries, else SIGINT — a plain ``KeyboardInterrupt`` comes from Python's own Ctrl-C handler."""
    if _received:
        return 128 + _received[0]
    seen: BaseException | None = exc
    visited: set[int] = set()
    while seen is not None and id(seen) not in visited:
        if isinstance(seen, Interrupted):
            return 128 + seen.signum
        visited.add(id(seen))
        seen = seen.__cause__ or seen.__context__
    return 128 + signal.SIGINT


def interrupted_line(status: int) -> str:
    """What an interrupted command prints last (on stderr): ``Interrupted (SIGTERM).``"""
    return f"Interrupted ({signal.Signals(status - 128).name})."


@contextlib.contextmanager
def signals_as_interrupts(signals: tuple[signal.Signals, ...] = INTERRUPT_SIGNALS) -> Iterator[None]:
    """Within the block, ``signals`` raise :class:`Interrupted` in the main thread; the previous handlers
    are put back after. Outside the main thread (signals are only delivered there) it does nothing."""
    old: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in signals:
            with contextlib.suppress(ValueError, OSError):
                old[sig] = signal.signal(sig, raise_interrupt)
    try:
        yield
    finally:
        for number, handler in old.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def signals_held_off(signals: tuple[signal.Signals, ...] = INTERRUPT_SIGNALS) -> Iterator[None]:
    """Within the block ``signals`` are noted (for the exit status) but interrupt nothing: a teardown that
    must finish — a second Ctrl-C must not cut a fault revert or a stack's stop short."""
    old: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in signals:
            with contextlib.suppress(ValueError, OSError):
                old[sig] = signal.signal(sig, _hold)
    try:
        yield
    finally:
        for number, handler in old.items():
            signal.signal(number, handler)


def _hold(signum: int, frame: types.FrameType | None) -> None:
    note_signal(signum)


#: longest a signal waits for the main thread's handler while it waits for threads (seconds)
JOIN_SLICE = 0.1


class WorkThread(threading.Thread):
    """A thread that says when its work is over (:attr:`finished`), so the main thread can wait for it
    without waiting inside ``join()``: on Python < 3.13 an interrupt landing inside ``Thread.join()`` (or
    ``is_alive()``) can mark a thread that still runs as finished (CPython gh-90882), and every later
    ``join()`` returns at once — work still reverting faults would be left unwaited for."""

    def __init__(self, *, target: Callable[[], None], name: str) -> None:
        super().__init__(name=name)
        self._work = target
        self.finished = threading.Event()

    def run(self) -> None:
        try:
            self._work()
        finally:
            self.finished.set()


def run_threads(threads: Sequence[WorkThread], on_interrupt: Callable[[], None], *, start: bool = True) -> None:
    """Start ``threads`` (unless ``start=False``: already started) and wait for them. SIGINT/SIGTERM (in
    the main thread) call ``on_interrupt`` — which tells the threads to stop — then wait, with further
    signals held off, until every thread has finished, and re-raise."""
    with signals_as_interrupts():
        try:
            if start:
                for thread in threads:
                    thread.start()
            for thread in threads:
                _join_interruptibly(thread)
        except KeyboardInterrupt:
            on_interrupt()
            join_held(threads)
            raise


def _join_interruptibly(thread: WorkThread) -> None:
    """Wait for ``thread`` in bounded waits on its :attr:`~WorkThread.finished` event. The kernel may
    deliver SIGINT/SIGTERM to any thread of the process: a main thread blocked in one unbounded wait would
    run its Python handler only once the thread ended on its own; between two bounded waits it runs at once."""
    while not thread.finished.wait(JOIN_SLICE):
        pass
    thread.join()  # its work is over: returns at once


def join_held(threads: Sequence[WorkThread]) -> None:
    """Wait for ``threads`` (told to stop) with SIGINT/SIGTERM held off meanwhile: a second Ctrl-C must
    not cut a fault revert or a stack's stop short (the signal still decides the exit status)."""
    with signals_held_off():
        for thread in threads:
            if thread.ident is not None:
                thread.finished.wait()
                thread.join()
