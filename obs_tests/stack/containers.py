"""The fault backend for a docker-compose stack: the same faults, acting on containers (docker SDK).

Containers are found by their compose labels (``com.docker.compose.project`` and
``com.docker.compose.service``); component names are compose service names (``gateway``,
``agent-risk``, ``nats``, ...). Service URLs for admin faults come from ``urls`` (what the host can
reach, e.g. published ports)::

    backend = ComposeBackend("obs-tests", urls={"gateway": "http://127.0.0.1:8000"})
    with ChaosController(backend) as chaos:
        chaos.apply(FaultSpec("gw", "pause", "gateway"))
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from obs_tests.core.waiting import Poll, wait_for
from obs_tests.errors import ControlUnavailable, UnknownComponent

__all__ = ["ComposeBackend"]


class ComposeBackend:
    """Stop/start/pause/kill compose services' containers through the docker SDK."""

    def __init__(self, project: str, *, urls: Mapping[str, str] | None = None, client: Any = None) -> None:
        self.project = project
        self.urls = dict(urls or {})
        if client is None:
            host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
            if host.startswith("unix://") and not Path(host.removeprefix("unix://")).exists():
                # Checked first: the SDK's client leaks its socket when the daemon is not there.
                raise ControlUnavailable(
                    f"docker daemon unreachable (no socket at {host.removeprefix('unix://')}); "
                    "compose faults need a running docker engine"
                )
            try:
                import docker  # noqa: PLC0415 - only compose users need the docker SDK and a daemon

                client = docker.from_env()
                client.ping()
            except Exception as exc:  # noqa: BLE001 - the SDK raises many types for "no daemon"
                raise ControlUnavailable(
                    f"docker daemon unreachable ({exc}); compose faults need a running docker engine"
                ) from None
        self.client = client

    def containers(self) -> list[Any]:
        """Every container of the project, running or not."""
        found: list[Any] = self.client.containers.list(
            all=True, filters={"label": [f"com.docker.compose.project={self.project}"]}
        )
        return found

    def _container(self, name: str) -> Any:
        found = self.client.containers.list(
            all=True,
            filters={"label": [f"com.docker.compose.project={self.project}", f"com.docker.compose.service={name}"]},
        )
        if not found:
            raise UnknownComponent(f"no container of compose service '{name}' in project '{self.project}'")
        return found[0]

    def kill(self, name: str) -> None:
        """SIGKILL the service's container."""
        self._container(name).kill()

    def stop(self, name: str) -> None:
        """Stop the container (SIGTERM, then SIGKILL after 10 s)."""
        self._container(name).stop(timeout=10)

    def pause(self, name: str) -> None:
        """Freeze the container (cgroup freezer: like SIGSTOP for every process in it)."""
        self._container(name).pause()

    def resume(self, name: str) -> None:
        """Unfreeze the container."""
        self._container(name).unpause()

    def start(self, name: str | None = None, *, wait: bool = True) -> None:
        """Start a stopped/killed container; ``wait``: until it runs (and is healthy if it has a check)."""
        if name is None:
            raise ControlUnavailable("start the compose stack with `docker compose up -d`")
        self._container(name).start()
        if wait:
            self.wait_running(name)

    def restart(self, name: str, *, wait: bool = True) -> None:
        """Restart the container."""
        self._container(name).restart(timeout=10)
        if wait:
            self.wait_running(name)

    def wait_running(self, name: str, timeout: float = 60.0) -> None:
        """Wait until the service's container runs (and is healthy, if it has a health check)."""

        def probe() -> Poll[str]:
            container = self._container(name)
            container.reload()
            health = (container.attrs.get("State") or {}).get("Health", {}).get("Status")
            state = container.status if health is None else f"{container.status}/{health}"
            return Poll(container.status == "running" and health in (None, "healthy"), state)

        wait_for(probe, timeout=timeout, interval=0.25, expected=f"container of {name} running and healthy")

    def url(self, name: str) -> str:
        """The URL the host reaches the service at."""
        if name not in self.urls:
            raise UnknownComponent(f"no URL configured for compose service '{name}' — known: {sorted(self.urls)}")
        return self.urls[name]
