"""Run a scenario against a live stack and judge it.

``ScenarioRunner(path).run()`` starts an embedded stack (at the scenario's time scale) unless one is
given, then: settles (no alert but the watchdog active), sets the market, starts the background Locust
load, schedules the chaos, runs the steps, waits for every ``must_fire`` alert to fire within its
bound, reverts the faults, waits for the alerts to resolve and the notifications to arrive, stops the
load, and evaluates ``expect``. Faults and load are undone on every exit path (success, failure,
exception, SIGINT, SIGTERM). The result carries every assertion (name, expected, actual, message),
the chaos stats and per-alert timings measured against their theoretical bounds.

Example::

    result = ScenarioRunner(Path("scenarios/gateway-down.yaml"), stack=stack).run()
    result.passed, result.assertions_passed, result.alerts[0].fired_after
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import math
import operator
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obs_tests.chaos.controller import ChaosController
from obs_tests.chaos.faults import FaultSpec
from obs_tests.checks.routing import load_route_tests
from obs_tests.clients.alertmanager import AlertmanagerClient
from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.contract import Contract, load_contract
from obs_tests.errors import ObsTestsError, ScenarioInvalid, UsageError, WaitTimeout
from obs_tests.loadgen import LoadRun, LoadSpec
from obs_tests.notifications import SinkClient
from obs_tests.scenarios.bounds import AlertBounds, BoundsModel
from obs_tests.scenarios.model import WATCHDOG, Catalog, MustFire, Scenario, Step, load_scenario
from obs_tests.scenarios.timeline import Event, Recorder, Timeline, parse_time
from obs_tests.waiting import Poll, wait_for

__all__ = ["AlertTiming", "AssertionResult", "ScenarioResult", "ScenarioRunner"]

OPS: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}

LogFn = Callable[[str, str], None]

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

    def _after(self, when: float | None, origin: float | None) -> float | None:
        return None if when is None or origin is None else round(when - origin, 3)

    @property
    def fired_after(self) -> float | None:
        """Seconds from the fault to firing."""
        return self._after(self.firing_at, self.fault_at)

    @property
    def resolved_after(self) -> float | None:
        """Seconds from the revert to resolved."""
        return self._after(self.resolved_at, self.reverted_at)

    def measured(self) -> dict[str, float | None]:
        """The measured time of each judged phase (seconds), keyed like :attr:`limits`."""
        return {
            "fire": self.fired_after,
            "notify": self._after(self.notified_at, self.firing_at),
            "clear": self.resolved_after,
            "notify_resolved": self._after(self.resolved_notified_at, self.resolved_at),
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
                "with the resolve" if phase == "notify_resolved" and value is not None and value < 0 else _fmt(value)
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
            "notified_after": self._after(self.notified_at, self.firing_at),
            "resolved_after": self.resolved_after,
            "resolved_notified_after": self._after(self.resolved_notified_at, self.resolved_at),
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
    error: str = ""
    timeline: Timeline | None = None
    log: list[dict[str, Any]] = field(default_factory=list)

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

    def to_json(self) -> dict[str, Any]:
        """The JSON report (seed-framework shape: status, duration, assertions, chaos, alert timings)."""
        origin = self.started_at
        return {
            "scenario": self.scenario,
            "path": self.path,
            "description": self.description,
            "status": self.status,
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
            "alerts": [a.to_json(origin) for a in self.alerts],
            "load": self.load,
            "timeline": self.timeline.to_json() if self.timeline else [],
            "log": self.log,
        }


def _fmt(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f}s"


def _after_resolving(sent: float | None) -> str:
    """When the resolved notification came, relative to the poll that saw the alert resolved: it can come
    between that poll and the one before (never "-0.1s after")."""
    if sent is None:
        return "none"
    if sent < 0:
        return f"with the resolve ({-sent:.1f}s before the poll that saw it resolved)"
    return f"{sent:.1f}s after resolving"


def import_callable(path: str) -> Callable[..., Any]:
    """``package.module:function`` or ``package.module.function``."""
    module_name, _, attr = path.rpartition(":") if ":" in path else path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        func = getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise ScenarioInvalid(f"custom assertion '{path}': cannot import it ({exc})") from None
    if not callable(func):
        raise ScenarioInvalid(f"custom assertion '{path}' is not callable")
    result: Callable[..., Any] = func
    return result


class ScenarioRunner:
    """Runs one scenario; see the module docstring."""

    def __init__(
        self,
        scenario: Path | Scenario,
        *,
        stack: Any = None,
        contract: Contract | None = None,
        time_scale: float | None = None,
        log: LogFn | None = None,
        stop: threading.Event | None = None,
        settle_timeout: float = 60.0,
        prepared: bool = False,
        lane: str = "",
    ) -> None:
        self.contract = contract or (stack.contract if stack is not None else load_contract(Path("obs.yaml")))
        self.stack = stack
        self._own_stack = stack is None
        names = list(stack.components) if stack is not None and hasattr(stack, "components") else None
        self.catalog = Catalog.from_contract(self.contract, names, time_scale=time_scale)
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario, self.catalog)
        self.time_scale_override = time_scale
        self._log_fn = log
        self.stop_event = stop or threading.Event()
        self.settle_timeout = settle_timeout
        # True when the caller already healed and settled the stack (scenarios run concurrently).
        self.prepared = prepared
        self.result = ScenarioResult(
            self.scenario.name, str(self.scenario.path), self.scenario.description, type=self.scenario.type, lane=lane
        )
        self.timeline = Timeline()
        self._step_done: dict[str, float] = {}
        self._clock = 0.0  # faults' `at` counts from here: the start, or when the setup load sends
        self._step_cond = threading.Condition()
        self._background_loads: list[LoadRun] = []
        self._done = threading.Event()
        self._bounds: BoundsModel | None = None

    # -- logging ---------------------------------------------------------------------------------
    def log(self, level: str, message: str) -> None:
        """Record a log line (INFO, SUCCESS, WARNING, ERROR) and pass it to the log callback."""
        entry: dict[str, Any] = {
            "t": round(time.time() - self.result.started_at, 3) if self.result.started_at else 0.0,
            "level": level,
            "message": message,
        }
        self.result.log.append(entry)
        if self._log_fn is not None:
            self._log_fn(level, message)

    # -- entry point -----------------------------------------------------------------------------
    def run(self) -> ScenarioResult:
        """Run the scenario to the end and return the judged result (never raises for a failed check;
        input errors raise :class:`ScenarioInvalid`, interrupts propagate after the faults are reverted)."""
        self.result.began_at = time.time()
        if self._own_stack:
            from obs_tests.stack import EmbeddedStack  # noqa: PLC0415

            scale = self.time_scale_override or self.scenario.time_scale or self.contract.stack.time_scale
            with EmbeddedStack(self.contract, time_scale=scale, origin="scenario") as stack:
                self.stack = stack
                return self._run()
        return self._run()

    def _run(self) -> ScenarioResult:
        stack = self.stack
        result = self.result
        result.timeline = self.timeline
        result.time_scale = float(getattr(stack, "time_scale", 1.0))
        prom: PrometheusClient = stack.prometheus()
        am_url = stack.alertmanager_url
        alertmanager = AlertmanagerClient(am_url) if am_url else None
        sink = _sink_of(stack)
        receivers = {t.alert: t.receivers[0] for t in self._route_tests() if t.receivers}
        if hasattr(stack, "heal") and not self.prepared:
            stack.heal()
        bounds = self._bounds = BoundsModel(prom, alertmanager, receiver_of=receivers)
        load_run: LoadRun | None = None
        chaos = ChaosController(stack, log=self.log)
        recorder = Recorder(self.timeline, prom, sink)
        self.log("INFO", f"scenario {self.scenario.name}: {self.scenario.description or self.scenario.path}")
        try:
            if self.scenario.settle and not self.prepared:
                self._settle(prom, sink)
            result.started_at = self.timeline.origin = time.time()
            recorder.start()
            baseline = self._baseline(prom)
            with chaos:
                if self.scenario.market:
                    chaos.apply(FaultSpec("setup-market", "market", "exchange", {"scenario": self.scenario.market}))
                self._clock = time.time()
                load_run = self._start_setup_load()
                scheduler = threading.Thread(target=self._schedule, args=(chaos,), daemon=True, name="chaos")
                scheduler.start()
                try:
                    self._run_steps(prom, recorder, chaos, sink)
                    if not self.stopped:
                        self._await_firing(recorder, bounds)
                finally:
                    self._done.set()
                    scheduler.join(timeout=30)
                    scenario_faults = [n for n in chaos.active if n != "setup-market"]
                    for name in scenario_faults:
                        chaos.revert(name)
                        self.timeline.record("revert", name, "reverted")
                if not self.stopped:
                    self._await_clearing(recorder, bounds)
                    self._await_notifications(bounds)
            if load_run is not None:
                result.load = self._stop_load(load_run)
                load_run = None
            if self.stopped:
                result.status = "stopped"
                result.error = "stopped before the end (faults reverted)"
                self.log("WARNING", result.error)
            else:
                self._judge(prom, bounds, baseline, chaos)
                failed = result.failures()
                result.status = "failed" if failed or chaos.errors else "passed"
        except KeyboardInterrupt:
            result.status = "stopped"
            result.error = "interrupted (faults reverted)"
            self.log("WARNING", result.error)
            raise
        except ObsTestsError as exc:
            result.status = "error"
            result.error = f"{type(exc).__name__}: {exc}"
            self.log("ERROR", result.error)
        finally:
            for run in [load_run, *self._background_loads]:
                if run is not None:
                    with contextlib.suppress(ObsTestsError, OSError):
                        run.stop()
            recorder.stop()
            result.chaos = {
                **chaos.stats(),
                "errors": list(chaos.errors),
                "faults": [
                    {
                        "name": f.name,
                        "what": f.describe(),
                        "applied_at": None if f.applied_at is None else round(f.applied_at - result.started_at, 3),
                        "reverted_at": None if f.reverted_at is None else round(f.reverted_at - result.started_at, 3),
                    }
                    for f in chaos.faults.values()
                ],
            }
            result.finished_at = time.time()
            if result.status in ("passed", "failed"):
                level = "SUCCESS" if result.passed else "ERROR"
                self.log(
                    level,
                    f"scenario {self.scenario.name} {result.status}: {result.assertions_passed}/"
                    f"{len(result.assertions)} assertions in {result.duration:.1f}s",
                )
        return result

    def _route_tests(self) -> list[Any]:
        directory = self.contract.files.alertmanager_tests
        if not directory.is_dir():
            return []
        tests, _ = load_route_tests(sorted(directory.glob("*.yml")))
        return tests

    # -- phases ----------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Heal the stack (restart stopped components, resume paused ones) and wait until it has
        settled: what :meth:`run` does first unless ``prepared``."""
        stack = self.stack
        if hasattr(stack, "heal"):
            stack.heal()
        sink = _sink_of(stack)
        self._settle(stack.prometheus(), sink)

    def _settle(self, prom: PrometheusClient, sink: SinkClient | None) -> None:
        """Wait until the previous incident is fully over: no alert but the watchdog pending or firing in
        Prometheus, and every alert whose last notification said "firing" has had its "resolved" one
        (else Alertmanager would dedupe this run's first notification of the same alert)."""
        known = set(self.catalog.alerts) - {WATCHDOG}

        def open_incidents() -> list[str]:
            if sink is None:
                return []
            last: dict[tuple[str, str, tuple[tuple[str, str], ...]], str] = {}
            for note in sink.notifications(since=time.time() - 900):
                labels = dict(note.get("labels") or {})
                name = labels.get("alertname", "")
                if name in known:
                    last[(name, str(note.get("receiver")), tuple(sorted(labels.items())))] = str(note.get("status"))
            return sorted({key[0] for key, status in last.items() if status == "firing"})

        def probe() -> Poll[list[str]]:
            active = sorted({a["labels"].get("alertname", "") for a in prom.alerts()} - {WATCHDOG})
            unresolved = [] if active else open_incidents()
            return Poll(
                not active and not unresolved,
                active + unresolved,
                f"active in Prometheus: {', '.join(active) or 'none'}; notified firing, not yet resolved: "
                f"{', '.join(unresolved) or 'none'}",
            )

        try:
            wait_for(
                probe,
                timeout=self.settle_timeout,
                interval=0.2,
                expected="no alert active except the watchdog, every notified incident resolved",
                transient=(ObsTestsError,),
                stop=self.stop_event,
            )
        except WaitTimeout as exc:
            raise ObsTestsError(f"the stack did not settle before the scenario: {exc.message}") from None

    def _counter_exprs(self) -> list[str]:
        return [str(m["increase"]) for m in self.scenario.expect.metric if "increase" in m]

    def _baseline(self, prom: PrometheusClient) -> dict[str, float]:
        return {expr: self._sum(prom, expr) for expr in self._counter_exprs()}

    @staticmethod
    def _sum(prom: PrometheusClient, expr: str) -> float:
        value = prom.query_value(f"sum({expr})", default=0.0)
        return float(value or 0.0)

    def _load_spec(self, raw: Mapping[str, Any], default_duration: float) -> LoadSpec:
        fields = {k: v for k, v in raw.items() if k != "wait"}
        fields.setdefault("duration", default_duration)
        if "tags" in fields:
            fields["tags"] = tuple(fields["tags"])
        fields.setdefault("stop_timeout", 10.0)
        try:
            spec = LoadSpec(**fields)
            spec.validate()
        except (TypeError, UsageError) as exc:
            raise ScenarioInvalid(f"{self.scenario.path}: load: {exc}") from None
        return spec

    def _start_setup_load(self) -> LoadRun | None:
        raw = self.scenario.load
        if raw is None:
            return None
        spec = self._load_spec(raw, 3600.0)
        run = LoadRun(spec, self.stack.url("gateway"), targets_file=getattr(self.stack, "load_targets", None))
        run.start()
        self.log("INFO", f"load: {spec.users} Locust users (malformed ratio {spec.malformed_ratio:g})")
        try:  # the faults' clock starts once traffic flows (Locust takes 1-3 s to start)
            sending = run.wait_sending()
        except BaseException:
            run.stop()
            raise
        self._clock = max(self._clock, sending)
        self.timeline.add(Event(sending, "load", "setup", "started", {}, {"users": spec.users}))
        return run

    def _stop_load(self, run: LoadRun) -> dict[str, Any]:
        run.stop()
        summary: dict[str, Any] = {"stopped": True}
        with contextlib.suppress(ObsTestsError):
            res = run.wait()
            summary = {"requests": res.requests, "failures": res.failures}
        self.timeline.record("load", "setup", "stopped", **summary)
        return summary

    def _schedule(self, chaos: ChaosController) -> None:
        """Apply each fault at its time (or after its step) and revert those with a duration."""
        pending = sorted(self.scenario.chaos, key=lambda c: (c.after is not None, c.at))
        reverts: list[tuple[float, str]] = []
        origin = self._clock
        while (pending or reverts) and not self._done.is_set() and not self.stopped:
            now = time.time()
            for entry in list(pending):
                base = origin if entry.after is None else self._step_done.get(entry.after)
                if base is not None and now >= base + entry.at:
                    pending.remove(entry)
                    try:
                        chaos.apply(entry.spec)
                    except ObsTestsError as exc:
                        self.log("ERROR", f"fault {entry.spec.name} could not be applied: {exc}")
                        self.timeline.record("fault", entry.spec.name, "failed", error=str(exc))
                        continue
                    fault = chaos.faults[entry.spec.name]
                    self.timeline.add(
                        Event(
                            fault.applied_at or time.time(),
                            "fault",
                            fault.name,
                            "applied",
                            {},
                            {"what": fault.describe(), "since": fault.applying_since},
                        )
                    )
                    if entry.duration is not None:
                        reverts.append((time.time() + entry.duration, entry.spec.name))
            for due, name in list(reverts):
                if now >= due:
                    reverts.remove((due, name))
                    if chaos.revert(name):
                        self.timeline.record("revert", name, "reverted")
            self._done.wait(0.02)

    @property
    def stopped(self) -> bool:
        """Whether someone asked the run to stop (:meth:`stop`)."""
        return self.stop_event.is_set()

    def stop(self) -> None:
        """Ask the run to stop: the current wait ends, the faults are reverted, the result is ``stopped``."""
        self.stop_event.set()

    def _wait_fault(self, name: str, timeout: float) -> None:
        def probe() -> Poll[bool]:
            if self.timeline.first("fault", name, "failed") is not None:
                raise _StepFailed(f"fault {name} could not be applied", f"fault {name} applied", "failed")
            event = self.timeline.first("fault", name, "applied")
            return Poll(event is not None, event is not None)

        wait_for(probe, timeout=timeout, interval=0.05, expected=f"fault {name} applied")

    def _run_steps(
        self, prom: PrometheusClient, recorder: Recorder, chaos: ChaosController, sink: SinkClient | None
    ) -> None:
        for step in self.scenario.steps:
            label = step.id or step.describe()
            self.timeline.record("step", label, "started")
            self.log("INFO", f"step: {step.describe()}")
            try:
                message = self._step(step, prom, recorder, chaos, sink)
            except WaitTimeout as exc:
                if self.stopped:
                    self.timeline.record("step", label, "stopped")
                    return
                self.timeline.record("step", label, "failed", error=exc.message)
                self.result.assertions.append(
                    AssertionResult(f"step {label}", False, step.describe(), "timed out", exc.message)
                )
                self.log("ERROR", f"step {label} failed: {exc.message}")
                return
            except _StepFailed as exc:
                if self.stopped:
                    self.timeline.record("step", label, "stopped")
                    return
                self.timeline.record("step", label, "failed", error=str(exc))
                self.result.assertions.append(
                    AssertionResult(f"step {label}", False, exc.expected, exc.actual, str(exc))
                )
                self.log("ERROR", f"step {label} failed: {exc}")
                return
            self.timeline.record("step", label, "done")
            if step.kind in ("assert",):
                self.result.assertions.append(AssertionResult(f"step {label}", True, step.describe(), message))
            if step.id:
                with self._step_cond:
                    self._step_done[step.id] = time.time()

    def _step(
        self,
        step: Step,
        prom: PrometheusClient,
        recorder: Recorder,
        chaos: ChaosController,
        sink: SinkClient | None,
    ) -> str:
        args = step.args
        if step.kind == "wait_for_alert":
            return self._wait_alert(recorder, args["name"], args["state"], args.get("labels"), args.get("within", 60))
        if step.kind == "wait_for_metric":
            return self._wait_metric(prom, args["expr"], args["op"], float(args["value"]), args.get("within", 60))
        if step.kind == "wait_for_notification":
            return self._wait_notification(args, args.get("within", 60))
        if step.kind == "wait_for_time":
            if self.stop_event.wait(float(args)):
                raise _StepFailed("scenario stopped", "time passes", "stopped")
            return f"{args}s passed"
        if step.kind == "wait_for_cycles":
            return self._wait_cycles(prom, int(args))
        if step.kind == "load":
            return self._step_load(args)
        if step.kind == "wait_for_fault":
            self._wait_fault(str(args), timeout=120)
            return f"{args} applied"
        if step.kind == "revert":
            name = str(args)
            if name not in chaos.faults:
                self._wait_fault(name, timeout=120)
            if chaos.revert(name):
                self.timeline.record("revert", name, "reverted")
            return f"{name} reverted"
        return self._assert(args, prom, recorder)

    def _wait_alert(
        self, recorder: Recorder, name: str, state: str, labels: Mapping[str, str] | None, within: float
    ) -> str:
        started = time.time()

        def probe() -> Poll[str]:
            now = recorder.state(name, labels)
            if state == "resolved":
                ok = now == "inactive"
            elif state == "pending":
                ok = now in ("pending", "firing")
            else:
                ok = now == state
            return Poll(ok, now, f"{name} is {now}")

        wait_for(
            probe,
            timeout=float(within),
            interval=0.05,
            expected=f"{name} {state}",
            bound=f"within {within}s",
            stop=self.stop_event,
        )
        return f"{name} {state} after {time.time() - started:.1f}s"

    def _wait_metric(self, prom: PrometheusClient, expr: str, op: str, value: float, within: float) -> str:
        compare = OPS[op]

        def probe() -> Poll[float | None]:
            got = prom.query_value(expr)
            ok = got is not None and compare(got, value)
            return Poll(ok, got, f"{expr} = {got}")

        got = wait_for(
            probe,
            timeout=float(within),
            interval=0.1,
            expected=f"{expr} {op} {value:g}",
            bound=f"within {within}s",
            transient=(ObsTestsError,),
            stop=self.stop_event,
        )
        return f"{expr} = {got}"

    def _wait_notification(self, args: Mapping[str, Any], within: float) -> str:
        """A notification of the alert's current incident: received after its latest change to this
        status (pending/firing for "firing", resolved for "resolved"; Alertmanager may notify before
        obs-tests sees the state) or, if the alert has not changed in this run, after the step started."""
        status = args.get("status", "firing")
        started = incident_start(self.timeline.find("alert", args["alert"]), status, time.time())

        def probe() -> Poll[int]:
            found = [
                e
                for e in self.timeline.find("notification", args["alert"], status, since=started)
                if "receiver" not in args or e.detail.get("receiver") == args["receiver"]
            ]
            return Poll(bool(found), len(found))

        wait_for(
            probe,
            timeout=float(within),
            interval=0.1,
            expected=f"a {status} notification of {args['alert']}"
            + (f" to {args['receiver']}" if "receiver" in args else ""),
            stop=self.stop_event,
        )
        return f"{status} notification of {args['alert']} received"

    def _wait_cycles(self, prom: PrometheusClient, cycles: int) -> str:
        def last_evals() -> float:
            times = [str(g.get("lastEvaluation") or "") for g in prom.rules()]
            values = [parse_time(t) or 0.0 for t in times]
            return min(values) if values else 0.0

        start = last_evals()
        seen: list[float] = [start]

        def probe() -> Poll[int]:
            now = last_evals()
            if now > seen[-1]:
                seen.append(now)
            return Poll(len(seen) - 1 >= cycles, len(seen) - 1, f"{len(seen) - 1} of {cycles} cycles")

        interval = min((float(g.get("interval") or 1.0) for g in prom.rules()), default=1.0)
        wait_for(
            probe,
            timeout=cycles * interval * 3 + 10,
            interval=0.05,
            expected=f"{cycles} rule evaluation cycles",
            bound=f"{cycles} x {interval:g}s",
            transient=(ObsTestsError,),
            stop=self.stop_event,
        )
        return f"{cycles} evaluation cycles"

    def _step_load(self, raw: Mapping[str, Any]) -> str:
        spec = self._load_spec(raw, 10.0)
        run = LoadRun(spec, self.stack.url("gateway"), targets_file=getattr(self.stack, "load_targets", None))
        run.start()
        self.timeline.record("load", "step", "started", users=spec.users, duration=spec.duration)
        if raw.get("wait", True) is False:
            self._background_loads.append(run)
            return f"{spec.users} users started in the background"
        try:
            res = run.wait()
        finally:
            run.stop()
        self.timeline.record("load", "step", "done", requests=res.requests, failures=res.failures)
        return f"{res.requests} requests, {res.failures} failures"

    def _assert(self, args: Mapping[str, Any], prom: PrometheusClient, recorder: Recorder) -> str:
        if "alert" in args:
            state = recorder.state(args["alert"])
            if state != args["state"]:
                raise _StepFailed(
                    args.get("message") or f"{args['alert']} is {state}", f"{args['alert']} {args['state']}", state
                )
            return f"{args['alert']} is {state}"
        value = prom.query_value(args["expr"])
        if value is None or not OPS[args["op"]](value, float(args["value"])):
            raise _StepFailed(
                args.get("message") or f"{args['expr']} = {value}",
                f"{args['expr']} {args['op']} {args['value']}",
                str(value),
            )
        return f"{args['expr']} = {value}"

    def _fault_time(self, must: MustFire) -> tuple[str, float | None]:
        name = must.after or (self.scenario.chaos[0].spec.name if self.scenario.chaos else "")
        event = self.timeline.first("fault", name, "applied")
        return name, event.t if event else None

    def _timing(self, must: MustFire, bounds: BoundsModel) -> AlertTiming:
        name, fault_at = self._fault_time(must)
        detect = bounds.detect_seconds(must.alert, must.detect, self.result.time_scale)
        return AlertTiming(must.alert, name, bounds.bounds(must.alert), detect, fault_at)

    def _deadline(self, timing: AlertTiming, must: MustFire) -> float:
        if must.within is not None:
            return float(must.within)
        if timing.bounds is None:
            return 60.0
        return timing.bounds.fire(timing.detect) + self.scenario.tolerance

    def _await_firing(self, recorder: Recorder, bounds: BoundsModel) -> None:
        """Hold the faults the runner reverts itself (those no step reverted) until what the scenario
        asserts about them can have been observed: every must_fire alert firing (within its deadline)
        and, where it must notify, its firing notification (within the notification bound after
        firing). Reverting earlier would race: an alert that resolves as soon as its fault is gone may
        never notify. Faults a step reverts are held by the steps (``scenario validate`` refuses a
        scenario whose steps can revert too early)."""
        for must in self.scenario.expect.must_fire:
            timing = self._timing(must, bounds)
            if timing.fault_at is None:
                with contextlib.suppress(WaitTimeout, _StepFailed):
                    self._wait_fault(timing.fault, timeout=60)
                timing = self._timing(must, bounds)
            if timing.fault_at is None or self.timeline.first("revert", timing.fault) is not None:
                continue
            deadline = timing.fault_at + self._deadline(timing, must) + 1.0

            def probe(must: MustFire = must) -> Poll[str]:
                state = recorder.state(must.alert, must.labels)
                seen = self.timeline.first("alert", must.alert, "firing", labels=must.labels)
                return Poll(seen is not None, state, f"{must.alert} is {state}")

            with contextlib.suppress(WaitTimeout):
                wait_for(
                    probe,
                    timeout=max(0.1, deadline - time.time()),
                    interval=0.05,
                    expected=f"{must.alert} firing",
                    stop=self.stop_event,
                )
            firing = self.timeline.first("alert", must.alert, "firing", since=timing.fault_at, labels=must.labels)
            if must.notify and firing is not None:
                limit = (timing.bounds.notify() if timing.bounds else 30.0) + self.scenario.tolerance

                def notified(must: MustFire = must, firing: Event = firing) -> Poll[bool]:
                    note = self.timeline.first(
                        "notification", must.alert, "firing", since=firing.t - 1.0, labels=must.labels
                    )
                    return Poll(note is not None, note is not None)

                with contextlib.suppress(WaitTimeout):
                    wait_for(
                        notified,
                        timeout=max(0.1, firing.t + limit + 0.5 - time.time()),
                        interval=0.05,
                        expected=f"a firing notification of {must.alert}",
                        stop=self.stop_event,
                    )

    def _await_clearing(self, recorder: Recorder, bounds: BoundsModel) -> None:
        for must in self.scenario.expect.must_fire:
            if not must.clears or self.timeline.first("alert", must.alert, "firing", labels=must.labels) is None:
                continue
            timing = self._timing(must, bounds)
            revert = self.timeline.first("revert", timing.fault) or self.timeline.first("revert")
            start = revert.t if revert else time.time()
            limit = must.clear_within or (
                (timing.bounds.resolve() if timing.bounds else 60.0) + self.scenario.tolerance
            )

            def probe(must: MustFire = must) -> Poll[str]:
                state = recorder.state(must.alert, must.labels)
                return Poll(state == "inactive", state, f"{must.alert} is {state}")

            with contextlib.suppress(WaitTimeout):
                wait_for(
                    probe,
                    timeout=max(0.1, start + float(limit) + 1.0 - time.time()),
                    interval=0.05,
                    expected=f"{must.alert} resolved",
                )

    def _await_notifications(self, bounds: BoundsModel) -> None:
        """Give the expected notifications their bound to arrive (the judge then checks them): each
        until its alert's change to that status plus the notification bound (``notify`` for firing,
        ``notify_resolved`` for resolved) and the scenario's tolerance."""
        wanted: list[tuple[str, str]] = []
        for must in self.scenario.expect.must_fire:
            if must.notify:
                wanted.append((must.alert, "firing"))
                if must.clears:
                    wanted.append((must.alert, "resolved"))
        wanted += [
            (str(n["alert"]), str(n.get("status", "firing")))
            for n in self.scenario.expect.notifications
            if "absent_while" not in n
        ]
        if not wanted:
            return

        def bound(alert: str, status: str) -> float:
            b = bounds.bounds(alert)
            if b is None:
                return 30.0
            return (b.notify() if status == "firing" else b.notify_resolved()) + self.scenario.tolerance

        def probe() -> Poll[list[str]]:
            missing = []
            deadline = 0.0
            for alert, status in wanted:
                change = self.timeline.first("alert", alert, status)
                if change is None:
                    continue  # the alert never got there: nothing to wait for
                if self.timeline.first("notification", alert, status, since=change.t - 1.0) is None:
                    missing.append(f"{alert}/{status}")
                    deadline = max(deadline, change.t + bound(alert, status))
            # Done when nothing is missing, or when every missing one is past its bound.
            return Poll(not missing or time.time() > deadline, missing, f"missing: {', '.join(missing) or 'none'}")

        longest = max(bound(alert, status) for alert, status in wanted) + 1.0
        with contextlib.suppress(WaitTimeout):
            wait_for(
                probe,
                timeout=longest,
                interval=0.1,
                expected="every expected notification",
                stop=self.stop_event,
            )

    # -- judging ---------------------------------------------------------------------------------
    def _judge(
        self, prom: PrometheusClient, bounds: BoundsModel, baseline: Mapping[str, float], chaos: ChaosController
    ) -> None:
        add = self.result.assertions.append
        tolerance = self.scenario.tolerance
        for must in self.scenario.expect.must_fire:
            timing = self._timing(must, bounds)
            self._fill_timing(timing, must)
            self.result.alerts.append(timing)
            self._judge_must_fire(timing, must, tolerance, add)
        end = time.time()
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
        if self.scenario.expect.metric:
            self._judge_metrics(prom, baseline, end, add)
        for note in self.scenario.expect.notifications:
            self._judge_notification(note, add)
        if self.scenario.expect.sequence:
            self._judge_sequence(add)
        for path in self.scenario.expect.custom:
            self._judge_custom(path, add)
        for error in chaos.errors:
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
            note = self.timeline.first("notification", must.alert, "firing", since=firing.t - 1.0, labels=labels)
            timing.notified_at = note.t if note else None
        revert = self.timeline.first("revert", timing.fault)
        timing.reverted_at = revert.t if revert else None
        if firing is not None:
            resolved = self.timeline.first("alert", must.alert, "resolved", since=firing.t, labels=labels)
            timing.resolved_at = resolved.t if resolved else None
            if resolved is not None:
                note = self.timeline.first(
                    "notification", must.alert, "resolved", since=resolved.t - 1.0, labels=labels
                )
                timing.resolved_notified_at = note.t if note else None

    def _judge_must_fire(
        self, timing: AlertTiming, must: MustFire, tolerance: float, add: Callable[[AssertionResult], None]
    ) -> None:
        b = timing.bounds
        deadline = self._deadline(timing, must)
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
            return
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
        if must.notify:
            notified = timing._after(timing.notified_at, timing.firing_at)
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
        if must.clears:
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
                    "still firing" if timing.resolved_at is None else f"resolved {_fmt(resolved)} after the revert",
                    ""
                    if resolved is not None and resolved <= limit
                    else f"{must.alert} did not clear in time ({timing.limit_text('clear')})",
                )
            )
            if must.notify and timing.resolved_at is not None:
                sent = timing._after(timing.resolved_notified_at, timing.resolved_at)
                limit = (b.notify_resolved() if b else 30.0) + tolerance
                timing.limits["notify_resolved"] = limit
                add(
                    AssertionResult(
                        f"{must.alert} resolved notification",
                        sent is not None and sent <= limit,
                        f"a resolved notification within {limit:.1f}s ({timing.limit_text('notify_resolved')})",
                        _after_resolving(sent),
                    )
                )

    def _last_value(self, alert: str) -> str:
        live = self._bounds.alerts.get(alert) if self._bounds is not None else None
        rule = self.catalog.alerts.get(alert)
        expr = str(live[0].get("query")) if live else (rule.expr if rule else "")
        if not expr or self.stack is None:
            return "unknown (the rule is not loaded)"
        try:
            samples = self.stack.prometheus().query(expr)
        except ObsTestsError as exc:
            return f"query failed ({exc})"
        if not samples:
            return "empty (no series matches the expression)"
        return ", ".join(f"{s.value:g}" for s in samples[:3])

    def _metric_outcome(
        self, prom: PrometheusClient, item: Mapping[str, Any], baseline: Mapping[str, float]
    ) -> AssertionResult:
        """One ``expect.metric`` entry judged now."""
        name = str(item["name"])
        if "increase" in item:
            expr = str(item["increase"])
            delta = self._sum(prom, expr) - baseline.get(expr, 0.0)
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

    def _judge_metrics(
        self,
        prom: PrometheusClient,
        baseline: Mapping[str, float],
        end: float,
        add: Callable[[AssertionResult], None],
    ) -> None:
        """Each ``expect.metric`` entry: judged at once, or — with ``within`` — the first moment it holds
        within that many seconds after the steps (work that settles after the run, e.g. workflows closed by
        a timeout sweeper: a condition, not a time the machine's speed decides)."""
        for item in self.scenario.expect.metric:
            if "within" not in item:
                add(self._metric_outcome(prom, item, baseline))
                continue
            within = float(item["within"])

            def probe(item: Mapping[str, Any] = item) -> Poll[AssertionResult]:
                outcome = self._metric_outcome(prom, item, baseline)
                return Poll(outcome.passed, outcome, f"{outcome.actual}")

            try:
                outcome = wait_for(
                    probe,
                    timeout=max(0.1, end + within - time.time()),
                    interval=0.25,
                    expected=str(item["name"]),
                    transient=(ObsTestsError,),
                    stop=self.stop_event,
                )
            except WaitTimeout:
                outcome = self._metric_outcome(prom, item, baseline)
                if not outcome.passed:
                    outcome = dataclasses.replace(
                        outcome, message=f"{outcome.message or outcome.actual} — still after waiting {within:g}s"
                    )
            add(outcome)

    def _judge_notification(self, note: Mapping[str, Any], add: Callable[[AssertionResult], None]) -> None:
        if "absent_while" in note:
            self._judge_absent(note, add)
            return
        status = str(note.get("status", "firing"))
        found = [
            e
            for e in self.timeline.find("notification", str(note["alert"]), status)
            if "receiver" not in note or e.detail.get("receiver") == note["receiver"]
        ]
        where = f" to {note['receiver']}" if "receiver" in note else ""
        receivers = sorted({str(e.detail.get("receiver")) for e in self.timeline.find("notification", note["alert"])})
        add(
            AssertionResult(
                f"{note['alert']} {status} notification{where}",
                bool(found),
                f"a {status} notification{where}",
                f"{len(found)} received" if found else f"none (received by: {', '.join(receivers) or 'nobody'})",
            )
        )

    def _judge_absent(self, note: Mapping[str, Any], add: Callable[[AssertionResult], None]) -> None:
        add(inhibition_held(self.timeline, str(note["alert"]), str(note["absent_while"]), self.result.started_at))

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

    def _judge_sequence(self, add: Callable[[AssertionResult], None]) -> None:
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

    def _judge_custom(self, path: str, add: Callable[[AssertionResult], None]) -> None:
        func = import_callable(path)
        try:
            outcome = func(self.timeline)
        except Exception as exc:  # noqa: BLE001 - a user's assertion crashing is its failure, reported
            add(AssertionResult(f"custom {path}", False, "passes", "raised", f"{type(exc).__name__}: {exc}"))
            return
        ok, message = (outcome, "") if isinstance(outcome, bool) else (bool(outcome[0]), str(outcome[1]))
        add(AssertionResult(f"custom {path}", ok, "passes", "passed" if ok else "failed", message))


