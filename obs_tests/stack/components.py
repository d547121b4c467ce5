"""The components the embedded stack runs — its own monitoring (Prometheus, Alertmanager, node exporter)
and the services of the system under test (:mod:`obs_tests.stack.system_under_test`) — and how each is started
and probed.

A component is one OS process. Its name is the same everywhere: ``stack.kill("gateway")``, the
``service`` target label in Prometheus, the docker-compose service name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from obs_tests.stack.ports import LOOPBACK
from obs_tests.stack.probes import HttpProbe, Probe
from obs_tests.stack.system_under_test import ServicePlan, SystemUnderTest

__all__ = [
    "MONITORING",
    "Component",
    "ComponentPlan",
    "build_components",
    "component_names",
    "port_names",
]

# name -> what it is. Each listens on one port, "http".
MONITORING: dict[str, str] = {
    "prometheus": "Prometheus server",
    "alertmanager": "Alertmanager",
    "node-exporter": "prometheus-node-exporter",
}


@dataclass
class Component:
    """A runnable component: how to start it, where it listens, how to tell it is ready."""

    name: str
    description: str
    argv: list[str]
    ports: dict[str, int]
    probe: Probe
    scheme: str = "http"
    metrics: bool = True
    env: dict[str, str] = field(default_factory=dict)

    @property
    def port(self) -> int:
        """The main port (HTTP, or the client port for NATS/Redis)."""
        return next(iter(self.ports.values()))

    @property
    def address(self) -> str:
        """``host:port`` of the main port."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, ``nats://…`` or ``redis://…``."""
        return f"{self.scheme}://{self.address}"


@dataclass(frozen=True)
class ComponentPlan:
    """Everything needed to build the argv of every component."""

    services: ServicePlan
    prometheus_config: Path
    alertmanager_config: Path | None

    @property
    def workdir(self) -> Path:
        """The stack's working directory."""
        return self.services.workdir


def port_names(name: str, system: SystemUnderTest | None) -> tuple[str, ...]:
    """The names of the ports of component ``name`` (monitoring, or a service of ``system``)."""
    if name in MONITORING:
        return ("http",)
    if system is None:
        raise KeyError(name)
    return system.service(name).ports


def _monitoring_argv(name: str, plan: ComponentPlan) -> list[str]:
    data = plan.workdir / "data"
    listen = f"--web.listen-address={LOOPBACK}:{plan.services.port(name)}"
    if name == "prometheus":
        return [
            "prometheus",
            f"--config.file={plan.prometheus_config}",
            f"--storage.tsdb.path={data / 'prometheus'}",
            listen,
            "--web.enable-lifecycle",
            "--rules.alert.resend-delay=1s",
            "--enable-feature=extra-scrape-metrics",
            "--storage.tsdb.retention.time=1d",
            "--log.format=json",
        ]
    if name == "alertmanager":
        return [
            "prometheus-alertmanager",
            f"--config.file={plan.alertmanager_config}",
            f"--storage.path={data / 'alertmanager'}",
            listen,
            "--cluster.listen-address=",
            "--log.format=json",
        ]
    collectors = ("cpu", "meminfo", "loadavg", "filesystem", "netdev")
    return [
        "prometheus-node-exporter",
        listen,
        "--collector.disable-defaults",
        *(f"--collector.{c}" for c in collectors),
    ]


def _monitoring(name: str, plan: ComponentPlan) -> Component:
    probe_path = "/metrics" if name == "node-exporter" else "/-/ready"
    ports = dict(plan.services.ports[name])
    probe: Probe = HttpProbe(f"http://{LOOPBACK}:{ports['http']}{probe_path}")
    return Component(name, MONITORING[name], _monitoring_argv(name, plan), ports, probe)


def build_components(plan: ComponentPlan, names: Sequence[str], system: SystemUnderTest | None) -> dict[str, Component]:
    """Build the :class:`Component` of each name in ``names``: monitoring, or a service of ``system``."""
    built: dict[str, Component] = {}
    for name in names:
        if name in MONITORING:
            built[name] = _monitoring(name, plan)
            continue
        if system is None:
            raise KeyError(name)
        spec = system.service(name)
        built[name] = Component(
            name,
            spec.description,
            spec.argv(plan.services),
            dict(plan.services.ports[name]),
            spec.probe(plan.services),
            scheme=spec.scheme,
            metrics=spec.metrics,
        )
    return built


def component_names(system: SystemUnderTest | None) -> list[str]:
    """Every component an embedded stack with ``system`` may run (monitoring first)."""
    return [*MONITORING, *(system.service_names if system is not None else [])]
