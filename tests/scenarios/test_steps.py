from __future__ import annotations

import dataclasses
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.errors import WaitTimeout
from obs_tests.health.status import CheckResult, HealthReport, Problem, Status
from obs_tests.scenarios import steps as steps_module
from obs_tests.scenarios.model import STEP_KINDS, Step
from obs_tests.scenarios.results import AssertionResult
from obs_tests.scenarios.step_types import (
    AssertState,
    Load,
    Revert,
    WaitForHealth,
    WaitForMetric,
    WaitForNotification,
    WaitForTime,
)
from obs_tests.scenarios.steps import STEP_HANDLERS, StepContext, names_in, run_steps, stop_background_loads
from obs_tests.scenarios.timeline import Event, Timeline
from obs_tests.stack import ExternalStack
from obs_tests.workloads import LoadRun, LoadSpec
from tests.loopback import lenient_gateway, serving


class _Recorder:
    def __init__(self, states: dict[str, str]) -> None:
        self.states = states

    def state(self, name: str, labels: Any = None) -> str:
        return self.states.get(name, "inactive")


class _Prometheus:
    def __init__(self, value: float | None) -> None:
        self.value = value

    def query_value(self, expr: str, default: float | None = None) -> float | None:
        return self.value


def _ctx(*, states: dict[str, str] | None = None, value: float | None = None, stop: bool = False) -> StepContext:
    event = threading.Event()
    if stop:
        event.set()

    def no_load(raw: Any, default_duration: float) -> Any:
        raise AssertionError("no load expected")

    return StepContext(_Prometheus(value), _Recorder(states or {}), None, Timeline(), event, no_load, [])  # type: ignore[arg-type]


def _run(ctx: StepContext, *steps: Step) -> tuple[list[AssertionResult], list[str], list[tuple[str, str]]]:
    found: list[AssertionResult] = []
    done: list[str] = []
    logged: list[tuple[str, str]] = []
    run_steps(
        steps, ctx, log=lambda level, message: logged.append((level, message)), add=found.append, on_done=done.append
    )
    return found, done, logged


def test_every_step_kind_has_a_handler() -> None:
    # assert_events: the `assert` step on bus events (it records one result per bound itself)
    assert set(STEP_HANDLERS) == {*STEP_KINDS, "assert_events"}
    assert [kind for kind, handler in STEP_HANDLERS.items() if handler.asserts] == ["assert"]


def test_an_assert_step_that_holds_is_a_passed_assertion_and_marks_its_id_done() -> None:
    ctx = _ctx(states={"GatewayDown": "firing"})
    found, done, logged = _run(ctx, Step("assert", AssertState(alert="GatewayDown", state="firing"), id="check"))
    assert found == [
        AssertionResult("step check", True, "assert(alert=GatewayDown, state=firing)", "GatewayDown is firing")
    ]
    assert done == ["check"]
    assert logged == [("INFO", "step: assert(alert=GatewayDown, state=firing)")]
    assert [e.state for e in ctx.timeline.find("step", "check")] == ["started", "done"]


def test_a_failed_step_is_a_failed_assertion_and_ends_the_steps() -> None:
    ctx = _ctx(value=3.0)
    assertion = Step("assert", AssertState(expr="up", op=">", value=5))
    found, done, logged = _run(ctx, assertion, Step("wait_for_time", WaitForTime(0)))
    label = assertion.describe()
    assert found == [AssertionResult(f"step {label}", False, "up > 5", "3.0", "up = 3.0")]
    assert logged[-1] == ("ERROR", f"step {label} failed: up = 3.0")
    assert ctx.timeline.first("step", "wait_for_time(0)") is None  # never started
    assert done == []


def test_a_wait_ended_by_stop_is_recorded_as_stopped_not_failed() -> None:
    ctx = _ctx(stop=True)
    found, _, logged = _run(ctx, Step("wait_for_time", WaitForTime(5)))
    assert found == []
    assert [e.state for e in ctx.timeline.find("step")] == ["started", "stopped"]
    assert [level for level, _ in logged] == ["INFO"]


