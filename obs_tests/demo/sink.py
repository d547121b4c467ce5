"""The alert webhook sink: records what Alertmanager sends so tests can assert on notifications.

``POST /hook/<receiver>`` (or ``POST /hook``) takes an Alertmanager webhook payload (version 4) and
records it with its receive time (wall clock) in a bounded in-memory store (oldest entries evicted,
counted in ``webhook_sink_evicted_total``). Queries:

- ``GET /notifications?alertname=&status=&receiver=&since=<float>&label.<name>=<value>`` → one entry
  per alert per payload: ``{received_at, receiver, payload_status, status, labels, annotations,
  starts_at, ends_at, group_key, group_labels, fingerprint, sender}`` (``sender``: the payload's
  ``externalURL``, which Alertmanager peer sent it), oldest first;
- ``GET /payloads?since=`` → the raw payloads with ``received_at`` and ``receiver``;
- ``DELETE /notifications`` clears both.

Faults: ``error_rate`` answers 500 (Alertmanager's notification fails and is retried), ``latency`` and
``hang`` delay the answer. A malformed payload is answered 400, never 5xx.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Final

import orjson
from prometheus_client import Counter

from obs_tests.demo.http_messages import Request, Response, json_response
from obs_tests.demo.runtime import CommonOptions, Service
from obs_tests.errors import PayloadInvalid

__all__ = ["Notification", "Sink", "parse_payload"]

_ALERT_STATUSES: Final = ("firing", "resolved")


@dataclass(frozen=True, slots=True)
class Notification:
    """One alert of one received payload."""

    received_at: float
    receiver: str
    payload_status: str
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str | None
    ends_at: str | None
    group_key: str | None
    group_labels: dict[str, str]
    fingerprint: str | None
    #: the Alertmanager that sent it (the payload's externalURL): in a cluster, which peer notified
    sender: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON form ``GET /notifications`` answers."""
        return {
            "received_at": self.received_at,
            "receiver": self.receiver,
            "payload_status": self.payload_status,
            "status": self.status,
            "labels": self.labels,
            "annotations": self.annotations,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "group_key": self.group_key,
            "group_labels": self.group_labels,
            "fingerprint": self.fingerprint,
            "sender": self.sender,
        }


def _string_map(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items()
    ):
        raise PayloadInvalid(f"{where} must be an object of strings")
    return value


