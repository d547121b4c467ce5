"""Checks of highly available monitoring: Prometheus replicas evaluating the same rules, and an Alertmanager
cluster deduplicating what they send — on the embedded HA stack or on your own, by URLs.

Where HA alerting quietly breaks, and the check that says so:

- ``ha/mesh`` — a peer that never joined the mesh (started without ``--cluster.peer``), one with clustering
  disabled, or one still settling: every peer must be ``ready`` and see the same members, all of them;
- ``ha/alertmanagers`` — a replica that does not send to every peer (``/api/v1/alertmanagers``);
- ``ha/external-labels`` — replicas whose external labels are identical, or differ in more than the replica
  label;
- ``ha/replica-label-dropped`` — a replica that sends its alerts with the replica label: each replica's
  alert is then a different alert to Alertmanager, notified once per replica;
- ``ha/rule-groups`` — replicas with different rule groups, or a rule failing on one replica only;
- ``ha/config-hash`` — peers running different Alertmanager configurations;
- ``ha/reload`` — a replica or peer whose last configuration reload failed (it runs the previous one);
- ``ha/cluster-metrics`` — peers reporting failed peers, a degraded cluster health score, gossip they lost
  (pruned or oversized messages: notification-log entries the others never get), or two peers at one
  position (both notify at once) — ``alertmanager_cluster_*``, ``alertmanager_oversized_gossip_*``,
  ``alertmanager_peer_position``.

Example (:func:`~obs_tests.checks.ha_view.fetch_ha` reads the stack)::

    view = fetch_ha(["http://prom-a:9090", "http://prom-b:9090"],
                    ["http://am-0:9093", "http://am-1:9093", "http://am-2:9093"])
    for finding in check_ha(view):
        print(finding)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from obs_tests.checks.ha_view import GOSSIP_LOST, HaView, Peer, Replica, address
from obs_tests.core.findings import Finding

__all__ = [
    "CHECKS",
    "NAMED_CHECKS",
    "HaCheck",
    "check_alertmanagers",
    "check_cluster_metrics",
    "check_config_hash",
    "check_external_labels",
    "check_ha",
    "check_mesh",
    "check_reloads",
    "check_replica_label_dropped",
    "check_rule_groups",
]

CHECK = "ha"


# -- the checks --------------------------------------------------------------------------------------------
def _finding(subject: str, message: str, rule: str, severity: str = "error") -> Finding:
    return Finding(CHECK, subject, message, severity=severity, rule=f"ha/{rule}")


def _unreadable(view: HaView) -> list[Finding]:
    members: list[Replica | Peer] = [*view.replicas, *view.peers]
    return [_finding(f"{x.name} ({x.url})", f"cannot be read: {x.error}", "unreachable") for x in members if x.error]


def check_mesh(view: HaView) -> list[Finding]:
    """Every peer ready, in one mesh that has them all."""
    peers = [p for p in view.peers if not p.error]
    if len(view.peers) < 2:
        return []
    findings = []
    expected = len(view.peers)
    for peer in peers:
        where = f"{peer.name} ({peer.url})"
        if peer.status == "disabled":
            findings.append(
                _finding(
                    where,
                    "clustering is disabled (--cluster.listen-address=): it deduplicates nothing with the other "
                    f"{expected - 1} peer(s), and each notifies on its own — give it a --cluster.listen-address and "
                    "--cluster.peer",
                    "mesh",
                )
            )
        elif len(peer.members) != expected:
            alone = " (only itself)" if len(peer.members) == 1 else ""
            findings.append(
                _finding(
                    where,
                    f"sees {len(peer.members)} cluster member(s){alone}, expected {expected}: it is not in one mesh "
                    "with every peer, so it notifies what the others notify too — start it with --cluster.peer="
                    "<another peer's cluster address> and check the cluster port is reachable (TCP and UDP)",
                    "mesh",
                )
            )
        elif peer.status != "ready":
            findings.append(
                _finding(where, f"cluster status '{peer.status}', not ready: it is still settling", "mesh", "warning")
            )
    views = {p.members for p in peers if p.status != "disabled" and len(p.members) == expected}
    if len(views) > 1:
        findings.append(
            _finding(
                "cluster", f"the peers disagree on the members: {sorted(views)}", "mesh"
            )  # two meshes of equal size
        )
    return findings


def check_alertmanagers(view: HaView) -> list[Finding]:
    """Every replica sends to every peer."""
    findings = []
    for replica in (r for r in view.replicas if not r.error):
        sent = set(replica.alertmanagers)
        for peer in view.peers:
            if address(peer.url) in sent:
                continue
            if len(sent) >= len(view.peers):  # as many Alertmanagers, other names: maybe the same ones
                message = (
                    f"does not send to {peer.name} at {address(peer.url)}, but to {len(sent)} Alertmanagers under "
                    f"other addresses ({', '.join(sorted(sent))}) — if one of them is that peer, give obs-tests the "
                    "URL the replica uses"
                )
                findings.append(_finding(f"{replica.name} ({replica.url})", message, "alertmanagers", "warning"))
                continue
            message = (
                f"does not send its alerts to {peer.name} ({peer.url}); it sends to "
                f"{', '.join(sorted(sent)) or 'no Alertmanager'} — list every peer in its alerting.alertmanagers "
                "(a replica sending to some peers only loses its alerts when those peers are down)"
            )
            findings.append(_finding(f"{replica.name} ({replica.url})", message, "alertmanagers"))
    return findings


def check_external_labels(view: HaView) -> list[Finding]:
    """The replicas' external labels differ in the replica label only, and in its value on every replica."""
    replicas = [r for r in view.replicas if not r.error]
    if len(replicas) < 2:
        return []
    label = view.replica_label
    findings = []
    missing = [r.name for r in replicas if label not in r.external_labels]
    if missing:
        findings.append(
            _finding(
                ", ".join(missing),
                f"no external label '{label}': the replicas' data and alerts cannot be told apart — give each "
                f"replica global.external_labels.{label}: <its own name>",
                "external-labels",
            )
        )
    by_labels: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for replica in replicas:
        by_labels.setdefault(tuple(sorted(replica.external_labels.items())), []).append(replica.name)
    for labels, names in by_labels.items():
        if len(names) > 1:
            shown = "{" + ", ".join(f"{k}={v!r}" for k, v in labels) + "}"
            findings.append(
                _finding(
                    " and ".join(names),
                    f"identical external labels {shown}: their series and alerts are indistinguishable (Thanos, "
                    f"remote storage and Alertmanager see one source) — give each its own '{label}' value",
                    "external-labels",
                )
            )
    keys = {k for r in replicas for k in r.external_labels}
    other = sorted(k for k in keys - {label} if len({r.external_labels.get(k) for r in replicas}) > 1)
    if other:
        findings.append(
            _finding(
                ", ".join(r.name for r in replicas),
                f"external labels differ in {', '.join(other)}, not only in '{label}': replicas of one HA pair "
                f"carry the same labels but the replica label (if '{other[0]}' names the replica, set replica_label)",
                "external-labels",
            )
        )
    return findings


