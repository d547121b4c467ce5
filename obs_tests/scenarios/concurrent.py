"""Run independent scenarios at the same time on one stack.

Which scenarios may share it, and in which waves: :mod:`obs_tests.scenarios.waves`.
:func:`run_concurrently` runs the waves one after another: the stack is healed and settled once
before each wave, then every scenario of the wave runs in its own thread (its result's ``lane``:
``slot 1``, ``slot 2``, … — its place in the wave). On SIGINT/SIGTERM every
running scenario is stopped, its faults reverted, and the interrupt re-raised.

Example::

    results = run_concurrently(scenarios, stack, catalog, max_concurrent=2)
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Sequence

from obs_tests.core.interrupts import raise_interrupt
from obs_tests.scenarios.model import Catalog, Scenario
from obs_tests.scenarios.results import ScenarioResult
from obs_tests.scenarios.runner import ScenarioRunner
from obs_tests.scenarios.waves import Wave, plan_waves

__all__ = [
    "join_ignoring_signals",
    "run_concurrently",
    "run_threads",
    "tag_log",
]

LogFn = Callable[[str, str], None]


def tag_log(log: Callable[[str, str, str], None] | None, name: str) -> LogFn | None:
    """``log(name, level, message)`` as the ``log(level, message)`` a runner of scenario ``name`` takes."""
    if log is None:
        return None

    def tagged(level: str, message: str) -> None:
        log(name, level, message)

    return tagged


def run_concurrently(
    scenarios: Sequence[Scenario],
    stack: object,
    catalog: Catalog,
    *,
    max_concurrent: int = 2,
    log: Callable[[str, str, str], None] | None = None,
    on_wave: Callable[[Wave], None] | None = None,
) -> list[ScenarioResult]:
    """Run ``scenarios`` wave by wave (see :func:`plan_waves`); results in the scenarios' order.

    ``log(scenario_name, level, message)`` receives every runner's log lines; ``on_wave(wave)`` is
    called before each wave of more than one scenario starts.
    """
    results: dict[str, ScenarioResult] = {}
    for wave in plan_waves(scenarios, catalog, max_concurrent):
        runners = [
            ScenarioRunner(
                s,
                stack=stack,
                log=tag_log(log, s.name),
                prepared=len(wave.scenarios) > 1,
                lane=f"slot {slot + 1}",
            )
            for slot, s in enumerate(wave.scenarios)
        ]
        if len(runners) == 1:
            results[runners[0].scenario.name] = runners[0].run()
            continue
        if on_wave is not None:
            on_wave(wave)
        runners[0].prepare()
        _run_wave(runners, results)
    return [results[s.name] for s in scenarios]


def _run_wave(runners: list[ScenarioRunner], results: dict[str, ScenarioResult]) -> None:
    errors: list[BaseException] = []

    def work(runner: ScenarioRunner) -> None:
        try:
            results[runner.scenario.name] = runner.run()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            errors.append(exc)
            for other in runners:
                other.stop()

    def stop_all() -> None:
        for runner in runners:
            runner.stop()

    run_threads(
        [threading.Thread(target=work, args=(r,), name=f"scenario-{r.scenario.name}") for r in runners], stop_all
    )
    if errors:
        raise errors[0]


def run_threads(threads: Sequence[threading.Thread], on_interrupt: Callable[[], None], *, start: bool = True) -> None:
    """Start ``threads`` (unless ``start=False``: already started) and wait for all of them. SIGINT/SIGTERM
    (in the main thread) call ``on_interrupt`` — which stops the scenario runners; each reverts its own
    faults — then wait, ignoring further signals, until every thread has finished that, and re-raise the
    interrupt."""
    old = {}
    main = threading.current_thread() is threading.main_thread()
    if main:
        old = {sig: signal.signal(sig, raise_interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if start:
            for thread in threads:
                thread.start()
        for thread in threads:
            thread.join()
    except KeyboardInterrupt:
        on_interrupt()
        join_ignoring_signals(threads)
        raise
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def join_ignoring_signals(threads: Sequence[threading.Thread]) -> None:
    """Wait for ``threads`` (told to stop) to finish, with SIGINT/SIGTERM ignored meanwhile in the main
    thread — a second Ctrl-C must not cut a fault revert short; the handlers are put back after."""
    main = threading.current_thread() is threading.main_thread()
    old = {}
    if main:
        old = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for thread in threads:
            if thread.ident is not None:
                thread.join()
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
