from __future__ import annotations

import itertools
import threading

import pytest

from obs_tests.core.waiting import Poll, wait_for
from obs_tests.errors import WaitTimeout


def test_wait_for_returns_value_when_condition_holds() -> None:
    counter = itertools.count()
    value = wait_for(lambda: Poll((n := next(counter)) >= 3, n), timeout=5, interval=0.001, expected="n >= 3")
    assert value == 3


def test_wait_for_timeout_reports_expected_last_seen_and_bound() -> None:
    with pytest.raises(WaitTimeout) as info:
        wait_for(
            lambda: Poll(False, 7, "7 targets up"),
            timeout=0.05,
            interval=0.01,
            expected="8 targets up",
            bound="5 s + 1 scrape",
        )
    message = str(info.value)
    assert "waiting for 8 targets up" in message
    assert "last seen: 7 targets up" in message
    assert "theoretical bound: 5 s + 1 scrape" in message
    assert info.value.exit_code == 1
    assert (info.value.expected, info.value.last_seen) == ("8 targets up", "7 targets up")


def test_wait_for_transient_errors_are_retried_and_reported() -> None:
    def probe() -> Poll[int]:
        raise ConnectionError("refused")

    with pytest.raises(WaitTimeout, match="last seen: error: refused"):
        wait_for(probe, timeout=0.05, interval=0.01, expected="answer", transient=(ConnectionError,))


def test_wait_for_other_errors_propagate() -> None:
    def probe() -> Poll[int]:
        raise KeyError("boom")

    with pytest.raises(KeyError):
        wait_for(probe, timeout=1, expected="x", transient=(ConnectionError,))


def test_wait_for_stop_event_aborts_early() -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(WaitTimeout):
        wait_for(lambda: Poll(False, 0), timeout=30, expected="never", stop=stop)