def test_a_wait_step_returns_what_happened() -> None:
    assert STEP_HANDLERS["wait_for_time"](_ctx(), WaitForTime(0)) == "0s passed"
    assert STEP_HANDLERS["wait_for_metric"](_ctx(value=2.0), WaitForMetric("up", "==", 2)) == "up = 2.0"


def _watchdog_before_and_after(ctx: StepContext, *, after: bool) -> None:
    """Watchdog firing since long before the run (the other replica of an HA pair kept it firing while
    this one restarted), notified 5 s ago, then the step ``back`` done 3 s ago; one more notification
    1 s ago when ``after``."""
    now = time.time()
    timeline = ctx.timeline
    labels = {"alertname": "Watchdog"}
    timeline.add(Event(now - 9.0, "alert", "Watchdog", "firing", labels, {"active_at": now - 100.0}))
    timeline.add(Event(now - 5.0, "notification", "Watchdog", "firing", labels, {"receiver": "watchdog"}))
    timeline.add(Event(now - 3.0, "step", "back", "done"))
    if after:
        timeline.add(Event(now - 1.0, "notification", "Watchdog", "firing", labels, {"receiver": "watchdog"}))


def test_a_notification_after_a_step_counts_only_once_that_step_was_done() -> None:
    handler = STEP_HANDLERS["wait_for_notification"]
    ctx = _ctx()
    _watchdog_before_and_after(ctx, after=False)
    # without `after` the notification of the incident (firing since before the run) counts
    assert handler(ctx, WaitForNotification("Watchdog")) == "firing notification of Watchdog received"
    with pytest.raises(WaitTimeout) as caught:
        handler(ctx, WaitForNotification("Watchdog", after="back", within=0.3))
    assert "a firing notification of Watchdog after step back" in str(caught.value)
    ctx = _ctx()
    _watchdog_before_and_after(ctx, after=True)
    assert handler(ctx, WaitForNotification("Watchdog", after="back", within=0.3)) == (
        "firing notification of Watchdog received"
    )


def test_a_handler_refuses_the_arguments_of_another_kind() -> None:
    with pytest.raises(TypeError, match="the wait_for_time handler got the arguments of a revert step"):
        STEP_HANDLERS["wait_for_time"](_ctx(), Revert("f"))


def test_a_load_step_records_its_load_report_beside_the_gateway_histogram(closed_port: int) -> None:
    """A real Locust run against a loopback gateway answering every 4th valid signal with a 503; the
    Prometheus cannot be reached, so the gateway's side says why instead of numbers."""
    with serving(lenient_gateway(fail_every=4)) as url:

        def new_load(raw: Any, default_duration: float) -> LoadRun:
            fields = {"duration": default_duration, **raw, "stop_timeout": 5.0, "metrics": False}
            return LoadRun(LoadSpec(**fields), url)

        prom = PrometheusClient(f"http://127.0.0.1:{closed_port}", timeout=1.0)
        ctx = StepContext(prom, _Recorder({}), None, Timeline(), threading.Event(), new_load, [])  # type: ignore[arg-type]
        found, done, _ = _run(ctx, Step("load", Load(users=2, duration=2.0, think_time=0.02), id="burst"))
    assert done == ["burst"] and not found
    (step,) = ctx.load_reports
    report = step["report"]
    assert step["users"] == 2 and step["requests"] == report["total"]["requests"] > 0
    assert step["failures"] == report["total"]["failures"] > 0 and report["total"]["success_percent"] < 100
    assert report["gateway"]["requests"] is None and "Unreachable" in report["gateway"]["note"]


