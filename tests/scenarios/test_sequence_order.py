"""`expect.sequence`: in order unless one event certainly happened before the one listed before it."""

from __future__ import annotations

from obs_tests.scenarios.judge import happened_within, in_order
from obs_tests.scenarios.timeline import Event


def _firing(t: float, previous_poll: float | None) -> Event:
    return Event(t, "alert", "GatewayDown", "firing", {}, {"active_at": 1.0, "previous_poll": previous_poll})


def test_a_notification_just_before_the_poll_that_saw_firing_is_in_order() -> None:
    # Recorded in a check: notification at 9.556, the poll asked at ~9.51 saw it firing at 9.612.
    pending = Event(8.567, "alert", "GatewayDown", "pending", {}, {"previous_poll": 8.46})
    fault = Event(7.891, "fault", "kill-gateway", "applied")
    note = Event(9.556, "notification", "GatewayDown", "firing")
    events = [fault, pending, _firing(9.612, previous_poll=9.51), note]
    assert in_order([happened_within(e) for e in events])


def test_a_notification_before_the_alert_could_have_fired_is_out_of_order() -> None:
    note = Event(9.3, "notification", "GatewayDown", "firing")
    assert not in_order([happened_within(e) for e in (_firing(9.612, previous_poll=9.51), note)])


def test_exact_events_keep_their_order() -> None:
    fault = Event(2.0, "fault", "kill-gateway", "applied")
    revert = Event(1.0, "revert", "kill-gateway", "reverted")
    assert in_order([happened_within(fault), happened_within(Event(3.0, "revert", "kill-gateway", "reverted"))])
    assert not in_order([happened_within(fault), happened_within(revert)])


def test_resolved_counts_from_its_last_seen_poll() -> None:
    revert = Event(12.653, "revert", "kill-gateway", "reverted")
    resolved = Event(12.70, "alert", "GatewayDown", "resolved", {}, {"last_seen": 12.60})
    assert in_order([happened_within(revert), happened_within(resolved)])
    assert happened_within(resolved) == (12.60, 12.70)
    # a first-poll state (no previous poll) is a point
    assert happened_within(_firing(5.0, previous_poll=None)) == (5.0, 5.0)


def test_a_fault_counts_from_when_applying_it_began() -> None:
    # Recorded in a check under load: the kill was sent at ~5.4 s, the gateway was recorded as applied
    # (its process gone) at 5.8955, but the poll asked at 5.65 had already seen GatewayDown pending at 5.8951.
    fault = Event(5.8955, "fault", "kill-gateway", "applied", {}, {"what": "kill gateway", "since": 5.4})
    pending = Event(5.8951, "alert", "GatewayDown", "pending", {}, {"previous_poll": 5.65})
    assert happened_within(fault) == (5.4, 5.8955)
    assert in_order([happened_within(fault), happened_within(pending)])
    # a fault still comes after what certainly happened before applying it began
    earlier = Event(5.3, "notification", "GatewayDown", "firing")
    assert not in_order([happened_within(fault), happened_within(earlier)])
