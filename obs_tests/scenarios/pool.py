"""Run scenarios on several embedded stacks at once: each stack runs one scenario at a time, so every
scenario keeps a whole stack (its own Prometheus, Alertmanager, sink and services) to itself — nothing
one scenario does can be seen by another, unlike :mod:`obs_tests.scenarios.concurrent`, where
independent scenarios share one stack.

Every stack takes the next scenario of the list as soon as it is free; each result names its stack
(``lane``: ``stack 1``, ``stack 2``, ``stack 3 (lent)``), for the reports' lane timeline. Stacks of the pool are started
and stopped by the thread that works on them; the caller may lend one it already runs (``first``).
On SIGINT/SIGTERM every running scenario is stopped, its faults reverted, the pool's stacks stopped,
and the interrupt re-raised.

Example::

    results = run_on_stacks(scenarios, lambda: EmbeddedStack(contract, time_scale=0.02), stacks=3)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from obs_tests.scenarios.concurrent import join_ignoring_signals, run_threads, tag_log
from obs_tests.scenarios.model import Scenario
from obs_tests.scenarios.results import ScenarioResult
from obs_tests.scenarios.runner import ScenarioRunner

__all__ = ["StackPool", "run_on_stacks"]

StackFactory = Callable[[], AbstractContextManager[Any]]


def run_on_stacks(
    scenarios: Sequence[Scenario],
    make_stack: StackFactory,
    *,
    stacks: int,
    first: object | None = None,
    log: Callable[[str, str, str], None] | None = None,
    on_stack: Callable[[int, str], None] | None = None,
) -> list[ScenarioResult]:
    """Run ``scenarios`` on up to ``stacks`` stacks in parallel; results in the scenarios' order.

    ``make_stack()`` returns a new stack (a context manager that starts it on enter); ``first``, if
    given, is a running stack used as one of the ``stacks``. ``log(scenario_name, level, message)``
    receives every runner's log lines; ``on_stack(index, message)`` is told when a stack starts, fails
    to start or stops. A stack that fails to start leaves its share to the others; when none starts,
    the first start error is raised.
    """
    pool = StackPool(scenarios, make_stack, stacks=stacks, first=first, log=log, on_stack=on_stack)
    return pool.run()


class StackPool:
    """:func:`run_on_stacks` in two halves, so the scenarios can run in the background while the caller
    does other work: :meth:`start` returns at once, :meth:`wait` collects the results (interruptible like
    :func:`run_on_stacks`), :meth:`close` stops whatever still runs — faults reverted, stacks stopped —
    and waits for it (on every exit path of the caller)::

        pool = StackPool(scenarios, make, stacks=2)
        pool.start()
        try:
            ...  # other checks, on another stack
            pool.lend(other_stack)  # done with it: it takes the scenarios still waiting, too
            results = pool.wait()
        finally:
            pool.close()
    """

    def __init__(
        self,
        scenarios: Sequence[Scenario],
        make_stack: StackFactory,
        *,
        stacks: int,
        first: object | None = None,
        log: Callable[[str, str, str], None] | None = None,
        on_stack: Callable[[int, str], None] | None = None,
    ) -> None:
        if stacks < 1:
            raise ValueError("stacks must be >= 1")
        self.scenarios = list(scenarios)
        self.make_stack = make_stack
        self.first = first
        self.log = log
        self.on_stack = on_stack
        self._pending = list(scenarios)
        self._results: dict[str, ScenarioResult] = {}
        self._errors: list[BaseException] = []
        self._start_errors: list[BaseException] = []
        self._started: list[int] = []
        self._lent_stacks: list[object] = []
        self._runners: list[ScenarioRunner] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        count = min(stacks, max(len(self._pending), 1))
        self._threads = [
            threading.Thread(target=self._work, args=(i,), name=f"scenario-stack-{i + 1}") for i in range(count)
        ]

    @property
    def finished(self) -> int:
        """How many scenarios have a result so far."""
        return len(self._results)

    def run(self) -> list[ScenarioResult]:
        """Start, wait for every scenario, return the results in the scenarios' order."""
        run_threads(self._threads, self.stop)
        return self._collect()

    def start(self) -> None:
        """Start the stacks and their scenarios in the background; returns at once."""
        for thread in self._threads:
            thread.start()

    def wait(self) -> list[ScenarioResult]:
        """Wait for every scenario (SIGINT/SIGTERM stop them, revert their faults, and are re-raised);
        the results in the scenarios' order."""
        run_threads(self._threads, self.stop, start=False)
        return self._collect()

    def lend(self, stack: object) -> bool:
        """Let a running stack of the caller's take scenarios too, from now on, until none is left (it is
        not stopped here). For a caller whose own work on ``stack`` is done while scenarios still wait:
        they then run in one more lane. False when nothing is left to take, the pool is stopping or the
        stack already is one of its lanes."""
        with self._lock:
            taken = stack is self.first or any(stack is lent for lent in self._lent_stacks)
            if not self._pending or self._stopping.is_set() or taken:
                return False
            self._lent_stacks.append(stack)
            index = len(self._threads)
            thread = threading.Thread(target=self._lent, args=(index, stack), name=f"scenario-stack-{index + 1}")
            self._threads.append(thread)
            self._started.append(index)
        thread.start()
        return True

    def stop(self) -> None:
        """Tell every running scenario to stop (each reverts its own faults) and start no other."""
        self._stopping.set()
        with self._lock:
            for runner in self._runners:
                runner.stop()

    def close(self) -> None:
        """Stop what still runs and wait until every fault is reverted and every stack stopped."""
        if any(thread.is_alive() for thread in self._threads):
            self.stop()
        join_ignoring_signals(self._threads)

    def _next_scenario(self) -> Scenario | None:
        with self._lock:
            return self._pending.pop(0) if self._pending and not self._stopping.is_set() else None

    def _tell(self, index: int, message: str) -> None:
        if self.on_stack is not None:
            self.on_stack(index, message)

    def _work_on(self, stack: object, lane: str) -> None:
        while (scenario := self._next_scenario()) is not None:
            runner = ScenarioRunner(scenario, stack=stack, log=tag_log(self.log, scenario.name), lane=lane)
            with self._lock:
                self._runners.append(runner)
            if self._stopping.is_set():
                runner.stop()
            self._results[scenario.name] = runner.run()

    def _lent(self, index: int, stack: object) -> None:
        try:
            self._tell(index, f"stack {index + 1} (lent) takes scenarios")
            self._work_on(stack, f"stack {index + 1} (lent)")
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            self._errors.append(exc)
            self.stop()

    def _work(self, index: int) -> None:
        try:
            if index == 0 and self.first is not None:
                with self._lock:
                    self._started.append(index)
                self._work_on(self.first, "stack 1")
                return
            if self._stopping.is_set():
                return
            try:
                manager = self.make_stack()
                stack = manager.__enter__()
            except Exception as exc:  # noqa: BLE001 - reported; the other stacks take over
                self._start_errors.append(exc)
                self._tell(index, f"stack {index + 1} did not start: {exc}")
                return
            with self._lock:
                self._started.append(index)
            self._tell(index, f"stack {index + 1} up")
            try:
                self._work_on(stack, f"stack {index + 1}")
            finally:
                manager.__exit__(None, None, None)
                self._tell(index, f"stack {index + 1} down")
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            self._errors.append(exc)
            self.stop()

    def _collect(self) -> list[ScenarioResult]:
        if self._errors:
            raise self._errors[0]
        if not self._started and self._start_errors:
            raise self._start_errors[0]
        missing = [s.name for s in self.scenarios if s.name not in self._results]
        if missing:  # every started stack failed mid-way: not silently dropped
            raise RuntimeError(f"scenarios not run: {', '.join(missing)}")
        return [self._results[s.name] for s in self.scenarios]
