from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from obs_tests.contract import load_contract
from obs_tests.scenarios.model import Catalog, load_scenario
from obs_tests.scenarios.runner import AssertionResult, ScenarioRunner, _after_resolving

ROOT = Path(__file__).resolve().parents[2]


class RisingCounter:
    """A Prometheus stand-in whose ``sum(...)`` grows by ``step`` at every query."""

    def __init__(self, start: float, step: float) -> None:
        self.value = start
        self.step = step
        self.queries = 0

    def query_value(self, expr: str, default: float | None = None) -> float:
        self.queries += 1
        self.value += self.step
        return self.value


def _runner(tmp_path: Path, metric: str) -> ScenarioRunner:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\nchaos:\n  - {name: kill-gateway, kind: kill, target: gateway, at: 1}\n"
        f"steps:\n  - wait_for_fault: kill-gateway\nexpect:\n  metric:\n    - {metric}\n"
    )
    contract = load_contract(ROOT / "obs.yaml")
    scenario = load_scenario(path, Catalog.from_contract(contract))

    class Stack:
        def __init__(self) -> None:
            self.components: dict[str, Any] = {}

    return ScenarioRunner(scenario, stack=Stack(), contract=contract)


def _judge(runner: ScenarioRunner, prom: RisingCounter, baseline: float) -> AssertionResult:
    found: list[AssertionResult] = []
    runner._judge_metrics(prom, {"sum(x_total)": baseline}, time.time(), found.append)  # type: ignore[arg-type]
    (outcome,) = found
    return outcome


def test_a_metric_expectation_with_within_is_judged_once_it_holds(tmp_path: Path) -> None:
    runner = _runner(tmp_path, "{name: closed, increase: 'x_total', min: 10, within: 5}")
    prom = RisingCounter(start=0, step=1)
    outcome = _judge(runner, prom, baseline=0)
    assert outcome.passed, outcome
    assert prom.queries >= 10  # it waited for the counter to get there


def test_a_metric_expectation_with_within_fails_when_it_never_holds(tmp_path: Path) -> None:
    runner = _runner(tmp_path, "{name: closed, increase: 'x_total', min: 1000, within: 0.5}")
    outcome = _judge(runner, RisingCounter(start=0, step=1), baseline=0)
    assert not outcome.passed
    assert "still after waiting 0.5s" in outcome.message


def test_a_metric_expectation_without_within_is_judged_at_once(tmp_path: Path) -> None:
    runner = _runner(tmp_path, "{name: closed, increase: 'x_total', min: 10}")
    prom = RisingCounter(start=0, step=1)
    outcome = _judge(runner, prom, baseline=0)
    assert not outcome.passed and prom.queries == 1
    assert outcome.actual == "1"


def test_a_resolved_notification_between_two_polls_is_not_negative_time() -> None:
    """The report said 'resolved notification: -0.1s after resolving' when the notification came between
    the poll before and the poll that saw the alert resolved."""
    assert _after_resolving(-0.1) == "with the resolve (0.1s before the poll that saw it resolved)"
    assert _after_resolving(1.25) == "1.2s after resolving"
    assert _after_resolving(None) == "none"
