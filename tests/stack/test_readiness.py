"""The start-up waits, on stand-ins for processes, probes and Prometheus: each says what it saw on failure."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from obs_tests.clients.prometheus import Target
from obs_tests.config.contract import load_contract
from obs_tests.errors import StackStartError
from obs_tests.stack.components import Component
from obs_tests.stack.readiness import (
    expected_targets,
    send_warm_up,
    wait_components_ready,
    wait_targets_up,
    wait_warm_up_visible,
)
from obs_tests.stack.system_under_test import WarmUp

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class FakeProcess:
    alive: bool = True
    status: int | None = None

    def running(self) -> bool:
        return self.alive

    def returncode(self) -> int | None:
        return self.status

    def log_tail(self, lines: int = 20) -> str:
        return f"last {lines} lines"


def _component(name: str, ready: bool) -> Component:
    return Component(name, name, ["true"], {"http": 1}, probe=lambda: (ready, "ok" if ready else "connection refused"))


def test_components_ready_returns_once_every_probe_passes() -> None:
    processes = {"a": FakeProcess(), "b": FakeProcess()}
    components = {"a": _component("a", True), "b": _component("b", True)}
    wait_components_ready(processes, components, ["a", "b"], timeout=1.0, stop=threading.Event())  # type: ignore[arg-type]


def test_a_component_that_exits_during_start_up_fails_it_with_its_output() -> None:
    processes = {"a": FakeProcess(alive=False, status=3)}
    with pytest.raises(StackStartError, match=r"a exited with status 3 during start-up; last output:\nlast 20 lines"):
        wait_components_ready(processes, {"a": _component("a", False)}, ["a"], timeout=1.0, stop=threading.Event())  # type: ignore[arg-type]


def test_a_component_never_ready_times_out_with_what_it_said_and_its_log() -> None:
    processes = {"a": FakeProcess(), "b": FakeProcess()}
    components = {"a": _component("a", True), "b": _component("b", False)}
    with pytest.raises(StackStartError) as caught:
        wait_components_ready(processes, components, ["a", "b"], timeout=0.2, stop=threading.Event())  # type: ignore[arg-type]
    message = str(caught.value)
    assert "not ready: b: connection refused" in message
    assert "--- b ---\nlast 8 lines" in message
    assert "--- a ---" not in message


def _target(job: str, health: str = "up") -> Target:
    return Target(job, f"{job}:1", health, {"service": job}, "", "", None, 0.0, None, None)


@dataclass
class FakePrometheus:
    targets_seen: list[Target] = field(default_factory=list)
    value: float | None = None

    def targets(self) -> list[Target]:
        return self.targets_seen

    def query_value(self, query: str, default: float | None = None) -> float | None:
        return default if self.value is None else self.value


def test_expected_targets_count_each_jobs_components() -> None:
    expected = expected_targets(load_contract(ROOT / "obs.yaml"))
    assert expected["agents"] == 4


def test_targets_up_ignores_jobs_outside_the_contract() -> None:
    prom = FakePrometheus([_target("gateway"), _target("load", "down")])
    wait_targets_up(prom, {"gateway": 1}, timeout=1.0, stop=threading.Event())  # type: ignore[arg-type]


def test_targets_up_times_out_naming_down_and_incomplete_jobs() -> None:
    prom = FakePrometheus([_target("gateway", "down")])
    with pytest.raises(StackStartError) as caught:
        wait_targets_up(prom, {"gateway": 1, "agents": 4}, timeout=0.3, stop=threading.Event())  # type: ignore[arg-type]
    message = str(caught.value)
    assert "down: ['gateway/gateway (down)']" in message
    assert "incomplete jobs: ['agents (0/4)']" in message
    assert "first scrape lands ~5 s" in message


def test_an_aborted_start_stops_waiting_at_once() -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(StackStartError):
        wait_targets_up(FakePrometheus(), {"gateway": 1}, timeout=60.0, stop=stop)  # type: ignore[arg-type]


WARM = WarmUp("sum(signals_total)", 3.0, "signals through the gateway", "a few scrapes")


def test_warm_up_visible_once_its_query_reaches_the_expected_value() -> None:
    wait_warm_up_visible(FakePrometheus(value=3.0), WARM, timeout=1.0, stop=threading.Event())  # type: ignore[arg-type]


def test_warm_up_not_visible_says_the_query_and_its_last_value() -> None:
    with pytest.raises(StackStartError, match=r"did not cross the system: .*sum\(signals_total\) = 1"):
        wait_warm_up_visible(FakePrometheus(value=1.0), WARM, timeout=0.3, stop=threading.Event())  # type: ignore[arg-type]


def test_no_system_or_no_warm_up_sends_nothing(tmp_path: Path) -> None:
    assert send_warm_up(None, {}, 1, tmp_path) is None


def test_a_failed_warm_up_names_the_logs(tmp_path: Path) -> None:
    class System:
        def warm_up(self, urls: dict[str, str], seed: int) -> WarmUp:
            assert urls == {"gateway": "http://127.0.0.1:1"}
            raise StackStartError("gateway refused the signal")

    components = {"gateway": _component("gateway", True)}
    with pytest.raises(StackStartError, match=f"gateway refused the signal \\(logs: {tmp_path}\\)"):
        send_warm_up(System(), components, 1, tmp_path)  # type: ignore[arg-type]
