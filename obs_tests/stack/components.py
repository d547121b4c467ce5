"""The catalogue of components the embedded stack can run, and how each is started and probed.

A component is one OS process. Its name is the same everywhere: ``stack.kill("gateway")``, the
``service`` target label in Prometheus, the docker-compose service name.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from obs_tests.demo.signal_routing import AGENT_TYPES
from obs_tests.stack.ports import LOOPBACK
from obs_tests.stack.probes import HttpProbe, Probe, RedisProbe

__all__ = [
    "AGENT_COMPONENTS",
    "CATALOGUE",
    "MOCK_SERVICES",
    "Component",
    "ComponentPlan",
    "build_components",
]

AGENT_COMPONENTS = tuple(f"agent-{t}" for t in AGENT_TYPES)
MOCK_SERVICES = ("gateway", *AGENT_COMPONENTS, "orchestrator", "exchange")

# name -> (what it is, names of its ports). The first port is the one ``url()`` points at.
CATALOGUE: dict[str, tuple[str, tuple[str, ...]]] = {
    "prometheus": ("Prometheus server", ("http",)),
    "alertmanager": ("Alertmanager", ("http",)),
    "nats": ("NATS server with JetStream", ("client", "monitor")),
    "redis": ("Redis server (no persistence)", ("client",)),
    "redis-exporter": ("prometheus-redis-exporter", ("http",)),
    "nats-exporter": ("NATS monitoring exporter (obs-tests)", ("http",)),
    "webhook-sink": ("alert webhook sink (records notifications)", ("http",)),
    "gateway": ("mock trading gateway", ("http",)),
    **{f"agent-{t}": (f"mock {t} agent", ("http",)) for t in AGENT_TYPES},
    "orchestrator": ("mock workflow orchestrator", ("http",)),
    "exchange": ("mock exchange price feed", ("http",)),
    "node-exporter": ("prometheus-node-exporter", ("http",)),
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

    workdir: Path
    ports: dict[str, dict[str, int]]
    prometheus_config: Path
    alertmanager_config: Path | None
    python: str = sys.executable
    seed: int = 1


def _service(plan: ComponentPlan, name: str, kind: str, extra: Sequence[str] = ()) -> list[str]:
    port = plan.ports[name]["http"]
    nats = plan.ports["nats"]["client"]
    return [
        plan.python,
        "-m",
        "obs_tests.demo",
        kind,
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--nats-url",
        f"nats://{LOOPBACK}:{nats}",
        "--seed",
        str(plan.seed),
        *extra,
    ]


def _http(name: str, plan: ComponentPlan, path: str) -> HttpProbe:
    return HttpProbe(f"http://{LOOPBACK}:{plan.ports[name]['http']}{path}")


def build_components(plan: ComponentPlan, names: Sequence[str]) -> dict[str, Component]:
    """Build the :class:`Component` of each name in ``names`` (all must be in :data:`CATALOGUE`)."""
    data = plan.workdir / "data"
    ports = plan.ports
    built: dict[str, Component] = {}
    for name in names:
        description = CATALOGUE[name][0]
        own = ports[name]
        if name == "prometheus":
            argv = [
                "prometheus",
                f"--config.file={plan.prometheus_config}",
                f"--storage.tsdb.path={data / 'prometheus'}",
                f"--web.listen-address={LOOPBACK}:{own['http']}",
                "--web.enable-lifecycle",
                "--rules.alert.resend-delay=1s",
                "--enable-feature=extra-scrape-metrics",
                "--storage.tsdb.retention.time=1d",
                "--log.format=json",
            ]
            built[name] = Component(name, description, argv, own, _http(name, plan, "/-/ready"))
        elif name == "alertmanager":
            argv = [
                "prometheus-alertmanager",
                f"--config.file={plan.alertmanager_config}",
                f"--storage.path={data / 'alertmanager'}",
                f"--web.listen-address={LOOPBACK}:{own['http']}",
                "--cluster.listen-address=",
                "--log.format=json",
            ]
            built[name] = Component(name, description, argv, own, _http(name, plan, "/-/ready"))
        elif name == "nats":
            argv = [
                "nats-server",
                "-a",
                LOOPBACK,
                "-p",
                str(own["client"]),
                "-m",
                str(own["monitor"]),
                "-js",
                "-sd",
                str(data / "nats"),
                "--server_name",
                "obs-tests",
            ]
            probe: Probe = HttpProbe(f"http://{LOOPBACK}:{own['monitor']}/healthz")
            built[name] = Component(name, description, argv, own, probe, scheme="nats", metrics=False)
        elif name == "redis":
            argv = [
                "redis-server",
                "--port",
                str(own["client"]),
                "--bind",
                LOOPBACK,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(data),
                "--protected-mode",
                "yes",
            ]
            probe = RedisProbe(LOOPBACK, own["client"])
            built[name] = Component(name, description, argv, own, probe, scheme="redis", metrics=False)
        elif name == "redis-exporter":
            argv = [
                "prometheus-redis-exporter",
                f"--redis.addr=redis://{LOOPBACK}:{ports['redis']['client']}",
                f"--web.listen-address={LOOPBACK}:{own['http']}",
            ]
            built[name] = Component(name, description, argv, own, _http(name, plan, "/metrics"))
        elif name == "node-exporter":
            argv = [
                "prometheus-node-exporter",
                f"--web.listen-address={LOOPBACK}:{own['http']}",
                "--collector.disable-defaults",
                "--collector.cpu",
                "--collector.meminfo",
                "--collector.loadavg",
                "--collector.filesystem",
                "--collector.netdev",
            ]
            built[name] = Component(name, description, argv, own, _http(name, plan, "/metrics"))
        elif name == "nats-exporter":
            argv = _service(
                plan,
                name,
                "nats-exporter",
                ["--nats-monitor-url", f"http://{LOOPBACK}:{ports['nats']['monitor']}"],
            )
            built[name] = Component(name, description, argv, own, _http(name, plan, "/healthz"))
        elif name == "webhook-sink":
            argv = _service(plan, name, "sink")
            built[name] = Component(name, description, argv, own, _http(name, plan, "/healthz"))
        elif name.startswith("agent-"):
            argv = _service(plan, name, "agent", ["--agent-type", name.removeprefix("agent-")])
            built[name] = Component(name, description, argv, own, _http(name, plan, "/healthz"))
        elif name == "orchestrator":
            extra = ["--redis-url", f"redis://{LOOPBACK}:{ports['redis']['client']}"]
            argv = _service(plan, name, "orchestrator", extra)
            built[name] = Component(name, description, argv, own, _http(name, plan, "/healthz"))
        elif name in ("gateway", "exchange"):
            argv = _service(plan, name, name)
            built[name] = Component(name, description, argv, own, _http(name, plan, "/healthz"))
        else:  # pragma: no cover - guarded by CATALOGUE membership
            raise KeyError(name)
    return built
