"""run_scenarios over fake runners and stacks: which lane runs what and names it in the result, waves on
one stack, a pool of stacks with a given and a lent one, stopping, interrupts and errors. Real stacks:
tests/integration/test_concurrent_scenarios.py and test_scenario_stacks.py."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from obs_tests.config.contract import load_contract
from obs_tests.core.interrupts import forget_signals
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.scenarios import lanes
from obs_tests.scenarios.lanes import Background, LentStack, SharedStack, StackPool, run_scenarios
from obs_tests.scenarios.model import Catalog, Scenario, load_scenarios
from obs_tests.scenarios.results import ScenarioResult
from obs_tests.scenarios.standalone import RunOutput

ROOT = Path(__file__).resolve().parents[2]


class FakeRunner:
    """Stands in for ScenarioRunner: remembers how it was made; ``behave(runner)`` is what ``run()``
    does and returns the status (default: passed at once)."""

    made: ClassVar[list[FakeRunner]] = []
    behave: Callable[[FakeRunner], str] = staticmethod(lambda runner: "passed")

    def __init__(
        self,
        scenario: Any,
        *,
        stack: Any,
        log: Callable[[str, str], None] | None,
        stop: threading.Event,
        prepared: bool = False,
        lane: str = "",
        output_dir: Path | None = None,
        verbose: bool = False,
    ) -> None:
        self.output = (output_dir, verbose)
        self.scenario = scenario
        self.stack = stack
        self.log = log
        self.stop_event = stop
        self.prepared = prepared
        self.prepared_here = False
        self.result = ScenarioResult(scenario.name, "", "", lane=lane)
        self.made.append(self)

    def prepare(self) -> None:
        self.prepared_here = True

    def run(self) -> ScenarioResult:
        if self.log is not None:
            self.log("INFO", f"on {self.stack.name}")
        self.result.status = type(self).behave(self)
        return self.result

    def stop(self) -> None:
        self.stop_event.set()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> type[FakeRunner]:
    runner = type("Runner", (FakeRunner,), {"made": []})
    monkeypatch.setattr(lanes, "ScenarioRunner", runner)
    return runner


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_contract(load_contract(ROOT / "obs.yaml"))


@pytest.fixture(scope="module")
def shipped(catalog: Catalog) -> dict[str, Scenario]:
    return {s.name: s for s in load_scenarios(ROOT / "scenarios", catalog)}


def _scenarios(count: int, loading: tuple[int, ...] = ()) -> list[Any]:
    """``count`` fake scenarios ``s0``, ``s1``, …; those numbered in ``loading`` drive load."""
    return [
        SimpleNamespace(name=f"s{i}", path=Path(f"s{i}.yaml"), description="", type="chaos", drives_load=i in loading)
        for i in range(count)
    ]


class Stacks:
    """A stack factory for a pool: each stack made is a context manager named ``made-N`` that records
    when it is started and stopped; ``fail`` makes every start fail."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.events: list[str] = []
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        with self._lock:
            name = f"made-{sum(e.endswith(' made') for e in self.events) + 1}"
            self.events.append(f"{name} made")

        @contextmanager
        def stack() -> Iterator[Any]:
            if self.fail:
                raise OSError(f"{name}: no free port")
            self.events.append(f"{name} up")
            try:
                yield SimpleNamespace(name=name)
            finally:
                self.events.append(f"{name} down")

        return stack()


def _meet(barrier: threading.Barrier) -> Callable[[FakeRunner], str]:
    """Runs that pass once ``barrier.parties`` of them run at the same time (so that every lane runs one)."""

    def run(runner: FakeRunner) -> str:
        barrier.wait()
        return "passed"

    return run


def _wait_for_stop(runner: FakeRunner) -> str:
    assert runner.stop_event.wait(10), "never told to stop"
    return "stopped"


