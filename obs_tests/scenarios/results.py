"""What a scenario run produced: its judged assertions, each ``must_fire`` alert's measured times
against its bounds, and the run's result with its JSON report.

Example::

    result.passed, result.assertions_passed, result.alerts[0].fired_after
    result.alerts[0].describe()  # "GatewayDown fired 5.0s (bound 8.0s), cleared 1.2s (bound 4.0s)"
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from obs_tests.scenarios.bounds import AlertBounds
from obs_tests.scenarios.timeline import Timeline

__all__ = [
    "AlertTiming",
    "AssertionResult",
    "ScenarioResult",
    "after_resolving",
    "format_seconds",
    "scenario_id",
    "timings_table",
]

#: what each phase's computed bound is made of (see :mod:`obs_tests.scenarios.bounds`)
_BOUND_PARTS = {
    "fire": "the rule's for + scrape/evaluation intervals",
    "notify": "group_wait/group_interval + one evaluation",
    "clear": "scrape/evaluation intervals + range window + keep_firing_for",
    "notify_resolved": "group_interval + one evaluation",
}


@dataclass(frozen=True)
class AssertionResult:
    """One judged expectation."""

    name: str
    passed: bool
    expected: str
    actual: str
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "name": self.name,
            "passed": self.passed,
            "expected": self.expected,
            "actual": self.actual,
            "message": self.message,
        }


@dataclass
class AlertTiming:
    """Measured times of one ``must_fire`` alert (unix seconds) and its bounds."""

    alert: str
    fault: str
    bounds: AlertBounds | None
    detect: float = 0.0
    fault_at: float | None = None
    pending_at: float | None = None
    firing_at: float | None = None
    active_at: float | None = None
    notified_at: float | None = None
    reverted_at: float | None = None
    resolved_at: float | None = None
    resolved_notified_at: float | None = None
    #: what the judge allowed (seconds): fire, notify, clear, notify_resolved — a scenario's ``within`` /
    #: ``clear_within`` where given, else the bound plus the tolerance
    limits: dict[str, float] = field(default_factory=dict)
    #: the phases whose limit the scenario gave itself (``within``, ``clear_within``)
    given: set[str] = field(default_factory=set)

    @property
    def fired_after(self) -> float | None:
        """Seconds from the fault to firing."""
        return _elapsed(self.firing_at, self.fault_at)

    @property
    def notified_after(self) -> float | None:
        """Seconds from firing to the firing notification."""
        return _elapsed(self.notified_at, self.firing_at)

    @property
    def resolved_after(self) -> float | None:
        """Seconds from the revert to resolved."""
        return _elapsed(self.resolved_at, self.reverted_at)

    @property
    def resolved_notified_after(self) -> float | None:
        """Seconds from resolved to the resolved notification (negative when it came between the poll
        before and the poll that saw the alert resolved)."""
        return _elapsed(self.resolved_notified_at, self.resolved_at)

    def measured(self) -> dict[str, float | None]:
        """The measured time of each judged phase (seconds), keyed like :attr:`limits`."""
        return {
            "fire": self.fired_after,
            "notify": self.notified_after,
            "clear": self.resolved_after,
            "notify_resolved": self.resolved_notified_after,
        }

    def margins(self) -> dict[str, float]:
        """Limit minus measured time for every judged phase that happened (negative: over the limit)."""
        measured = self.measured()
        return {
            phase: round(limit - value, 3)
            for phase, limit in self.limits.items()
            if (value := measured.get(phase)) is not None
        }

    def theory(self, phase: str) -> float | None:
        """The computed bound of a phase (seconds, without the tolerance), or None without bounds."""
        b = self.bounds
        if b is None:
            return None
        return {
            "fire": b.fire(self.detect),
            "notify": b.notify(),
            "clear": b.resolve(),
            "notify_resolved": b.notify_resolved(),
        }[phase]

    def bound_source(self) -> dict[str, str]:
        """What set each judged phase's limit: ``within`` (the scenario's own ``within`` or
        ``clear_within``), ``computed`` (the bound from the live configs, plus the tolerance) or
        ``default`` (the rule was not loaded: no bound to compute)."""
        return {
            phase: "within" if phase in self.given else "computed" if self.bounds is not None else "default"
            for phase in self.limits
        }

    def limit_text(self, phase: str, *, short: bool = False) -> str:
        """The limit that judged ``phase`` and where it comes from, e.g. ``within 10.0s, set in the
        scenario`` or ``bound 8.0s: 6.0s from the rule's for + scrape/evaluation intervals, + tolerance
        2.0s`` (``short``: ``bound 8.0s``, the derivation left to the reports)."""
        limit = self.limits[phase]
        source = self.bound_source()[phase]
        if source == "within":
            return f"{'within' if phase == 'fire' else 'clear_within'} {limit:.1f}s, set in the scenario"
        bound = self.theory(phase)
        if source == "default" or bound is None:
            return f"limit {limit:.1f}s, a default" + ("" if short else ": the rule is not loaded, so no bound")
        if short:
            return f"bound {limit:.1f}s"
        parts = _BOUND_PARTS[phase] + (" + the expression's detect time" if phase == "fire" and self.detect else "")
        if phase.startswith("notify") and self.bounds is not None and self.bounds.peer_wait:
            parts += f" + {self.bounds.peer_wait:g}s the last Alertmanager peer waits"
        return f"bound {limit:.1f}s: {bound:.1f}s from {parts}, + tolerance {limit - bound:.1f}s"

    def describe(self) -> str:
        """One line: each phase measured against the limit that judged it and its kind (the scenario's
        ``within``/``clear_within``, the computed bound plus the tolerance, or a default); the derivation
        of a computed bound is in the verdicts and reports. A resolved notification can come between the
        poll before and the poll that saw the alert resolved: "with the resolve", never "-0.1s"."""
        words = {"fire": "fired", "notify": "notified", "clear": "cleared", "notify_resolved": "resolved notified"}
        measured = self.measured()
        parts = []
        for phase, word in words.items():
            if phase not in self.limits:
                continue
            value = measured[phase]
            shown = (
                "with the resolve"
                if phase == "notify_resolved" and value is not None and value < 0
                else format_seconds(value)
            )
            parts.append(f"{word} {shown} ({self.limit_text(phase, short=True)})")
        return f"{self.alert} " + ", ".join(parts)

    @property
    def detection_overhead(self) -> float | None:
        """When obs-tests saw firing minus when Prometheus switched it: the first evaluation at or after
        ``activeAt + for`` (Prometheus only changes state when it evaluates)."""
        if self.firing_at is None or self.active_at is None or self.bounds is None:
            return None
        interval = self.bounds.evaluation_interval or 1.0
        cycles = math.ceil(self.bounds.for_seconds / interval - 1e-6)
        return round(self.firing_at - (self.active_at + cycles * interval), 3)

    def to_json(self, origin: float) -> dict[str, Any]:
        """Times relative to the scenario start, deltas, bounds."""

        def rel(value: float | None) -> float | None:
            return None if value is None else round(value - origin, 3)

        return {
            "alert": self.alert,
            "fault": self.fault,
            "fault_at": rel(self.fault_at),
            "pending_at": rel(self.pending_at),
            "firing_at": rel(self.firing_at),
            "notified_at": rel(self.notified_at),
            "reverted_at": rel(self.reverted_at),
            "resolved_at": rel(self.resolved_at),
            "resolved_notified_at": rel(self.resolved_notified_at),
            "fired_after": self.fired_after,
            "notified_after": self.notified_after,
            "resolved_after": self.resolved_after,
            "resolved_notified_after": self.resolved_notified_after,
            "detection_overhead": self.detection_overhead,
            "bounds": self.bounds.to_json(self.detect) if self.bounds else None,
            "limits": dict(self.limits),
            "bound_source": self.bound_source(),
            "margins": self.margins(),
        }


@dataclass
class ScenarioResult:
    """The outcome of one scenario run."""

    scenario: str
    path: str
    description: str
    status: str = "running"  # running | passed | failed | error | stopped
    type: str = "chaos"  # the scenario's type: chaos | steady_state
    #: which stack ran it when several run scenarios at once (a pool's "stack 2", a wave's "slot 1"), else ""
    lane: str = ""
    #: when the runner took its stack (unix seconds; heal and settle included), before ``started_at``
    began_at: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    time_scale: float = 1.0
    assertions: list[AssertionResult] = field(default_factory=list)
    alerts: list[AlertTiming] = field(default_factory=list)
    chaos: dict[str, Any] = field(default_factory=dict)
    load: dict[str, Any] | None = None
    #: the ``load`` steps waited for: requests, failures and their load report each (``StepContext.load_reports``)
    load_steps: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    timeline: Timeline | None = None
    log: list[dict[str, Any]] = field(default_factory=list)
    #: the scenario's name as written (``Flash Crash Recovery Test``; ``scenario`` is its identifier)
    title: str = ""
    #: a trading-bot run's events (``EventLog.summary``), the prices its bot saw, its recording file
    events: dict[str, Any] | None = None
    exchange: dict[str, Any] | None = None
    recording: str | None = None
    #: every bus event of a trading-bot run (in the JSON only when asked: ``to_json(include_events=True)``)
    event_log: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when the run passed."""
        return self.status == "passed"

    @property
    def duration(self) -> float:
        """Wall time of the run."""
        return round((self.finished_at or time.time()) - self.started_at, 3)

    @property
    def assertions_passed(self) -> int:
        """How many assertions passed."""
        return sum(1 for a in self.assertions if a.passed)

    def failures(self) -> list[AssertionResult]:
        """The failed assertions."""
        return [a for a in self.assertions if not a.passed]

    def to_json(self, *, include_events: bool = False) -> dict[str, Any]:
        """The JSON report (the seed framework's shape — ``scenario {name, description}``, status,
        duration_seconds, start/end time, assertions, chaos, exchange — plus alert timings, the timeline and
        the log; ``include_events``: every bus event of the run under ``event_log``)."""
        origin = self.started_at
        extra = {"event_log": self.event_log} if include_events else {}
        return extra | {
            "scenario": {
                "name": self.title or self.scenario,
                "id": self.scenario,
                "description": self.description,
                "path": self.path,
            },
            "status": self.status,
            "duration_seconds": self.duration,
            "start_time": _iso(self.started_at or self.began_at),
            "end_time": _iso(self.finished_at),
            "type": self.type,
            "lane": self.lane,
            "began_at": self.began_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration": self.duration,
            "time_scale": self.time_scale,
            "error": self.error,
            "assertions": {
                "total": len(self.assertions),
                "passed": self.assertions_passed,
                "failed": len(self.assertions) - self.assertions_passed,
                "results": [a.to_json() for a in self.assertions],
            },
            "chaos": self.chaos,
            "exchange": self.exchange,
            "events": self.events,
            "recording": self.recording,
            "alerts": [a.to_json(origin) for a in self.alerts],
            "load": self.load,
            "load_steps": self.load_steps,
            "timeline": self.timeline.to_json() if self.timeline else [],
            "log": self.log,
        }


