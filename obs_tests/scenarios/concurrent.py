"""Run independent scenarios at the same time on one stack.

Two scenarios may share the stack when nothing one does can be seen by the other's checks:

- both declare ``components`` and they are disjoint (a market setup or fault counts as ``exchange``);
- neither touches what every alert depends on (Prometheus, Alertmanager, the webhook sink);
- neither is a steady-state scenario (those need the whole stack quiet);
- no alert that one must fire is one the other must keep silent (``must_not_fire: others`` silences
  every alert but its own, so such a scenario always runs alone);
- at most one drives load through the gateway (setup load, ``load`` steps or ``load`` faults), and the
  other then asserts no counter increase (its counts would include the load).

:func:`plan_waves` groups scenarios greedily, in their given order, into waves of compatible ones;
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
from dataclasses import dataclass

from obs_tests.core.interrupts import raise_interrupt
from obs_tests.scenarios.model import Catalog, Scenario
from obs_tests.scenarios.results import ScenarioResult
from obs_tests.scenarios.runner import ScenarioRunner

__all__ = [
    "SHARED_COMPONENTS",
    "Wave",
    "conflict",
    "join_ignoring_signals",
    "plan_waves",
    "run_concurrently",
    "run_threads",
    "tag_log",
]

SHARED_COMPONENTS = frozenset({"prometheus", "alertmanager", "webhook-sink"})

LogFn = Callable[[str, str], None]


@dataclass
class Wave:
    """Scenarios that run together."""

    scenarios: list[Scenario]

    def describe(self) -> str:
        """``a + b`` for the terminal."""
        return " + ".join(s.name for s in self.scenarios)


def _components(scenario: Scenario) -> set[str]:
    found = set(scenario.components)
    if scenario.market or any(c.spec.kind == "market" for c in scenario.chaos):
        found.add("exchange")
    found.update(c.spec.target for c in scenario.chaos if c.spec.target and c.spec.kind != "load")
    return found


def _drives_load(scenario: Scenario) -> bool:
    return (
        scenario.load is not None
        or any(step.kind == "load" for step in scenario.steps)
        or any(c.spec.kind == "load" for c in scenario.chaos)
    )


def _counts(scenario: Scenario) -> bool:
    return any("increase" in m for m in scenario.expect.metric)


def conflict(a: Scenario, b: Scenario, catalog: Catalog) -> str | None:
    """Why ``a`` and ``b`` must not run at the same time (None when they may)."""
    for one in (a, b):
        if one.type == "steady_state":
            return f"{one.name} is a steady-state scenario (it needs the whole stack quiet)"
        if not one.components:
            return f"{one.name} declares no components"
        shared = sorted(_components(one) & SHARED_COMPONENTS)
        if shared:
            return f"{one.name} acts on {', '.join(shared)}, which every alert depends on"
    both = sorted(_components(a) & _components(b))
    if both:
        return f"both act on {', '.join(both)}"
    for one, other in ((a, b), (b, a)):
        silent = set(other.silent_alerts(catalog))
        clash = sorted({m.alert for m in one.expect.must_fire} & silent)
        if clash:
            return f"{', '.join(clash)} must fire in {one.name} but stay silent in {other.name}"
    if _drives_load(a) and _drives_load(b):
        return "both drive load through the gateway"
    for one, other in ((a, b), (b, a)):
        if _drives_load(one) and _counts(other):
            return f"{other.name} asserts counter increases that {one.name}'s load would change"
    return None


def plan_waves(scenarios: Sequence[Scenario], catalog: Catalog, max_concurrent: int) -> list[Wave]:
    """Scenarios grouped, in order, into waves of at most ``max_concurrent`` pairwise-compatible ones."""
    waves: list[Wave] = []
    for scenario in scenarios:
        for wave in waves:
            if len(wave.scenarios) < max_concurrent and all(
                conflict(scenario, other, catalog) is None for other in wave.scenarios
            ):
                wave.scenarios.append(scenario)
                break
        else:
            waves.append(Wave([scenario]))
    return waves


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
