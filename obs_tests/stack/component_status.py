"""A component of the embedded stack as ``obs-tests status`` shows it: its pid, port, URL, whether its
process runs, is paused or exited, and whether its health probe passes now.

Example::

    for row in stack.status():
        print(row.name, row.state, "ready" if row.ready else row.detail)
"""

from __future__ import annotations

from dataclasses import dataclass

from obs_tests.stack.components import Component
from obs_tests.stack.process import ManagedProcess

__all__ = ["ComponentStatus", "component_status"]


@dataclass(frozen=True)
class ComponentStatus:
    """A component as ``obs-tests status`` shows it."""

    name: str
    pid: int | None
    port: int
    url: str
    state: str  # running | paused | exited | not started
    ready: bool
    detail: str


def component_status(name: str, comp: Component, proc: ManagedProcess) -> ComponentStatus:
    """The status of component ``name`` run by ``proc``; its health probe is asked only while it runs."""
    if proc.pid is None:
        state, ready, detail = "not started", False, ""
    elif not proc.running():
        state, ready, detail = "exited", False, f"exit status {proc.returncode()}"
    elif proc.paused:
        state, ready, detail = "paused", False, "SIGSTOP"
    else:
        ready, detail = comp.probe()
        state = "running"
    return ComponentStatus(name, proc.pid, comp.port, comp.url, state, ready, detail)
