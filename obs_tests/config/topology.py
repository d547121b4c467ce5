"""The shape of a stack's own monitoring: one Prometheus and one Alertmanager (``single``, the default), or
Prometheus replicas evaluating the same rules and an Alertmanager cluster deduplicating their notifications
(``ha``) — ``stack.topology`` in the contract.

Replica and peer names are the component names everywhere (``stack.kill("alertmanager-2")``, ``obs-tests
status``): the first keeps the plain name, so every check that talks to "the" Prometheus or Alertmanager
talks to the first replica or peer.

Example::

    topology = Topology(prometheus_replicas=2, alertmanager_peers=3)
    topology.prometheus_names()      # ['prometheus', 'prometheus-2']
    topology.alertmanager_names()    # ['alertmanager', 'alertmanager-2', 'alertmanager-3']
    monitoring_kind("alertmanager-3")  # 'alertmanager'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MAX_REPLICAS", "Topology", "monitoring_kind", "replica_names"]

#: the most replicas or peers a stack may have (each is a process with its own port and storage)
MAX_REPLICAS = 5
_REPLICA = re.compile(r"^(?P<kind>prometheus|alertmanager)(?:-(?P<index>[2-9]))?$")


def replica_names(kind: str, count: int) -> list[str]:
    """``kind``, ``kind-2``, … ``kind-<count>``."""
    return [kind, *(f"{kind}-{i}" for i in range(2, count + 1))]


def monitoring_kind(name: str) -> str | None:
    """``prometheus``/``alertmanager``/``node-exporter`` for a monitoring component (a replica or peer
    included), None for any other component."""
    if name == "node-exporter":
        return name
    match = _REPLICA.match(name)
    return match.group("kind") if match else None


@dataclass(frozen=True)
class Topology:
    """How many Prometheus replicas and Alertmanager peers a stack runs, and how they are told apart."""

    prometheus_replicas: int = 1
    alertmanager_peers: int = 1
    #: the external label whose value names each Prometheus replica (it differs between replicas only,
    #: and is dropped from the alerts they send, so that Alertmanager sees one alert, not one per replica)
    replica_label: str = "replica"
    #: Alertmanager's ``--cluster.peer-timeout``: the peer at position n of the cluster waits n times this
    #: before it notifies what no peer before it has. A peer that took an alert one resend later (1 s)
    #: than another flushes that group 1 s out of phase from then on; a wait of a whole second then put a
    #: peer's notification-log check on the other's send, and both notified (1 s: 7 of 23 incidents back to
    #: back; 0.5 s, position 2 against 1 s: the same). 0.7 s keeps every position ≥ 0.3 s from another's
    #: send for whole-second offsets (0 of 35) and short against group_interval 2 s: a flush that began
    #: just before the resolve sends a stale "firing" after the "resolved" (a flap) the likelier the longer
    #: the wait. Alertmanager's default, 15 s, suits group_interval 5m.
    peer_timeout: float = 0.7
    #: ``--cluster.gossip-interval`` (Alertmanager's default 200 ms): a peer settles after 3 checks 10 of these apart
    gossip_interval: float = 0.1
    #: ``--cluster.pushpull-interval``: full state exchange between peers (default 1 m)
    pushpull_interval: float = 5.0
    #: ``--cluster.settle-timeout``: the most a starting peer waits for the others before it notifies
    settle_timeout: float = 10.0

    def __post_init__(self) -> None:
        for field_name in ("prometheus_replicas", "alertmanager_peers"):
            value = getattr(self, field_name)
            if not 1 <= value <= MAX_REPLICAS:
                raise ValueError(f"{field_name}: {value} is not between 1 and {MAX_REPLICAS}")

    @classmethod
    def shaped(
        cls,
        shape: str,
        *,
        prometheus_replicas: int | None = None,
        alertmanager_peers: int | None = None,
        alertmanager: bool = True,
        replica_label: str = "replica",
    ) -> Topology:
        """The topology of ``shape``: ``single``, or ``ha`` with 2 Prometheus replicas and 3 Alertmanager
        peers unless counts are given (one peer when the stack has no Alertmanager)."""
        if shape == "single":
            return cls(replica_label=replica_label)
        if shape != "ha":
            raise ValueError(f"topology {shape!r}: use single or ha")
        return cls(
            prometheus_replicas=prometheus_replicas or 2,
            alertmanager_peers=(alertmanager_peers or 3) if alertmanager else 1,
            replica_label=replica_label,
        )

    @property
    def dedup_bound(self) -> float:
        """Seconds after the first notification of a group within which a duplicate from another peer
        would arrive: the last peer waits ``(peers - 1) x peer_timeout`` before it notifies what no peer
        before it has, plus a 2 s margin for its flush and the webhook's delivery."""
        return (self.alertmanager_peers - 1) * self.peer_timeout + 2.0

    @property
    def ha(self) -> bool:
        """More than one replica or peer."""
        return self.prometheus_replicas > 1 or self.alertmanager_peers > 1

    @property
    def name(self) -> str:
        """``single`` or ``ha``, as the contract says it."""
        return "ha" if self.ha else "single"

    def prometheus_names(self) -> list[str]:
        """The component names of the Prometheus replicas."""
        return replica_names("prometheus", self.prometheus_replicas)

    def alertmanager_names(self) -> list[str]:
        """The component names of the Alertmanager peers."""
        return replica_names("alertmanager", self.alertmanager_peers)

    def describe(self) -> str:
        """``ha: 2 Prometheus replicas, 3 Alertmanager peers`` (or ``single``)."""
        if not self.ha:
            return "single"
        return f"ha: {self.prometheus_replicas} Prometheus replicas, {self.alertmanager_peers} Alertmanager peers"
