"""Scenarios on several embedded stacks at once: each has a whole stack, all are judged, faults are
reverted and every stack is stopped — also on SIGTERM."""

from __future__ import annotations

from pathlib import Path

import pytest

from obs_tests.core.waiting import Poll, wait_for
from obs_tests.scenarios.lanes import Background, LentStack, StackPool, run_scenarios
from obs_tests.scenarios.model import Catalog, load_scenario
from obs_tests.stack import EmbeddedStack
from obs_tests.stack.process import pid_alive

from .helpers import ROOT, assert_all_gone, identities, sigterm_after_two_pauses, write_paused_scenario

HOLD = """\
name: hold-orchestrator
components: [orchestrator]
chaos:
  - {name: pause-orchestrator, kind: pause, target: orchestrator, at: 0.2, duration: 12}
steps:
  - wait_for_time: 13
"""


class PausedPair:
    """Two scenarios that pause a component (orchestrator, exchange) until stopped, for a pool whose
    stacks ``make`` starts (kept in ``made``); :meth:`wait_applied` waits until both faults are applied."""

    def __init__(self, stack: EmbeddedStack, directory: Path) -> None:
        catalog = Catalog.from_contract(stack.contract, list(stack.components))
        self.stack = stack
        self.scenarios = [
            load_scenario(write_paused_scenario(directory, name, target), catalog)
            for name, target in (("pause-orchestrator", "orchestrator"), ("pause-exchange", "exchange"))
        ]
        self.made: list[EmbeddedStack] = []
        self.applied: set[str] = set()

    def make(self) -> EmbeddedStack:
        self.made.append(EmbeddedStack(self.stack.contract, time_scale=self.stack.time_scale, origin="scenario"))
        return self.made[-1]

    def log(self, name: str, _level: str, message: str) -> None:
        if message.startswith("fault applied"):
            self.applied.add(name)

    def wait_applied(self) -> None:
        names = {s.name for s in self.scenarios}
        wait_for(
            lambda: Poll(self.applied == names, sorted(self.applied)),
            timeout=90,
            expected=f"faults applied in {names}",
        )


def test_scenarios_run_in_parallel_each_on_its_own_stack(stack: EmbeddedStack, tmp_path: Path) -> None:
    catalog = Catalog.from_contract(stack.contract, list(stack.components))
    (tmp_path / "hold-orchestrator.yaml").write_text(HOLD)
    # The lent stack takes the long one first; the second stack, once up, takes the next: both kill a
    # component and keep every other alert silent, so on one stack they could not overlap.
    scenarios = [
        load_scenario(tmp_path / "hold-orchestrator.yaml", catalog),
        load_scenario(ROOT / "scenarios" / "exchange-down.yaml", catalog),
        load_scenario(ROOT / "scenarios" / "redis-down.yaml", catalog),
    ]
    messages: list[str] = []
    logged: set[str] = set()
    extra: list[EmbeddedStack] = []

    def make() -> EmbeddedStack:
        new = EmbeddedStack(stack.contract, time_scale=stack.time_scale, origin="scenario")
        extra.append(new)
        return new

    hold, down, redis = run_scenarios(
        scenarios,
        StackPool(make, stacks=2, first=stack, max_loading=None),  # in the given order (redis-down drives load)
        log=lambda name, _level, _message: logged.add(name),
        on_lane=messages.append,
    )
    for result in (hold, down, redis):
        assert result.passed, [a for a in result.assertions if not a.passed]
    # the hold and the exchange outage overlapped in time, on two different stacks
    assert down.started_at < hold.started_at + hold.duration
    assert messages == ["stack 2 up", "stack 2 down"]
    assert hold.lane == "stack 1" and {down.lane, redis.lane} <= {"stack 1", "stack 2"}
    assert logged == {"hold-orchestrator", "exchange-down", "redis-down"}
    (second,) = extra
    assert not any(p.running() for p in second.processes.values())  # the pool's stack was stopped
    assert all(p.running() and not p.paused for p in stack.processes.values())


@pytest.mark.parametrize(
    ("lanes", "stacks", "said"),
    [
        pytest.param(("--concurrency", "2"), 1, "concurrently: pause-orchestrator + pause-exchange", id="one-stack"),
        pytest.param(("--stacks", "2"), 2, "on 2 embedded stacks", id="two-stacks"),
    ],
)
def test_sigterm_stops_every_scenario_reverts_both_pauses_and_leaks_nothing(
    tmp_path: Path, lanes: tuple[str, ...], stacks: int, said: str
) -> None:
    """Two scenarios pause a component each, at once on one stack or each on a stack of its own; SIGTERM
    reverts both pauses and every stack goes down clean."""
    output, status, records = sigterm_after_two_pauses(tmp_path, *lanes)
    assert len(records) == stacks, output
    assert said in output, output
    assert "fault reverted: pause-orchestrator" in output, output
    assert "fault reverted: pause-exchange" in output, output
    assert status != 0, output
    assert_all_gone([i for r in records for i in identities(r)], timeout=20)


def test_background_pool_closed_midway_reverts_and_stops_its_stacks(stack: EmbeddedStack, tmp_path: Path) -> None:
    """As `obs-tests check` uses it: the pool runs on stacks of its own while the caller works on its
    stack; closing it mid-scenario (the session ending early) reverts both pauses and stops both stacks."""
    paused = PausedPair(stack, tmp_path)
    scenarios, made = paused.scenarios, paused.made
    pool = Background(scenarios, StackPool(paused.make, stacks=2), log=paused.log)
    pool.start()
    try:
        paused.wait_applied()
        # the caller's stack is untouched: nothing of it paused, the pool's components are others
        assert all(p.running() and not p.paused for p in stack.processes.values())
        assert len(made) == 2
        paused = {name for s in made for name, p in s.processes.items() if p.paused}
        assert paused == {"orchestrator", "exchange"}
        pids = [p.pid for s in made for p in s.processes.values()]
    finally:
        pool.close()
    assert not any(p.running() for s in made for p in s.processes.values())
    assert pids and not any(pid_alive(pid) for pid in pids if pid)
    results = pool.wait()
    assert [r.scenario for r in results] == [s.name for s in scenarios]
    assert all(not r.passed for r in results)  # stopped before their end: not a pass


def test_lent_stack_takes_waiting_scenarios_and_stays_up(stack: EmbeddedStack, tmp_path: Path) -> None:
    """As the chaos module does once the other checks are done: the caller lends its stack to the pool,
    which runs a waiting scenario on it in one more lane; closing the pool reverts the faults on both
    stacks, stops the pool's own stack and leaves the lent one running."""
    paused = PausedPair(stack, tmp_path)
    made = paused.made
    messages: list[str] = []
    lent = LentStack()
    pool = Background(
        paused.scenarios, StackPool(paused.make, stacks=1, lent=lent), log=paused.log, on_lane=messages.append
    )
    pool.start()
    try:
        lent.lend(stack)
        paused.wait_applied()
        lent_paused = {name for name, p in stack.processes.items() if p.paused}
        own_paused = {name for s in made for name, p in s.processes.items() if p.paused}
        assert len(made) == 1
        assert len(lent_paused) == 1 and len(own_paused) == 1
        assert lent_paused | own_paused == {"orchestrator", "exchange"}
    finally:
        pool.close()
    assert "stack 2 (lent) takes scenarios" in messages
    assert sorted(r.lane for r in pool.wait()) == ["stack 1", "stack 2 (lent)"]
    assert not any(p.running() for p in made[0].processes.values())
    assert all(p.running() and not p.paused for p in stack.processes.values())
