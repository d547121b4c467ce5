"""The step interpreter: one handler per step kind, looked up by kind in :data:`STEP_HANDLERS`.

A handler gets a :class:`StepContext` (the clients, the recorder, the chaos controller, the timeline and
the stop event of the run) and the step's typed arguments (its :mod:`~obs_tests.scenarios.step_types`
class, which the handler is registered with); it returns what happened
(``"GatewayDown firing after 4.2s"``), or raises :class:`~obs_tests.errors.WaitTimeout` when its condition
did not hold in time. :func:`run_steps` runs a scenario's steps in order until one fails.

Example::

    ctx = StepContext(prom, recorder, chaos, timeline, stop, new_load, background_loads=[])
    STEP_HANDLERS["wait_for_time"](ctx, WaitForTime(2))  # "2s passed"
    run_steps(scenario.steps, ctx, log=log, add=result.assertions.append, on_done=done_ids.append)
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from obs_tests.chaos.controller import ChaosController
from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.errors import ObsTestsError, ScenarioInvalid, WaitTimeout
from obs_tests.health.run import run_health
from obs_tests.health.settings import HealthSettings
from obs_tests.health.status import Status
from obs_tests.scenarios.event_asserts import AssertEvents, judge_events
from obs_tests.scenarios.events import BotWorld
from obs_tests.scenarios.model import OPS, Step
from obs_tests.scenarios.results import AssertionResult
from obs_tests.scenarios.step_types import (
    AssertState,
    Load,
    Revert,
    StepArgs,
    WaitForAlert,
    WaitForCycles,
    WaitForEvent,
    WaitForFault,
    WaitForHealth,
    WaitForMetric,
    WaitForNotification,
    WaitForTime,
)
from obs_tests.scenarios.timeline import Recorder, Timeline, incident_start, parse_time
from obs_tests.workloads import LoadResult, LoadRun

__all__ = [
    "STEP_HANDLERS",
    "StepContext",
    "StepHandler",
    "StepRunner",
    "await_fault",
    "names_in",
    "run_steps",
]

_Args = TypeVar("_Args", bound=StepArgs)


@dataclass(frozen=True)
class StepContext:
    """What a step handler may use: the run's Prometheus client, alert recorder, chaos controller and
    timeline; ``stop`` is set when the run is asked to stop (waits end early); ``new_load(raw, default
    duration)`` makes an unstarted Locust run from a ``load`` mapping, and a load that does not wait goes
    to ``background_loads`` (the runner stops those at the end)."""

    prom: PrometheusClient
    recorder: Recorder
    chaos: ChaosController
    timeline: Timeline
    stop: threading.Event
    new_load: Callable[[Mapping[str, Any], float], LoadRun]
    background_loads: list[LoadRun]
    #: the bot's events when the scenario sets a bot (or a replay) up: cycles are the bot's, waits scaled
    bot: BotWorld | None = None
    #: where a step that judges several things at once adds its results
    add: Callable[[AssertionResult], None] = field(default=lambda _result: None)
    #: the load report of each ``load`` step waited for (requests, failures and Locust's table beside the
    #: gateway histogram's view of the same window), in order
    load_reports: list[dict[str, Any]] = field(default_factory=list)


class StepRunner(Protocol):
    """What :data:`STEP_HANDLERS` holds: a handler that runs any step's arguments of its kind."""

    @property
    def asserts(self) -> bool:
        """Whether the step is an assertion."""
        ...

    def __call__(self, ctx: StepContext, args: StepArgs) -> str:
        """Run the step (its arguments must be of the handler's class)."""
        ...


@dataclass(frozen=True)
class StepHandler(Generic[_Args]):
    """How one step class runs: ``run(ctx, args)`` returns what happened; an ``asserts`` step is an
    assertion, its success recorded as a passed one (a failed step is always recorded as failed).
    Called with any step's arguments, it checks they are of its class ``type``."""

    type: type[_Args]
    run: Callable[[StepContext, _Args], str]
    asserts: bool = False

    def __call__(self, ctx: StepContext, args: StepArgs) -> str:
        if not isinstance(args, self.type):
            raise TypeError(f"the {self.type.kind} handler got the arguments of a {args.kind} step")
        return self.run(ctx, args)


class _StepFailed(Exception):
    def __init__(self, message: str, expected: str, actual: str) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


