from __future__ import annotations

from obs_tests.scenarios.custom import pipeline_resumed_after_restart
from obs_tests.scenarios.timeline import Event, Timeline

T = 1_800_000_000.0


def _restart(*events: Event) -> Timeline:
    """A restart fault whose apply began at T+1 and completed (component back) at T+1.4."""
    timeline = Timeline(origin=T)
    timeline.add(Event(T + 1.4, "fault", "restart-prometheus", "applied", {}, {"since": T + 1.0}))
    for event in events:
        timeline.add(event)
    return timeline


def test_pipeline_resumed_counts_the_outage_during_the_restart() -> None:
    """Prometheus went down while the restart was being applied (before "applied"): that counts."""
    ok, message = pipeline_resumed_after_restart(
        _restart(
            Event(T + 1.1, "prometheus", "api", "down"),
            Event(T + 1.3, "prometheus", "api", "up"),
            Event(T + 5.0, "notification", "Watchdog", "firing"),
        )
    )
    assert ok, message
    assert message == "Prometheus down 0.2s; Watchdog notified 3.7s after it came back"


def test_pipeline_not_resumed_without_an_outage_or_a_notification() -> None:
    ok, message = pipeline_resumed_after_restart(_restart(Event(T + 5.0, "notification", "Watchdog", "firing")))
    assert not ok and "never went away" in message
    before = Event(T + 0.5, "prometheus", "api", "down")
    ok, message = pipeline_resumed_after_restart(_restart(before, Event(T + 0.6, "prometheus", "api", "up")))
    assert not ok and "never went away" in message
    ok, message = pipeline_resumed_after_restart(
        _restart(Event(T + 1.1, "prometheus", "api", "down"), Event(T + 1.3, "prometheus", "api", "up"))
    )
    assert not ok and "no Watchdog notification after Prometheus came back" in message
    ok, message = pipeline_resumed_after_restart(Timeline(origin=T))
    assert (ok, message) == (False, "no fault was applied")
