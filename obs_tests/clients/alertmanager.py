"""Alertmanager API v2 client.

Example::

    am = AlertmanagerClient("http://127.0.0.1:9093")
    am.post_alerts([{"labels": {"alertname": "Test", "severity": "critical"}}])
    [a["labels"]["alertname"] for a in am.alerts()]
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from obs_tests.clients.base import HttpApi
from obs_tests.errors import AlertmanagerUnreachable

__all__ = ["AlertmanagerClient", "ClusterClient", "iso"]


def iso(ts: float) -> str:
    """Unix seconds -> RFC 3339 as Alertmanager expects."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class AlertmanagerClient(HttpApi):
    """The parts of the Alertmanager v2 API obs-tests uses."""

    server = "Alertmanager"
    unreachable = AlertmanagerUnreachable

    def ready(self) -> bool:
        """True when ``/-/ready`` answers 200."""
        try:
            resp = self.request("GET", "/-/ready", timeout=2.0, expect=(200, 503))
        except AlertmanagerUnreachable:
            return False
        return resp.status_code == 200

    def status(self) -> dict[str, Any]:
        """``/api/v2/status``: config, cluster, version."""
        result: dict[str, Any] = self.get_json("/api/v2/status")
        return result

    def receivers(self) -> list[str]:
        """Names of the configured receivers."""
        return [r["name"] for r in self.get_json("/api/v2/receivers")]

    def alerts(
        self,
        *,
        active: bool = True,
        silenced: bool = True,
        inhibited: bool = True,
        filters: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Alerts Alertmanager holds, with their ``status.state`` and ``inhibitedBy``/``silencedBy``."""
        params: list[tuple[str, str]] = [
            ("active", str(active).lower()),
            ("silenced", str(silenced).lower()),
            ("inhibited", str(inhibited).lower()),
        ]
        params += [("filter", f) for f in filters or []]
        result: list[dict[str, Any]] = self.get_json("/api/v2/alerts", params=params)
        return result

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """Post alerts directly (as Prometheus would); ``startsAt`` defaults to now."""
        now = time.time()
        body = []
        for alert in alerts:
            item = dict(alert)
            item.setdefault("startsAt", iso(now))
            item.setdefault("annotations", {})
            body.append(item)
        self.request("POST", "/api/v2/alerts", json=body)

    def silences(self) -> list[dict[str, Any]]:
        """All silences (active, pending, expired)."""
        result: list[dict[str, Any]] = self.get_json("/api/v2/silences")
        return result

    def create_silence(
        self,
        matchers: dict[str, str],
        *,
        duration: float,
        comment: str = "obs-tests",
        created_by: str = "obs-tests",
    ) -> str:
        """Silence alerts matching ``matchers`` (equality) for ``duration`` seconds; returns its id."""
        now = time.time()
        body = {
            "matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in matchers.items()],
            "startsAt": iso(now),
            "endsAt": iso(now + duration),
            "createdBy": created_by,
            "comment": comment,
        }
        resp = self.request("POST", "/api/v2/silences", json=body)
        return str(self.decode(resp, "/api/v2/silences")["silenceID"])

    def expire_silence(self, silence_id: str) -> None:
        """Expire a silence now."""
        self.request("DELETE", f"/api/v2/silence/{silence_id}")


class ClusterClient(AlertmanagerClient):
    """The peers of an Alertmanager cluster as its senders see them: alerts are posted to every peer (as
    each Prometheus replica does — the peers gossip notifications and silences, not alerts), everything
    else is asked of the first."""

    def __init__(self, urls: list[str], *, timeout: float = 10.0) -> None:
        if not urls:
            raise ValueError("a cluster client needs the URL of at least one peer")
        super().__init__(urls[0], timeout=timeout)
        self.others = [AlertmanagerClient(url, timeout=timeout) for url in urls[1:]]

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """Post the alerts to every peer."""
        super().post_alerts(alerts)
        for peer in self.others:
            peer.post_alerts(alerts)
