"""The dashboard's stack over fake stacks: started once, restarted at another time scale, a failed start
in its state, links and components once ready, and a start in progress aborted by the shutdown. The real
embedded stack behind the real server: tests/web/test_api.py."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from obs_tests.config.contract import load_contract
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.errors import ObsTestsError, StackStartError
from obs_tests.web.dashboard_stack import DashboardStack
from obs_tests.web.stream import Stream

ROOT = Path(__file__).resolve().parents[2]


class Recorded(Stream):
    """A real stream (messages validated) that also keeps the ``stack`` messages' states and texts."""

    def __init__(self) -> None:
        super().__init__(100)
        self.stack: list[tuple[str, str]] = []

    def publish(self, kind: str, data: dict[str, Any], test_id: str | None = None) -> int:
        if kind == "stack":
            self.stack.append((data["state"], data["message"]))
        return super().publish(kind, data, test_id)


class FakeStack:
    """Stands in for EmbeddedStack: ``fail`` makes its start fail, ``gate`` holds its start until set
    (or until aborted)."""

    def __init__(self, scale: float, fail: bool = False, gate: threading.Event | None = None) -> None:
        self.time_scale = scale
        self.fail = fail
        self.gate = gate
        self.events: list[str] = []
        self.aborted = threading.Event()
        self.components = {"prometheus": None, "alertmanager": None}
        self.alertmanager_url = "http://127.0.0.1:9093"
        self.processes = {
            "prometheus": SimpleNamespace(pid=11, running=lambda: True, paused=False),
            "alertmanager": SimpleNamespace(pid=None, running=lambda: False, paused=False),
        }

    def __enter__(self) -> FakeStack:
        if self.gate is not None:
            while not self.gate.wait(0.01):
                if self.aborted.is_set():
                    raise StackStartError("start aborted")
        if self.fail:
            raise StackStartError("prometheus did not become ready")
        self.events.append("started")
        return self

    def abort(self) -> None:
        self.aborted.set()

    def close(self) -> None:
        self.events.append("closed")

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:9090/{name}"


@pytest.fixture
def made() -> list[FakeStack]:
    return []


def _dashboard_stack(made: list[FakeStack], **fake: Any) -> tuple[DashboardStack, Recorded]:
    stream = Recorded()

    def make(scale: float) -> FakeStack:
        made.append(FakeStack(scale, **fake))
        return made[-1]

    return DashboardStack(load_contract(ROOT / "obs.yaml"), scale=0.01, stream=stream, make=make), stream


def test_started_once_and_restarted_at_another_time_scale(made: list[FakeStack]) -> None:
    stack, stream = _dashboard_stack(made)
    assert stack.info() == {
        "state": "stopped",
        "time_scale": 0.01,
        "message": "not started (it starts with the first run)",
        "components": [],
    }
    first = stack.ensure(0.01)
    assert stack.ensure(0.01) is first and stack.ready_at(0.01) and not stack.ready_at(0.02)
    second = stack.ensure(0.02)
    assert second is not first and first.events == ["started", "closed"]
    assert stream.stack == [
        ("starting", "starting at time scale 0.01"),
        ("ready", "2 components at time scale 0.01"),
        ("starting", "restarting at time scale 0.02 (was 0.01)"),
        ("ready", "2 components at time scale 0.02"),
    ]
    stack.close()
    assert second.events == ["started", "closed"] and stream.stack[-1] == ("stopped", "stopped with the dashboard")


def test_a_failed_start_is_the_stacks_state_and_raised(made: list[FakeStack]) -> None:
    stack, stream = _dashboard_stack(made, fail=True)
    with pytest.raises(StackStartError, match="did not become ready"):
        stack.ensure(0.01)
    assert stack.info()["state"] == "error"
    assert stream.stack[-1] == ("error", "StackStartError: prometheus did not become ready")


def test_links_and_components_once_ready(made: list[FakeStack]) -> None:
    stack, _ = _dashboard_stack(made)
    assert set(stack.links().values()) == {None}
    stack.ensure(0.01)
    assert stack.links() == {
        "prometheus_alerts": "http://127.0.0.1:9090/prometheus/classic/alerts",
        "prometheus_targets": "http://127.0.0.1:9090/prometheus/classic/targets",
        "alertmanager_api": "http://127.0.0.1:9093/api/v2/alerts",
    }
    assert stack.info()["components"] == [
        {"name": "prometheus", "state": "running"},
        {"name": "alertmanager", "state": "not started"},
    ]


def test_closing_while_it_starts_aborts_the_start_and_refuses_new_ones(made: list[FakeStack]) -> None:
    gate = threading.Event()
    stack, stream = _dashboard_stack(made, gate=gate)
    stack.start_in_background()
    wait_for(lambda: Poll(bool(made), len(made)), timeout=10, expected="a stack being started")
    stack.close()  # the start ends at once: it never passes the gate
    assert made[0].aborted.is_set() and made[0].events == []
    assert stream.stack[-1] == ("stopped", "start aborted: the dashboard is shutting down")
    with pytest.raises(ObsTestsError, match="shutting down"):
        stack.ensure(0.01)