# -- the loop ------------------------------------------------------------------------------------
def run_steps(
    steps: Sequence[Step],
    ctx: StepContext,
    *,
    log: Callable[[str, str], None],
    add: Callable[[AssertionResult], None],
    on_done: Callable[[str], None],
) -> None:
    """Run ``steps`` in order, each recorded on the timeline (started, done, failed or stopped) and
    logged; stop at the first that fails (its failure goes to ``add``) or when the run is stopped.
    ``on_done(id)`` is told when a step with an id is done (faults may be scheduled after it)."""
    for step in steps:
        label = step.id or step.describe()
        ctx.timeline.record("step", label, "started")
        log("INFO", f"step: {step.describe()}")
        handler = STEP_HANDLERS[step.kind]
        try:
            message = handler(ctx, step.args)
        except (WaitTimeout, _StepFailed) as exc:
            if ctx.stop.is_set():
                ctx.timeline.record("step", label, "stopped")
                return
            verdict = _failed(f"step {label}", step, exc)
            ctx.timeline.record("step", label, "failed", error=verdict.message)
            add(verdict)
            log("ERROR", f"step {label} failed: {verdict.message}")
            return
        ctx.timeline.record("step", label, "done")
        if handler.asserts:
            add(AssertionResult(f"step {label}", True, step.describe(), message))
        if step.id:
            on_done(step.id)


def _failed(name: str, step: Step, exc: WaitTimeout | _StepFailed) -> AssertionResult:
    if isinstance(exc, _StepFailed):
        return AssertionResult(name, False, exc.expected, exc.actual, str(exc))
    return AssertionResult(name, False, step.describe(), "timed out", exc.message)


# -- the handlers, one per step class ------------------------------------------------------------
def _wait_for_alert(ctx: StepContext, step: WaitForAlert) -> str:
    """``wait_for_alert: {name, state, labels?, within?}``: the alert reaches the state (``pending``
    also accepts ``firing``; ``resolved`` means no longer active)."""
    name, state, labels, within = step.name, step.state, step.labels, step.within
    started = time.time()

    def probe() -> Poll[str]:
        now = ctx.recorder.state(name, labels)
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
        stop=ctx.stop,
    )
    return f"{name} {state} after {time.time() - started:.1f}s"


def _wait_for_metric(ctx: StepContext, step: WaitForMetric) -> str:
    """``wait_for_metric: {expr, op, value, within?}``: the expression's value compares true."""
    expr, op, value, within = step.expr, step.op, float(step.value), step.within
    compare = OPS[op]

    def probe() -> Poll[float | None]:
        got = ctx.prom.query_value(expr)
        ok = got is not None and compare(got, value)
        return Poll(ok, got, f"{expr} = {got}")

    got = wait_for(
        probe,
        timeout=float(within),
        interval=0.1,
        expected=f"{expr} {op} {value:g}",
        bound=f"within {within}s",
        transient=(ObsTestsError,),
        stop=ctx.stop,
    )
    return f"{expr} = {got}"


def _wait_for_notification(ctx: StepContext, step: WaitForNotification) -> str:
    """``wait_for_notification: {alert, status?, receiver?, after?, within?}``: one of the alert's current
    incident, received after its latest change to this status (pending/firing for "firing", resolved for
    "resolved"; Alertmanager may notify before obs-tests sees it) or, if the alert has not changed in this
    run, after the step started — and after the step ``after`` was done."""
    alert, status, receiver, after = step.alert, step.status, step.receiver, step.after
    started = incident_start(ctx.timeline.find("alert", alert), status, time.time())
    if after is not None:
        done = ctx.timeline.first("step", after, "done")
        if done is None:  # validation allows only an earlier step; one that failed ended the run
            raise ScenarioInvalid(f"wait_for_notification: after '{after}': that step is not done")
        started = max(started, done.t)
    where = (f" to {receiver}" if receiver is not None else "") + (f" after step {after}" if after else "")

    def probe() -> Poll[int]:
        found = [
            e
            for e in ctx.timeline.find("notification", alert, status, since=started)
            if receiver is None or e.detail.get("receiver") == receiver
        ]
        return Poll(bool(found), len(found))

    wait_for(
        probe,
        timeout=float(step.within),
        interval=0.1,
        expected=f"a {status} notification of {alert}{where}",
        stop=ctx.stop,
    )
    return f"{status} notification of {alert} received"