def test_a_load_step_left_running_gets_its_report_when_the_scenario_stops_it(closed_port: int) -> None:
    """`load: {…, wait: false}` runs on in the background; the scenario stops it on its way out (every exit
    path) and its report joins the others, marked `background`."""
    with serving(lenient_gateway(fail_every=4)) as url:

        def new_load(raw: Any, default_duration: float) -> LoadRun:
            fields = {"duration": default_duration, **raw, "stop_timeout": 5.0, "metrics": False}
            return LoadRun(LoadSpec(**fields), url)

        prom = PrometheusClient(f"http://127.0.0.1:{closed_port}", timeout=1.0)
        background: list[LoadRun] = []
        ctx = StepContext(prom, _Recorder({}), None, Timeline(), threading.Event(), new_load, background)  # type: ignore[arg-type]
        step = Step("load", Load(users=2, duration=600.0, think_time=0.02, wait=False), id="background")
        found, done, _ = _run(ctx, step)
        assert done == ["background"] and not found and ctx.load_reports == []
        (run,) = background
        run.wait_sending()  # it runs: requests are going out
        stop_background_loads(background, prom, ctx.load_reports)
    (report,) = ctx.load_reports
    assert report["background"] is True and report["users"] == 2
    assert report["requests"] == report["report"]["total"]["requests"] > 0
    assert report["failures"] == report["report"]["total"]["failures"]


def _health(status: Status, *subjects: str) -> HealthReport:
    problems = [Problem(status, subject, "its last configuration reload failed") for subject in subjects]
    return HealthReport([CheckResult.judge("ha.reloads", "ha", "every reload succeeded", problems)])


def _health_ctx(monkeypatch: pytest.MonkeyPatch, *reports: HealthReport) -> StepContext:
    """A context whose health runs answer ``reports`` in turn (the last one from then on)."""
    answers = list(reports)
    monkeypatch.setattr(steps_module, "run_health", lambda settings: answers.pop(0) if len(answers) > 1 else answers[0])
    ctx = _ctx()
    chaos = SimpleNamespace(backend=ExternalStack("http://127.0.0.1:9", "http://127.0.0.1:9"))
    return dataclasses.replace(ctx, chaos=chaos)  # type: ignore[arg-type]


def test_wait_for_health_passes_once_the_check_names_the_member(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = _health_ctx(
        monkeypatch,
        _health(Status.OK),
        _health(Status.CRITICAL, "prometheus-21 (http://127.0.0.1:9021)"),  # another replica: not it
        _health(Status.CRITICAL, "prometheus-2 (http://127.0.0.1:9020)"),
    )
    said = STEP_HANDLERS["wait_for_health"](ctx, WaitForHealth("ha.reloads", "critical", "prometheus-2", 10))
    assert said.startswith("ha.reloads critical (prometheus-2 (http://127.0.0.1:9020): its last configuration reload")


def test_wait_for_health_fails_when_the_check_never_gets_there(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = _health_ctx(monkeypatch, _health(Status.OK))
    with pytest.raises(
        WaitTimeout, match=r"health check ha\.reloads critical naming prometheus-2; last seen: ha\.reloads ok"
    ):
        STEP_HANDLERS["wait_for_health"](ctx, WaitForHealth("ha.reloads", "critical", "prometheus-2", 0.6))
    with pytest.raises(WaitTimeout, match=r"no health check ha\.nope here \(checks: ha\.reloads\)"):
        STEP_HANDLERS["wait_for_health"](ctx, WaitForHealth("ha.nope", "critical", None, 0.6))


@pytest.mark.parametrize(
    ("name", "subject", "named"),
    [
        ("alertmanager", "alertmanager (http://127.0.0.1:9093)", True),
        ("alertmanager", "alertmanager-2 (http://127.0.0.1:9094)", False),
        ("prometheus-2", "prometheus-2 (http://127.0.0.1:9091)", True),
        ("prometheus-2", "prometheus-21 (http://127.0.0.1:9092)", False),
        ("gateway", "gateway/127.0.0.1:8080", True),
    ],
)
def test_names_in_matches_a_whole_name(name: str, subject: str, named: bool) -> None:
    assert names_in(name, subject) is named
