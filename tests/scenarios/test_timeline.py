"""The recorder on an HA stack: the replicas evaluate out of phase and Alertmanager notifies what the earliest
of them sends, so an alert's events carry the earliest activeAt and last-seen-firing of any replica — and a
notification that came on the other replica's resolve is the alert's, not an earlier incident's."""

from __future__ import annotations

import time
from typing import Any

from obs_tests.errors import ObsTestsError
from obs_tests.scenarios.timeline import Recorder, Timeline, notified_from

T = 1_700_000_000.0
FIRING = {"labels": {"alertname": "GatewayDown", "job": "gateway"}, "state": "firing"}


class Replica:
    """A Prometheus answering /api/v1/alerts from a script: a list of alerts, or an exception, per call."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)

    def alerts(self) -> list[dict[str, Any]]:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return list(answer)


def firing(active_at: str = "2026-12-04T10:00:05Z") -> dict[str, Any]:
    return {**FIRING, "activeAt": active_at}


def recorder(primary: Replica, *others: Replica) -> tuple[Timeline, Recorder]:
    timeline = Timeline(origin=T)
    return timeline, Recorder(timeline, primary, None, replicas=others)  # type: ignore[arg-type]


def test_a_resolve_on_the_other_replica_first_dates_the_alerts_resolve() -> None:
    timeline, rec = recorder(Replica([firing()], [firing()], []), Replica([firing()], [], []))
    rec._poll_alerts()
    between = time.time()
    rec._poll_alerts()  # the other replica resolved; the first still fires
    rec._poll_alerts()
    resolved = timeline.first("alert", "GatewayDown", "resolved")
    assert resolved is not None
    assert resolved.detail["last_seen"] < between  # the other replica's poll before its resolve
    assert notified_from(resolved) < between


def test_without_other_replicas_the_resolve_dates_from_the_first_replicas_poll() -> None:
    timeline, rec = recorder(Replica([firing()], [firing()], []))
    rec._poll_alerts()
    between = time.time()
    rec._poll_alerts()
    rec._poll_alerts()
    resolved = timeline.first("alert", "GatewayDown", "resolved")
    assert resolved is not None and resolved.detail["last_seen"] >= between


def test_an_earlier_activeat_on_the_other_replica_is_the_alerts() -> None:
    timeline, rec = recorder(Replica([firing("2026-12-04T10:00:05Z")]), Replica([firing("2026-12-04T10:00:04Z")]))
    rec._poll_alerts()
    event = timeline.first("alert", "GatewayDown", "firing")
    assert event is not None
    assert event.detail["active_at"] == 1_796_378_404.0  # 10:00:04Z, the other replica's
    assert notified_from(event) == 1_796_378_404.0


def test_a_later_activeat_on_the_other_replica_changes_nothing() -> None:
    timeline, rec = recorder(Replica([firing("2026-12-04T10:00:04Z")]), Replica([firing("2026-12-04T10:00:09Z")]))
    rec._poll_alerts()
    event = timeline.first("alert", "GatewayDown", "firing")
    assert event is not None and event.detail["active_at"] == 1_796_378_404.0


def test_a_replica_that_cannot_be_read_has_not_resolved_anything() -> None:
    down = ObsTestsError("connection refused")
    timeline, rec = recorder(Replica([firing()], [firing()], []), Replica([firing()], down, down))
    rec._poll_alerts()
    between = time.time()
    rec._poll_alerts()
    rec._poll_alerts()
    resolved = timeline.first("alert", "GatewayDown", "resolved")
    assert resolved is not None and resolved.detail["last_seen"] >= between
    assert rec.errors == 0


def test_an_alert_active_again_on_the_other_replica_forgets_its_earlier_resolve() -> None:
    timeline, rec = recorder(Replica([firing()], [firing()], [firing()], []), Replica([firing()], [], [firing()], []))
    rec._poll_alerts()
    rec._poll_alerts()  # resolved on the other replica ...
    between = time.time()
    rec._poll_alerts()  # ... and firing there again: that resolve was not this alert's end
    rec._poll_alerts()
    resolved = timeline.first("alert", "GatewayDown", "resolved")
    assert resolved is not None and resolved.detail["last_seen"] >= between


PENDING = {**FIRING, "state": "pending", "activeAt": "2026-12-04T10:00:05Z"}


def test_firing_on_the_other_replica_first_dates_the_alerts_firing() -> None:
    """The other replica fired a poll earlier, so Alertmanager may notify before the first one shows it
    firing: the firing is dated from the other replica's poll before (a sequence "firing → notification"
    is then in order; on HA the gateway-down scenario failed "out of order")."""
    timeline, rec = recorder(Replica([PENDING], [PENDING], [firing()]), Replica([PENDING], [firing()], [firing()]))
    rec._poll_alerts()
    between = time.time()
    rec._poll_alerts()  # the other replica fires; the first is still pending
    rec._poll_alerts()
    event = timeline.first("alert", "GatewayDown", "firing")
    assert event is not None
    assert event.detail["previous_poll"] < between  # the other replica's poll before it fired


def test_firing_on_the_other_replica_later_or_an_earlier_incident_changes_nothing() -> None:
    timeline, rec = recorder(Replica([PENDING], [PENDING], [firing()]), Replica([PENDING], [PENDING], [PENDING]))
    rec._poll_alerts()
    between = time.time()
    rec._poll_alerts()
    rec._poll_alerts()
    event = timeline.first("alert", "GatewayDown", "firing")
    assert event is not None and event.detail["previous_poll"] >= between  # its own poll before
    # fired on the other replica and resolved there before the first replica fired: another incident
    timeline, rec = recorder(Replica([], [], [], [firing()]), Replica([PENDING], [firing()], [], []))
    rec._poll_alerts()
    after_first = time.time()
    for _ in range(3):
        rec._poll_alerts()
    event = timeline.first("alert", "GatewayDown", "firing")
    assert event is not None and event.detail["previous_poll"] > after_first  # its own 3rd poll, not the other's 1st
