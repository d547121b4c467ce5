"""What reached the receivers: a client of the obs-tests webhook sink and ``wait_for_notification``.

Example::

    sink = SinkClient(stack.url("webhook-sink"))
    note = wait_for_notification(sink, "GatewayDown", status="firing", receiver="critical", within=10)
    note["annotations"]["summary"]
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from obs_tests.clients.base import HttpApi
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.errors import ObsTestsError

__all__ = ["SinkClient", "wait_for_notification"]


class SinkClient(HttpApi):
    """The webhook sink's query API."""

    server = "webhook sink"

    def notifications(
        self,
        *,
        alertname: str | None = None,
        status: str | None = None,
        receiver: str | None = None,
        since: float | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """One entry per alert per received payload, oldest first, filtered."""
        params: dict[str, str] = {}
        if alertname:
            params["alertname"] = alertname
        if status:
            params["status"] = status
        if receiver:
            params["receiver"] = receiver
        if since is not None:
            params["since"] = f"{since:.6f}"
        for key, value in (labels or {}).items():
            params[f"label.{key}"] = value
        result: list[dict[str, Any]] = self.get_json("/notifications", params=params)
        return result

    def payloads(self, since: float | None = None) -> list[dict[str, Any]]:
        """The Alertmanager payloads as received (``receiver``, ``status``, ``groupLabels``, ``alerts`` …),
        each with the sink's ``received_at`` and the ``hook`` path it came to."""
        entries: list[dict[str, Any]] = self.get_json(
            "/payloads", params={"since": f"{since:.6f}"} if since is not None else None
        )
        return [{**e["payload"], "received_at": e["received_at"], "hook": e["receiver"]} for e in entries]

    def clear(self) -> None:
        """Forget everything received so far."""
        self.request("DELETE", "/notifications")


def wait_for_notification(
    sink: SinkClient,
    alertname: str,
    *,
    status: str = "firing",
    labels: Mapping[str, str] | None = None,
    receiver: str | None = None,
    within: float = 30.0,
    since: float | None = None,
    bound: str = "",
    without_labels: Iterable[str] = (),
) -> dict[str, Any]:
    """Wait until a notification for ``alertname`` with ``status`` (and ``labels``, ``receiver``) arrives.

    ``without_labels``: ignore notifications of alerts carrying any of these labels (e.g. probes).
    On timeout the error names what did arrive for that alert (receiver, status) and the bound.
    """
    start = since if since is not None else time.time() - within
    excluded = set(without_labels)

    def probe() -> Poll[dict[str, Any] | None]:
        found = [
            n
            for n in sink.notifications(
                alertname=alertname, status=status, receiver=receiver, since=start, labels=labels
            )
            if not excluded & set(n.get("labels", {}))
        ]
        if found:
            return Poll(True, found[0])
        other = sink.notifications(alertname=alertname, since=start)
        seen = ", ".join(f"{n['status']} to {n['receiver']}" for n in other[-5:]) or "no notification at all"
        return Poll(False, None, seen)

    expected = f"a {status} notification for {alertname}" + (f" to receiver {receiver}" if receiver else "")
    result = wait_for(probe, timeout=within, interval=0.1, expected=expected, bound=bound, transient=(ObsTestsError,))
    assert result is not None
    return result
