"""Run a scenario against a live stack and judge it.

``ScenarioRunner(path, stack=stack).run()`` on any :class:`~obs_tests.stack.protocol.Stack`: settles (no
alert but the watchdog active), sets the market, starts the background load, schedules the chaos (a bot
cycles once the faults due at once are on), runs the steps, waits for every ``must_fire`` alert to fire
within its bound, reverts the faults, waits for the alerts to clear and notify, stops the load, evaluates
``expect``. Faults and load are undone on every exit path (also SIGINT, SIGTERM). The result carries every
assertion, the chaos stats and per-alert timings against their bounds.

Example::

    result = ScenarioRunner(Path("scenarios/gateway-down.yaml"), stack=stack).run()
    result.passed, result.assertions_passed, result.alerts[0].fired_after
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from obs_tests.chaos.controller import ChaosController
from obs_tests.chaos.faults import FaultSpec
from obs_tests.checks.routing import load_route_tests
from obs_tests.clients.alertmanager import AlertmanagerClient
from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.clients.webhook_sink import SinkClient
from obs_tests.config.contract import Contract, load_contract
from obs_tests.config.topology import monitoring_kind
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.errors import ObsTestsError, ScenarioInvalid, UsageError, WaitTimeout
from obs_tests.scenarios.bounds import BoundsModel
from obs_tests.scenarios.event_session import EventSession, finish_session, open_session
from obs_tests.scenarios.event_setup import output_path
from obs_tests.scenarios.events import RecordedEvent
from obs_tests.scenarios.judge import Judge
from obs_tests.scenarios.model import WATCHDOG, Catalog, MustFire, Scenario, load_scenario
from obs_tests.scenarios.notifications import await_notifications
from obs_tests.scenarios.reports import write_run_report
from obs_tests.scenarios.results import AlertTiming, ScenarioResult
from obs_tests.scenarios.settling import settle
from obs_tests.scenarios.standalone import DEFAULT_CONTRACT, own_stack, runnable_on
from obs_tests.scenarios.steps import StepContext, await_fault, run_steps, stop_background_loads
from obs_tests.scenarios.timeline import Event, Recorder, Timeline, notified_from
from obs_tests.stack.protocol import Stack
from obs_tests.workloads import LoadRun, LoadSpec

__all__ = ["ScenarioRunner"]

LogFn = Callable[[str, str], None]


class ScenarioRunner:
    """Runs one scenario; see the module docstring."""

    def __init__(
        self,
        scenario: Path | str | Scenario,
        *,
        stack: Stack | None = None,
        contract: Contract | None = None,
        time_scale: float | None = None,
        log: LogFn | None = None,
        stop: threading.Event | None = None,
        settle_timeout: float = 60.0,
        prepared: bool = False,
        lane: str = "",
        output_dir: Path | None = None,
        verbose: bool = False,
    ) -> None:
        given = contract if contract is not None or stack is None else stack.contract
        if given is None and stack is not None:
            raise UsageError("a stack given by URLs has no contract: pass ScenarioRunner(..., contract=...)")
        self.contract = given or load_contract(Path(DEFAULT_CONTRACT))
        components = list(stack.components) if stack is not None else None
        self.catalog = Catalog.from_contract(self.contract, components, time_scale=time_scale)
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(Path(scenario), self.catalog)
        #: no stack given: an embedded one of the contract's (HA for an HA scenario), started by run() for it alone
        self._owned = None if stack is not None else own_stack(self.contract, self.scenario, time_scale)
        self.stack: Stack = runnable_on(self.scenario, stack or self._owned)
        self.time_scale_override = time_scale
        self._log_fn = log
        self.stop_event = stop or threading.Event()
        self.settle_timeout = settle_timeout
        self.prepared = prepared  # the caller healed and settled the stack (scenarios run concurrently)
        scenario = self.scenario
        self.result = ScenarioResult(
            scenario.name, str(scenario.path), scenario.description, type=scenario.type, lane=lane, title=scenario.title
        )
        #: where a trading-bot scenario writes its recording and report (relative outputs; default: cwd)
        self.output_dir = output_dir or Path()
        self.verbose = verbose  # log every bus event of a trading-bot run
        #: a trading-bot run's world while it goes (None: not set up, or none), sampled by the dashboard
        self.session: EventSession | None = None
        self.timeline = Timeline()
        self._step_done: dict[str, float] = {}
        self._clock = 0.0  # faults' `at` counts from here: the start, or when the setup load sends
        self._step_cond = threading.Condition()
        self._setup_load: LoadRun | None = None
        self._background_loads: list[LoadRun] = []
        self._done = threading.Event()
        self._first_faults = threading.Event()  # the scheduler applied the faults due at once

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

    def _log_event(self, event: RecordedEvent) -> None:
        data = ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in event.data.items())
        self.log("DEBUG", f"event cycle {event.cycle} {event.name} #{event.seq}: {data}")

    # -- entry point -----------------------------------------------------------------------------
    def run(self) -> ScenarioResult:
        """Run the scenario to the end and return the judged result (never raises for a failed check;
        input errors raise :class:`ScenarioInvalid`, interrupts propagate after the faults are reverted)."""
        self.result.began_at = time.time()
        with self._owned if self._owned is not None else contextlib.nullcontext():
            result = self._run()
        report = self.scenario.events.report if self.scenario.events else None
        if report is not None:
            path = output_path(report.output, self.scenario.title, self.output_dir)
            write_run_report(
                result, report.format, path, events=report.include_events, statistics=report.include_statistics
            )
            self.log("INFO", f"report: {path}")
        return result

    def _run(self) -> ScenarioResult:
        stack = self.stack
        result = self.result
        result.timeline = self.timeline
        result.time_scale = stack.time_scale
        prom: PrometheusClient = stack.prometheus()
        sink = _sink_of(stack)
        if not self.prepared:
            stack.heal()
        bounds = self._read_bounds(prom)
        judge = Judge(
            self.scenario, self.catalog, self.timeline, result, prom=prom, bounds=bounds, stop=self.stop_event
        )
        chaos = ChaosController(stack, log=self.log)
        recorder = Recorder(self.timeline, prom, sink, replicas=_other_replicas(stack))
        session: EventSession | None = None
        self.log("INFO", f"scenario {self.scenario.name}: {self.scenario.description or self.scenario.path}")
        try:
            if self.scenario.settle and not self.prepared:
                self._settle(prom, sink)
            result.started_at = self.timeline.origin = time.time()
            on_event = self._log_event if self.verbose else None
            where = (self.scenario.title, self.stop_event, self.output_dir, on_event)
            session = self.session = open_session(self.scenario.events, self.stack, *where)
            bot = session.world() if session is not None and self.scenario.drives_bot else None
            loads = (self._new_load, self._background_loads)
            ctx = StepContext(
                prom, recorder, chaos, self.timeline, self.stop_event, *loads, bot, result.assertions.append
            )
            result.load_steps = ctx.load_reports  # filled by the load steps as they end
            recorder.start()
            baseline = judge.baseline()
            with chaos:
                self._play(ctx, judge, bounds)
            if self._setup_load is not None:
                result.load = self._stop_load(self._setup_load, prom)
                self._setup_load = None
            self._conclude(judge, baseline, chaos.errors)
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
            if self._setup_load is not None:
                with contextlib.suppress(ObsTestsError, OSError):
                    self._setup_load.stop()
            stop_background_loads(self._background_loads, prom, result.load_steps)
            recorder.stop()
            result.chaos = chaos.summary(result.started_at)
            if session is not None:
                finish_session(session, result)
            result.finished_at = time.time()
            self._log_verdict()
        return result

    def _read_bounds(self, prom: PrometheusClient) -> BoundsModel:
        """The live configs' bounds model (Prometheus' rules and intervals, Alertmanager's grouping, the
        receiver each alert routes to according to the routing tests)."""
        am_url = self.stack.alertmanager_url
        alertmanager = AlertmanagerClient(am_url) if am_url else None
        receivers = {t.alert: t.receivers[0] for t in self._route_tests() if t.receivers}
        topology = self.stack.contract.stack.topology if self.stack.contract else None
        return BoundsModel(prom, alertmanager, receiver_of=receivers, topology=topology)

    def _play(self, ctx: StepContext, judge: Judge, bounds: BoundsModel) -> None:
        """Under the chaos controller: set the market, start the setup load and the fault schedule, run
        the steps, hold the faults until the ``must_fire`` alerts fired, revert what is still applied,
        then wait for the alerts to clear and the notifications to arrive."""
        chaos = ctx.chaos
        if self.scenario.market:
            chaos.apply(FaultSpec("setup-market", "market", "exchange", {"scenario": self.scenario.market}))
        self._clock = time.time()
        self._setup_load = self._start_setup_load()
        scheduler = threading.Thread(target=self._schedule, args=(chaos,), daemon=True, name="chaos")
        scheduler.start()
        if self.session is not None:
            self.session.resume(after=self._first_faults)  # the bot cycles once event chaos is installed
        try:
            run_steps(
                self.scenario.steps, ctx, log=self.log, add=self.result.assertions.append, on_done=self._step_finished
            )
            if not self.stopped:
                self._await_firing(ctx.recorder, judge)
        finally:
            self._done.set()
            scheduler.join(timeout=30)
            scenario_faults = [n for n in chaos.active if n != "setup-market"]
            for name in scenario_faults:
                chaos.revert(name)
                self.timeline.record("revert", name, "reverted")
        if not self.stopped:
            self._await_clearing(ctx.recorder, judge)
            await_notifications(self.scenario, self.timeline, bounds, self.stop_event)

    def _conclude(self, judge: Judge, baseline: Mapping[str, float], chaos_errors: Sequence[str]) -> None:
        """The result's status: ``stopped`` when asked to stop, else judged (``failed`` if an assertion
        failed or a fault could not be reverted)."""
        result = self.result
        if self.stopped:
            result.status = "stopped"
            result.error = "stopped before the end (faults reverted)"
            self.log("WARNING", result.error)
        else:
            judge.judge(baseline, chaos_errors)
            failed = result.failures()
            result.status = "failed" if failed or chaos_errors else "passed"

    def _log_verdict(self) -> None:
        result = self.result
        if result.status in ("passed", "failed"):
            level = "SUCCESS" if result.passed else "ERROR"
            self.log(
                level,
                f"scenario {self.scenario.name} {result.status}: {result.assertions_passed}/"
                f"{len(result.assertions)} assertions in {result.duration:.1f}s",
            )

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
        stack.heal()
        sink = _sink_of(stack)
        self._settle(stack.prometheus(), sink)

    def _settle(self, prom: PrometheusClient, sink: SinkClient | None) -> None:
        known = set(self.catalog.alerts) - {WATCHDOG}
        settle(prom, sink, known, timeout=self.settle_timeout, stop=self.stop_event, at_rest=self.catalog.at_rest)

    def _new_load(self, raw: Mapping[str, Any], default_duration: float) -> LoadRun:
        """An unstarted Locust run against the stack's gateway from a scenario's ``load`` mapping."""
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
        return LoadRun(spec, self.stack.url("gateway"), targets_file=self.stack.load_targets)

    def _start_setup_load(self) -> LoadRun | None:
        raw = self.scenario.load
        if raw is None:
            return None
        run = self._new_load(raw, 3600.0)
        spec = run.spec
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

    def _stop_load(self, run: LoadRun, prom: PrometheusClient) -> dict[str, Any]:
        run.stop()
        summary: dict[str, Any] = {"stopped": True}
        with contextlib.suppress(ObsTestsError):
            res = run.wait()
            summary = {"requests": res.requests, "failures": res.failures}
        self.timeline.record("load", "setup", "stopped", **summary)
        if "requests" in summary:  # Locust's table, beside the gateway histogram's view of the same window
            summary["report"] = res.report().compared(prom).to_json()
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
            if not any(e.after is None and e.at == 0 for e in pending):
                self._first_faults.set()
            self._done.wait(0.02)
        self._first_faults.set()

    @property
    def stopped(self) -> bool:
        """Whether someone asked the run to stop (:meth:`stop`)."""
        return self.stop_event.is_set()

    def stop(self) -> None:
        """Ask the run to stop: the current wait ends, the faults are reverted, the result is ``stopped``."""
        self.stop_event.set()

    def _step_finished(self, step_id: str) -> None:
        with self._step_cond:
            self._step_done[step_id] = time.time()

    def _await_firing(self, recorder: Recorder, judge: Judge) -> None:
        """Hold the faults the runner reverts itself (those no step reverted) until what the scenario
        asserts about them can have been observed: every must_fire alert firing (within its deadline)
        and, where it must notify, its firing notification (within the notification bound after
        firing). Reverting earlier would race: an alert that resolves as soon as its fault is gone may
        never notify. Faults a step reverts are held by the steps (``scenario validate`` refuses a
        scenario whose steps can revert too early)."""
        for must in self.scenario.expect.must_fire:
            timing = judge.timing(must)
            if timing.fault_at is None:
                await_fault(self.timeline, timing.fault, timeout=60)
                timing = judge.timing(must)
            if timing.fault_at is None or self.timeline.first("revert", timing.fault) is not None:
                continue
            deadline = timing.fault_at + judge.deadline(timing, must) + 1.0

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
                self._await_notified(must, timing, firing)

    def _await_notified(self, must: MustFire, timing: AlertTiming, firing: Event) -> None:
        """Hold until the alert's firing notification came, at most its notification bound after firing."""
        limit = (timing.bounds.notify() if timing.bounds else 30.0) + self.scenario.tolerance
        since = notified_from(firing)  # Alertmanager may notify before the poll that saw it firing

        def notified() -> Poll[bool]:
            note = self.timeline.first("notification", must.alert, "firing", since=since, labels=must.labels)
            return Poll(note is not None, note is not None)

        with contextlib.suppress(WaitTimeout):
            wait_for(
                notified,
                timeout=max(0.1, firing.t + limit + 0.5 - time.time()),
                interval=0.05,
                expected=f"a firing notification of {must.alert}",
                stop=self.stop_event,
            )

    def _await_clearing(self, recorder: Recorder, judge: Judge) -> None:
        """Give each ``must_fire`` alert that fired and must clear its clear limit to resolve."""
        for must in self.scenario.expect.must_fire:
            if not must.clears or self.timeline.first("alert", must.alert, "firing", labels=must.labels) is None:
                continue
            timing = judge.timing(must)
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


def _other_replicas(stack: Stack) -> list[PrometheusClient]:
    """Clients of an HA stack's Prometheus replicas besides the first (none on a single stack). A short
    timeout: the recorder reads them between its polls of the first, and a paused replica must not stall it."""
    names = sorted(n for n in stack.components if monitoring_kind(n) == "prometheus" and n != "prometheus")
    return [PrometheusClient(stack.url(n), timeout=0.25) for n in names]


def _sink_of(stack: Stack) -> SinkClient | None:
    """The stack's webhook sink (None when it has none)."""
    return SinkClient(stack.url("webhook-sink")) if "webhook-sink" in stack.components else None
