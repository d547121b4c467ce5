"""The one way to run scenarios, :func:`run_scenarios`, and the lanes that say where they run.

- :class:`SharedStack` — one running stack for every scenario: one after another, or, with
  ``concurrency`` N > 1, in waves of up to N that cannot see each other (the conflict rules of
  :mod:`obs_tests.scenarios.waves`); the stack is healed and settled once per wave, and a wave's
  scenarios run in lanes ``slot 1``, ``slot 2``, … (alone, a scenario's lane is ``name``).
- :class:`StackPool` — up to ``stacks`` stacks, each scenario on a stack to itself (its own Prometheus,
  Alertmanager, sink and services: nothing one does is seen by another); every stack takes the next
  scenario as soon as it is free. The pool starts and stops the stacks it makes (``make_stack``); it
  may also use a running stack of the caller's, from the start (``first``) or once the caller is done
  with it (``lent``, a :class:`LentStack`). Lanes: ``stack 1``, ``stack 2``, ``stack 3 (lent)``.

Every scenario runs in a thread of its lane; its log lines reach ``log(scenario name, level,
message)``, its result ``on_result(result)`` as soon as it is judged, and ``around(runner)`` wraps its
run (a progress phase, a timeline listener). ``on_lane(message)`` hears of the lanes: ``stack 2 up``,
``stack 2 did not start: …``, ``stack 2 down``, ``stack 3 (lent) takes scenarios``, ``concurrently: a
+ b``. On SIGINT/SIGTERM (in the main thread), or once ``stop`` is set, every running scenario is
stopped and its faults reverted, no other one starts (each gets a ``stopped`` result), the pool's
stacks are stopped, and then — a second signal does not cut that short — the interrupt is re-raised.
:class:`Background` runs the same in a thread, for a caller with other work meanwhile
(``obs-tests check``).

Example::

    results = run_scenarios(scenarios, SharedStack(stack, concurrency=2, catalog=catalog))
    results = run_scenarios(scenarios, StackPool(lambda: EmbeddedStack(contract, time_scale=0.01), stacks=2))
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import partial

from obs_tests.core.interrupts import JOIN_SLICE, WorkThread, join_held, run_threads
from obs_tests.scenarios.load_turns import LoadTurns
from obs_tests.scenarios.model import Catalog, Scenario
from obs_tests.scenarios.results import ScenarioResult
from obs_tests.scenarios.runner import ScenarioRunner
from obs_tests.scenarios.standalone import RunOutput
from obs_tests.scenarios.waves import Wave, plan_waves
from obs_tests.stack.protocol import Stack

__all__ = [
    "Background",
    "Lanes",
    "LentStack",
    "SharedStack",
    "StackPool",
    "run_scenarios",
]

#: ``log(scenario name, level, message)``
LogFn = Callable[[str, str, str], None]
#: a new stack: a context manager that starts it on enter and stops it on exit
StackFactory = Callable[[], AbstractContextManager[Stack]]
#: wraps one scenario's run, in its lane's thread
Around = Callable[[ScenarioRunner], AbstractContextManager[object]]


@dataclass(frozen=True)
class SharedStack:
    """Every scenario on one running ``stack``, up to ``concurrency`` at once (``catalog``: the alerts
    the conflict rules read, needed above 1); ``name`` is the lane of a scenario that runs alone."""

    stack: Stack
    concurrency: int = 1
    catalog: Catalog | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if self.concurrency > 1 and self.catalog is None:
            raise ValueError("concurrency above 1 needs the catalog: the conflict rules read its alerts")


class LentStack:
    """A running stack the caller lends a :class:`StackPool` once its own work on it is done
    (:meth:`lend`): from then on it takes waiting scenarios too, in one more lane (it is not stopped
    by the pool). Until then that lane waits — until no scenario is left to take, the run stops, or
    the caller says it keeps the stack (:meth:`keep`; :meth:`Background.wait` does)."""

    def __init__(self) -> None:
        self.stack: Stack | None = None
        self._decided = threading.Event()

    def lend(self, stack: Stack) -> None:
        """Lend ``stack`` from now on (only the first :meth:`lend` or :meth:`keep` counts)."""
        if not self._decided.is_set():
            self.stack = stack
            self._decided.set()

    def keep(self) -> None:
        """The stack will not be lent: its lane ends, if it was not lent before."""
        self._decided.set()

    def decided(self, timeout: float) -> bool:
        """Whether :meth:`lend` or :meth:`keep` was called, waiting up to ``timeout`` seconds for it."""
        return self._decided.wait(timeout)


@dataclass(frozen=True)
class StackPool:
    """Up to ``stacks`` stacks at once, a scenario at a time each: ``first`` (a running stack of the
    caller's) counts as one of them, the others come from ``make_stack``; a ``lent`` stack is one more."""

    make_stack: StackFactory
    stacks: int
    first: Stack | None = None
    lent: LentStack | None = None
    #: at most this many scenarios that drive Locust load (:attr:`Scenario.drives_load`) at once, across
    #: the stacks (default: one per CPU core; None: no limit): they are what loads the CPU, and the stretch
    #: they cause one another on a small machine would eat into every bound. They start first, being the
    #: longest; a free stack takes a scenario without load while the limit is reached.
    max_loading: int | None = field(default_factory=lambda: os.cpu_count() or 1)
    #: the turns of :attr:`max_loading`, which the caller's own load checks take too (:meth:`Background.load_turn`)
    turns: LoadTurns = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.stacks < 1:
            raise ValueError("stacks must be >= 1")
        if self.max_loading is not None and self.max_loading < 1:
            raise ValueError("max_loading must be >= 1")
        object.__setattr__(self, "turns", LoadTurns(self.max_loading))


Lanes = SharedStack | StackPool


def run_scenarios(
    scenarios: Sequence[Scenario],
    lanes: Lanes,
    *,
    on_result: Callable[[ScenarioResult], None] | None = None,
    log: LogFn | None = None,
    stop: threading.Event | None = None,
    around: Around | None = None,
    on_lane: Callable[[str], None] | None = None,
    output: RunOutput | None = None,
) -> list[ScenarioResult]:
    """Run ``scenarios`` in ``lanes`` (see the module docstring); their results, in their order
    (``output``: where trading-bot scenarios write recordings and reports, and whether runners log every
    bus event).

    ``stop`` (set by the caller, or here when a lane fails or a signal arrives) stops every scenario.
    A lane's unexpected error is raised once every lane ended; when no stack of a pool started, the
    first start error is.
    """
    run = _Run(scenarios, on_result=on_result, log=log, stop=stop, around=around, on_lane=on_lane)
    run.output = output or RunOutput()
    threads = [
        WorkThread(target=run.guarded(work), name=f"scenarios-{lane.replace(' ', '-')}")
        for lane, work in run.lanes(lanes)
    ]
    run_threads(threads, run.stop.set)
    return run.collect()


class Background:
    """:func:`run_scenarios` in a thread of its own, for a caller with other work meanwhile:
    :meth:`start` returns at once, :meth:`wait` collects the results (interruptible like
    :func:`run_scenarios`), :meth:`close` stops whatever still runs and waits until every fault is
    reverted and every stack the pool made is stopped — call it on every exit path::

        lent = LentStack()
        scenarios = Background(selected, StackPool(make, stacks=2, lent=lent))
        scenarios.start()
        try:
            ...                # other checks, on the caller's stack
            lent.lend(stack)   # done with it: it takes waiting scenarios too
            results = scenarios.wait()
        finally:
            scenarios.close()
    """

    def __init__(
        self,
        scenarios: Sequence[Scenario],
        lanes: Lanes,
        *,
        log: LogFn | None = None,
        on_lane: Callable[[str], None] | None = None,
        output: RunOutput | None = None,
    ) -> None:
        self.scenarios = list(scenarios)
        self.lanes = lanes
        self.output = output
        self.stop = threading.Event()
        self.done: list[ScenarioResult] = []
        self._results: list[ScenarioResult] = []
        self._errors: list[BaseException] = []
        self._thread = WorkThread(target=partial(self._run, log, on_lane), name="scenarios-background")

    @property
    def finished(self) -> int:
        """How many scenarios have a result so far."""
        return len(self.done)

    def start(self) -> None:
        """Start the scenarios (and a pool's stacks) in the background; returns at once."""
        self._thread.start()

    def wait(self) -> list[ScenarioResult]:
        """Wait for every scenario — a lent stack not lent by now will not be — and return the results
        in the scenarios' order. SIGINT/SIGTERM stop them, revert their faults and are re-raised."""
        if isinstance(self.lanes, StackPool) and self.lanes.lent is not None:
            self.lanes.lent.keep()
        run_threads([self._thread], self.stop.set, start=False)
        if self._errors:
            raise self._errors[0]
        return self._results

    def load_turn(self, timeout: float) -> AbstractContextManager[bool]:
        """For the caller's own load beside the scenarios: a turn of the pool's ``max_loading`` for the
        block (see :mod:`~obs_tests.scenarios.load_turns`); no wait for shared lanes."""
        if isinstance(self.lanes, StackPool):
            return self.lanes.turns.held(self.stop, timeout=timeout)
        return contextlib.nullcontext(True)

    def close(self) -> None:
        """Stop what still runs and wait until every fault is reverted and every stack stopped."""
        if self._thread.ident is not None and not self._thread.finished.is_set():
            self.stop.set()
        join_held([self._thread])

    def _run(self, log: LogFn | None, on_lane: Callable[[str], None] | None) -> None:
        try:
            self._results = run_scenarios(
                self.scenarios,
                self.lanes,
                on_result=self.done.append,
                log=log,
                stop=self.stop,
                on_lane=on_lane,
                output=self.output,
            )
        except BaseException as exc:  # noqa: BLE001 - raised by wait(), in the caller's thread
            self._errors.append(exc)


def _tag_log(log: LogFn | None, name: str) -> Callable[[str, str], None] | None:
    """``log(name, level, message)`` as the ``log(level, message)`` a runner of scenario ``name`` takes."""
    if log is None:
        return None

    def tagged(level: str, message: str) -> None:
        log(name, level, message)

    return tagged


class _Run:
    """One call of :func:`run_scenarios`: the scenarios still waiting, the results, what went wrong."""

    def __init__(
        self,
        scenarios: Sequence[Scenario],
        *,
        on_result: Callable[[ScenarioResult], None] | None,
        log: LogFn | None,
        stop: threading.Event | None,
        around: Around | None,
        on_lane: Callable[[str], None] | None,
    ) -> None:
        self.scenarios = list(scenarios)
        self.stop = stop or threading.Event()
        self._pending = list(scenarios)
        self._results: dict[str, ScenarioResult] = {}
        self._errors: list[BaseException] = []
        self._start_errors: list[BaseException] = []
        self._started = False  # a lane has a stack
        self._lock = threading.Lock()
        self._turns = LoadTurns(None)  # scenarios driving load take one (a pool's, with its limit)
        self._on_result = on_result
        self._log = log
        self._around = around
        self._on_lane = on_lane
        self.output = RunOutput()

    def lanes(self, lanes: Lanes) -> list[tuple[str, Callable[[], None]]]:
        """Each lane's name and its work, to run in a thread of its own."""
        if isinstance(lanes, SharedStack):
            return [(lanes.name or "shared stack", partial(self._shared, lanes))]
        self._turns = lanes.turns
        if lanes.max_loading is not None:
            self._pending.sort(key=lambda s: not s.drives_load)  # stable: the longest first
        own = min(lanes.stacks, max(len(self.scenarios), 1))
        work: list[tuple[str, Callable[[], None]]] = []
        for number in range(1, own + 1):
            lane = f"stack {number}"
            if number == 1 and lanes.first is not None:
                work.append((lane, partial(self._given, lanes.first, lane)))
            else:
                work.append((lane, partial(self._made, lanes.make_stack, lane)))
        if lanes.lent is not None:
            lane = f"stack {own + 1} (lent)"
            work.append((lane, partial(self._lent, lanes.lent, lane)))
        return work

    def guarded(self, work: Callable[[], None]) -> Callable[[], None]:
        """``work`` for a thread: an error is kept for :meth:`collect` and stops every lane."""

        def run() -> None:
            try:
                work()
            except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
                self._errors.append(exc)
                self.stop.set()

        return run

    def collect(self) -> list[ScenarioResult]:
        """The results in the scenarios' order (``stopped`` for those that never started)."""
        if self._errors:
            raise self._errors[0]
        if not self._started and self._start_errors:
            raise self._start_errors[0]
        missing = [s.name for s in self.scenarios if s.name not in self._results]
        if missing and not self.stop.is_set():  # every lane ended early: not silently dropped
            raise RuntimeError(f"scenarios not run: {', '.join(missing)}")
        return [self._results.get(s.name) or _not_started(s) for s in self.scenarios]

    # -- one stack -----------------------------------------------------------------------------
    def _shared(self, shared: SharedStack) -> None:
        self._started = True
        if shared.concurrency == 1 or shared.catalog is None:
            waves = [Wave([scenario]) for scenario in self.scenarios]
        else:
            waves = plan_waves(self.scenarios, shared.catalog, shared.concurrency)
        for wave in waves:
            if self.stop.is_set():
                return
            if len(wave.scenarios) == 1:
                lane = "slot 1" if shared.concurrency > 1 else shared.name
                self._play(self._runner(wave.scenarios[0], shared.stack, lane))
            else:
                self._wave(wave, shared.stack)

    def _wave(self, wave: Wave, stack: Stack) -> None:
        """The scenarios of ``wave`` at the same time on ``stack``, healed and settled once for all."""
        self._say(f"concurrently: {wave.describe()}")
        runners = [
            self._runner(scenario, stack, f"slot {slot}", prepared=True)
            for slot, scenario in enumerate(wave.scenarios, start=1)
        ]
        runners[0].prepare()
        threads = [
            WorkThread(target=self.guarded(partial(self._play, r)), name=f"scenario-{r.scenario.name}") for r in runners
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # -- a pool of stacks ----------------------------------------------------------------------
    def _given(self, stack: Stack, lane: str) -> None:
        self._started = True
        self._take(stack, lane)

    def _made(self, make_stack: StackFactory, lane: str) -> None:
        if self.stop.is_set():
            return
        try:
            manager = make_stack()
            stack = manager.__enter__()
        except Exception as exc:  # noqa: BLE001 - reported; the other stacks take over
            self._start_errors.append(exc)
            self._say(f"{lane} did not start: {exc}")
            return
        self._started = True
        self._say(f"{lane} up")
        try:
            self._take(stack, lane)
        finally:
            manager.__exit__(None, None, None)
            self._say(f"{lane} down")

    def _lent(self, lent: LentStack, lane: str) -> None:
        while not lent.decided(0.1):
            if self.stop.is_set() or not self._waiting():
                return
        if lent.stack is None or not self._waiting():
            return
        self._started = True
        self._say(f"{lane} takes scenarios")
        self._take(lent.stack, lane)

    def _take(self, stack: Stack, lane: str) -> None:
        """Run waiting scenarios on ``stack``, one at a time, until none is left."""
        while (scenario := self._next()) is not None:
            try:
                self._play(self._runner(scenario, stack, lane))
            finally:
                if scenario.drives_load:
                    self._turns.give_back()

    def _waiting(self) -> bool:
        with self._lock:
            return bool(self._pending) and not self.stop.is_set()

    def _next(self) -> Scenario | None:
        """The first waiting scenario this lane may start now — one driving load only below the pool's
        ``max_loading`` (else waits until a turn came back); None when none is left."""
        turns = self._turns
        with turns.changed:
            while self._waiting():
                free = turns.free()
                with self._lock:
                    scenario = next((s for s in self._pending if free or not s.drives_load), None)
                    if scenario is not None:
                        self._pending.remove(scenario)
                if scenario is not None:
                    if scenario.drives_load:
                        turns.take()
                    return scenario
                turns.changed.wait(JOIN_SLICE)  # bounded: a stop is seen at once too
            return None

    # -- one scenario --------------------------------------------------------------------------
    def _runner(self, scenario: Scenario, stack: Stack, lane: str, *, prepared: bool = False) -> ScenarioRunner:
        return ScenarioRunner(
            scenario,
            stack=stack,
            log=_tag_log(self._log, scenario.name),
            stop=self.stop,
            prepared=prepared,
            lane=lane,
            output_dir=self.output.directory,
            verbose=self.output.verbose,
        )

    def _play(self, runner: ScenarioRunner) -> None:
        with self._around(runner) if self._around is not None else contextlib.nullcontext():
            result = runner.run()
        self._results[runner.scenario.name] = result
        if self._on_result is not None:
            self._on_result(result)

    def _say(self, message: str) -> None:
        if self._on_lane is not None:
            self._on_lane(message)


def _not_started(scenario: Scenario) -> ScenarioResult:
    now = time.time()
    return ScenarioResult(
        scenario.name,
        str(scenario.path),
        scenario.description,
        status="stopped",
        type=scenario.type,
        began_at=now,
        started_at=now,
        finished_at=now,
        error="stopped before it started (no fault applied)",
    )
