"""The pool of stacks: each result names the stack (lane) that ran it, for the check report's lane timeline."""

from __future__ import annotations

import threading
from contextlib import nullcontext
from types import SimpleNamespace
from typing import Any

import pytest

from obs_tests.scenarios import pool
from obs_tests.scenarios.pool import StackPool
from obs_tests.scenarios.results import ScenarioResult


class FakeRunner:
    """Stands in for ScenarioRunner: records the lane it was given and which stack it ran on. Runs wait for
    each other (``meet``) so that every lane runs one."""

    meet = threading.Barrier(3, timeout=10)

    def __init__(self, scenario: Any, *, stack: Any, log: Any = None, lane: str = "") -> None:
        self.scenario = scenario
        self.result = ScenarioResult(scenario.name, "", "", status="passed", lane=lane)
        self.stack = stack

    def run(self) -> ScenarioResult:
        self.result.description = self.stack.name
        self.meet.wait()
        return self.result

    def stop(self) -> None:
        pass


def test_every_result_names_the_stack_that_ran_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool, "ScenarioRunner", FakeRunner)
    made: list[str] = []

    def make() -> Any:
        made.append(f"made-{len(made) + 2}")
        return nullcontext(SimpleNamespace(name=made[-1]))

    scenarios = [SimpleNamespace(name=f"s{i}") for i in range(3)]
    given = SimpleNamespace(name="given")
    results = StackPool(scenarios, make, stacks=3, first=given).run()  # type: ignore[arg-type]
    assert [r.scenario for r in results] == [s.name for s in scenarios]
    lanes = {r.lane: r.description for r in results}
    assert lanes == {"stack 1": "given", "stack 2": lanes["stack 2"], "stack 3": lanes["stack 3"]}
    assert sorted(lanes.values()) == ["given", "made-2", "made-3"]  # one lane, one stack
