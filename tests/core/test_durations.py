"""``parse_duration`` and ``format_duration``: Prometheus durations to seconds and back."""

from __future__ import annotations

import doctest

import pytest

import obs_tests.core.durations
from obs_tests.core.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(0, "0s", id="zero"),
        pytest.param(-5, "0s", id="negative"),
        pytest.param(0.0004, "0s", id="under-half-a-millisecond"),
        pytest.param(0.25, "250ms", id="millis"),
        pytest.param(1, "1s", id="second"),
        pytest.param(12, "12s", id="seconds"),
        pytest.param(60, "1m", id="minute"),
        pytest.param(90, "1m30s", id="minute-and-seconds"),
        pytest.param(90.5, "1m30s500ms", id="every-unit-below-hours"),
        pytest.param(3600, "1h", id="hour"),
        pytest.param(3661, "1h1m1s", id="hour-minute-second"),
        pytest.param(86400, "24h", id="day-in-hours"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [0.001, 0.5, 1.5, 59.999, 90.5, 3599.25, 86400.125])
def test_format_duration_round_trips_through_parse_duration(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "1", "1.5", "5 m", "m5", "1m-2s", "10x"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_durations_doctests_run() -> None:
    result = doctest.testmod(obs_tests.core.durations)
    assert result.attempted >= 3
    assert result.failed == 0
