"""Run scenarios on several embedded stacks at once: each stack runs one scenario at a time, so every
scenario keeps a whole stack (its own Prometheus, Alertmanager, sink and services) to itself — nothing
one scenario does can be seen by another, unlike :mod:`obs_tests.scenarios.concurrent`, where
independent scenarios share one stack.

Every stack takes the next scenario of the list as soon as it is free. Stacks of the pool are started
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

from obs_tests.scenarios.concurrent import run_threads, tag_log
from obs_tests.scenarios.model import Scenario
from obs_tests.scenarios.runner import ScenarioResult, ScenarioRunner

__all__ = ["run_on_stacks"]

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
    if stacks < 1:
        raise ValueError("stacks must be >= 1")
    pending = list(scenarios)
    results: dict[str, ScenarioResult] = {}
    errors: list[BaseException] = []
    start_errors: list[BaseException] = []
    started: list[int] = []
    runners: list[ScenarioRunner] = []
    lock = threading.Lock()
    stopping = threading.Event()

    def next_scenario() -> Scenario | None:
        with lock:
            return pending.pop(0) if pending and not stopping.is_set() else None

    def tell(index: int, message: str) -> None:
        if on_stack is not None:
            on_stack(index, message)

    def work_on(index: int, stack: object) -> None:
        while (scenario := next_scenario()) is not None:
            runner = ScenarioRunner(scenario, stack=stack, log=tag_log(log, scenario.name))
            with lock:
                runners.append(runner)
            if stopping.is_set():
                runner.stop()
            results[scenario.name] = runner.run()

    def work(index: int) -> None:
        try:
            if index == 0 and first is not None:
                with lock:
                    started.append(index)
                work_on(index, first)
                return
            try:
                manager = make_stack()
                stack = manager.__enter__()
            except Exception as exc:  # noqa: BLE001 - reported; the other stacks take over
                start_errors.append(exc)
                tell(index, f"stack {index + 1} did not start: {exc}")
                return
            with lock:
                started.append(index)
            tell(index, f"stack {index + 1} up")
            try:
                work_on(index, stack)
            finally:
                manager.__exit__(None, None, None)
                tell(index, f"stack {index + 1} down")
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            errors.append(exc)
            stop_all()

    def stop_all() -> None:
        stopping.set()
        with lock:
            for runner in runners:
                runner.stop()

    count = min(stacks, max(len(pending), 1))
    # On an interrupt each runner reverts its own faults and each thread stops its stack.
    run_threads(
        [threading.Thread(target=work, args=(i,), name=f"scenario-stack-{i + 1}") for i in range(count)], stop_all
    )
    if errors:
        raise errors[0]
    if not started and start_errors:
        raise start_errors[0]
    missing = [s.name for s in scenarios if s.name not in results]
    if missing:  # every started stack failed mid-way: not silently dropped
        raise RuntimeError(f"scenarios not run: {', '.join(missing)}")
    return [results[s.name] for s in scenarios]
