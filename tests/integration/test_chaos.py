"""Chaos scenarios on real stacks: failures are detected, faults are always reverted, nothing leaks."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from obs_tests.clients.tools import run_tool
from obs_tests.config.contract import load_contract
from obs_tests.core.durations import format_duration
from obs_tests.scenarios.record import build_fixture
from obs_tests.scenarios.reports import render_html, render_junit, render_markdown, write_reports
from obs_tests.scenarios.results import ScenarioResult
from obs_tests.scenarios.runner import ScenarioRunner
from obs_tests.stack import EmbeddedStack
from obs_tests.stack.process import ProcessIdentity

from .helpers import ROOT, assert_all_gone

SCALE = 0.02


@pytest.fixture(scope="module")
def broken_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project's monitoring config where GatewayDown reads a misspelled metric."""
    root = tmp_path_factory.mktemp("broken-project")
    for name in ("prometheus", "alertmanager", "scenarios", "runbooks", "grafana_dashboards"):
        shutil.copytree(ROOT / name, root / name)
    shutil.copy(ROOT / "obs.yaml", root / "obs.yaml")
    rules = root / "prometheus" / "alerts" / "availability.yml"
    text = rules.read_text()
    assert 'expr: up{job="gateway"} == 0' in text
    rules.write_text(text.replace('expr: up{job="gateway"} == 0', 'expr: upp{job="gateway"} == 0'))
    return root


@pytest.fixture(scope="module")
def broken_stack(broken_project: Path) -> Iterator[EmbeddedStack]:
    with EmbeddedStack(load_contract(broken_project / "obs.yaml"), time_scale=SCALE) as stack:
        yield stack


