"""Judge a scenario run from what its timeline recorded: each ``must_fire`` alert against the limit that
judges it (the scenario's ``within``/``clear_within``, else the bound computed from the live configs plus
the tolerance), ``must_not_fire``, and the ``expect`` section's metrics, notifications, sequence and custom
assertions. Every verdict is an :class:`~obs_tests.scenarios.results.AssertionResult` added to the result.

Example::

    judge = Judge(scenario, catalog, timeline, result, prom=prom, bounds=bounds, stop=stop)
    baseline = judge.baseline()  # before the run: the counters ``expect.metric`` measures increases of
    ...
    judge.judge(baseline, chaos.errors)  # after it: result.assertions and result.alerts filled
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.config.topology import Topology
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.errors import ObsTestsError, WaitTimeout
from obs_tests.scenarios.bounds import BoundsModel
from obs_tests.scenarios.custom import import_callable
from obs_tests.scenarios.model import OPS, Catalog, MustFire, Scenario
from obs_tests.scenarios.notifications import Wanted, matching_notifications
from obs_tests.scenarios.results import (
    AlertTiming,
    AssertionResult,
    ScenarioResult,
    after_resolving,
    format_seconds,
)
from obs_tests.scenarios.timeline import Event, Timeline, notified_from

__all__ = ["Judge", "counter_sum", "happened_within", "in_order", "inhibition_held"]

Add = Callable[[AssertionResult], None]


class Judge:
    """Judges one run of ``scenario``: reads ``timeline``, writes verdicts and alert timings to ``result``.

    ``prom`` answers the metric expectations (and the last value of an alert that never fired);
    ``bounds`` gives each alert's computed bounds (None: no rule loaded, default limits); ``stop`` ends a
    metric expectation's ``within`` wait early.
    """

    def __init__(
        self,
        scenario: Scenario,
        catalog: Catalog,
        timeline: Timeline,
        result: ScenarioResult,
        *,
        prom: PrometheusClient,
        bounds: BoundsModel | None,
        stop: threading.Event,
    ) -> None:
        self.scenario = scenario
        self.catalog = catalog
        self.timeline = timeline
        self.result = result
        self.prom = prom
        self.bounds = bounds
        self.stop = stop

    # -- what the runner needs before judging ------------------------------------------------------
    def baseline(self) -> dict[str, float]:
        """The current sum of every counter an ``expect.metric`` entry measures the increase of."""
        exprs = [str(m["increase"]) for m in self.scenario.expect.metric if "increase" in m]
        return {expr: counter_sum(self.prom, expr) for expr in exprs}

    def timing(self, must: MustFire) -> AlertTiming:
        """The alert's timing with its bounds and its fault's time (None until the fault was applied)."""
        name = must.after or (self.scenario.chaos[0].spec.name if self.scenario.chaos else "")
        event = self.timeline.first("fault", name, "applied")
        fault_at = event.t if event else None
        b = self.bounds
        detect = b.detect_seconds(must.alert, must.detect, self.result.time_scale) if b else 0.0
        return AlertTiming(must.alert, name, b.bounds(must.alert) if b else None, detect, fault_at)

    def deadline(self, timing: AlertTiming, must: MustFire) -> float:
        """Seconds after its fault within which the alert must fire: ``within``, else its bound plus the
        tolerance, else (rule not loaded) 60 s."""
        if must.within is not None:
            return float(must.within)
        if timing.bounds is None:
            return 60.0
        return timing.bounds.fire(timing.detect) + self.scenario.tolerance

    # -- judging -------------------------------------------------------------------------------------
    def judge(self, baseline: Mapping[str, float], chaos_errors: Sequence[str]) -> None:
        """Judge every expectation of the scenario; ``baseline`` is what :meth:`baseline` returned before
        the run, ``chaos_errors`` the faults that could not be reverted."""
        add = self.result.assertions.append
        tolerance = self.scenario.tolerance
        for must in self.scenario.expect.must_fire:
            timing = self.timing(must)
            self._fill_timing(timing, must)
            self.result.alerts.append(timing)
            self._judge_must_fire(timing, must, tolerance, add)
        end = time.time()
        self._judge_silent(add)
        if self.scenario.expect.metric:
            self._judge_metrics(baseline, end, add)
        for note in self.scenario.expect.notifications:
            self._judge_notification(note, add)
        if self.scenario.expect.sequence:
            self._judge_sequence(add)
        for path in self.scenario.expect.custom:
            self._judge_custom(path, add)
        for error in chaos_errors:
            add(AssertionResult("faults reverted", False, "every fault reverted", "revert failed", error))

    def _fill_timing(self, timing: AlertTiming, must: MustFire) -> None:
        since = timing.fault_at
        labels = must.labels
        pending = self.timeline.first("alert", must.alert, "pending", since=since, labels=labels)
        firing = self.timeline.first("alert", must.alert, "firing", since=since, labels=labels)
        timing.pending_at = pending.t if pending else None
        timing.firing_at = firing.t if firing else None
        if firing is not None:
            timing.active_at = firing.detail.get("active_at") or (pending.detail.get("active_at") if pending else None)
            note = self.timeline.first("notification", must.alert, "firing", since=notified_from(firing), labels=labels)
            timing.notified_at = note.t if note else None
        revert = self.timeline.first("revert", timing.fault)
        timing.reverted_at = revert.t if revert else None
        if firing is not None:
            resolved = self.timeline.first("alert", must.alert, "resolved", since=firing.t, labels=labels)
            timing.resolved_at = resolved.t if resolved else None
            if resolved is not None:
                note = self.timeline.first(
                    "notification", must.alert, "resolved", since=notified_from(resolved), labels=labels
                )
                timing.resolved_notified_at = note.t if note else None

    def _judge_must_fire(self, timing: AlertTiming, must: MustFire, tolerance: float, add: Add) -> None:
        """The alert fired within its deadline; then, as the scenario asks, it notified, it cleared and its
        resolved notification came, each within its limit (recorded in ``timing.limits``)."""
        if not self._judge_fires(timing, must, add):
            return
        if must.notify:
            self._judge_notified(timing, must, tolerance, add)
        if must.clears:
            self._judge_clears(timing, must, tolerance, add)
            if must.notify and timing.resolved_at is not None:
                self._judge_resolved_notification(timing, must, tolerance, add)

    def _judge_fires(self, timing: AlertTiming, must: MustFire, add: Add) -> bool:
        """The fire verdict; False when the alert never fired (nothing after it to judge)."""
        deadline = self.deadline(timing, must)
        timing.limits["fire"] = deadline
        if must.within is not None:
            timing.given.add("fire")
        bound_text = timing.limit_text("fire")
        fired = timing.fired_after
        if fired is None:
            last = self._last_value(must.alert)
            add(
                AssertionResult(
                    f"{must.alert} fires",
                    False,
                    f"firing within {deadline:.1f}s of {timing.fault} ({bound_text})",
                    "never fired",
                    f"{must.alert} never fired within {deadline:.1f}s of fault {timing.fault} ({bound_text}); "
                    f"last expression value: {last}",
                )
            )
            return False
        ok = fired <= deadline
        add(
            AssertionResult(
                f"{must.alert} fires",
                ok,
                f"firing within {deadline:.1f}s of {timing.fault} ({bound_text})",
                f"fired {fired:.1f}s after the fault",
                "" if ok else f"fired, but {fired:.1f}s after the fault; {bound_text}",
            )
        )
        return True

    def _judge_notified(self, timing: AlertTiming, must: MustFire, tolerance: float, add: Add) -> None:
        b = timing.bounds
        notified = timing.notified_after
        limit = (b.notify() if b else 30.0) + tolerance
        timing.limits["notify"] = limit
        add(
            AssertionResult(
                f"{must.alert} notified",
                notified is not None and notified <= limit,
                f"a firing notification within {limit:.1f}s of firing ({timing.limit_text('notify')})",
                "none" if notified is None else f"{notified:.1f}s after firing",
            )
        )

    def _judge_clears(self, timing: AlertTiming, must: MustFire, tolerance: float, add: Add) -> None:
        b = timing.bounds
        resolved = timing.resolved_after
        limit = float(must.clear_within) if must.clear_within else (b.resolve() if b else 60.0) + tolerance
        timing.limits["clear"] = limit
        if must.clear_within:
            timing.given.add("clear")
        add(
            AssertionResult(
                f"{must.alert} clears",
                resolved is not None and resolved <= limit,
                f"resolved within {limit:.1f}s of the revert ({timing.limit_text('clear')})",
                "still firing"
                if timing.resolved_at is None
                else f"resolved {format_seconds(resolved)} after the revert",
                ""
                if resolved is not None and resolved <= limit
                else f"{must.alert} did not clear in time ({timing.limit_text('clear')})",
            )
        )

    def _judge_resolved_notification(self, timing: AlertTiming, must: MustFire, tolerance: float, add: Add) -> None:
        b = timing.bounds
        sent = timing.resolved_notified_after
        limit = (b.notify_resolved() if b else 30.0) + tolerance
        timing.limits["notify_resolved"] = limit
        add(
            AssertionResult(
                f"{must.alert} resolved notification",
                sent is not None and sent <= limit,
                f"a resolved notification within {limit:.1f}s ({timing.limit_text('notify_resolved')})",
                after_resolving(sent),
            )
        )

    def _last_value(self, alert: str) -> str:
        live = self.bounds.alerts.get(alert) if self.bounds is not None else None
        rule = self.catalog.alerts.get(alert)
        expr = str(live[0].get("query")) if live else (rule.expr if rule else "")
        if not expr:
            return "unknown (the rule is not loaded)"
        try:
            samples = self.prom.query(expr)
        except ObsTestsError as exc:
            return f"query failed ({exc})"
        if not samples:
            return "empty (no series matches the expression)"
        return ", ".join(f"{s.value:g}" for s in samples[:3])

    def _judge_silent(self, add: Add) -> None:
        """Every alert the scenario says must not fire never fired."""
        for alert in self.scenario.silent_alerts(self.catalog):
            fired = self.timeline.first("alert", alert, "firing")
            add(
                AssertionResult(
                    f"{alert} must not fire",
                    fired is None,
                    "never firing",
                    "never firing" if fired is None else f"firing at +{fired.t - self.result.started_at:.1f}s",
                    "" if fired is None else f"{alert} fired although the scenario says it must not",
                )
            )

    def _metric_outcome(self, item: Mapping[str, Any], baseline: Mapping[str, float]) -> AssertionResult:
        """One ``expect.metric`` entry judged now."""
        prom = self.prom
        name = str(item["name"])
        if "increase" in item:
            expr = str(item["increase"])
            delta = counter_sum(prom, expr) - baseline.get(expr, 0.0)
            checks = []
            if "exact" in item:
                checks.append((delta == float(item["exact"]), f"exactly {item['exact']:g}"))
            if "min" in item:
                checks.append((delta >= float(item["min"]), f">= {item['min']:g}"))
            if "max" in item:
                checks.append((delta <= float(item["max"]), f"<= {item['max']:g}"))
            ok = all(c for c, _ in checks)
            return AssertionResult(
                name,
                ok,
                f"increase of {expr} " + " and ".join(t for _, t in checks),
                f"{delta:g}",
                "" if ok else f"{expr} rose by {delta:g}",
            )
        value = prom.query_value(str(item["expr"]))
        ok = value is not None and not math.isnan(value) and OPS[item["op"]](value, float(item["value"]))
        return AssertionResult(name, ok, f"{item['expr']} {item['op']} {item['value']}", str(value))

    def _judge_metrics(self, baseline: Mapping[str, float], end: float, add: Add) -> None:
        """Each ``expect.metric`` entry: judged at once, or — with ``within`` — the first moment it holds
        within that many seconds after the steps (work that settles after the run, e.g. workflows closed by
        a timeout sweeper: a condition, not a time the machine's speed decides)."""
        for item in self.scenario.expect.metric:
            if "within" not in item:
                add(self._metric_outcome(item, baseline))
                continue
            within = float(item["within"])

            def probe(item: Mapping[str, Any] = item) -> Poll[AssertionResult]:
                outcome = self._metric_outcome(item, baseline)
                return Poll(outcome.passed, outcome, f"{outcome.actual}")

            try:
                outcome = wait_for(
                    probe,
                    timeout=max(0.1, end + within - time.time()),
                    interval=0.25,
                    expected=str(item["name"]),
                    transient=(ObsTestsError,),
                    stop=self.stop,
                )
            except WaitTimeout:
                outcome = self._metric_outcome(item, baseline)
                if not outcome.passed:
                    outcome = dataclasses.replace(
                        outcome, message=f"{outcome.message or outcome.actual} — still after waiting {within:g}s"
                    )
            add(outcome)

    def _judge_notification(self, note: Mapping[str, Any], add: Add) -> None:
        if "absent_while" in note:
            add(inhibition_held(self.timeline, str(note["alert"]), str(note["absent_while"]), self.result.started_at))
            return
        want = Wanted.from_entry(note)
        found = matching_notifications(self.timeline, want)
        where = f" to {want.receiver}" if want.receiver else ""
        name = f"{want.alert} {want.status} notification{where}"
        if want.count is not None:
            add(self._counted(name, want, found))
            return
        receivers = sorted({str(e.detail.get("receiver")) for e in self.timeline.find("notification", want.alert)})
        add(
            AssertionResult(
                name,
                bool(found),
                f"a {want.status} notification{where}",
                f"{len(found)} received" if found else f"none (received by: {', '.join(receivers) or 'nobody'})",
            )
        )

    def _counted(self, name: str, want: Wanted, found: Sequence[Event]) -> AssertionResult:
        """Exactly ``want.count`` notifications of the incident's first ``want.status``: from the first
        one to the dedup bound (+ the tolerance) after it, before a notification of the other status — a
        duplicate from another peer of the cluster comes within that. What comes after (a repeat, a peer
        rejoining, or a flap: a stale "firing" after the "resolved", from a peer whose flush began before
        it had the resolve) is reported, not counted."""
        topology = self.bounds.topology if self.bounds is not None else Topology()
        window = topology.dedup_bound + self.scenario.tolerance
        bound = (
            f"{window:g}s after the first (dedup bound ({topology.alertmanager_peers} peers - 1) x "
            f"{topology.peer_timeout:g}s peer timeout + 2s, + tolerance {self.scenario.tolerance:g}s)"
        )
        other = "resolved" if want.status == "firing" else "firing"
        counted: list[Event] = []
        if found:
            flips = matching_notifications(self.timeline, dataclasses.replace(want, status=other), since=found[0].t)
            end = min([found[0].t + window, *(e.t - 1e-6 for e in flips[:1])])
            counted = [e for e in found if e.t <= end]
        origin = self.result.started_at
        later = [e for e in found if e not in counted]
        actual = f"{len(counted)}" + (f" (at {_times(counted, origin)})" if counted else "")
        actual += f"; then {len(later)} more, not counted (at {_times(later, origin)})" if later else ""
        message = ""
        if len(counted) != want.count:
            message = f"{name}: {actual} — within {bound}, expected exactly {want.count}"
        return AssertionResult(
            f"{name} x{want.count}", len(counted) == want.count, f"exactly {want.count} within {bound}", actual, message
        )

    def _sequence_time(self, entry: Mapping[str, str]) -> tuple[str, Event | None]:
        if "fault" in entry:
            return f"fault {entry['fault']}", self.timeline.first("fault", entry["fault"], "applied")
        if "revert" in entry:
            return f"revert {entry['revert']}", self.timeline.first("revert", entry["revert"])
        if "alert" in entry:
            return f"{entry['alert']} {entry['state']}", self.timeline.first("alert", entry["alert"], entry["state"])
        status = entry.get("status", "firing")
        return f"notification {entry['notification']} {status}", self.timeline.first(
            "notification", entry["notification"], status
        )

    def _judge_sequence(self, add: Add) -> None:
        seen = [self._sequence_time(e) for e in self.scenario.expect.sequence]
        expected = " → ".join(label for label, _ in seen)
        missing = [label for label, event in seen if event is None]
        origin = self.result.started_at
        actual = ", ".join(f"{label} @{'-' if e is None else f'{e.t - origin:.1f}s'}" for label, e in seen)
        ordered = not missing and in_order([happened_within(e) for _, e in seen if e is not None])
        message = ""
        if missing:
            message = f"never happened: {', '.join(missing)}"
        elif not ordered:
            message = "out of order"
        add(AssertionResult("sequence", ordered, expected, actual, message))

    def _judge_custom(self, path: str, add: Add) -> None:
        func = import_callable(path)
        try:
            outcome = func(self.timeline)
        except Exception as exc:  # noqa: BLE001 - a user's assertion crashing is its failure, reported
            add(AssertionResult(f"custom {path}", False, "passes", "raised", f"{type(exc).__name__}: {exc}"))
            return
        ok, message = (outcome, "") if isinstance(outcome, bool) else (bool(outcome[0]), str(outcome[1]))
        add(AssertionResult(f"custom {path}", ok, "passes", "passed" if ok else "failed", message))


def counter_sum(prom: PrometheusClient, expr: str) -> float:
    """``sum(expr)`` now (0 when there is no series)."""
    value = prom.query_value(f"sum({expr})", default=0.0)
    return float(value or 0.0)


def happened_within(event: Event) -> tuple[float, float]:
    """When ``event`` happened, as an interval: reverts and notifications exactly when recorded; a fault
    from when applying it began (``since``: a kill takes effect when the signal is sent, while it is
    recorded as applied once the process is gone, by which time Prometheus may have seen it down) until
    it was recorded; an alert state change between the previous poll of ``/api/v1/alerts``
    (``previous_poll``; for a resolved alert ``last_seen``) and the poll that saw it."""
    if event.kind in ("alert", "fault"):
        key = ("since",) if event.kind == "fault" else ("previous_poll", "last_seen")
        earliest = next((event.detail[k] for k in key if event.detail.get(k)), None)
        if isinstance(earliest, int | float) and earliest <= event.t:
            return float(earliest), event.t
    return event.t, event.t


def in_order(intervals: Sequence[tuple[float, float]]) -> bool:
    """Whether events known to have happened within these ``(earliest, latest)`` intervals can have
    happened in this order: out of order only when one certainly happened before the one listed
    before it (an alert seen firing one poll after Alertmanager notified it is in order)."""
    at = -math.inf
    for earliest, latest in intervals:
        at = max(at, earliest)
        if at > latest:
            return False
    return True


def _times(events: Sequence[Event], origin: float) -> str:
    """``+3.0s from http://host:9093/, +3.5s from …`` (the sending Alertmanager, when the sink says)."""
    shown = [
        f"+{e.t - origin:.1f}s" + (f" from {e.detail['sender']}" if e.detail.get("sender") else "") for e in events[:10]
    ]
    return ", ".join(shown) + (", …" if len(events) > 10 else "")


def inhibition_held(timeline: Timeline, alert: str, inhibitor: str, started_at: float) -> AssertionResult:
    """No notification of ``alert`` while ``inhibitor`` fires: from 1 s after it was seen firing (the time
    Prometheus needs to tell Alertmanager) until it was last seen firing. Alertmanager lifts the inhibition
    the moment the inhibitor resolves, which can be up to one poll before the recorder saw it gone."""
    start = timeline.first("alert", inhibitor, "firing")
    name = f"{alert} suppressed while {inhibitor} fires"
    if start is None:
        return AssertionResult(name, False, f"{inhibitor} firing", "never firing", f"{inhibitor} never fired")
    end = timeline.first("alert", inhibitor, "resolved", since=start.t)
    until = float(end.detail.get("last_seen", end.t)) if end else time.time()
    leaked = [e for e in timeline.find("notification", alert, "firing", since=start.t + 1.0) if e.t <= until]
    return AssertionResult(
        name,
        not leaked,
        f"no {alert} notification between +{start.t - started_at:.1f}s and +{until - started_at:.1f}s",
        ", ".join(f"notified at +{e.t - started_at:.1f}s" for e in leaked) if leaked else "none",
        f"{alert} was notified while {inhibitor} fired: inhibition did not apply" if leaked else "",
    )
