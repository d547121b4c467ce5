"""Which notifications a `wait_for_notification` step counts: those of the alert's current incident."""

from __future__ import annotations

from obs_tests.scenarios.timeline import Event, incident_start

T0 = 1_800_000_000.0


def _alert(t: float, state: str, active_at: float | None = None) -> Event:
    detail = {} if active_at is None else {"active_at": T0 + active_at}
    return Event(T0 + t, "alert", "Watchdog", state, {"alertname": "Watchdog"}, detail)


def test_a_notification_repeated_while_prometheus_restarted_is_not_the_new_incident() -> None:
    # Recorded: Watchdog firing since before the run; Prometheus restarts at +1.1 s (Alertmanager
    # repeats the old incident's notification at +1.19 s); the new Watchdog is active from +1.95 s and
    # seen firing at +2.15 s. Only a notification from +1.95 s on shows the pipeline resumed.
    events = [_alert(0.02, "firing", active_at=-130.0), _alert(2.15, "firing", active_at=1.95)]
    start = incident_start(events, "firing", now=T0 + 2.2)
    assert start == T0 + 1.95
    assert not start <= T0 + 1.19  # the repeated notification does not count


def test_firing_counts_from_when_the_alert_became_active() -> None:
    # Alertmanager may notify before the recorder's poll sees the alert firing — long before when the poller
    # is short of CPU (CI: GatewayDown seen firing 2 s late, its notification then "never" came): the
    # incident's notifications are those from its activeAt on.
    events = [_alert(5.0, "pending", active_at=4.8), _alert(9.0, "firing", active_at=4.8)]
    assert incident_start(events, "firing", now=T0 + 9.5) == T0 + 4.8


def test_resolved_counts_from_the_poll_before_the_one_that_saw_it_resolved() -> None:
    # That poll (asked at +11.5 s) still saw the alert firing: it resolved after; the recorder's next poll
    # came 2.5 s late (a starved poller), and the resolved notification 1.3 s before it.
    events = [_alert(9.0, "firing", active_at=4.8), _resolved(14.0, last_seen=11.5)]
    assert incident_start(events, "resolved", now=T0 + 15.0) == T0 + 11.5
    on_time = [_alert(9.0, "firing", active_at=4.8), _resolved(14.0, last_seen=13.9)]
    assert incident_start(on_time, "resolved", now=T0 + 15.0) == T0 + 13.0  # never later than 1 s before
    assert incident_start([_alert(14.0, "resolved")], "resolved", now=T0 + 15.0) == T0 + 13.0


def _resolved(t: float, last_seen: float) -> Event:
    return Event(T0 + t, "alert", "Watchdog", "resolved", {"alertname": "Watchdog"}, {"last_seen": T0 + last_seen})


def test_an_alert_that_did_not_change_counts_from_now() -> None:
    assert incident_start([], "firing", now=T0 + 3.0) == T0 + 3.0
    assert incident_start([_alert(1.0, "firing", active_at=0.5)], "resolved", now=T0 + 3.0) == T0 + 3.0
