"""Turns to drive load: at most ``limit`` at once; a caller waits for one, but never past its timeout."""

from __future__ import annotations

import threading
import time

import pytest

from obs_tests.scenarios.load_turns import LoadTurns


def test_a_turn_is_waited_for_until_one_comes_back() -> None:
    turns = LoadTurns(limit=1)
    stop = threading.Event()
    order: list[str] = []
    with turns.held(stop, timeout=10) as free:
        assert free and turns.out == 1
        with turns.changed:
            assert not turns.free()

        def second() -> None:
            with turns.held(stop, timeout=10) as got:
                order.append(f"second got a turn: {got}")

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(0.3)
        assert thread.is_alive() and order == []  # it waits while the first holds the only turn
        order.append("first gives it back")
    thread.join(10)
    assert order == ["first gives it back", "second got a turn: True"]
    assert turns.out == 0


def test_past_its_timeout_a_caller_goes_ahead_without_a_free_turn() -> None:
    turns = LoadTurns(limit=1)
    stop = threading.Event()
    with turns.held(stop, timeout=10):
        started = time.monotonic()
        with turns.held(stop, timeout=0.3) as free:
            assert not free and turns.out == 2
        assert 0.3 <= time.monotonic() - started < 5
    assert turns.out == 0


def test_a_stop_ends_the_wait() -> None:
    turns = LoadTurns(limit=1)
    stop = threading.Event()
    with turns.held(stop, timeout=10):
        stop.set()
        started = time.monotonic()
        with turns.held(stop, timeout=60) as free:
            assert not free
        assert time.monotonic() - started < 5


def test_without_a_limit_every_turn_is_free_and_the_limit_must_be_positive() -> None:
    turns = LoadTurns(limit=None)
    stop = threading.Event()
    with turns.held(stop, timeout=0) as first, turns.held(stop, timeout=0) as second:
        assert first and second
    with pytest.raises(ValueError, match=">= 1"):
        LoadTurns(limit=0)