def test_one_stack_runs_one_after_another_in_the_lane_it_names(fake: type[FakeRunner]) -> None:
    scenarios = _scenarios(3)
    seen: list[str] = []
    lines: list[tuple[str, str, str]] = []

    @contextmanager
    def around(runner: Any) -> Iterator[None]:
        seen.append(f"start {runner.scenario.name}")
        yield
        seen.append(f"end {runner.scenario.name} {runner.result.status}")

    results = run_scenarios(
        scenarios,
        SharedStack(SimpleNamespace(name="session"), name="session stack"),
        on_result=lambda r: seen.append(f"result {r.scenario}"),
        around=around,
        log=lambda *line: lines.append(line),
    )
    assert [(r.scenario, r.lane, r.status) for r in results] == [(f"s{i}", "session stack", "passed") for i in range(3)]
    assert seen[:3] == ["start s0", "end s0 passed", "result s0"]
    assert len(seen) == 9
    assert lines == [(f"s{i}", "INFO", "on session") for i in range(3)]
    assert not any(r.prepared for r in fake.made)  # each heals and settles the stack itself


def test_scenarios_of_a_wave_run_in_slots_named_in_their_results(
    fake: type[FakeRunner], shipped: dict[str, Scenario], catalog: Catalog
) -> None:
    wave = [shipped["orchestrator-down"], shipped["exchange-feed-failing"]]
    said: list[str] = []
    results = run_scenarios(
        [*wave, shipped["steady-state"]],
        SharedStack(SimpleNamespace(name="one"), concurrency=2, catalog=catalog),
        on_lane=said.append,
    )
    assert [(r.scenario, r.lane) for r in results] == [
        ("orchestrator-down", "slot 1"),
        ("exchange-feed-failing", "slot 2"),
        ("steady-state", "slot 1"),
    ]
    assert said == ["concurrently: orchestrator-down + exchange-feed-failing"]
    first, second, alone = fake.made
    assert first.prepared and second.prepared and not alone.prepared  # the wave is settled once, by its first
    assert first.prepared_here and not second.prepared_here


def test_sharing_a_stack_concurrently_needs_the_catalog() -> None:
    with pytest.raises(ValueError, match="needs the catalog"):
        SharedStack(object(), concurrency=2)
    with pytest.raises(ValueError, match="stacks must be >= 1"):
        StackPool(Stacks(), stacks=0)


def test_every_result_names_the_stack_that_ran_it(fake: type[FakeRunner]) -> None:
    fake.behave = staticmethod(_meet(threading.Barrier(3, timeout=10)))
    stacks = Stacks()
    said: list[str] = []
    scenarios = _scenarios(3)
    results = run_scenarios(
        scenarios, StackPool(stacks, stacks=3, first=SimpleNamespace(name="given")), on_lane=said.append
    )
    assert [r.scenario for r in results] == ["s0", "s1", "s2"]
    ran_on = {r.lane: runner.stack.name for r in results for runner in fake.made if runner.result is r}
    assert ran_on == {"stack 1": "given", "stack 2": ran_on["stack 2"], "stack 3": ran_on["stack 3"]}
    assert sorted(ran_on.values()) == ["given", "made-1", "made-2"]  # one lane, one stack
    assert sorted(said) == ["stack 2 down", "stack 2 up", "stack 3 down", "stack 3 up"]
    assert stacks.events.count("made-1 down") == 1 and stacks.events.count("made-2 down") == 1


class Overlap:
    """``behave`` for runs that each take a moment and note which ran at the same time as another."""

    def __init__(self) -> None:
        self.running: set[str] = set()
        self.together: list[set[str]] = []
        self.order: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, runner: FakeRunner) -> str:
        name = runner.scenario.name
        with self._lock:
            self.order.append(name)
            self.running.add(name)
            self.together.append(set(self.running))
        threading.Event().wait(0.05)  # a run that lasts: the lanes overlap
        with self._lock:
            self.running.discard(name)
        return "passed"