def _drops(relabel: Mapping[str, Any], label: str) -> bool:
    action = str(relabel.get("action", "replace")).lower()
    regex = str(relabel.get("regex", "(.*)"))
    try:
        matches = re.fullmatch(regex, label) is not None
    except re.error:
        return False
    return (action == "labeldrop" and matches) or (action == "labelkeep" and not matches)


def check_replica_label_dropped(view: HaView) -> list[Finding]:
    """Each replica drops the replica label from the alerts it sends, and no peer holds an alert with it."""
    label = view.replica_label
    findings = []
    for replica in (r for r in view.replicas if not r.error):
        if label in replica.external_labels and not any(_drops(c, label) for c in replica.alert_relabel):
            findings.append(
                _finding(
                    f"{replica.name} ({replica.url})",
                    f"sends its alerts with the replica label '{label}': Alertmanager sees each replica's alert as "
                    "another alert and notifies it once per replica — add to alerting.alert_relabel_configs: "
                    f"{{action: labeldrop, regex: {label}}}",
                    "replica-label-dropped",
                )
            )
    for peer in (p for p in view.peers if not p.error):
        carrying = sorted({a.get("alertname", "?") for a in peer.alerts if label in a})
        if carrying:
            findings.append(
                _finding(
                    f"{peer.name} ({peer.url})",
                    f"holds alerts with the replica label '{label}' ({', '.join(carrying[:5])}): they are notified "
                    "once per replica",
                    "replica-label-dropped",
                )
            )
    return findings


