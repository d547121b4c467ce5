from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from obs_tests.config.contract import load_contract
from obs_tests.scenarios.bounds import AlertBounds
from obs_tests.scenarios.judge import Judge
from obs_tests.scenarios.model import Catalog, MustFire, load_scenario
from obs_tests.scenarios.results import AlertTiming, AssertionResult, ScenarioResult
from obs_tests.scenarios.timeline import Event, Timeline

ROOT = Path(__file__).resolve().parents[2]

BOUNDS = AlertBounds("GatewayDown", 1.0, 1.0, 1.0, 1, 3.0, 0.0, 0.0, 1.0, 2.0)  # fire bound 6.0s, clear bound 2.0s


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


def _judge(tmp_path: Path, metric: str, prom: Any = None) -> Judge:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\nchaos:\n  - {name: kill-gateway, kind: kill, target: gateway, at: 1}\n"
        f"steps:\n  - wait_for_fault: kill-gateway\nexpect:\n  metric:\n    - {metric}\n"
    )
    catalog = Catalog.from_contract(load_contract(ROOT / "obs.yaml"))
    scenario = load_scenario(path, catalog)
    result = ScenarioResult(scenario.name, str(scenario.path), scenario.description)
    return Judge(scenario, catalog, Timeline(), result, prom=prom, bounds=None, stop=threading.Event())


def _metric(judge: Judge, baseline: float) -> AssertionResult:
    found: list[AssertionResult] = []
    judge._judge_metrics({"sum(x_total)": baseline}, time.time(), found.append)
    (outcome,) = found
    return outcome


def test_a_metric_expectation_with_within_is_judged_once_it_holds(tmp_path: Path) -> None:
    prom = RisingCounter(start=0, step=1)
    outcome = _metric(_judge(tmp_path, "{name: closed, increase: 'x_total', min: 10, within: 5}", prom), baseline=0)
    assert outcome.passed, outcome
    assert prom.queries >= 10  # it waited for the counter to get there


def test_a_metric_expectation_with_within_fails_when_it_never_holds(tmp_path: Path) -> None:
    judge = _judge(tmp_path, "{name: closed, increase: 'x_total', min: 1000, within: 0.5}", RisingCounter(0, 1))
    outcome = _metric(judge, baseline=0)
    assert not outcome.passed
    assert "still after waiting 0.5s" in outcome.message


def test_a_metric_expectation_without_within_is_judged_at_once(tmp_path: Path) -> None:
    prom = RisingCounter(start=0, step=1)
    outcome = _metric(_judge(tmp_path, "{name: closed, increase: 'x_total', min: 10}", prom), baseline=0)
    assert not outcome.passed and prom.queries == 1
    assert outcome.actual == "1"


def test_the_baseline_sums_the_counters_whose_increase_is_expected(tmp_path: Path) -> None:
    judge = _judge(tmp_path, "{name: closed, increase: 'x_total', min: 10}", RisingCounter(start=4, step=1))
    assert judge.baseline() == {"x_total": 5.0}


def _judged(tmp_path: Path, must: MustFire, fired_after: float, resolved_after: float = 1.0) -> list[AssertionResult]:
    judge = _judge(tmp_path, "{name: closed, increase: 'x_total', min: 10}")
    timing = AlertTiming("GatewayDown", "kill-gateway", BOUNDS, fault_at=100.0, firing_at=100.0 + fired_after)
    timing.reverted_at, timing.resolved_at = 200.0, 200.0 + resolved_after
    found: list[AssertionResult] = []
    judge._judge_must_fire(timing, must, 2.0, found.append)
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


def test_a_clear_within_judges_the_clear_phase_and_says_so(tmp_path: Path) -> None:
    found = _judged(tmp_path, MustFire("GatewayDown", notify=False, clear_within=30.0), 5.0, resolved_after=31.0)
    clears = next(a for a in found if a.name == "GatewayDown clears")
    assert not clears.passed
    assert clears.expected == "resolved within 30.0s of the revert (clear_within 30.0s, set in the scenario)"
    assert clears.message == "GatewayDown did not clear in time (clear_within 30.0s, set in the scenario)"


def test_a_notifying_alert_is_judged_in_every_phase(tmp_path: Path) -> None:
    """Fire, notify, clear and the resolved notification, in that order, each against its limit."""
    judge = _judge(tmp_path, "{name: closed, increase: 'x_total', min: 10}")
    timing = AlertTiming("GatewayDown", "kill-gateway", BOUNDS, fault_at=100.0, firing_at=105.0, notified_at=106.0)
    timing.reverted_at, timing.resolved_at, timing.resolved_notified_at = 200.0, 201.0, 200.9
    found: list[AssertionResult] = []
    judge._judge_must_fire(timing, MustFire("GatewayDown"), 2.0, found.append)
    assert [(a.name, a.passed) for a in found] == [
        ("GatewayDown fires", True),
        ("GatewayDown notified", True),
        ("GatewayDown clears", True),
        ("GatewayDown resolved notification", True),
    ]
    assert found[3].actual == "with the resolve (0.1s before the poll that saw it resolved)"
    assert set(timing.limits) == {"fire", "notify", "clear", "notify_resolved"}


def test_an_alert_that_never_fired_is_judged_on_firing_only(tmp_path: Path) -> None:
    judge = _judge(tmp_path, "{name: closed, increase: 'x_total', min: 10}")
    timing = AlertTiming("NoSuchAlert", "kill-gateway", None, fault_at=100.0)
    found: list[AssertionResult] = []
    judge._judge_must_fire(timing, MustFire("NoSuchAlert"), 2.0, found.append)
    (fires,) = found
    assert not fires.passed and fires.actual == "never fired"
    assert fires.message.endswith("last expression value: unknown (the rule is not loaded)")


