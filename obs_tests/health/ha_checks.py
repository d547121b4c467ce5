"""Health of highly available monitoring, for ``obs-tests health`` given several replicas or peers: the
HA checks of :mod:`obs_tests.checks.ha` (cluster size and membership, peers' status, replicas sending to
every peer, external labels, diverging rule groups, config hashes and reloads, gossip lost and peer
positions) as health results, one per check — an error finding is CRITICAL, a warning WARNING.

Example::

    view = fetch_ha([prom_a, prom_b], [am_0, am_1, am_2])
    for result in ha_results(view):
        print(result.name, result.status)
"""

from __future__ import annotations

from obs_tests.checks.ha import NAMED_CHECKS
from obs_tests.checks.ha_view import HaView, Peer, Replica
from obs_tests.health.status import CheckResult, Problem, Status

__all__ = ["ha_results"]


def _members(view: HaView) -> CheckResult:
    members: list[Replica | Peer] = [*view.replicas, *view.peers]
    unreadable = [x for x in members if x.error]
    problems = [Problem(Status.CRITICAL, f"{x.name} ({x.url})", f"cannot be read: {x.error}") for x in unreadable]
    summary = f"{len(view.replicas)} Prometheus replica(s) and {len(view.peers)} Alertmanager peer(s) answer"
    metrics = {"ha_prometheus_replicas": float(len(view.replicas)), "ha_alertmanager_peers": float(len(view.peers))}
    return CheckResult.judge("ha.members", "ha", summary, problems, metrics)


def ha_results(view: HaView) -> list[CheckResult]:
    """A health result per HA check of ``view`` (members first: one that cannot be read is CRITICAL)."""
    results = [_members(view)]
    for check in NAMED_CHECKS:
        problems = [
            Problem(
                Status.CRITICAL if f.severity == "error" else Status.WARNING, f.subject, f.message, {"rule": f.rule}
            )
            for f in check.run(view)
        ]
        ok = check.holds.format(peers=len(view.peers), label=view.replica_label)
        results.append(CheckResult.judge(check.name, "ha", ok, problems))
    return results