def check_rule_groups(view: HaView) -> list[Finding]:
    """The same rule groups and rules on every replica, each healthy."""
    replicas = [r for r in view.replicas if not r.error]
    findings = []
    for replica in replicas:
        for group, rules in replica.groups.items():
            for rule, health, error in rules:
                if health not in ("ok", "unknown", ""):
                    others = [r.name for r in replicas if r is not replica and _healthy(r, group, rule)]
                    fine = f" (fine on {', '.join(others)}: the replicas diverge)" if others else ""
                    findings.append(
                        _finding(
                            f"{replica.name} ({replica.url})",
                            f"rule '{rule}' of group '{group}' is {health}: {error or 'no error given'}{fine}",
                            "rule-groups",
                        )
                    )
    if len(replicas) < 2:
        return findings
    reference = replicas[0]
    for replica in replicas[1:]:
        for group in sorted(set(reference.groups) | set(replica.groups)):
            mine = [r[0] for r in replica.groups.get(group, ())]
            theirs = [r[0] for r in reference.groups.get(group, ())]
            if group not in replica.groups or group not in reference.groups:
                has = reference.name if group in reference.groups else replica.name
                lacks = replica.name if has == reference.name else reference.name
                message = f"rule group '{group}' is loaded on {has} but not on {lacks}: the replicas alert differently"
                findings.append(_finding(lacks, message, "rule-groups"))
            elif mine != theirs:
                diff = sorted(set(mine) ^ set(theirs)) or ["the same rules in another order"]
                findings.append(
                    _finding(
                        f"{replica.name} vs {reference.name}",
                        f"rule group '{group}' differs: {', '.join(diff[:5])} — load the same rule files on every "
                        "replica",
                        "rule-groups",
                    )
                )
    return findings


def _healthy(replica: Replica, group: str, rule: str) -> bool:
    return any(r[0] == rule and r[1] == "ok" for r in replica.groups.get(group, ()))


def check_config_hash(view: HaView) -> list[Finding]:
    """Every peer runs the same configuration."""
    peers = [p for p in view.peers if not p.error]
    by_hash: dict[str, list[str]] = {}
    for peer in peers:
        by_hash.setdefault(peer.config_hash, []).append(peer.name)
    if len(by_hash) < 2:
        return []
    groups = "; ".join(f"{', '.join(names)}: {digest}" for digest, names in sorted(by_hash.items()))
    return [
        _finding(
            "cluster",
            f"the peers run different configurations ({groups}): they route, group or inhibit differently, and "
            "deduplicate only what they agree on — deploy one alertmanager.yml to every peer",
            "config-hash",
        )
    ]


def check_reloads(view: HaView) -> list[Finding]:
    """No replica or peer runs an old configuration after a failed reload."""
    findings = []
    for replica in (r for r in view.replicas if not r.error and r.reload_ok is False):
        findings.append(
            _finding(
                f"{replica.name} ({replica.url})",
                "its last configuration reload failed: it still runs the previous configuration while the other "
                "replicas may run the new one — fix the file (promtool check config) and reload",
                "reload",
            )
        )
    for peer in (p for p in view.peers if not p.error):
        if peer.metrics.get("alertmanager_config_last_reload_successful", 1.0) < 1.0:
            findings.append(
                _finding(
                    f"{peer.name} ({peer.url})",
                    "its last configuration reload failed (alertmanager_config_last_reload_successful 0): it runs "
                    "the previous configuration — fix the file (amtool check-config) and reload",
                    "reload",
                )
            )
    return findings


