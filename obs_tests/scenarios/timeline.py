"""The recorded timeline of a scenario run: faults, alert state changes, notifications, steps.

:class:`Recorder` watches the live stack in a background thread — Prometheus ``/api/v1/alerts`` every
``interval`` (0.1 s) and the webhook sink's notifications — and appends an :class:`Event` for every
change it sees; the runner adds faults, reverts and steps. Alert events carry Prometheus' own
``activeAt`` so the detection overhead (when obs-tests saw the state vs when Prometheus switched it) can
be measured.

Alert states: ``pending``, ``firing``, ``resolved`` (a firing series went away) and ``inactive`` (a
pending series went away without firing: a flap shorter than ``for``).

On an HA stack the timeline follows the first replica, and :class:`OtherReplicas` watches the others: the
replicas evaluate out of phase, and Alertmanager notifies what the earliest of them sends — the other
replica's resolve resolves the alert — so an alert event carries the earliest ``active_at``, the earliest
poll before it fired (``previous_poll``) and ``last_seen`` of any replica, and :func:`notified_from` accepts
its notifications from then on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.clients.webhook_sink import SinkClient
from obs_tests.errors import ObsTestsError

__all__ = ["Event", "OtherReplicas", "Recorder", "Timeline", "incident_start", "notified_from", "parse_time"]


def parse_time(text: str | None) -> float | None:
    """An RFC 3339 timestamp (Prometheus/Alertmanager) as unix seconds."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass(frozen=True)
class Event:
    """Something that happened during a run, at ``t`` (unix seconds, as observed by obs-tests)."""

    t: float
    kind: str  # alert | notification | fault | revert | step | load | log
    name: str
    state: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    detail: Mapping[str, Any] = field(default_factory=dict)

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether the event's labels include ``labels``."""
        return all(self.labels.get(k) == v for k, v in (labels or {}).items())

    def to_json(self, origin: float) -> dict[str, Any]:
        """JSON form with ``t`` relative to ``origin`` (the scenario start)."""
        return {
            "t": round(self.t - origin, 3),
            "kind": self.kind,
            "name": self.name,
            "state": self.state,
            "labels": dict(self.labels),
            "detail": dict(self.detail),
        }


def notified_from(change: Event) -> float:
    """The earliest time a notification of the alert change ``change`` records can have been received: a
    poller short of CPU sees a change late — later than Alertmanager notifies it — so not ``change.t``.
    For pending/firing, the alert's ``activeAt`` (a notification before it is of an earlier incident); for
    a resolve, when the poll before was asked (it still saw the alert firing); never later than 1 s before
    the change was seen."""
    seen_late = change.t - 1.0
    active_at = change.detail.get("active_at")
    if change.state in ("pending", "firing") and isinstance(active_at, int | float):
        return float(active_at)
    before = change.detail.get("previous_poll", change.detail.get("last_seen"))
    return min(seen_late, float(before)) if isinstance(before, int | float) else seen_late


def incident_start(events: Sequence[Event], status: str, now: float) -> float:
    """Since when a ``status`` notification belongs to the alert's current incident, given its recorded
    ``events``: from its latest change to that status (pending/firing for "firing", resolved for
    "resolved"), as :func:`notified_from` places it — Alertmanager may notify before obs-tests' poll sees
    the change; for "firing" never before the alert's ``activeAt`` (a notification older than that is of an
    earlier incident, e.g. one Alertmanager repeated while Prometheus restarted); ``now`` when the alert has
    not changed in the run."""
    states = ("pending", "firing") if status == "firing" else ("resolved",)
    changes = [e for e in events if e.state in states]
    return notified_from(changes[-1]) if changes else now


