"""What one ``obs-tests health`` run checks, and its thresholds.

Grafana credentials are :class:`~obs_tests.clients.grafana.GrafanaCredentials`, whose ``repr`` never shows
the secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from obs_tests.clients.grafana import GrafanaCredentials
from obs_tests.config.contract import Contract
from obs_tests.config.topology import monitoring_kind
from obs_tests.stack.protocol import Stack

__all__ = ["HealthSettings"]


@dataclass(frozen=True)
class HealthSettings:
    """Endpoints, optional contract and thresholds of a health run."""

    prometheus_url: str
    alertmanager_url: str | None = None
    #: the other Prometheus replicas and Alertmanager peers of an HA stack (none: no HA checks)
    prometheus_replicas: tuple[str, ...] = ()
    alertmanager_peers: tuple[str, ...] = ()
    #: the external label naming each replica
    replica_label: str = "replica"
    #: URL -> the name HA findings give that replica or peer (default: its host:port)
    member_names: Mapping[str, str] = field(default_factory=dict)
    grafana_url: str | None = None
    grafana: GrafanaCredentials = field(default_factory=GrafanaCredentials)
    contract: Contract | None = None
    #: seconds per HTTP request
    timeout: float = 10.0
    #: window of the counter increases judged (notification drops, TSDB failures, missed evaluations)
    window: float = 600.0
    #: a target (or the newest sample) older than this many scrape intervals is stale
    stale_intervals: float = 3.0
    #: a scrape taking at least this share of its timeout is a warning
    slow_scrape_ratio: float = 0.8
    #: notification queue fill ratios for WARNING and CRITICAL
    queue_warning: float = 0.5
    queue_critical: float = 0.9
    #: the always-firing alert that proves the pipeline alive ("" to skip the check)
    watchdog_alert: str = "Watchdog"
    #: report CRITICAL as WARNING in the exit code
    warn_only: bool = False
    #: parallel requests
    workers: int = 8

    @classmethod
    def of_stack(cls, stack: Stack, contract: Contract | None = None, **options: Any) -> HealthSettings:
        """The health run of ``stack``: its Prometheus and Alertmanager and, on an HA stack, every other
        replica and peer (the HA checks, naming each by its component name); ``contract`` (default: the
        stack's) for the expected targets and the replica label; ``options``: any other field."""
        contract = contract or stack.contract
        others = [name for name in stack.components if name not in ("prometheus", "alertmanager")]
        members = [name for name in stack.components if monitoring_kind(name) in ("prometheus", "alertmanager")]
        return cls(
            prometheus_url=stack.prometheus_url,
            alertmanager_url=stack.alertmanager_url,
            contract=contract,
            prometheus_replicas=tuple(stack.url(n) for n in others if monitoring_kind(n) == "prometheus"),
            alertmanager_peers=tuple(stack.url(n) for n in others if monitoring_kind(n) == "alertmanager"),
            replica_label=contract.stack.topology.replica_label if contract else "replica",
            member_names={stack.url(name): name for name in members},
            **options,
        )

    @property
    def window_text(self) -> str:
        """The window as a PromQL duration (``10m``, ``90s``)."""
        seconds = max(1, round(self.window))
        if seconds % 3600 == 0:
            return f"{seconds // 3600}h"
        if seconds % 60 == 0:
            return f"{seconds // 60}m"
        return f"{seconds}s"