def check_cluster_metrics(view: HaView) -> list[Finding]:
    """What the peers' own metrics say: failed peers, a degraded health score, notification-log errors."""
    if len(view.peers) < 2:
        return []
    findings = []
    for peer in (p for p in view.peers if not p.error):
        where = f"{peer.name} ({peer.url})"
        metrics = peer.metrics
        if metrics.get("alertmanager_cluster_failed_peers", 0.0) > 0:
            findings.append(
                _finding(
                    where,
                    f"{metrics['alertmanager_cluster_failed_peers']:.0f} failed peer(s) "
                    "(alertmanager_cluster_failed_peers): a member it cannot reach",
                    "cluster-metrics",
                )
            )
        if metrics.get("alertmanager_cluster_health_score", 0.0) > 0:
            findings.append(
                _finding(
                    where,
                    f"cluster health score {metrics['alertmanager_cluster_health_score']:.0f} (0 is healthy): its "
                    "gossip is degraded — probes time out",
                    "cluster-metrics",
                    "warning",
                )
            )
        lost = {name: metrics[name] for name in GOSSIP_LOST if metrics.get(name, 0.0) > 0}
        if lost:
            counts = ", ".join(f"{name} {value:.0f}" for name, value in lost.items())
            findings.append(
                _finding(
                    where,
                    f"lost gossip ({counts}): notification-log entries the other peers may never get, so they "
                    "notify too — a gossip queue overflowing or messages too large for the cluster's TCP fallback",
                    "cluster-metrics",
                )
            )
    positions: dict[float, list[str]] = {}
    for peer in view.peers:
        if not peer.error and "alertmanager_peer_position" in peer.metrics:
            positions.setdefault(peer.metrics["alertmanager_peer_position"], []).append(peer.name)
    for position, names in sorted(positions.items()):
        if len(names) > 1:
            findings.append(
                _finding(
                    " and ".join(names),
                    f"at the same peer position {position:.0f} (alertmanager_peer_position): they wait as long "
                    "before notifying, and both notify — they are not in one cluster",
                    "cluster-metrics",
                )
            )
    return findings


@dataclass(frozen=True)
class HaCheck:
    """One HA check: its name (``ha.reloads``: a health result's), the function, and what holds when it
    finds nothing (``{peers}``: the peers' count, ``{label}``: the replica label)."""

    name: str
    run: Callable[[HaView], list[Finding]]
    holds: str


#: every HA check, in report order (members that cannot be read come first, in :func:`check_ha`)
NAMED_CHECKS: tuple[HaCheck, ...] = (
    HaCheck("ha.mesh", check_mesh, "every peer ready, in one mesh of {peers}"),
    HaCheck("ha.alertmanagers", check_alertmanagers, "every replica sends to every peer"),
    HaCheck("ha.external_labels", check_external_labels, "external labels differ in '{label}' only"),
    HaCheck("ha.replica_label_dropped", check_replica_label_dropped, "the replica label is dropped from every alert"),
    HaCheck("ha.rule_groups", check_rule_groups, "the same rule groups on every replica, all healthy"),
    HaCheck("ha.config_hash", check_config_hash, "every peer runs the same configuration"),
    HaCheck("ha.reloads", check_reloads, "every replica's and peer's last configuration reload succeeded"),
    HaCheck("ha.cluster_metrics", check_cluster_metrics, "no failed peer, no gossip lost, a position per peer"),
)

#: every check function, in report order
CHECKS: tuple[Callable[[HaView], list[Finding]], ...] = (_unreadable, *(c.run for c in NAMED_CHECKS))


def check_ha(view: HaView) -> list[Finding]:
    """Every check of an HA stack; an empty list when it is sound."""
    return [finding for check in CHECKS for finding in check(view)]
