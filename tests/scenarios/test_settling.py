"""Settling before a scenario: on recorded answers of Prometheus and the webhook sink."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from obs_tests.clients.prometheus import Sample
from obs_tests.errors import ObsTestsError
from obs_tests.scenarios.settling import settle


class Prom:
    def __init__(self, *answers: list[str], in_flight: list[float] | None = None) -> None:
        self.answers = list(answers)
        #: what the at-rest query returns, poll after poll (a value: a series; None: no series)
        self.in_flight = list(in_flight or [])
        self.queries: list[str] = []

    def query(self, expr: str) -> list[Sample]:
        self.queries.append(expr)
        value = self.in_flight.pop(0) if len(self.in_flight) > 1 else (self.in_flight or [None])[0]
        return [] if value is None else [Sample({}, value, 0.0)]

    def alerts(self) -> list[dict[str, Any]]:
        names = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return [{"labels": {"alertname": n}} for n in names]


class Sink:
    def __init__(self, notes: list[dict[str, Any]]) -> None:
        self.notes = notes

    def notifications(self, since: float) -> list[dict[str, Any]]:
        return self.notes


def _note(alert: str, status: str) -> dict[str, Any]:
    return {"labels": {"alertname": alert}, "receiver": "critical", "status": status, "t": time.time()}


def test_settled_once_only_the_watchdog_is_active_and_every_incident_resolved() -> None:
    prom = Prom(["GatewayDown", "Watchdog"], ["Watchdog"])
    sink = Sink([_note("GatewayDown", "firing"), _note("GatewayDown", "resolved")])
    settle(prom, sink, {"GatewayDown"}, timeout=5, stop=threading.Event())  # type: ignore[arg-type]


def test_an_alert_that_stays_active_or_an_incident_never_resolved_is_reported_with_its_name() -> None:
    with pytest.raises(ObsTestsError, match=r"did not settle.*active in Prometheus: GatewayDown"):
        settle(Prom(["GatewayDown"]), None, {"GatewayDown"}, timeout=0.5, stop=threading.Event())  # type: ignore[arg-type]
    sink = Sink([_note("GatewayDown", "resolved"), _note("GatewayDown", "firing")])
    with pytest.raises(ObsTestsError, match="notified firing, not yet resolved: GatewayDown"):
        settle(Prom([]), sink, {"GatewayDown"}, timeout=0.5, stop=threading.Event())  # type: ignore[arg-type]


AT_REST = "sum(max_over_time(orchestrator_open_workflows[5s])) > 0"


def test_work_left_in_flight_by_a_fault_holds_the_next_scenario_until_it_drained() -> None:
    # an agent was down: workflows open until they time out (and count as failures); the alert they raise
    # only after the settle would fire in the next scenario
    prom = Prom(["Watchdog"], in_flight=[3.0, 1.0, None])
    settle(prom, None, set(), timeout=5, stop=threading.Event(), at_rest=(AT_REST,))  # type: ignore[arg-type]
    assert prom.queries == [AT_REST] * 3


def test_a_system_never_at_rest_is_reported_with_its_query() -> None:
    prom = Prom(["Watchdog"], in_flight=[2.0])
    with pytest.raises(
        ObsTestsError, match=r"in flight: sum\(max_over_time\(orchestrator_open_workflows\[5s\]\)\) > 0 = 2"
    ):
        settle(prom, None, set(), timeout=0.5, stop=threading.Event(), at_rest=(AT_REST,))  # type: ignore[arg-type]
