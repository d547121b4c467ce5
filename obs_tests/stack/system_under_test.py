"""The system under test, as the embedded stack sees it: its services (how each starts, where it listens,
how to tell it is ready), its warm-up traffic, and the workloads the suite may drive through it.

The validator never imports a system: the contract names one (``stack.system``, a module with a
``SYSTEM``), and :func:`load_system` imports it when an embedded stack starts it. The project's demo
(``obs_tests.demo.system``) is one; a stack obs-tests does not start (compose, external URLs) has none.

Example::

    system = load_system("obs_tests.demo.system")
    [service.name for service in system.services]     # ['nats', 'redis', ..., 'gateway', ...]
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.core.findings import Finding
from obs_tests.errors import ContractInvalid
from obs_tests.stack.ports import LOOPBACK
from obs_tests.stack.probes import HttpProbe, Probe

__all__ = [
    "ServicePlan",
    "ServiceSpec",
    "SystemUnderTest",
    "WarmUp",
    "Workload",
    "WorkloadContext",
    "WorkloadOutcome",
    "load_system",
]


@dataclass(frozen=True)
class ServicePlan:
    """What a service needs to build its command line: every component's ports, where data goes."""

    workdir: Path
    ports: Mapping[str, Mapping[str, int]]
    python: str = sys.executable
    seed: int = 1

    def port(self, name: str, port: str = "http") -> int:
        """The port ``port`` of component ``name``."""
        return self.ports[name][port]

    def http_probe(self, name: str, path: str) -> HttpProbe:
        """Ready when ``GET http://127.0.0.1:<port of name><path>`` answers 200."""
        return HttpProbe(f"http://{LOOPBACK}:{self.port(name)}{path}")


@dataclass(frozen=True)
class ServiceSpec:
    """One process of the system: its name (the ``service`` label, ``stack.kill(name)``), what it is,
    the names of its ports (the first is the one ``url()`` points at), its argv and its readiness probe."""

    name: str
    description: str
    argv: Callable[[ServicePlan], list[str]]
    probe: Callable[[ServicePlan], Probe]
    ports: tuple[str, ...] = ("http",)
    scheme: str = "http"
    #: whether Prometheus scrapes its ``/metrics`` (NATS and Redis are scraped through exporters)
    metrics: bool = True


@dataclass(frozen=True)
class WarmUp:
    """Traffic sent once every service is ready, and the PromQL that shows it crossed the system: the stack
    is ready when ``query`` reaches ``expected`` (within ``bound``: what the wait is allowed)."""

    query: str
    expected: float
    description: str
    bound: str


@dataclass(frozen=True)
class WorkloadContext:
    """What a workload may use: the live Prometheus, every component's URL and log, the file Locust runs
    announce themselves in, and where Locust logs are kept (None: removed)."""

    prometheus: PrometheusClient
    urls: Mapping[str, str]
    logs: Mapping[str, Path]
    load_targets: Path | None = None
    keep_logs: Path | None = None


@dataclass(frozen=True)
class WorkloadOutcome:
    """What a workload did, in one line, and what it found wrong (empty: it held)."""

    summary: str
    findings: Sequence[Finding] = ()
    #: Prometheus time of the scrape by which what the workload did is visible (None: not measured)
    scraped_at: float | None = None
    #: the load report of a workload that ran Locust (``obs_tests.workloads.load_report``: Locust's table per request
    #: name beside the gateway histogram's view of the same window), else None
    load: Mapping[str, Any] | None = None


#: a named workload of the system: drives traffic, reads what Prometheus counted, judges it
Workload = Callable[[WorkloadContext], WorkloadOutcome]


@dataclass(frozen=True)
class SystemUnderTest:
    """A system the embedded stack can start next to its Prometheus and Alertmanager."""

    name: str
    #: the ``python -m`` module running its services (compose files are checked against :attr:`check_command`)
    module: str
    services: tuple[ServiceSpec, ...]
    #: sends the warm-up traffic to the running services (``urls`` by component, the stack's seed) and says
    #: what shows it crossed the system; raises StackStartError when the system refused it. None: no warm-up
    warm_up: Callable[[Mapping[str, str], int], WarmUp] | None = None
    #: the error in a ``python -m <module> ...`` command line (its arguments), or None when it parses
    check_command: Callable[[Sequence[str]], str | None] | None = None
    #: names a scenario's ``setup.market`` may take (the exchange's price paths)
    markets: tuple[str, ...] = ()
    #: workloads the suite runs by name (``exact_accounting``, ``panel_traffic``, …); absent ones skip
    workloads: Mapping[str, Workload] = field(default_factory=dict)
    #: PromQL that returns no series while the system is at rest: its in-flight work (what a fault left
    #: half done and will still end, and count, later) drained long enough for every rule to have seen it.
    #: A scenario on a stack another one just used waits for them before it starts
    at_rest: tuple[str, ...] = ()

    def service(self, name: str) -> ServiceSpec:
        """The service called ``name``."""
        for spec in self.services:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def service_names(self) -> list[str]:
        """Every service, in start order."""
        return [spec.name for spec in self.services]


_LOADED: dict[str, SystemUnderTest] = {}


@overload
def load_system(module: str) -> SystemUnderTest: ...
@overload
def load_system(module: None) -> None: ...
@overload
def load_system(module: str | None) -> SystemUnderTest | None: ...


def load_system(module: str | None) -> SystemUnderTest | None:
    """The ``SYSTEM`` of ``module`` (``stack.system`` in the contract), imported once; None for None (a
    stack obs-tests does not start has no system)."""
    if module is None:
        return None
    if module in _LOADED:
        return _LOADED[module]
    fix = "stack.system names a module with a SYSTEM (a SystemUnderTest), e.g. obs_tests.demo.system"
    try:
        loaded = importlib.import_module(module)
    except ImportError as exc:
        raise ContractInvalid(f"stack.system: cannot import {module!r} ({exc}) — {fix}") from None
    system = getattr(loaded, "SYSTEM", None)
    if not isinstance(system, SystemUnderTest):
        raise ContractInvalid(f"stack.system: {module!r} has no SYSTEM of type SystemUnderTest — {fix}")
    _LOADED[module] = system
    return system
