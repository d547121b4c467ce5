"""probe_routing's waves, against a stand-in for Alertmanager whose inhibitor sees the inhibiting alert a
moment after the API lists it (as Alertmanager's does: its inhibitor cache is filled asynchronously)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from obs_tests.checks.routing import RouteTest
from obs_tests.checks.routing_live import AlertmanagerSettings, probe_routing

SOURCE = {"alertname": "GatewayDown", "severity": "critical", "job": "gateway"}
TARGET = {"alertname": "GatewayHighErrorRate", "severity": "warning", "job": "gateway"}


class LaggingAlertmanager:
    """Holds posted alerts; ``GatewayHighErrorRate`` is inhibited while ``GatewayDown`` fires, but the API
    shows it only from the ``lag``-th listing on. It notifies the sink like Alertmanager would."""

    def __init__(self, sink: Sink, lag: int) -> None:
        self.sink = sink
        self.lag = lag
        self.listings = 0
        self.firing: dict[str, dict[str, str]] = {}

    def _inhibited(self, name: str) -> bool:
        return name == TARGET["alertname"] and SOURCE["alertname"] in self.firing

    def post_alerts(self, body: Sequence[Mapping[str, Any]]) -> None:
        for item in body:
            labels = dict(item["labels"])
            name = labels["alertname"]
            if "endsAt" in item:
                if self.firing.pop(name, None) is not None:
                    self.sink.note(labels, "resolved")
            else:
                self.firing[name] = labels
        for name, labels in list(self.firing.items()):
            if not self._inhibited(name):
                self.sink.note(labels, "firing")

    def alerts(self, filters: Sequence[str] = ()) -> list[dict[str, Any]]:
        self.listings += 1
        return [
            {
                "labels": labels,
                "status": {"inhibitedBy": ["x"] if self._inhibited(name) and self.listings >= self.lag else []},
            }
            for name, labels in self.firing.items()
        ]


class Sink:
    def __init__(self) -> None:
        self.notes: list[dict[str, Any]] = []

    def note(self, labels: Mapping[str, str], status: str) -> None:
        receiver = "critical" if labels["severity"] == "critical" else "warning"
        key = (labels["alertname"], status)
        if key not in {(n["labels"]["alertname"], n["status"]) for n in self.notes}:
            self.notes.append({"labels": dict(labels), "receiver": receiver, "status": status, "t": time.time()})

    def notifications(
        self, *, alertname: str | None = None, since: float | None = None, labels: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        return [n for n in self.notes if alertname in (None, n["labels"]["alertname"])]

    def payloads(self, since: float | None = None) -> list[dict[str, Any]]:
        return []


def _probe(lag: int) -> tuple[list[str], dict[str, Any]]:
    sink = Sink()
    am = LaggingAlertmanager(sink, lag)
    settings = AlertmanagerSettings(group_wait={"critical": 0.0, "warning": 0.0}, root_wait=0.0, root_interval=0.0)
    probes = [
        (RouteTest("GatewayDown", ("critical",)), SOURCE),
        (RouteTest("GatewayHighErrorRate", ("warning",)), TARGET),
    ]
    findings, details = probe_routing(am, sink, probes, settings)  # type: ignore[arg-type]
    return [str(f) for f in findings], details


def test_an_alert_inhibited_only_after_the_first_listing_is_probed_in_the_second_wave() -> None:
    # Reading inhibitedBy once, right after posting, took the target for a plain alert that never notified.
    findings, details = _probe(lag=2)
    assert findings == []
    assert details["second_wave"] == ["GatewayHighErrorRate"]


def test_an_alert_inhibited_from_the_start_is_probed_in_the_second_wave() -> None:
    findings, details = _probe(lag=1)
    assert findings == []
    assert details["second_wave"] == ["GatewayHighErrorRate"]