def happened_within(event: Event) -> tuple[float, float]:
    """When ``event`` happened, as an interval: faults, reverts and notifications exactly when recorded;
    an alert state change between the previous poll of ``/api/v1/alerts`` (``previous_poll``; for a
    resolved alert ``last_seen``) and the poll that saw it."""
    if event.kind == "alert":
        earliest = event.detail.get("previous_poll") or event.detail.get("last_seen")
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


def incident_start(events: Sequence[Event], status: str, now: float) -> float:
    """Since when a ``status`` notification belongs to the alert's current incident, given its recorded
    ``events``: its latest change to that status (pending/firing for "firing", resolved for "resolved")
    less 1 s, as Alertmanager may notify before obs-tests' poll sees the change — but for "firing" never
    before the alert's ``activeAt`` (a notification older than that is of an earlier incident, e.g. one
    Alertmanager repeated while Prometheus restarted); ``now`` when the alert has not changed in the run.
    """
    states = ("pending", "firing") if status == "firing" else ("resolved",)
    changes = [e for e in events if e.state in states]
    if not changes:
        return now
    latest = changes[-1]
    start = latest.t - 1.0
    active_at = latest.detail.get("active_at")
    if status == "firing" and isinstance(active_at, int | float):
        start = max(start, float(active_at))
    return start


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


def _sink_of(stack: Any) -> SinkClient | None:
    """The stack's webhook sink (None when it has none)."""
    return SinkClient(stack.url("webhook-sink")) if "webhook-sink" in getattr(stack, "components", {}) else None


class _StepFailed(Exception):
    def __init__(self, message: str, expected: str, actual: str) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


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
