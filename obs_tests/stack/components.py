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

from obs_tests.config.topology import Topology, monitoring_kind
from obs_tests.core.durations import format_duration
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
    #: replicas and peers (the single topology: one of each)
    topology: Topology = field(default_factory=Topology)
    #: each Prometheus replica's own config (by component name; the first replica's is ``prometheus_config``)
    replica_configs: dict[str, Path] = field(default_factory=dict)

    @property
    def workdir(self) -> Path:
        """The stack's working directory."""
        return self.services.workdir


def port_names(name: str, system: SystemUnderTest | None, topology: Topology | None = None) -> tuple[str, ...]:
    """The names of the ports of component ``name`` (monitoring, or a service of ``system``); an
    Alertmanager peer of a cluster also gossips on its ``cluster`` port."""
    kind = monitoring_kind(name)
    if kind == "alertmanager" and topology is not None and topology.alertmanager_peers > 1:
        return ("http", "cluster")
    if kind is not None:
        return ("http",)
    if system is None:
        raise KeyError(name)
    return system.service(name).ports


def _monitoring_argv(name: str, plan: ComponentPlan) -> list[str]:
    data = plan.workdir / "data"
    listen = f"--web.listen-address={LOOPBACK}:{plan.services.port(name)}"
    kind = monitoring_kind(name)
    if kind == "prometheus":
        return [
            "prometheus",
            f"--config.file={plan.replica_configs.get(name, plan.prometheus_config)}",
            f"--storage.tsdb.path={data / name}",
            listen,
            "--web.enable-lifecycle",
            "--rules.alert.resend-delay=1s",
            "--enable-feature=extra-scrape-metrics",
            "--storage.tsdb.retention.time=1d",
            "--log.format=json",
        ]
    if kind == "alertmanager":
        return [
            "prometheus-alertmanager",
            f"--config.file={plan.alertmanager_config}",
            f"--storage.path={data / name}",
            listen,
            *_cluster_flags(name, plan),
            "--log.format=json",
        ]
    collectors = ("cpu", "meminfo", "loadavg", "filesystem", "netdev")
    return [
        "prometheus-node-exporter",
        listen,
        "--collector.disable-defaults",
        *(f"--collector.{c}" for c in collectors),
    ]


def _cluster_flags(name: str, plan: ComponentPlan) -> list[str]:
    """No cluster for a lone Alertmanager (else it binds :9094 and parallel stacks clash); a peer of a
    cluster gossips on its own loopback port and joins every other peer."""
    topology = plan.topology
    if topology.alertmanager_peers == 1:
        return ["--cluster.listen-address="]
    address = f"{LOOPBACK}:{plan.services.port(name, 'cluster')}"
    others = [p for p in topology.alertmanager_names() if p != name]
    return [
        f"--cluster.listen-address={address}",
        f"--cluster.advertise-address={address}",
        *(f"--cluster.peer={LOOPBACK}:{plan.services.port(p, 'cluster')}" for p in others),
        f"--cluster.peer-timeout={format_duration(topology.peer_timeout)}",
        f"--cluster.gossip-interval={format_duration(topology.gossip_interval)}",
        f"--cluster.pushpull-interval={format_duration(topology.pushpull_interval)}",
        f"--cluster.settle-timeout={format_duration(topology.settle_timeout)}",
    ]


def _monitoring(name: str, kind: str, plan: ComponentPlan) -> Component:
    probe_path = "/metrics" if kind == "node-exporter" else "/-/ready"
    ports = dict(plan.services.ports[name])
    probe: Probe = HttpProbe(f"http://{LOOPBACK}:{ports['http']}{probe_path}")
    description = MONITORING[kind] + (f" ({_role(name, kind)})" if name != kind else "")
    return Component(name, description, _monitoring_argv(name, plan), ports, probe)


def _role(name: str, kind: str) -> str:
    return f"{'replica' if kind == 'prometheus' else 'peer'} {name.rsplit('-', 1)[1]}"


def build_components(plan: ComponentPlan, names: Sequence[str], system: SystemUnderTest | None) -> dict[str, Component]:
    """Build the :class:`Component` of each name in ``names``: monitoring, or a service of ``system``."""
    built: dict[str, Component] = {}
    for name in names:
        kind = monitoring_kind(name)
        if kind is not None:
            built[name] = _monitoring(name, kind, plan)
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


def component_names(system: SystemUnderTest | None, topology: Topology | None = None) -> list[str]:
    """Every component an embedded stack with ``system`` may run (monitoring first: every replica and peer
    of ``topology``)."""
    shape = topology or Topology()
    monitoring = [*shape.prometheus_names(), *shape.alertmanager_names(), "node-exporter"]
    return [*monitoring, *(system.service_names if system is not None else [])]
