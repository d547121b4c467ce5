"""Settling before a scenario: on recorded answers of Prometheus and the webhook sink."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from obs_tests.errors import ObsTestsError
from obs_tests.scenarios.settling import settle


class Prom:
    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)

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