def test_a_pool_runs_at_most_max_loading_loaded_scenarios_at_once_and_fills_stacks_with_others(
    fake: type[FakeRunner],
) -> None:
    overlap = Overlap()
    fake.behave = staticmethod(overlap)
    loading = (1, 3, 5)
    results = run_scenarios(_scenarios(6, loading), StackPool(Stacks(), stacks=3, max_loading=1))
    assert [r.status for r in results] == ["passed"] * 6
    loaded = {f"s{i}" for i in loading}
    assert max(len(group & loaded) for group in overlap.together) == 1  # never two at once
    assert max(len(group) for group in overlap.together) >= 2  # but the other stacks were busy meanwhile
    assert overlap.order[0] in loaded  # the loaded ones, the longest, start first


def test_without_a_limit_loaded_scenarios_run_together(fake: type[FakeRunner]) -> None:
    fake.behave = staticmethod(_meet(threading.Barrier(2, timeout=10)))  # both must run at once to pass
    results = run_scenarios(_scenarios(2, (0, 1)), StackPool(Stacks(), stacks=2, max_loading=None))
    assert [r.status for r in results] == ["passed", "passed"]


def test_a_run_stopped_while_a_lane_waits_for_the_load_limit_ends_that_lane(fake: type[FakeRunner]) -> None:
    stop = threading.Event()
    fake.behave = staticmethod(lambda runner: (stop.set(), _wait_for_stop(runner))[1])
    results = run_scenarios(_scenarios(2, (0, 1)), StackPool(Stacks(), stacks=2, max_loading=1), stop=stop)
    assert [r.status for r in results] == ["stopped", "stopped"]
    assert len(fake.made) == 1  # the second never started


def test_the_pool_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_loading"):
        StackPool(Stacks(), stacks=2, max_loading=0)


def test_a_lent_stack_takes_waiting_scenarios_in_one_more_lane(fake: type[FakeRunner]) -> None:
    fake.behave = staticmethod(_meet(threading.Barrier(2, timeout=10)))
    stacks = Stacks()
    lent = LentStack()
    lent.lend(SimpleNamespace(name="session"))
    said: list[str] = []
    results = run_scenarios(_scenarios(2), StackPool(stacks, stacks=1, lent=lent), on_lane=said.append)
    ran_on = {r.lane: runner.stack.name for r in results for runner in fake.made if runner.result is r}
    assert ran_on == {"stack 1": "made-1", "stack 2 (lent)": "session"}
    assert "stack 2 (lent) takes scenarios" in said
    assert stacks.events == ["made-1 made", "made-1 up", "made-1 down"]  # the lent stack is not stopped here


def test_a_stack_never_lent_runs_nothing_and_waiting_ends_its_lane(fake: type[FakeRunner]) -> None:
    stacks = Stacks()
    background = Background(_scenarios(2), StackPool(stacks, stacks=1, lent=LentStack()))
    background.start()
    try:
        results = background.wait()  # the stack will not be lent now: the lane waits no longer
    finally:
        background.close()
    assert [(r.scenario, r.lane, r.status) for r in results] == [
        ("s0", "stack 1", "passed"),
        ("s1", "stack 1", "passed"),
    ]
    assert background.finished == 2


def test_stop_ends_the_running_scenario_and_starts_no_other(fake: type[FakeRunner]) -> None:
    stop = threading.Event()

    def first_waits(runner: FakeRunner) -> str:
        stop.set()  # the caller stops the run while s0 runs
        return _wait_for_stop(runner)

    fake.behave = staticmethod(first_waits)
    results = run_scenarios(_scenarios(3), SharedStack(SimpleNamespace(name="one")), stop=stop)
    assert [r.status for r in results] == ["stopped", "stopped", "stopped"]
    assert len(fake.made) == 1
    assert results[1].error == "stopped before it started (no fault applied)"
    assert results[1].duration == 0