class Timeline:
    """A thread-safe, append-only list of events."""

    def __init__(self, origin: float | None = None) -> None:
        self.origin = origin if origin is not None else time.time()
        self._events: list[Event] = []
        self._lock = threading.Lock()
        self.listeners: list[Callable[[Event], None]] = []

    def add(self, event: Event) -> Event:
        """Append (and tell the listeners)."""
        with self._lock:
            self._events.append(event)
        for listener in list(self.listeners):
            listener(event)
        return event

    def record(self, kind: str, name: str, state: str = "", **detail: Any) -> Event:
        """Append an event happening now."""
        return self.add(Event(time.time(), kind, name, state, {}, detail))

    @property
    def events(self) -> list[Event]:
        """A snapshot, in time order."""
        with self._lock:
            return sorted(self._events, key=lambda e: e.t)

    def find(
        self,
        kind: str,
        name: str | None = None,
        state: str | None = None,
        *,
        since: float | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[Event]:
        """Events of ``kind`` (and name/state/labels), at or after ``since``."""
        return [
            e
            for e in self.events
            if e.kind == kind
            and (name is None or e.name == name)
            and (state is None or e.state == state)
            and (since is None or e.t >= since)
            and e.matches(labels)
        ]

    def first(
        self,
        kind: str,
        name: str | None = None,
        state: str | None = None,
        *,
        since: float | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Event | None:
        """The first matching event, or None."""
        found = self.find(kind, name, state, since=since, labels=labels)
        return found[0] if found else None

    def to_json(self) -> list[dict[str, Any]]:
        """Every event, ``t`` relative to the origin."""
        return [e.to_json(self.origin) for e in self.events]


def _key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


AlertKey = tuple[str, tuple[tuple[str, str], ...]]


def _alerts_by_key(alerts: Sequence[Mapping[str, Any]]) -> dict[AlertKey, Mapping[str, Any]]:
    by_key = {}
    for alert in alerts:
        labels = dict(alert.get("labels") or {})
        by_key[(labels.get("alertname", ""), _key(labels))] = alert
    return by_key


class OtherReplicas:
    """The alerts of an HA stack's other Prometheus replicas: when each alert became active on the earliest
    of them, and when one that fired there was last seen before it resolved there. A replica that cannot be
    read (killed by a scenario) is skipped until it answers again."""

    def __init__(self, clients: Sequence[PrometheusClient]) -> None:
        self.clients = list(clients)
        self._seen: list[dict[AlertKey, Mapping[str, Any]]] = [{} for _ in self.clients]
        self._asked: list[float | None] = [None for _ in self.clients]
        #: alert -> the earliest activeAt on another replica, while it is active there
        self.active_at: dict[AlertKey, float] = {}
        #: alert -> the earliest poll that still saw it firing on a replica where it then resolved
        self.resolved_after: dict[AlertKey, float] = {}
        #: alert -> the earliest poll that saw it not yet firing on a replica where it then fired
        self.fired_after: dict[AlertKey, float] = {}

    def poll(self) -> None:
        """Read every other replica once."""
        active: dict[AlertKey, float] = {}
        for index, client in enumerate(self.clients):
            asked = time.time()
            try:
                seen = _alerts_by_key(client.alerts())
            except ObsTestsError:  # down: what it had is not known to have resolved
                self._seen[index], self._asked[index] = {}, None
                continue
            before, before_asked = self._seen[index], self._asked[index]
            for key, alert in before.items():
                if key not in seen and alert.get("state") == "firing" and before_asked is not None:
                    self.resolved_after[key] = min(self.resolved_after.get(key, before_asked), before_asked)
                    self.fired_after.pop(key, None)  # that firing ended: the next is another incident's
            for key, alert in seen.items():
                self.resolved_after.pop(key, None)  # active there again: an earlier resolve is not this one's
                was = before.get(key, {}).get("state")
                if alert.get("state") == "firing" and was != "firing" and before_asked is not None:
                    self.fired_after[key] = min(self.fired_after.get(key, before_asked), before_asked)
                started = parse_time(alert.get("activeAt"))
                if started is not None:
                    active[key] = min(active.get(key, started), started)
            self._seen[index], self._asked[index] = seen, asked
        self.active_at = active

    def earliest_active(self, key: AlertKey, own: float | None) -> float | None:
        """``own`` activeAt, or another replica's when that is earlier."""
        other = self.active_at.get(key)
        return other if own is None or (other is not None and other < own) else own

    def earliest_seen_before_firing(self, key: AlertKey, own: float | None) -> float | None:
        """``own`` poll before the alert was seen firing, or another replica's when it fired there earlier
        (consumed); None (the first poll: any time before) stays None."""
        other = self.fired_after.pop(key, None)
        return other if own is not None and other is not None and other < own else own

    def earliest_seen_before_resolve(self, key: AlertKey, own: float | None) -> float | None:
        """``own`` last poll before the resolve, or another replica's when it resolved earlier (consumed)."""
        other = self.resolved_after.pop(key, None)
        return other if own is None or (other is not None and other < own) else own


class Recorder:
    """Background watcher of alert states and notifications; ``current`` holds the live alert states."""

    def __init__(
        self,
        timeline: Timeline,
        prom: PrometheusClient,
        sink: SinkClient | None,
        *,
        interval: float = 0.1,
        notification_interval: float = 0.25,
        replicas: Sequence[PrometheusClient] = (),
    ) -> None:
        self.timeline = timeline
        self.prom = prom
        #: the other Prometheus replicas of an HA stack (none on a single stack)
        self.others = OtherReplicas(replicas)
        self.sink = sink
        self.interval = interval
        self.notification_interval = notification_interval
        #: (alertname, labels) -> the alert as /api/v1/alerts returned it last
        self.current: dict[AlertKey, Mapping[str, Any]] = {}
        self.errors = 0
        self.last_error = ""
        self._seen_notes: set[tuple[Any, ...]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._polled = threading.Condition()
        self._polls = 0
        self._prometheus_up = True
        self._last_poll: float | None = None

    def __enter__(self) -> Recorder:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Take a first snapshot (states already active are recorded at the start) and start watching."""
        self._poll_alerts()
        self._thread = threading.Thread(target=self._run, name="obs-tests-recorder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (one last poll first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._poll_notifications()

    def wait_poll(self, timeout: float = 5.0) -> None:
        """Block until the watcher completed one more poll after this call."""
        with self._polled:
            target = self._polls + 1
            self._polled.wait_for(lambda: self._polls >= target, timeout=timeout)

    def _run(self) -> None:
        next_notes = 0.0
        while not self._stop.is_set():
            started = time.monotonic()
            self._poll_alerts()
            if self.sink is not None and started >= next_notes:
                self._poll_notifications()
                next_notes = started + self.notification_interval
            with self._polled:
                self._polls += 1
                self._polled.notify_all()
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def _poll_alerts(self) -> None:
        if self.others.clients:
            self.others.poll()
        asked = time.time()
        try:
            alerts = self.prom.alerts()
        except ObsTestsError as exc:  # Prometheus restarting: a gap, not an end
            self.errors += 1
            self.last_error = str(exc)
            if self._prometheus_up:
                self._prometheus_up = False
                self.timeline.add(Event(time.time(), "prometheus", "api", "down", {}, {"error": str(exc)}))
                # Prometheus restarting loses its alert state: what is active when it is back is new.
                self.current = {}
                self._last_poll = None
            return
        now = time.time()
        if not self._prometheus_up:
            self._prometheus_up = True
            self.timeline.add(Event(now, "prometheus", "api", "up"))
        seen = _alerts_by_key(alerts)
        for key, alert in seen.items():
            before = self.current.get(key)
            state = str(alert.get("state"))
            if before is None or before.get("state") != state:
                self.timeline.add(
                    Event(
                        now,
                        "alert",
                        key[0],
                        state,
                        dict(key[1]),
                        {
                            "active_at": self.others.earliest_active(key, parse_time(alert.get("activeAt"))),
                            "value": alert.get("value"),
                            "annotations": dict(alert.get("annotations") or {}),
                            # it changed after the previous poll was asked (None: first poll); when it
                            # fired on another replica first, after that replica's poll before
                            "previous_poll": (
                                self.others.earliest_seen_before_firing(key, self._last_poll)
                                if state == "firing"
                                else self._last_poll
                            ),
                        },
                    )
                )
        for key, before in self.current.items():
            if key not in seen:
                state = "resolved" if before.get("state") == "firing" else "inactive"
                # It left after the previous poll was asked (it was still active then) and before this one.
                last_seen = self.others.earliest_seen_before_resolve(key, self._last_poll)
                detail = {"last_seen": last_seen} if last_seen is not None else {}
                self.timeline.add(Event(now, "alert", key[0], state, dict(key[1]), detail))
        self.current = seen
        self._last_poll = asked

    def _poll_notifications(self) -> None:
        if self.sink is None:
            return
        try:
            notes = self.sink.notifications(since=self.timeline.origin)
        except ObsTestsError as exc:
            self.errors += 1
            self.last_error = str(exc)
            return
        for note in notes:
            labels = dict(note.get("labels") or {})
            key = (note.get("received_at"), note.get("receiver"), note.get("status"), _key(labels))
            if key in self._seen_notes:
                continue
            self._seen_notes.add(key)
            self.timeline.add(
                Event(
                    float(note.get("received_at") or time.time()),
                    "notification",
                    labels.get("alertname", ""),
                    str(note.get("status")),
                    labels,
                    {
                        "receiver": note.get("receiver"),
                        "sender": note.get("sender"),
                        "payload": note.get("payload_status"),
                    },
                )
            )

    def state(self, name: str, labels: Mapping[str, str] | None = None) -> str:
        """``firing`` / ``pending`` / ``inactive`` for the alert now (any matching series)."""
        states = {
            str(alert.get("state"))
            for (alert_name, key), alert in self.current.items()
            if alert_name == name and all(dict(key).get(k) == v for k, v in (labels or {}).items())
        }
        if "firing" in states:
            return "firing"
        return "pending" if "pending" in states else "inactive"
