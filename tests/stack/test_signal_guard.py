"""A stack's signal handlers: raised as interrupts while it runs, only noted while it is torn down, then
the previous ones back."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator

import pytest

from obs_tests.core.interrupts import INTERRUPT_SIGNALS, forget_signals, raise_interrupt, signal_received
from obs_tests.stack.signal_guard import SignalGuard


@pytest.fixture
def previous() -> Iterator[dict[int, object]]:
    before = {sig: signal.getsignal(sig) for sig in INTERRUPT_SIGNALS}
    yield before
    for sig, handler in before.items():
        signal.signal(sig, handler)  # type: ignore[arg-type]


def test_install_quiet_restore(previous: dict[int, object]) -> None:
    guard = SignalGuard()
    guard.install()
    assert all(signal.getsignal(sig) is raise_interrupt for sig in INTERRUPT_SIGNALS)
    guard.quiet()
    quiet = {signal.getsignal(sig) for sig in INTERRUPT_SIGNALS}
    assert raise_interrupt not in quiet
    assert len(quiet) == 1
    assert signal_received() is None
    try:
        signal.raise_signal(signal.SIGTERM)  # noted, not raised: teardown goes on
        assert signal_received() == signal.SIGTERM
    finally:
        forget_signals()
    guard.restore()
    assert {sig: signal.getsignal(sig) for sig in INTERRUPT_SIGNALS} == previous


def test_a_disabled_guard_touches_no_handler(previous: dict[int, object]) -> None:
    guard = SignalGuard(enabled=False)
    guard.install()
    guard.quiet()
    assert {sig: signal.getsignal(sig) for sig in INTERRUPT_SIGNALS} == previous


def test_a_guard_outside_the_main_thread_touches_no_handler(previous: dict[int, object]) -> None:
    guard = SignalGuard()
    worker = threading.Thread(target=guard.install)
    worker.start()
    worker.join()
    assert {sig: signal.getsignal(sig) for sig in INTERRUPT_SIGNALS} == previous