def test_sigint_stops_every_lane_stops_the_pools_stacks_and_is_re_raised(fake: type[FakeRunner]) -> None:
    running = threading.Barrier(3, timeout=10)

    def wait_for_stop(runner: FakeRunner) -> str:
        running.wait()
        return _wait_for_stop(runner)

    fake.behave = staticmethod(wait_for_stop)
    stacks = Stacks()
    interrupter = threading.Thread(target=lambda: (running.wait(), os.kill(os.getpid(), signal.SIGINT)))
    interrupter.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_scenarios(_scenarios(2), StackPool(stacks, stacks=2))
    finally:
        interrupter.join()
        forget_signals()
    assert [(r.stop_event.is_set(), r.result.status) for r in fake.made] == [(True, "stopped")] * 2
    assert sorted(e for e in stacks.events if e.endswith("down")) == ["made-1 down", "made-2 down"]


def test_an_error_in_a_lane_stops_the_others_and_is_raised(fake: type[FakeRunner]) -> None:
    def one_breaks(runner: FakeRunner) -> str:
        if runner.scenario.name == "s0":
            raise RuntimeError("the runner broke")
        return _wait_for_stop(runner)

    fake.behave = staticmethod(one_breaks)
    with pytest.raises(RuntimeError, match="the runner broke"):
        run_scenarios(_scenarios(2), StackPool(Stacks(), stacks=2))


def test_a_pool_whose_stacks_all_fail_to_start_raises_the_first_start_error(fake: type[FakeRunner]) -> None:
    said: list[str] = []
    with pytest.raises(OSError, match="no free port"):
        run_scenarios(_scenarios(2), StackPool(Stacks(fail=True), stacks=2), on_lane=said.append)
    assert sorted(said) == [
        "stack 1 did not start: made-1: no free port",
        "stack 2 did not start: made-2: no free port",
    ] or sorted(said) == [  # which lane made which stack is a race
        "stack 1 did not start: made-2: no free port",
        "stack 2 did not start: made-1: no free port",
    ]
    assert not fake.made


def test_background_closed_midway_stops_and_waits_then_wait_returns_the_results(fake: type[FakeRunner]) -> None:
    started = threading.Event()

    def hold(runner: FakeRunner) -> str:
        started.set()
        return _wait_for_stop(runner)

    fake.behave = staticmethod(hold)
    stacks = Stacks()
    background = Background(_scenarios(3), StackPool(stacks, stacks=1))
    background.start()
    assert started.wait(10)
    background.close()
    assert stacks.events[-1] == "made-1 down"
    results = background.wait()
    assert [r.status for r in results] == ["stopped"] * 3
    assert background.finished == 1  # the other two never started


def test_every_runner_gets_where_to_write_and_whether_to_log_every_event(fake: type[FakeRunner]) -> None:
    made: list[FakeRunner] = []

    @contextmanager
    def around(runner: Any) -> Iterator[None]:
        made.append(runner)
        yield

    output = RunOutput(directory=Path("reports/scenarios"), verbose=True)
    run_scenarios(_scenarios(2), SharedStack(SimpleNamespace(name="s")), around=around, output=output)
    assert [r.output for r in made] == [(Path("reports/scenarios"), True)] * 2


def test_a_turn_the_caller_holds_keeps_the_pools_loaded_scenarios_waiting(fake: type[FakeRunner]) -> None:
    """`obs-tests check`'s own load checks take a turn of the pool's limit: while the caller holds the only
    one, the stacks take the scenarios without load; the loaded ones start once it is given back."""
    overlap = Overlap()
    fake.behave = staticmethod(overlap)
    background = Background(_scenarios(4, (0, 1)), StackPool(Stacks(), stacks=2, max_loading=1))
    try:
        with background.load_turn(timeout=10) as free:
            assert free
            background.start()
            wait_for(
                lambda: Poll(background.finished == 2, background.finished),
                timeout=10,
                expected="the 2 scenarios without load done",
            )
            assert sorted(overlap.order) == ["s2", "s3"]  # no loaded one started meanwhile
        results = background.wait()
    finally:
        background.close()
    assert [r.status for r in results] == ["passed"] * 4
    assert sorted(overlap.order[2:]) == ["s0", "s1"]
    assert max(len(group & {"s0", "s1"}) for group in overlap.together) == 1
