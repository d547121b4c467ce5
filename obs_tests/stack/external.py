"""A stack obs-tests does not run: only URLs (docker-compose, staging, production).

Process control is not available; faults that need it raise :class:`ControlUnavailable` with a hint.
"""

from __future__ import annotations

from pathlib import Path

from obs_tests.clients.base import normalise_url
from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.config.contract import Contract
from obs_tests.errors import ControlUnavailable, UnknownComponent

__all__ = ["ExternalStack"]


class ExternalStack:
    """Prometheus (+ optional Alertmanager and Grafana) reached by URL."""

    def __init__(
        self,
        prometheus_url: str,
        alertmanager_url: str | None = None,
        grafana_url: str | None = None,
    ) -> None:
        self.urls: dict[str, str] = {"prometheus": normalise_url(prometheus_url, "Prometheus")}
        if alertmanager_url:
            self.urls["alertmanager"] = normalise_url(alertmanager_url, "Alertmanager")
        if grafana_url:
            self.urls["grafana"] = normalise_url(grafana_url, "Grafana")
        #: what it runs is not ours: nothing known by name but its servers
        self.components: dict[str, str] = dict(self.urls)
        #: its rules run as written
        self.time_scale = 1.0
        #: given by URLs, not built from a contract
        self.contract: Contract | None = None
        #: no ``load`` job of ours there
        self.load_targets: Path | None = None

    def __enter__(self) -> ExternalStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to tear down: we do not own these servers."""

    def url(self, name: str) -> str:
        """The URL of ``prometheus``, ``alertmanager`` or ``grafana``."""
        try:
            return self.urls[name]
        except KeyError:
            raise UnknownComponent(f"no URL for '{name}' — this stack was given: {', '.join(self.urls)}") from None

    @property
    def prometheus_url(self) -> str:
        """URL of Prometheus."""
        return self.urls["prometheus"]

    @property
    def alertmanager_url(self) -> str | None:
        """URL of Alertmanager, if given."""
        return self.urls.get("alertmanager")

    @property
    def controllable(self) -> bool:
        """An external stack's processes are not ours to kill."""
        return False

    def prometheus(self) -> PrometheusClient:
        """A client for this stack's Prometheus."""
        return PrometheusClient(self.prometheus_url, timeout=10.0)

    def _refuse(self, action: str, name: str) -> None:
        raise ControlUnavailable(
            f"cannot {action} '{name}': this stack is reached by URL, obs-tests does not run its processes — "
            "use the embedded stack (no --prometheus-url) for fault injection"
        )

    def config_file(self, name: str) -> Path:
        """Not available on an external stack: its files are not ours to change."""
        raise ControlUnavailable(
            f"cannot change the configuration of '{name}': this stack is reached by URL, obs-tests does not "
            "write its files — use the embedded stack (no --prometheus-url) for fault injection"
        )

    def kill(self, name: str) -> None:
        """Not available on an external stack."""
        self._refuse("kill", name)

    def stop(self, name: str) -> None:
        """Not available on an external stack."""
        self._refuse("stop", name)

    def pause(self, name: str) -> None:
        """Not available on an external stack."""
        self._refuse("pause", name)

    def resume(self, name: str) -> None:
        """Not available on an external stack."""
        self._refuse("resume", name)

    def start(self, name: str | None = None, *, wait: bool = True) -> None:
        """Not available on an external stack."""
        self._refuse("start", name or "stack")

    def restart(self, name: str, *, wait: bool = True) -> None:
        """Not available on an external stack."""
        self._refuse("restart", name)

    def heal(self, timeout: float = 30.0) -> list[str]:
        """Nothing to undo: no fault of ours acts on its processes."""
        return []
