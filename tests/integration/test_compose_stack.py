"""The compose stack on real servers. There is no docker engine on this machine, so the containers are
the embedded stack's processes behind a docker-SDK-shaped client (kill/stop/start/pause/unpause act on
them): everything above the SDK — ComposeBackend, ComposeStack, the scenario runner, the live rules
check, healing — runs for real against real Prometheus, Alertmanager and services."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from obs_tests.errors import UsageError
from obs_tests.scenarios.runner import ScenarioRunner
from obs_tests.stack import EmbeddedStack
from obs_tests.stack.compose_stack import ComposeStack

from .helpers import ROOT

PROJECT = "obs-tests"


class ProcessContainer:
    """One embedded component, answering like a docker SDK container."""

    def __init__(self, stack: EmbeddedStack, service: str, log: list[str]) -> None:
        self.stack, self.service, self.log = stack, service, log
        self.name = f"{PROJECT}-{service}-1"
        self.labels = {"com.docker.compose.project": PROJECT, "com.docker.compose.service": service}
        self.attrs: dict[str, Any] = {"State": {}}

    @property
    def status(self) -> str:
        proc = self.stack.processes[self.service]
        if proc.paused:
            return "paused"
        return "running" if proc.running() else "exited"

    def reload(self) -> None:
        """The status is read live."""

    def kill(self) -> None:
        self.log.append(f"kill {self.service}")
        self.stack.kill(self.service)

    def stop(self, timeout: int) -> None:
        self.log.append(f"stop {self.service}")
        self.stack.stop(self.service)

    def start(self) -> None:
        self.log.append(f"start {self.service}")
        self.stack.start(self.service, wait=False)

    def restart(self, timeout: int) -> None:
        self.log.append(f"restart {self.service}")
        self.stack.restart(self.service, wait=False)

    def pause(self) -> None:
        self.log.append(f"pause {self.service}")
        self.stack.pause(self.service)

    def unpause(self) -> None:
        self.log.append(f"unpause {self.service}")
        self.stack.resume(self.service)


class ProcessEngine:
    """``client.containers.list(all=True, filters={"label": [...]})`` over the embedded processes."""

    def __init__(self, stack: EmbeddedStack) -> None:
        self.stack = stack
        self.log: list[str] = []
        self.containers = self

    def list(self, all: bool, filters: dict[str, list[str]]) -> list[ProcessContainer]:
        wanted = dict(label.split("=", 1) for label in filters["label"])
        if wanted.get("com.docker.compose.project") != PROJECT:
            return []
        service = wanted.get("com.docker.compose.service")
        names = [service] if service else list(self.stack.processes)
        return [ProcessContainer(self.stack, n, self.log) for n in names if n in self.stack.processes]


def _compose_stack(stack: EmbeddedStack, engine: ProcessEngine, time_scale: float) -> ComposeStack:
    urls = {name: stack.url(name) for name in stack.components}
    return ComposeStack(
        stack.contract,
        project=PROJECT,
        compose_file=ROOT / "docker-compose.yml",
        urls=urls,
        time_scale=time_scale,
        client=engine,
    )


def test_a_scenario_runs_on_the_compose_stack(stack: EmbeddedStack) -> None:
    engine = ProcessEngine(stack)
    with _compose_stack(stack, engine, stack.time_scale) as compose:
        result = ScenarioRunner(ROOT / "scenarios" / "gateway-down.yaml", stack=compose).run()
    assert result.passed, [a for a in result.assertions if not a.passed]
    assert result.time_scale == stack.time_scale
    # the fault went through the docker SDK calls, and was reverted the same way
    assert engine.log[:2] == ["kill gateway", "start gateway"], engine.log
    assert stack.processes["gateway"].running()


def test_compose_stack_refuses_rules_at_another_time_scale(stack: EmbeddedStack) -> None:
    """The live Prometheus runs the rules at the contract's scale: claiming 1.0 is a usage error naming alerts."""
    with pytest.raises(UsageError) as info:
        _compose_stack(stack, ProcessEngine(stack), 1.0).check()
    message = str(info.value)
    assert "does not run the rules at time scale 1" in message
    assert f"AgentDown: for {60 * stack.time_scale:g}s, expected 60s" in message  # for: 1m, scaled
    assert "more)" in message  # every scaled alert is wrong; five are named
    assert "obs-tests scenario scale-rules --time-scale 1" in message


def test_compose_stack_unreachable_prometheus_is_a_usage_error(stack: EmbeddedStack, closed_port: int) -> None:
    urls = {"prometheus": f"http://127.0.0.1:{closed_port}", "alertmanager": stack.url("alertmanager")}
    compose = ComposeStack(stack.contract, compose_file=ROOT / "docker-compose.yml", urls=urls, client=object())
    with pytest.raises(UsageError, match=r"does not answer .* docker compose -p obs-tests up -d --wait"):
        compose.check()


def test_heal_unpauses_and_starts_containers_then_waits_for_targets(stack: EmbeddedStack, tmp_path: Path) -> None:
    engine = ProcessEngine(stack)
    compose = _compose_stack(stack, engine, stack.time_scale)
    try:
        compose.pause("exchange")
        compose.kill("orchestrator")
        fixed = compose.heal(timeout=30)
    finally:
        stack.heal()
    assert sorted(fixed) == ["exchange", "orchestrator"]
    assert "unpause exchange" in engine.log and "start orchestrator" in engine.log
    assert stack.processes["orchestrator"].running() and not stack.processes["exchange"].paused
    assert all(t.health == "up" for t in stack.prometheus().targets())