def _optional_str(value: object, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise PayloadInvalid(f"{where} must be a string")


def parse_payload(
    body: bytes, path_receiver: str | None, received_at: float
) -> tuple[dict[str, Any], list[Notification]]:
    """The payload and its notifications; raises :class:`PayloadInvalid` naming the bad field."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadInvalid(f"body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise PayloadInvalid("payload must be a JSON object")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadInvalid("alerts must be a list")
    payload_status = payload.get("status", "")
    if not isinstance(payload_status, str):
        raise PayloadInvalid("status must be a string")
    receiver = path_receiver or _optional_str(payload.get("receiver"), "receiver") or ""
    group_key = _optional_str(payload.get("groupKey"), "groupKey")
    group_labels = _string_map(payload.get("groupLabels"), "groupLabels")
    sender = _optional_str(payload.get("externalURL"), "externalURL")
    notifications = []
    for index, alert in enumerate(alerts):
        where = f"alerts[{index}]"
        if not isinstance(alert, dict):
            raise PayloadInvalid(f"{where} must be an object")
        status = alert.get("status", payload_status)
        if not isinstance(status, str):
            raise PayloadInvalid(f"{where}.status must be a string")
        notifications.append(
            Notification(
                received_at=received_at,
                receiver=receiver,
                payload_status=payload_status,
                status=status,
                labels=_string_map(alert.get("labels"), f"{where}.labels"),
                annotations=_string_map(alert.get("annotations"), f"{where}.annotations"),
                starts_at=_optional_str(alert.get("startsAt"), f"{where}.startsAt"),
                ends_at=_optional_str(alert.get("endsAt"), f"{where}.endsAt"),
                group_key=group_key,
                group_labels=group_labels,
                fingerprint=_optional_str(alert.get("fingerprint"), f"{where}.fingerprint"),
                sender=sender,
            )
        )
    return payload, notifications


class Sink(Service):
    """The alert webhook sink service (``python -m obs_tests.demo sink``)."""

    component = "sink"

    def __init__(self, options: CommonOptions, *, capacity: int = 100_000) -> None:
        super().__init__(options)
        self.capacity = capacity
        self.notifications: deque[Notification] = deque()
        self.payloads: deque[dict[str, Any]] = deque()
        registry = self.registry
        self._notifications_total = Counter(
            "webhook_sink_notifications_total",
            "Alert notifications received, by receiver and alert status.",
            ["receiver", "status"],
            registry=registry,
        )
        self._payloads_total = Counter(
            "webhook_sink_payloads_total", "Webhook payloads received and recorded.", registry=registry
        )
        self._invalid_total = Counter(
            "webhook_sink_invalid_payloads_total", "Webhook bodies rejected as malformed.", registry=registry
        )
        self._evicted_total = Counter(
            "webhook_sink_evicted_total",
            "Stored notifications and payloads evicted because the store was full.",
            registry=registry,
        )
        self.router.add("POST", "/hook", self._hook)
        self.router.add_prefix("POST", "/hook/", self._hook)
        self.router.add("GET", "/notifications", self._list)
        self.router.add("DELETE", "/notifications", self._clear)
        self.router.add("GET", "/payloads", self._payloads)

    def _store(self, store: deque[Any], item: Any) -> None:
        store.append(item)
        if len(store) > self.capacity:
            store.popleft()
            self._evicted_total.inc()

    async def _hook(self, request: Request) -> Response:
        await self.faults.hold()
        if self.faults.should_fail():
            return json_response({"status": "error", "error": "injected failure"}, 500)
        received_at = time.time()
        try:
            payload, notifications = parse_payload(request.body, request.tail or None, received_at)
        except PayloadInvalid as exc:
            self._invalid_total.inc()
            self.log.warning("malformed webhook payload", error=str(exc))
            return json_response({"status": "rejected", "error": str(exc)}, 400)
        receiver = notifications[0].receiver if notifications else (request.tail or str(payload.get("receiver", "")))
        self._payloads_total.inc()
        self._store(self.payloads, {"received_at": received_at, "receiver": receiver, "payload": payload})
        for notification in notifications:
            self._store(self.notifications, notification)
            self._notifications_total.labels(receiver=notification.receiver, status=notification.status).inc()
            self.log.info(
                "notification received",
                receiver=notification.receiver,
                status=notification.status,
                alertname=notification.labels.get("alertname"),
            )
        return json_response({"status": "ok", "recorded": len(notifications)})

    async def _list(self, request: Request) -> Response:
        alertname = status = receiver = None
        since = None
        labels: dict[str, str] = {}
        for key, value in request.query():
            if key == "alertname":
                alertname = value
            elif key == "status":
                status = value
            elif key == "receiver":
                receiver = value
            elif key == "since":
                try:
                    since = float(value)
                except ValueError:
                    return json_response({"status": "rejected", "error": f"since must be a number, got {value!r}"}, 400)
            elif key.startswith("label."):
                labels[key[6:]] = value
            else:
                known = "alertname, status, receiver, since, label.<name>"
                return json_response({"status": "rejected", "error": f"unknown filter {key!r}; known: {known}"}, 400)
        selected = [
            notification.to_json()
            for notification in self.notifications
            if (alertname is None or notification.labels.get("alertname") == alertname)
            and (status is None or notification.status == status)
            and (receiver is None or notification.receiver == receiver)
            and (since is None or notification.received_at >= since)
            and all(notification.labels.get(name) == value for name, value in labels.items())
        ]
        return json_response(selected)

    async def _payloads(self, request: Request) -> Response:
        since = None
        for key, value in request.query():
            if key == "since":
                try:
                    since = float(value)
                except ValueError:
                    return json_response({"status": "rejected", "error": f"since must be a number, got {value!r}"}, 400)
        return json_response([entry for entry in self.payloads if since is None or entry["received_at"] >= since])

    async def _clear(self, request: Request) -> Response:
        cleared = len(self.notifications)
        self.notifications.clear()
        self.payloads.clear()
        return json_response({"status": "ok", "cleared": cleared})