def _scenario(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_alert_on_a_misspelled_metric_never_fires_and_the_scenario_says_so(
    broken_stack: EmbeddedStack, broken_project: Path
) -> None:
    result = ScenarioRunner(broken_project / "scenarios" / "gateway-down.yaml", stack=broken_stack).run()
    assert result.status == "failed"
    (fires,) = [a for a in result.assertions if a.name == "GatewayDown fires"]
    assert not fires.passed
    assert "GatewayDown never fired within" in fires.message
    assert "of fault kill-gateway" in fires.message
    assert "last expression value: empty (no series matches the expression)" in fires.message
    # the fault was reverted all the same: the gateway answers again
    assert result.chaos["reverted"] == result.chaos["applied"] == 1
    assert broken_stack.processes["gateway"].running()


def test_a_must_not_fire_alert_that_fires_fails_the_scenario(broken_stack: EmbeddedStack, tmp_path: Path) -> None:
    path = _scenario(
        tmp_path,
        "wrong-expectation",
        """\
        name: wrong-expectation
        description: kills an agent but declares AgentDown must stay silent
        chaos:
          - {name: kill-risk, kind: kill, target: agent-risk, at: 0.5}
        steps:
          - wait_for_alert: {name: AgentDown, state: firing, within: 30}
          - revert: kill-risk
        expect:
          must_not_fire: [AgentDown]
        """,
    )
    result = ScenarioRunner(path, stack=broken_stack).run()
    assert result.status == "failed"
    (silent,) = [a for a in result.assertions if a.name == "AgentDown must not fire"]
    assert not silent.passed
    assert "fired although the scenario says it must not" in silent.message
    assert silent.actual.startswith("firing at +")
    assert broken_stack.processes["agent-risk"].running()


def test_a_scenario_that_holds_passes_with_timings_and_reports(stack: EmbeddedStack, tmp_path: Path) -> None:
    result = ScenarioRunner(ROOT / "scenarios" / "exchange-down.yaml", stack=stack).run()
    assert result.passed, result.failures()
    # the bot fetches its candles from the exchange: BotPriceFetchFailing fires too (inhibited)
    assert [t.alert for t in result.alerts] == ["ExchangeDown", "BotPriceFetchFailing"]
    timing = result.alerts[0]
    assert timing.fired_after is not None and timing.bounds is not None
    assert timing.fired_after <= timing.bounds.fire() + 2.0
    assert timing.resolved_after is not None and timing.notified_at is not None
    assert timing.detection_overhead is not None and -0.5 < timing.detection_overhead < 1.0
    paths = write_reports([result], tmp_path, ("json", "html", "junit", "md"))
    doc = json.loads(next(p for p in paths if p.suffix == ".json").read_text())
    assert doc["status"] == "passed"
    assert doc["assertions"]["total"] == doc["assertions"]["passed"] > 0
    assert doc["alerts"][0]["bounds"]["fire"] > 0
    assert {e["kind"] for e in doc["timeline"]} >= {"fault", "revert", "alert", "notification"}
    html = render_html([doc])
    assert "<svg" in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert 'failures="0"' in render_junit([doc])
    assert "| exchange-down | ExchangeDown |" in render_markdown([doc])
    # the live run becomes a promtool fixture on the real time axis, and it passes promtool
    out = tmp_path / "prom-tests" / "recorded.yml"
    out.parent.mkdir()
    fixture = build_fixture(
        result,
        stack.prometheus(),
        stack.contract,
        stack.contract.files.rule_files(),
        scrape_interval=1.0,
        time_scale=stack.time_scale,
        output=out,
    )
    import yaml  # noqa: PLC0415

    out.write_text(yaml.safe_dump(fixture, sort_keys=False))
    # 1 s scrapes at the contract's scale (0.01) are 100 s apart on the real time axis
    assert fixture["tests"][0]["interval"] == format_duration(1.0 / stack.time_scale)  # "1m40s" at 0.01
    done = run_tool(["promtool", "test", "rules", str(out)])
    assert done.returncode == 0, done.output


def test_the_runner_holds_a_fault_it_reverts_itself_until_the_alert_notified(
    stack: EmbeddedStack, tmp_path: Path
) -> None:
    # No step reverts the kill: the runner does, after the last step. It must not do so the moment the
    # alert fires (the alert would resolve before Alertmanager's group_wait ends on a fast machine).
    path = _scenario(
        tmp_path,
        "no-revert-step",
        """\
        name: no-revert-step
        chaos:
          - {name: kill-exchange, kind: kill, target: exchange, at: 0.5}
        steps:
          - wait_for_alert: {name: ExchangeDown, state: firing, within: 30}
        expect:
          must_fire:
            - {alert: ExchangeDown, after: kill-exchange}
        """,
    )
    result = ScenarioRunner(path, stack=stack).run()
    assert result.passed, result.failures()
    assert result.timeline is not None
    firing = result.timeline.first("alert", "ExchangeDown", "firing")
    note = result.timeline.first("notification", "ExchangeDown", "firing")
    revert = result.timeline.first("revert", "kill-exchange")
    assert firing is not None and note is not None and revert is not None
    # the alert went firing between the poll before and the poll that saw it; the notification can come
    # between the two, so it is ordered against the poll before
    assert firing.detail["previous_poll"] <= note.t <= revert.t, (firing.detail, note.t, revert.t)
    assert note.t <= revert.t and firing.t <= revert.t
    (timing,) = result.alerts
    assert set(timing.limits) == {"fire", "notify", "clear", "notify_resolved"}
    assert all(margin >= 0 for margin in timing.margins().values()), timing.margins()


HOLD = textwrap.dedent(
    """
    import sys
    from obs_tests.chaos.controller import ChaosController
    from obs_tests.chaos.faults import FaultSpec
    from obs_tests.config.contract import load_contract
    from obs_tests.stack import EmbeddedStack

    class Announcing:
        '''The stack, announcing when a revert starts bringing a component back.'''
        def __init__(self, stack):
            self.stack = stack
        def __getattr__(self, name):
            return getattr(self.stack, name)
        def start(self, name=None, *, wait=True):
            print("REVERTING", flush=True)
            self.stack.start(name, wait=wait)

    def log(level, msg):
        print(level, msg, flush=True)

    from pathlib import Path
    with EmbeddedStack(load_contract(Path(sys.argv[1])), warm_up=False) as stack:
        print("PIDS", *[p.pid for p in stack.processes.values()], flush=True)
        try:
            with ChaosController(Announcing(stack), log=log) as chaos:
                chaos.apply(FaultSpec("kill-momentum", "kill", "agent-momentum"))
        finally:
            print("STATE", stack.processes["agent-momentum"].running(), flush=True)
    """
)


def test_sigterm_during_a_revert_finishes_it_and_leaks_nothing(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(ROOT / "obs.yaml")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    pids: list[int] = []
    for line in proc.stdout:
        lines.append(line.rstrip())
        if line.startswith("PIDS"):
            pids = [int(p) for p in line.split()[1:]]
        if line.startswith("REVERTING"):
            proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    proc.stdout.close()
    output = "\n".join(lines)
    assert "SIGTERM received: finishing the reverts first" in output, output
    assert "fault reverted: kill-momentum" in output, output
    assert "STATE True" in output, output  # the component was back before the stack went down
    assert proc.returncode != 0  # the interrupt was re-raised once the revert was done
    # the bare script does not catch it: the interrupt, re-raised after the revert, is its only traceback
    assert "Traceback" not in output or "Interrupted: received SIGTERM (faults reverted)" in output, output
    idents = [i for p in pids if (i := ProcessIdentity.of(p))]
    assert_all_gone(idents, timeout=15)


def test_runner_reverts_faults_when_interrupted(stack: EmbeddedStack, tmp_path: Path) -> None:
    """A scenario stopped from outside (the web dashboard's stop) reverts its faults before returning."""
    path = _scenario(
        tmp_path,
        "long-pause",
        """\
        name: long-pause
        chaos:
          - {name: pause-orchestrator, kind: pause, target: orchestrator, at: 0.2}
        steps:
          - wait_for_time: 120
        """,
    )
    runner = ScenarioRunner(path, stack=stack)
    import threading  # noqa: PLC0415

    def stop_when_applied() -> None:
        while not runner.timeline.find("fault", "pause-orchestrator", "applied"):
            if runner.stop_event.wait(0.05):
                return
        runner.stop_event.set()

    watcher = threading.Thread(target=stop_when_applied)
    watcher.start()
    result: ScenarioResult = runner.run()
    watcher.join()
    assert result.chaos["applied"] == result.chaos["reverted"] == 1
    assert not stack.processes["orchestrator"].paused
    assert result.duration < 60
