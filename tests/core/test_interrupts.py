"""Signals become ``Interrupted`` and end a run with 128 + the signal (SIGINT 130, SIGTERM 143)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from obs_tests.core.interrupts import (
    Interrupted,
    exit_status,
    forget_signals,
    raise_interrupt,
    signals_as_interrupts,
    signals_held_off,
)


@pytest.fixture(autouse=True)
def _no_signal_noted() -> Iterator[None]:
    forget_signals()
    yield
    forget_signals()


@pytest.mark.parametrize(
    ("sig", "status"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)],
    ids=["SIGINT", "SIGTERM", "SIGHUP"],
)
def test_a_signal_raises_interrupted_and_sets_the_exit_status(sig: signal.Signals, status: int) -> None:
    before = signal.getsignal(sig)
    with pytest.raises(Interrupted, match=f"received {sig.name}") as caught, signals_as_interrupts():
        os.kill(os.getpid(), sig)
    assert isinstance(caught.value, KeyboardInterrupt) and caught.value.signum == sig
    assert exit_status(caught.value) == status
    assert signal.getsignal(sig) is before


def test_the_first_signal_decides_even_when_another_layer_re_raises() -> None:
    """A SIGTERM caught by one layer (pytest, a scenario) and re-raised as a plain KeyboardInterrupt, or
    followed by a Ctrl-C, still ends the run with 143."""
    with pytest.raises(Interrupted):
        raise_interrupt(signal.SIGTERM)
    with pytest.raises(Interrupted):
        raise_interrupt(signal.SIGINT)
    assert exit_status(KeyboardInterrupt()) == 143


def test_without_a_noted_signal_the_exception_chain_decides() -> None:
    assert exit_status() == 130  # Python's own Ctrl-C handler notes nothing
    cause = Interrupted(signal.SIGTERM)
    wrapped = RuntimeError("wrapped")
    wrapped.__cause__ = cause
    assert exit_status(wrapped) == 143


def test_signals_held_off_are_noted_but_interrupt_nothing() -> None:
    with signals_held_off():
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
    assert exit_status() == 143


HEALTH_ARGS = ("health", "--timeout", "60")


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_cli_exits_128_plus_the_signal(sig: signal.Signals, status: int) -> None:
    """`obs-tests health` against a server that never answers, signalled once it has connected: exit
    128 + signal, one line, no traceback (every command goes through the same handler)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "obs_tests.cli", *HEALTH_ARGS, "--prometheus-url", url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            server.settimeout(30)
            conn, _ = server.accept()  # health is waiting for Prometheus' answer
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=30)
            conn.close()
        finally:
            proc.kill()
            proc.wait()
    assert proc.returncode == status, out + err
    assert err.strip() == f"Interrupted ({sig.name}).", err
