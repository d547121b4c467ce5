"""Progress: a line per phase for a log; a redrawn status line, naming the waits in progress and their
bounds, for a terminal; never a silent wait."""

from __future__ import annotations

import re
import threading
import time

import pytest

from obs_tests.core.progress import Progress, describe_waits
from obs_tests.core.waiting import ActiveWait, Poll, active_waits, wait_for
from obs_tests.errors import WaitTimeout


def test_a_log_gets_one_line_when_a_phase_starts_and_one_when_it_ends() -> None:
    lines: list[str] = []
    progress = Progress(lines.append)
    with progress.phase("starting the embedded stack", at_most=60):
        pass
    with progress.phase("chaos: waiting for the scenarios", status=lambda: "19/19 done"):
        pass
    assert lines[0] == "starting the embedded stack (at most 60s) …"
    assert re.fullmatch(r"starting the embedded stack: done after \d\.\ds", lines[1]), lines
    assert lines[2] == "chaos: waiting for the scenarios …"
    assert re.fullmatch(r"chaos: waiting for the scenarios: done after \d\.\ds, 19/19 done", lines[3]), lines
    assert not progress.live


@pytest.mark.parametrize(
    ("error", "outcome"), [(RuntimeError("boom"), "failed"), (KeyboardInterrupt(), "interrupted")], ids=str
)
def test_a_phase_that_raises_says_so_and_the_error_propagates(error: BaseException, outcome: str) -> None:
    lines: list[str] = []
    with pytest.raises(type(error)), Progress(lines.append).phase("starting the embedded stack", at_most=60):
        raise error
    assert lines[-1].startswith(f"starting the embedded stack: {outcome} after ")


def test_a_terminal_sees_the_waits_in_progress_with_their_bounds_then_the_line_is_erased() -> None:
    lines: list[str] = []
    drawn: list[str] = []
    seen = threading.Event()
    started = time.monotonic() - 2.5
    waits = [ActiveWait("GatewayDown firing", started, 5.6, "scenario-stack-1")]

    def draw(text: str) -> None:
        drawn.append(text)
        if "GatewayDown" in text:
            seen.set()

    progress = Progress(lines.append, draw, interval=0.01, waits=lambda: waits)
    assert progress.live
    with progress.phase("[1/19] gateway-down", at_most=30, status=lambda: "1 running"):
        assert seen.wait(10), drawn
    status = next(text for text in drawn if "GatewayDown" in text)
    assert status.startswith("\r\x1b[K  ")
    assert re.search(r"of at most 30s · 1 running · waiting for GatewayDown firing \(2\.\ds of at most 5\.6s\)", status)
    assert drawn[-1] == "\r\x1b[K"  # erased before the end line
    assert lines[-1].startswith("[1/19] gateway-down: done after ")


def test_the_status_line_is_cut_to_the_terminal_width() -> None:
    drawn: list[str] = []
    seen = threading.Event()
    waits = [ActiveWait("x" * 200, time.monotonic() - 3, 10, "main")]

    def draw(text: str) -> None:
        drawn.append(text)
        seen.set()

    progress = Progress(lambda line: None, draw, width=lambda: 40, interval=0.01, waits=lambda: waits)
    with progress.phase("p"):
        assert seen.wait(10)
    assert all(len(text.removeprefix("\r\x1b[K")) <= 39 for text in drawn)


def test_waits_under_a_second_are_left_out_and_more_than_two_are_counted() -> None:
    now = 100.0
    waits = [ActiveWait(f"w{i}", now - 10 + i, 30, "t") for i in range(4)] + [ActiveWait("quick", now - 0.2, 5, "t")]
    assert describe_waits(waits, now) == "waiting for w0 (10s of at most 30s); w1 (9.0s of at most 30s); +2 more"
    assert describe_waits([ActiveWait("quick", now - 0.2, 5, "t")], now) == ""


def test_wait_for_is_listed_while_it_waits_and_not_after() -> None:
    during: list[list[str]] = []

    def probe() -> Poll[bool]:
        during.append([w.expected for w in active_waits()])
        return Poll(len(during) >= 2, True)

    wait_for(probe, timeout=5, expected="the second poll", interval=0.01)
    assert during[0] == ["the second poll"]
    assert "the second poll" not in [w.expected for w in active_waits()]
    with pytest.raises(WaitTimeout):
        wait_for(lambda: Poll(False, None), timeout=0.05, expected="never", interval=0.01)
    assert "never" not in [w.expected for w in active_waits()]
