"""What the HA checks (:mod:`obs_tests.checks.ha`) judge: every Prometheus replica and Alertmanager peer of a
stack, read at one moment through their APIs — replicas' external labels, Alertmanagers, alert relabelling,
rule groups and last reload; peers' cluster status and members, configuration hash, cluster metrics and
alerts. A member that cannot be read is kept with its error.

Example::

    view = fetch_ha(["http://prom-a:9090", "http://prom-b:9090"], ["http://am-0:9093", "http://am-1:9093"])
    [p.status for p in view.peers]    # ['ready', 'ready']
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import yaml
from prometheus_client.parser import text_string_to_metric_families

from obs_tests.clients.alertmanager import AlertmanagerClient
from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.errors import ObsTestsError

__all__ = [
    "CLUSTER_METRICS",
    "GOSSIP_LOST",
    "HaView",
    "Peer",
    "Replica",
    "address",
    "fetch_ha",
    "fetch_peer",
    "fetch_replica",
]

#: the peer metrics the view keeps (the sums over their series)
CLUSTER_METRICS = (
    "alertmanager_cluster_members",
    "alertmanager_cluster_failed_peers",
    "alertmanager_cluster_health_score",
    "alertmanager_cluster_messages_pruned_total",
    "alertmanager_oversized_gossip_message_dropped_total",
    "alertmanager_oversized_gossip_message_failure_total",
    "alertmanager_nflog_gossip_messages_propagated_total",
    "alertmanager_peer_position",
    "alertmanager_config_last_reload_successful",
)
#: gossip a peer lost: notification-log entries that may never reach the other peers (they then notify too)
GOSSIP_LOST = (
    "alertmanager_cluster_messages_pruned_total",
    "alertmanager_oversized_gossip_message_dropped_total",
    "alertmanager_oversized_gossip_message_failure_total",
)


@dataclass(frozen=True)
class Replica:
    """What one Prometheus replica says about itself."""

    name: str
    url: str
    external_labels: Mapping[str, str] = field(default_factory=dict)
    #: ``host:port`` of every Alertmanager it sends to
    alertmanagers: tuple[str, ...] = ()
    #: the ``alerting.alert_relabel_configs`` of its loaded config
    alert_relabel: tuple[Mapping[str, Any], ...] = ()
    #: rule group name -> ((rule name, health, last error), …)
    groups: Mapping[str, tuple[tuple[str, str, str], ...]] = field(default_factory=dict)
    reload_ok: bool | None = None
    #: why it could not be read (the other fields are then empty)
    error: str = ""


@dataclass(frozen=True)
class Peer:
    """What one Alertmanager peer says about itself."""

    name: str
    url: str
    #: ``ready``, ``settling`` or ``disabled`` (clustering off)
    status: str = ""
    #: the names of the members it sees (itself included)
    members: tuple[str, ...] = ()
    #: its own member name
    member_name: str = ""
    #: sha256 of the configuration it runs (``/api/v2/status`` config.original)
    config_hash: str = ""
    #: :data:`CLUSTER_METRICS` it exports
    metrics: Mapping[str, float] = field(default_factory=dict)
    #: the label sets of the alerts it holds
    alerts: tuple[Mapping[str, str], ...] = ()
    error: str = ""


@dataclass(frozen=True)
class HaView:
    """Every replica and peer of one HA stack, read at one moment."""

    replicas: tuple[Replica, ...]
    peers: tuple[Peer, ...]
    #: the external label naming each replica
    replica_label: str = "replica"


def address(url: str) -> str:
    """``host:port`` of a URL (the default port of its scheme when it names none)."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = (parts.hostname or "").replace("localhost", "127.0.0.1")
    return f"{host}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


def _rules(group: Mapping[str, Any]) -> tuple[tuple[str, str, str], ...]:
    return tuple(
        (str(r.get("name")), str(r.get("health", "")), str(r.get("lastError", ""))) for r in group.get("rules") or []
    )


def _global(config: Mapping[str, Any]) -> Mapping[str, Any]:
    section = config.get("global") or {}
    return section if isinstance(section, Mapping) else {}


def fetch_replica(client: PrometheusClient, name: str) -> Replica:
    """One replica's external labels, Alertmanagers, alert relabelling, rule groups and last reload."""
    try:
        config = yaml.safe_load(client.config()) or {}
        active = client.alertmanagers().get("activeAlertmanagers") or []
        groups = {
            str(g.get("name")): tuple(
                (str(r.get("name")), str(r.get("health", "")), str(r.get("lastError", "")))
                for r in g.get("rules") or []
            )
            for g in client.rules()
        }
        runtime = client.runtime_info()
    except (ObsTestsError, yaml.YAMLError) as exc:
        return Replica(name, client.base_url, error=str(exc))
    alerting = config.get("alerting") or {}
    return Replica(
        name,
        client.base_url,
        external_labels={
            str(k): str(v) for k, v in ((config.get("global") or {}).get("external_labels") or {}).items()
        },
        alertmanagers=tuple(address(str(a.get("url", ""))) for a in active),
        alert_relabel=tuple(alerting.get("alert_relabel_configs") or ()),
        groups=groups,
        reload_ok=runtime.get("reloadConfigSuccess"),
    )


def _metrics(client: AlertmanagerClient) -> dict[str, float]:
    text = client.request("GET", "/metrics").text
    sums: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in CLUSTER_METRICS:
                sums[sample.name] = sums.get(sample.name, 0.0) + float(sample.value)
    return sums


def fetch_peer(client: AlertmanagerClient, name: str) -> Peer:
    """One peer's cluster status and members, configuration hash, cluster metrics and alerts."""
    try:
        status = client.status()
        metrics = _metrics(client)
        alerts = client.alerts(silenced=True, inhibited=True)
    except (ObsTestsError, ValueError) as exc:
        return Peer(name, client.base_url, error=str(exc))
    cluster = status.get("cluster") or {}
    original = str((status.get("config") or {}).get("original", ""))
    return Peer(
        name,
        client.base_url,
        status=str(cluster.get("status", "")),
        members=tuple(sorted(str(p.get("name", "")) for p in cluster.get("peers") or [])),
        member_name=str(cluster.get("name", "")),
        config_hash=hashlib.sha256(original.encode()).hexdigest()[:12],
        metrics=metrics,
        alerts=tuple(dict(a.get("labels") or {}) for a in alerts),
    )


def fetch_ha(
    prometheus_urls: Sequence[str],
    alertmanager_urls: Sequence[str],
    *,
    replica_label: str = "replica",
    names: Mapping[str, str] | None = None,
    timeout: float = 5.0,
) -> HaView:
    """Read every replica and peer at once. ``names``: URL -> the name findings use (default ``host:port``)."""
    named = dict(names or {})

    def name(url: str) -> str:
        return named.get(url) or address(url)

    with ThreadPoolExecutor(max_workers=8) as pool:
        replicas = pool.map(lambda u: fetch_replica(PrometheusClient(u, timeout=timeout), name(u)), prometheus_urls)
        peers = pool.map(lambda u: fetch_peer(AlertmanagerClient(u, timeout=timeout), name(u)), alertmanager_urls)
        return HaView(tuple(replicas), tuple(peers), replica_label)
