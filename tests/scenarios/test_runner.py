from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from obs_tests.contract import load_contract
from obs_tests.scenarios.bounds import AlertBounds
from obs_tests.scenarios.model import Catalog, MustFire, load_scenario
from obs_tests.scenarios.runner import AlertTiming, AssertionResult, ScenarioRunner, _after_resolving

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


BOUNDS = AlertBounds(
    "GatewayDown",
    scrape_interval=1.0,
    scrape_timeout=1.0,
    evaluation_interval=1.0,
    levels=1,
    for_seconds=3.0,
    keep_firing_for=0.0,
    window=0.0,
    group_wait=1.0,
    group_interval=2.0,
)  # fire bound 6.0s, clear bound 2.0s


def _judged(tmp_path: Path, must: MustFire, fired_after: float, resolved_after: float = 1.0) -> list[AssertionResult]:
    runner = _runner(tmp_path, "{name: closed, increase: 'x_total', min: 10}")
    timing = AlertTiming("GatewayDown", "kill-gateway", BOUNDS, fault_at=100.0, firing_at=100.0 + fired_after)
    timing.reverted_at, timing.resolved_at = 200.0, 200.0 + resolved_after
    found: list[AssertionResult] = []
    runner._judge_must_fire(timing, must, 2.0, found.append)
    return found


@pytest.mark.parametrize(
    ("must", "fired_after", "passed", "said"),
    [
        pytest.param(
            MustFire("GatewayDown", within=10.0, notify=False, clears=False),
            8.8,
            True,
            "within 10.0s, set in the scenario",
            id="within-passed",
        ),
        pytest.param(
            MustFire("GatewayDown", within=10.0, notify=False, clears=False),
            12.0,
            False,
            "within 10.0s, set in the scenario",
            id="within-failed",
        ),
        pytest.param(
            MustFire("GatewayDown", notify=False, clears=False),
            7.5,
            True,
            "bound 8.0s: 6.0s from the rule's for + scrape/evaluation intervals, + tolerance 2.0s",
            id="computed",
        ),
    ],
)
def test_the_fire_verdict_names_the_limit_that_judged_it(
    tmp_path: Path, must: MustFire, fired_after: float, passed: bool, said: str
) -> None:
    """`scenario run` printed 'fired 8.8s (bound 6.0s)' — or 'limit 10.0s, given; bound 6.0s' — when the
    scenario's `within: 10` judged it: the bound shown must be the one that judged, and say its kind."""
    (fires,) = _judged(tmp_path, must, fired_after)
    assert fires.passed is passed
    assert f"({said})" in fires.expected
    if not passed:
        assert fires.message == f"fired, but {fired_after:.1f}s after the fault; {said}"
    if must.within is not None:
        assert "6.0s" not in fires.expected + fires.message  # the computed bound did not judge it


def test_the_printed_line_and_the_json_carry_the_limit_and_its_source() -> None:
    """What `scenario run` prints under each verdict (AlertTiming.describe) and the report's bound_source."""
    within = AlertTiming("GatewayDown", "kill-gateway", BOUNDS, fault_at=100.0, firing_at=108.8)
    within.limits, within.given = {"fire": 10.0, "clear": 30.0}, {"fire", "clear"}
    computed = AlertTiming("GatewayDown", "kill-gateway", BOUNDS, fault_at=100.0, firing_at=105.0)
    computed.limits = {"fire": 8.0, "clear": 4.0}
    assert within.describe() == (
        "GatewayDown fired 8.8s (within 10.0s, set in the scenario), cleared never (clear_within 30.0s, set in the "
        "scenario)"
    )
    assert computed.describe() == "GatewayDown fired 5.0s (bound 8.0s), cleared never (bound 4.0s)"
    assert computed.limit_text("fire") == (
        "bound 8.0s: 6.0s from the rule's for + scrape/evaluation intervals, + tolerance 2.0s"
    )
    assert within.to_json(0.0)["bound_source"] == {"fire": "within", "clear": "within"}
    assert computed.to_json(0.0)["bound_source"] == {"fire": "computed", "clear": "computed"}
    unloaded = AlertTiming("GatewayDown", "kill-gateway", None, limits={"fire": 60.0})
    assert unloaded.bound_source() == {"fire": "default"}
    assert "(limit 60.0s, a default)" in unloaded.describe()
    assert "a default: the rule is not loaded" in unloaded.limit_text("fire")


def test_a_resolved_notification_with_the_resolve_is_not_negative() -> None:
    """The check summary said 'resolved notified -0.1s': the notification came between the poll before and
    the poll that saw the alert resolved."""
    timing = AlertTiming("GatewayDown", "kill-gateway", BOUNDS, fault_at=100.0, firing_at=105.0)
    timing.resolved_at, timing.resolved_notified_at = 210.0, 209.9
    timing.limits = {"notify_resolved": 5.0}
    assert timing.measured()["notify_resolved"] == pytest.approx(-0.1)
    assert timing.describe() == "GatewayDown resolved notified with the resolve (bound 5.0s)"
    timing.resolved_notified_at = 211.0
    assert timing.describe() == "GatewayDown resolved notified 1.0s (bound 5.0s)"


def test_a_clear_within_judges_the_clear_phase_and_says_so(tmp_path: Path) -> None:
    found = _judged(tmp_path, MustFire("GatewayDown", notify=False, clear_within=30.0), 5.0, resolved_after=31.0)
    clears = next(a for a in found if a.name == "GatewayDown clears")
    assert not clears.passed
    assert clears.expected == "resolved within 30.0s of the revert (clear_within 30.0s, set in the scenario)"
    assert clears.message == "GatewayDown did not clear in time (clear_within 30.0s, set in the scenario)"


class _Unreachable(Exception):
    pass


def test_a_result_records_its_lane_and_when_its_runner_took_the_stack(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: s\ntype: steady_state\nsteps:\n  - wait_for_time: 1\n")
    contract = load_contract(ROOT / "obs.yaml")

    class Stack:
        def __init__(self) -> None:
            self.components: dict[str, Any] = {}

        def prometheus(self) -> Any:
            raise _Unreachable

    runner = ScenarioRunner(
        load_scenario(path, Catalog.from_contract(contract)), stack=Stack(), contract=contract, lane="stack 2"
    )
    before = time.time()
    with pytest.raises(_Unreachable):
        runner.run()
    doc = runner.result.to_json()
    assert doc["lane"] == "stack 2" and doc["type"] == "steady_state"
    assert before <= doc["began_at"] <= time.time()