def _wait_for_health(ctx: StepContext, step: WaitForHealth) -> str:
    """``wait_for_health: {check, status?, names?, within?}``: the health check judges ``status``, with a
    problem about ``names`` when given. The stack is the chaos controller's; counters over the last 30 s."""
    settings = HealthSettings.of_stack(ctx.chaos.backend, window=30.0, timeout=2.0)  # a frozen peer: 2 s
    wanted = Status[step.status.upper()]
    started = time.time()

    def probe() -> Poll[str]:
        checks = {c.name: c for c in run_health(settings).checks}
        result = checks.get(step.check)
        if result is None:
            return Poll(False, "", f"no health check {step.check} here (checks: {', '.join(checks)})")
        about = [p for p in result.problems if step.names is None or names_in(step.names, p.subject)]
        seen = "; ".join(f"{p.subject}: {p.message}" for p in result.problems) or result.summary
        shown = f"{step.check} {result.status.name.lower()} ({seen})"
        return Poll(result.status == wanted and (step.names is None or bool(about)), shown, shown)

    named = f" naming {step.names}" if step.names else ""
    shown = wait_for(
        probe,
        timeout=float(step.within),
        interval=0.5,
        expected=f"health check {step.check} {step.status}{named}",
        bound=f"within {step.within}s",
        transient=(ObsTestsError,),
        stop=ctx.stop,
    )
    return f"{shown} after {time.time() - started:.1f}s"


def names_in(name: str, subject: str) -> bool:
    """Whether a health problem's ``subject`` names ``name`` as a whole word (``prometheus-2``, not in
    ``prometheus-21``; ``alertmanager`` in ``alertmanager (http://…)``, not in ``alertmanager-2 …``)."""
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", subject) is not None


def _wait_for_time(ctx: StepContext, step: WaitForTime) -> str:
    """``wait_for_time: SECONDS`` (in a bot's world: times the time scale); fails when the run is stopped."""
    seconds = float(step.seconds) * (ctx.bot.time_scale if ctx.bot else 1.0)
    if ctx.stop.wait(seconds):
        raise _StepFailed("scenario stopped", "time passes", "stopped")
    return f"{step.seconds}s passed" + (f" ({seconds:g}s at time scale {ctx.bot.time_scale:g})" if ctx.bot else "")


def _wait_for_bot_cycles(ctx: StepContext, bot: BotWorld, cycles: int) -> str:
    """``wait_for_cycles: N`` with a bot: N more of its monitoring cycles are over than when the step began
    (a cycle is over once its fetch's outcome event arrived: not merely begun, or the assertions after the
    step would race its events)."""
    start = bot.events.completed_cycles()
    target = start + cycles

    def probe() -> Poll[int]:
        seen = bot.events.completed_cycles()
        return Poll(seen >= target, seen, f"bot cycle {seen} of {target} over")

    bound = cycles * bot.cycle_seconds
    wait_for(
        probe,
        timeout=bound * 3 + 30,
        interval=min(0.05, bot.cycle_seconds / 2),
        expected=f"bot cycle {target} ({cycles} cycles after {start})",
        bound=f"{cycles} x {bot.cycle_seconds:g}s poll interval",
        stop=ctx.stop,
    )
    return f"{cycles} bot cycles (cycle {bot.events.completed_cycles()} over)"


def _wait_for_event(ctx: StepContext, step: WaitForEvent) -> str:
    """``wait_for_event: NAME`` (+ ``timeout_seconds``): an event of that name arrived in this run."""
    if ctx.bot is None:
        raise _StepFailed("wait_for_event needs setup.bot or setup.replay", f"{step.event} event", "no bot")
    events = ctx.bot.events

    def probe() -> Poll[int]:
        seen = events.count(step.event)
        return Poll(seen > 0, seen, f"{seen} {step.event} events, {len(events)} events in all")

    wait_for(
        probe,
        timeout=float(step.timeout_seconds),
        interval=0.05,
        expected=f"a {step.event} event",
        bound=f"timeout_seconds {step.timeout_seconds:g}",
        stop=ctx.stop,
    )
    first = events.named(step.event)[0]
    return f"{step.event} in cycle {first.cycle}"


def _assert_events(ctx: StepContext, step: AssertEvents) -> str:
    """``assert: {event_count, event_sequence, ...}``: every bound judged on the run's events, one result
    each (later steps still run when one fails)."""
    if ctx.bot is None:
        raise _StepFailed("event assertions need setup.bot or setup.replay", step.describe(), "no bot")
    results = judge_events(step, ctx.bot.events)
    for result in results:
        ctx.add(result)
    passed = sum(1 for r in results if r.passed)
    return f"{passed}/{len(results)} event assertions passed"


def _wait_for_cycles(ctx: StepContext, step: WaitForCycles) -> str:
    """``wait_for_cycles: N``: every rule group evaluated N more times (a bot's cycles when it has one)."""
    if ctx.bot is not None:
        return _wait_for_bot_cycles(ctx, ctx.bot, step.cycles)
    prom = ctx.prom
    cycles = step.cycles

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
        stop=ctx.stop,
    )
    return f"{cycles} evaluation cycles"