def _iso(when: float) -> str | None:
    """ISO 8601 in UTC (None before the time came)."""
    return dt.datetime.fromtimestamp(when, dt.UTC).isoformat(timespec="milliseconds") if when else None


def scenario_id(doc: Mapping[str, Any]) -> str:
    """The identifier of the scenario a result document (:meth:`ScenarioResult.to_json`) is about."""
    about = doc.get("scenario")
    return str(about.get("id") or about.get("name")) if isinstance(about, Mapping) else str(about)


def _elapsed(when: float | None, origin: float | None) -> float | None:
    return None if when is None or origin is None else round(when - origin, 3)


def format_seconds(value: float | None) -> str:
    """``1.2s``, or ``never`` for a time that did not come."""
    return "never" if value is None else f"{value:.1f}s"


def after_resolving(sent: float | None) -> str:
    """When the resolved notification came, relative to the poll that saw the alert resolved: it can come
    between that poll and the one before (never "-0.1s after")."""
    if sent is None:
        return "none"
    if sent < 0:
        return f"with the resolve ({-sent:.1f}s before the poll that saw it resolved)"
    return f"{sent:.1f}s after resolving"


def timings_table(results: Sequence[ScenarioResult]) -> list[dict[str, Any]]:
    """Every alert of every result with measured fire/clear times vs bound (for summaries)."""
    rows = []
    for result in results:
        for timing in result.alerts:
            b = timing.bounds
            rows.append(
                {
                    "scenario": result.scenario,
                    "alert": timing.alert,
                    "fired_after": timing.fired_after,
                    "fire_bound": round(b.fire(timing.detect), 2) if b else None,
                    "resolved_after": timing.resolved_after,
                    "resolve_bound": round(b.resolve(), 2) if b else None,
                    "detection_overhead": timing.detection_overhead,
                }
            )
    return rows
