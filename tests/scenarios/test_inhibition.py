"""The ``absent_while`` notification expectation: judged against when the inhibitor was last seen firing."""

from __future__ import annotations

from obs_tests.scenarios.judge import inhibition_held
from obs_tests.scenarios.timeline import Event, Recorder, Timeline

T = 1_800_000_000.0


def _nats_down(*events: Event) -> Timeline:
    """NATSDown seen firing at T+2; last seen firing by the poll asked at T+10.0, seen gone at T+10.6."""
    timeline = Timeline(origin=T)
    timeline.add(Event(T + 2.0, "alert", "NATSDown", "firing"))
    timeline.add(Event(T + 10.6, "alert", "NATSDown", "resolved", {}, {"last_seen": T + 10.0}))
    for event in events:
        timeline.add(event)
    return timeline


def test_inhibition_held_when_the_symptom_is_notified_only_after_the_inhibitor_resolved() -> None:
    # Alertmanager lifted the inhibition at the resolution (after T+10.0): a notification at T+10.3 is legal,
    # even though the recorder only saw NATSDown gone at T+10.6.
    result = inhibition_held(
        _nats_down(
            Event(T + 2.5, "notification", "NATSDown", "firing"),
            Event(T + 10.3, "notification", "NATSPublishFailure", "firing"),
        ),
        "NATSPublishFailure",
        "NATSDown",
        T,
    )
    assert result.passed, result
    assert result.expected == "no NATSPublishFailure notification between +2.0s and +10.0s"
    assert result.actual == "none"


def test_inhibition_broken_when_the_symptom_is_notified_while_the_inhibitor_fires() -> None:
    result = inhibition_held(
        _nats_down(Event(T + 7.0, "notification", "NATSPublishFailure", "firing")),
        "NATSPublishFailure",
        "NATSDown",
        T,
    )
    assert not result.passed
    assert result.actual == "notified at +7.0s"
    assert "inhibition did not apply" in result.message


def test_inhibition_not_judged_when_the_inhibitor_never_fired() -> None:
    result = inhibition_held(Timeline(origin=T), "NATSPublishFailure", "NATSDown", T)
    assert not result.passed
    assert result.message == "NATSDown never fired"


def test_resolved_events_carry_when_the_alert_was_last_seen_active() -> None:
    """The recorder stamps a resolution with the time the previous poll (which still saw it) was asked."""

    class _Prom:
        def __init__(self) -> None:
            self.answers = [[{"labels": {"alertname": "NATSDown"}, "state": "firing"}], []]

        def alerts(self) -> list[dict[str, object]]:
            return self.answers.pop(0)

    timeline = Timeline(origin=T)
    recorder = Recorder(timeline, _Prom(), None)  # type: ignore[arg-type]
    recorder._poll_alerts()
    recorder._poll_alerts()
    firing = timeline.first("alert", "NATSDown", "firing")
    resolved = timeline.first("alert", "NATSDown", "resolved")
    assert firing is not None and resolved is not None
    assert firing.t - 1.0 <= resolved.detail["last_seen"] <= firing.t <= resolved.t
