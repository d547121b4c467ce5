"""A component's status as ``obs-tests status`` shows it, from the state of its process."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from obs_tests.stack.component_status import ComponentStatus, component_status
from obs_tests.stack.components import Component


@dataclass
class FakeProcess:
    pid: int | None = 42
    alive: bool = True
    paused: bool = False

    def running(self) -> bool:
        return self.alive

    def returncode(self) -> int | None:
        return None if self.alive else 1


def _probe() -> tuple[bool, str]:
    return True, "200 OK"


def _never_asked() -> tuple[bool, str]:
    raise AssertionError("the probe is asked only while the process runs")


@pytest.mark.parametrize(
    ("proc", "probe", "state", "ready", "detail"),
    [
        pytest.param(FakeProcess(pid=None), _never_asked, "not started", False, "", id="not-started"),
        pytest.param(FakeProcess(alive=False), _never_asked, "exited", False, "exit status 1", id="exited"),
        pytest.param(FakeProcess(paused=True), _never_asked, "paused", False, "SIGSTOP", id="paused"),
        pytest.param(FakeProcess(), _probe, "running", True, "200 OK", id="running"),
    ],
)
def test_component_status(proc: FakeProcess, probe: object, state: str, ready: bool, detail: str) -> None:
    comp = Component("gateway", "the gateway", ["true"], {"http": 8000}, probe=probe)  # type: ignore[arg-type]
    status = component_status("gateway", comp, proc)  # type: ignore[arg-type]
    assert status == ComponentStatus("gateway", proc.pid, 8000, "http://127.0.0.1:8000", state, ready, detail)