def _load(ctx: StepContext, step: Load) -> str:
    """``load: {users, duration?, …, wait?}``: a Locust run, waited for unless ``wait: false``."""
    run = ctx.new_load(step.spec_fields(), 10.0)
    spec = run.spec
    run.start()
    ctx.timeline.record("load", "step", "started", users=spec.users, duration=spec.duration)
    if not step.wait:
        ctx.background_loads.append(run)
        return f"{spec.users} users started in the background"
    try:
        res = run.wait()
    finally:
        run.stop()
    ctx.timeline.record("load", "step", "done", requests=res.requests, failures=res.failures)
    ctx.load_reports.append(_load_report(res, ctx.prom))
    return f"{res.requests} requests, {res.failures} failures"


def _load_report(res: LoadResult, prom: PrometheusClient, **extra: Any) -> dict[str, Any]:
    """A load step's entry of ``load_steps``: Locust's table beside the gateway histogram's view of the
    same window."""
    report = res.report().compared(prom).to_json()
    return {"users": res.spec.users, "requests": res.requests, "failures": res.failures, **extra, "report": report}


def stop_background_loads(runs: Sequence[LoadRun], prom: PrometheusClient, reports: list[dict[str, Any]]) -> None:
    """Stop the ``load`` steps left running (``wait: false``) — on every exit path — and add the report of
    each that still has its stats to ``reports``, marked ``background``."""
    for run in runs:
        with contextlib.suppress(ObsTestsError, OSError):
            run.stop()
            reports.append(_load_report(run.wait(), prom, background=True))


def _wait_for_fault(ctx: StepContext, step: WaitForFault) -> str:
    """``wait_for_fault: NAME``: the scheduled fault applied (fails if it could not be)."""
    _wait_fault(ctx.timeline, step.fault, timeout=120)
    return f"{step.fault} applied"


def _revert(ctx: StepContext, step: Revert) -> str:
    """``revert: NAME``: revert the fault, once it has been applied."""
    name = step.fault
    if name not in ctx.chaos.faults:
        _wait_fault(ctx.timeline, name, timeout=120)
    if ctx.chaos.revert(name):
        ctx.timeline.record("revert", name, "reverted")
    return f"{name} reverted"


def _assert_state(ctx: StepContext, step: AssertState) -> str:
    """``assert: {alert, state, message?}`` or ``assert: {expr, op, value, message?}``, judged now."""
    if step.alert is not None:
        state = ctx.recorder.state(step.alert)
        if state != step.state:
            raise _StepFailed(step.message or f"{step.alert} is {state}", f"{step.alert} {step.state}", state)
        return f"{step.alert} is {state}"
    if step.expr is None or step.op is None or step.value is None:
        raise _StepFailed("assert needs {alert, state} or {expr, op, value}", step.describe(), "incomplete")
    value = ctx.prom.query_value(step.expr)
    if value is None or not OPS[step.op](value, float(step.value)):
        raise _StepFailed(
            step.message or f"{step.expr} = {value}",
            f"{step.expr} {step.op} {step.value}",
            str(value),
        )
    return f"{step.expr} = {value}"


#: every step kind (:data:`~obs_tests.scenarios.model.STEP_KINDS`) → the handler of its class
STEP_HANDLERS: dict[str, StepRunner] = {
    handler.type.kind: handler
    for handler in (
        StepHandler(WaitForAlert, _wait_for_alert),
        StepHandler(WaitForMetric, _wait_for_metric),
        StepHandler(WaitForNotification, _wait_for_notification),
        StepHandler(WaitForHealth, _wait_for_health),
        StepHandler(WaitForTime, _wait_for_time),
        StepHandler(WaitForCycles, _wait_for_cycles),
        StepHandler(WaitForFault, _wait_for_fault),
        StepHandler(WaitForEvent, _wait_for_event),
        StepHandler(AssertEvents, _assert_events),
        StepHandler(Load, _load),
        StepHandler(Revert, _revert),
        StepHandler(AssertState, _assert_state, asserts=True),
    )
}


# -- helpers -------------------------------------------------------------------------------------
def _wait_fault(timeline: Timeline, name: str, timeout: float) -> None:
    def probe() -> Poll[bool]:
        if timeline.first("fault", name, "failed") is not None:
            raise _StepFailed(f"fault {name} could not be applied", f"fault {name} applied", "failed")
        event = timeline.first("fault", name, "applied")
        return Poll(event is not None, event is not None)

    wait_for(probe, timeout=timeout, interval=0.05, expected=f"fault {name} applied")


def await_fault(timeline: Timeline, name: str, timeout: float) -> None:
    """Wait up to ``timeout`` seconds for fault ``name`` to be applied; return quietly when it could not
    be applied or was not in time (the judge then finds no fault time)."""
    with contextlib.suppress(WaitTimeout, _StepFailed):
        _wait_fault(timeline, name, timeout)
