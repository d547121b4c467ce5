"""The one face every stack shows the validator — embedded (local processes), compose (containers) or
external (URLs): where its servers are, a Prometheus client, its components, the time scale its rules
run at, process faults (kill, stop, pause, resume, start, restart) and ``heal`` to undo them.

The scenario runner, the chaos faults, the pools of stacks and the dashboard hold a :class:`Stack` and
nothing more; a stack that cannot do something (an external stack asked to kill) raises
:class:`~obs_tests.errors.ControlUnavailable` saying why, instead of callers probing what it has.

Example::

    def crash_and_back(stack: Stack, name: str) -> None:
        stack.kill(name)
        stack.start(name, wait=True)
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Protocol, runtime_checkable

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.config.contract import Contract

__all__ = ["Stack"]


@runtime_checkable
class Stack(Protocol):
    """A stack under test, whoever runs it."""

    @property
    def contract(self) -> Contract | None:
        """The contract it was built from (None: a stack given by URLs only)."""
        ...

    @property
    def prometheus_url(self) -> str:
        """URL of its Prometheus."""
        ...

    @property
    def alertmanager_url(self) -> str | None:
        """URL of its Alertmanager (None: it has none)."""
        ...

    @property
    def components(self) -> Collection[str]:
        """The components it knows by name (the ``service`` label, a compose service, a process)."""
        ...

    @property
    def controllable(self) -> bool:
        """Whether its processes can be faulted (kill/stop/pause/…)."""
        ...

    @property
    def time_scale(self) -> float:
        """The factor its rules' ``for:`` and range windows were multiplied by (1.0: as written)."""
        ...

    @property
    def load_targets(self) -> Path | None:
        """The file Locust runs announce themselves in for Prometheus' ``load`` job (None: no such job)."""
        ...

    def url(self, name: str) -> str:
        """The base URL of component ``name``."""
        ...

    def prometheus(self) -> PrometheusClient:
        """A client of its Prometheus."""
        ...

    def kill(self, name: str) -> None:
        """SIGKILL a component (a crash)."""
        ...

    def stop(self, name: str) -> None:
        """Stop a component cleanly."""
        ...

    def pause(self, name: str) -> None:
        """Freeze a component (SIGSTOP): it hangs."""
        ...

    def resume(self, name: str) -> None:
        """Unfreeze a paused component."""
        ...

    def start(self, name: str | None = None, *, wait: bool = True) -> None:
        """Start a stopped component (or, with no name, the stack)."""
        ...

    def restart(self, name: str, *, wait: bool = True) -> None:
        """Stop a component cleanly and start it again."""
        ...

    def config_file(self, name: str) -> Path:
        """The configuration file Prometheus replica ``name`` reads on a reload (a fault may break it)."""
        ...

    def heal(self, timeout: float = 30.0) -> list[str]:
        """Undo every process fault and wait until every target is up; the components it had to fix."""
        ...

    def close(self) -> None:
        """Stop what this stack started (nothing for a stack it does not own)."""
        ...
