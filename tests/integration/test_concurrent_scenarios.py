"""Independent scenarios sharing one real stack: both judged, their faults overlap, all reverted."""

from __future__ import annotations

from obs_tests.scenarios.lanes import SharedStack, run_scenarios
from obs_tests.scenarios.model import Catalog, load_scenario
from obs_tests.scenarios.waves import plan_waves
from obs_tests.stack import EmbeddedStack

from .helpers import ROOT


def _window(result: object, name: str) -> tuple[float, float]:
    (fault,) = [f for f in result.chaos["faults"] if f["name"] == name]  # type: ignore[attr-defined]
    started = result.started_at  # type: ignore[attr-defined]
    return started + fault["applied_at"], started + fault["reverted_at"]


def test_disjoint_scenarios_run_at_the_same_time_and_both_hold(stack: EmbeddedStack) -> None:
    catalog = Catalog.from_contract(stack.contract, list(stack.components))
    scenarios = [
        load_scenario(ROOT / "scenarios" / "orchestrator-down.yaml", catalog),
        load_scenario(ROOT / "scenarios" / "exchange-feed-failing.yaml", catalog),
    ]
    assert [w.describe() for w in plan_waves(scenarios, catalog, 2)] == ["orchestrator-down + exchange-feed-failing"]
    lines: list[tuple[str, str, str]] = []
    down, failing = run_scenarios(
        scenarios, SharedStack(stack, concurrency=2, catalog=catalog), log=lambda n, lv, m: lines.append((n, lv, m))
    )
    assert down.passed, [a for a in down.assertions if not a.passed]
    assert failing.passed, [a for a in failing.assertions if not a.passed]
    # both faults were in effect at the same time
    kill = _window(down, "kill-orchestrator")
    errors = _window(failing, "fetch-errors")
    assert max(kill[0], errors[0]) < min(kill[1], errors[1]), (kill, errors)
    assert {n for n, _, _ in lines} == {"orchestrator-down", "exchange-feed-failing"}
    assert (down.lane, failing.lane) == ("slot 1", "slot 2")
    assert stack.processes["orchestrator"].running()