LABELS = {"alertname": "GatewayDown"}
INCIDENT = (
    Event(101.0, "notification", "GatewayDown", "firing", LABELS),  # the previous incident
    Event(102.6, "alert", "GatewayDown", "pending", LABELS, {"active_at": 102.5}),
    Event(103.5, "notification", "GatewayDown", "firing", LABELS),
    Event(105.0, "alert", "GatewayDown", "firing", LABELS, {"active_at": 102.5, "previous_poll": 104.8}),
    Event(110.0, "revert", "kill-gateway"),
    Event(110.5, "notification", "GatewayDown", "resolved", LABELS),  # too early: the poll at 111 saw it firing
    Event(112.5, "notification", "GatewayDown", "resolved", LABELS),
    Event(114.0, "alert", "GatewayDown", "resolved", LABELS, {"last_seen": 111.0}),
)


def _timed(tmp_path: Path, events: Sequence[Event]) -> tuple[Judge, AlertTiming]:
    judge = _judge(tmp_path, "{name: closed, increase: 'x_total', min: 10}")
    for event in events:
        judge.timeline.add(event)
    timing = AlertTiming("GatewayDown", "kill-gateway", BOUNDS, fault_at=100.0)
    judge._fill_timing(timing, MustFire("GatewayDown"))
    return judge, timing


def test_notifications_count_from_when_the_change_happened_not_when_a_late_poll_saw_it(tmp_path: Path) -> None:
    """CI, with the poller short of CPU: GatewayDown seen firing 2.5 s after it became active, its firing
    notification 1.5 s before that poll — judged "notified never" while it had come. A notification older
    than the alert's activeAt (an earlier incident) still does not count; nor a resolved one older than the
    poll before the one that saw the resolve (it still saw the alert firing)."""
    judge, timing = _timed(tmp_path, INCIDENT)
    assert (timing.firing_at, timing.notified_at) == (105.0, 103.5)
    assert (timing.resolved_at, timing.resolved_notified_at) == (114.0, 112.5)
    found: list[AssertionResult] = []
    judge._judge_must_fire(timing, MustFire("GatewayDown"), 2.0, found.append)
    assert all(a.passed for a in found), found
    _, missed = _timed(tmp_path, [e for e in INCIDENT if e.t not in (103.5, 112.5)])
    assert missed.notified_at is None and missed.resolved_notified_at is None


def _note(t: float, status: str, sender: str) -> Event:
    labels = {"alertname": "GatewayDown", "severity": "critical"}
    return Event(t, "notification", "GatewayDown", status, labels, {"receiver": "critical", "sender": sender})


def _counted(tmp_path: Path, notes: Sequence[Event], status: str = "firing") -> AssertionResult:
    judge = _judge(tmp_path, "{name: closed, increase: 'x_total', min: 10}")
    judge.result.started_at = 100.0
    for note in notes:
        judge.timeline.add(note)
    found: list[AssertionResult] = []
    judge._judge_notification(
        {"alert": "GatewayDown", "receiver": "critical", "status": status, "count": 1}, found.append
    )
    (outcome,) = found
    return outcome


def test_exactly_once_passes_on_one_notification_per_status(tmp_path: Path) -> None:
    notes = [_note(103.0, "firing", "http://am-0/"), _note(110.0, "resolved", "http://am-0/")]
    for status in ("firing", "resolved"):
        outcome = _counted(tmp_path, notes, status)
        assert outcome.passed, outcome
        assert outcome.name == f"GatewayDown {status} notification to critical x1"
        assert outcome.expected.startswith("exactly 1 within 4s after the first (dedup bound (1 peers - 1)")


def test_exactly_once_fails_when_two_peers_notify_the_same_change_and_names_them(tmp_path: Path) -> None:
    notes = [_note(103.0, "firing", "http://am-0/"), _note(103.1, "firing", "http://am-1/")]
    outcome = _counted(tmp_path, notes)
    assert not outcome.passed
    assert outcome.actual == "2 (at +3.0s from http://am-0/, +3.1s from http://am-1/)"
    assert "expected exactly 1" in outcome.message


def test_exactly_once_fails_when_none_came(tmp_path: Path) -> None:
    outcome = _counted(tmp_path, [_note(103.0, "resolved", "http://am-0/")])
    assert not outcome.passed and outcome.actual == "0"


def test_a_flap_after_the_resolve_and_late_repeats_are_reported_not_counted(tmp_path: Path) -> None:
    """A peer whose flush began before it had the resolve sends a stale "firing" after the "resolved":
    not a second notification of the incident's firing, but shown."""
    flap = [
        _note(103.0, "firing", "http://am-0/"),
        _note(105.0, "resolved", "http://am-0/"),
        _note(105.6, "firing", "http://am-1/"),
    ]
    outcome = _counted(tmp_path, flap)
    assert outcome.passed, outcome
    assert outcome.actual == "1 (at +3.0s from http://am-0/); then 1 more, not counted (at +5.6s from http://am-1/)"
    late = _counted(tmp_path, [_note(103.0, "firing", "http://am-0/"), _note(130.0, "firing", "http://am-0/")])
    assert late.passed and "then 1 more, not counted (at +30.0s" in late.actual
