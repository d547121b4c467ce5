"""The checks of an HA stack on views built by hand: each passes on a sound pair and cluster and fails on the
breakage it is about. (Live stacks, sound and broken: tests/integration/test_ha_stack.py.)"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from obs_tests.checks.ha import (
    check_alertmanagers,
    check_cluster_metrics,
    check_config_hash,
    check_external_labels,
    check_ha,
    check_mesh,
    check_reloads,
    check_replica_label_dropped,
    check_rule_groups,
)
from obs_tests.checks.ha_view import HaView, Peer, Replica

PEERS = ("am-0:9093", "am-1:9093", "am-2:9093")
DROP = ({"action": "labeldrop", "regex": "replica"},)
GROUPS = {"node": (("NodeDown", "ok", ""), ("DiskFull", "ok", "")), "app": (("HighErrorRate", "ok", ""),)}


def replica(name: str, **changes: Any) -> Replica:
    base = Replica(
        name,
        f"http://{name}:9090",
        external_labels={"cluster": "eu-1", "replica": name},
        alertmanagers=PEERS,
        alert_relabel=DROP,
        groups=GROUPS,
        reload_ok=True,
    )
    return dataclasses.replace(base, **changes)


def peer(address: str, **changes: Any) -> Peer:
    base = Peer(
        address.split(":", maxsplit=1)[0],
        f"http://{address}",
        status="ready",
        members=("01A", "01B", "01C"),
        member_name="01A",
        config_hash="abc123",
        metrics={"alertmanager_cluster_members": 3.0, "alertmanager_config_last_reload_successful": 1.0},
    )
    return dataclasses.replace(base, **changes)


def view(replicas: list[Replica] | None = None, peers: list[Peer] | None = None) -> HaView:
    return HaView(
        tuple(replicas if replicas is not None else [replica("prom-a"), replica("prom-b")]),
        tuple(peers if peers is not None else [peer(a) for a in PEERS]),
    )


def rules(findings: list[Any]) -> list[str]:
    return [f.rule for f in findings]


def test_a_sound_ha_stack_has_no_findings() -> None:
    assert check_ha(view()) == []


def test_a_single_stack_is_not_judged_as_a_cluster() -> None:
    single = view([replica("prom-a")], [peer(PEERS[0], members=("01A",), status="disabled")])
    assert check_mesh(single) == [] and check_external_labels(single) == [] and check_cluster_metrics(single) == []


# -- the mesh ---------------------------------------------------------------------------------------------
def test_a_peer_outside_the_mesh_is_named() -> None:
    alone = peer(PEERS[2], members=("01C",))
    others = [peer(a, members=("01A", "01B")) for a in PEERS[:2]]
    findings = check_mesh(view(peers=[*others, alone]))
    assert len(findings) == 3  # each sees fewer than 3 members
    lone = next(f for f in findings if f.subject.startswith("am-2"))
    assert "sees 1 cluster member(s) (only itself), expected 3" in lone.message and "--cluster.peer=" in lone.message


def test_a_peer_with_clustering_disabled_is_named() -> None:
    findings = check_mesh(view(peers=[peer(PEERS[0]), peer(PEERS[1]), peer(PEERS[2], status="disabled")]))
    assert rules(findings) == ["ha/mesh"] and "clustering is disabled" in findings[0].message


def test_a_settling_peer_is_a_warning() -> None:
    findings = check_mesh(view(peers=[peer(PEERS[0], status="settling"), peer(PEERS[1]), peer(PEERS[2])]))
    assert [(f.rule, f.severity) for f in findings] == [("ha/mesh", "warning")]


def test_two_meshes_of_the_same_size_are_found() -> None:
    split = [peer(PEERS[0]), peer(PEERS[1]), peer(PEERS[2], members=("01X", "01Y", "01Z"))]
    assert "disagree on the members" in check_mesh(view(peers=split))[0].message


# -- replicas to peers ------------------------------------------------------------------------------------
def test_a_replica_not_sending_to_one_peer_is_named() -> None:
    partial = replica("prom-b", alertmanagers=PEERS[:2])
    findings = check_alertmanagers(view([replica("prom-a"), partial]))
    assert len(findings) == 1 and findings[0].severity == "error"
    assert findings[0].subject.startswith("prom-b") and "does not send its alerts to am-2" in findings[0].message


def test_a_replica_sending_to_as_many_peers_by_other_names_is_a_warning() -> None:
    dns = replica("prom-b", alertmanagers=("alertmanager-0.svc:9093", "alertmanager-1.svc:9093", "x.svc:9093"))
    findings = check_alertmanagers(view([replica("prom-a"), dns]))
    assert {f.severity for f in findings} == {"warning"} and "give obs-tests the URL" in findings[0].message


def test_localhost_and_loopback_are_one_address() -> None:
    local = [peer("localhost:9093", members=("01A",)), *(peer(a) for a in PEERS[1:])]
    sending = replica("prom-a", alertmanagers=("127.0.0.1:9093", *PEERS[1:]))
    assert check_alertmanagers(view([sending], local)) == []


# -- external labels and the replica label ------------------------------------------------------------------
def test_identical_external_labels_are_named() -> None:
    same = {"cluster": "eu-1", "replica": "prom-a"}
    findings = check_external_labels(view([replica("prom-a"), replica("prom-b", external_labels=same)]))
    assert rules(findings) == ["ha/external-labels"]
    assert findings[0].subject == "prom-a and prom-b" and "identical external labels" in findings[0].message


def test_replicas_differing_in_another_label_are_named() -> None:
    other = replica("prom-b", external_labels={"cluster": "us-1", "replica": "prom-b"})
    findings = check_external_labels(view([replica("prom-a"), other]))
    assert "differ in cluster, not only in 'replica'" in findings[0].message


def test_a_missing_replica_label_is_named() -> None:
    bare = [replica(n, external_labels={"prometheus_replica": n}) for n in ("prom-a", "prom-b")]
    messages = [f.message for f in check_external_labels(view(bare))]
    assert any("no external label 'replica'" in m for m in messages)
    assert any("if 'prometheus_replica' names the replica, set replica_label" in m for m in messages)
    operator = HaView(tuple(bare), (), replica_label="prometheus_replica")  # the Prometheus Operator's label
    assert check_external_labels(operator) == []


def test_a_replica_sending_alerts_with_its_replica_label_is_named() -> None:
    leaky = replica("prom-b", alert_relabel=({"action": "labeldrop", "regex": "prom_.*"},))
    findings = check_replica_label_dropped(view([replica("prom-a"), leaky]))
    assert len(findings) == 1 and "labeldrop, regex: replica" in findings[0].message
    kept = replica("prom-b", alert_relabel=({"action": "labelkeep", "regex": "alertname|severity|cluster"},))
    assert check_replica_label_dropped(view([replica("prom-a"), kept])) == []


def test_alerts_held_with_the_replica_label_are_named() -> None:
    holding = peer(PEERS[0], alerts=({"alertname": "NodeDown", "replica": "prom-a"}, {"alertname": "Watchdog"}))
    findings = check_replica_label_dropped(view(peers=[holding, peer(PEERS[1]), peer(PEERS[2])]))
    assert len(findings) == 1 and "(NodeDown)" in findings[0].message


# -- rules, configs, reloads, metrics -----------------------------------------------------------------------
def test_a_rule_failing_on_one_replica_only_names_it_and_the_divergence() -> None:
    broken = dict(GROUPS, app=(("HighErrorRate", "err", "many-to-many matching not allowed"),))
    findings = check_rule_groups(view([replica("prom-a"), replica("prom-b", groups=broken)]))
    assert len(findings) == 1 and findings[0].subject.startswith("prom-b")
    assert "many-to-many" in findings[0].message and "fine on prom-a: the replicas diverge" in findings[0].message


def test_different_rule_groups_are_named() -> None:
    fewer = {"node": GROUPS["node"]}
    other = dict(GROUPS, node=(("NodeDown", "ok", ""),))
    missing = check_rule_groups(view([replica("prom-a"), replica("prom-b", groups=fewer)]))
    assert [f.message for f in missing] == [
        "rule group 'app' is loaded on prom-a but not on prom-b: the replicas alert differently"
    ]
    changed = check_rule_groups(view([replica("prom-a"), replica("prom-b", groups=other)]))
    assert "rule group 'node' differs: DiskFull" in changed[0].message


def test_peers_with_different_configs_are_named() -> None:
    findings = check_config_hash(view(peers=[peer(PEERS[0]), peer(PEERS[1]), peer(PEERS[2], config_hash="fff999")]))
    assert rules(findings) == ["ha/config-hash"] and "am-0, am-1: abc123; am-2: fff999" in findings[0].message


@pytest.mark.parametrize("who", ["replica", "peer"])
def test_a_failed_reload_names_the_replica_or_peer(who: str) -> None:
    if who == "replica":
        broken = view([replica("prom-a"), replica("prom-b", reload_ok=False)])
    else:
        failed = {"alertmanager_config_last_reload_successful": 0.0}
        broken = view(peers=[peer(PEERS[0]), peer(PEERS[1], metrics=failed), peer(PEERS[2])])
    findings = check_reloads(broken)
    assert len(findings) == 1 and findings[0].subject.startswith("prom-b" if who == "replica" else "am-1")
    assert "last configuration reload failed" in findings[0].message


def test_cluster_metrics_name_failed_peers_health_and_lost_gossip() -> None:
    sick = {
        "alertmanager_cluster_failed_peers": 1.0,
        "alertmanager_cluster_health_score": 2.0,
        "alertmanager_cluster_messages_pruned_total": 4.0,
    }
    findings = check_cluster_metrics(view(peers=[peer(PEERS[0], metrics=sick), peer(PEERS[1]), peer(PEERS[2])]))
    assert [(f.severity, f.message.split(" ")[0]) for f in findings] == [
        ("error", "1"),
        ("warning", "cluster"),
        ("error", "lost"),
    ]
    assert "alertmanager_cluster_messages_pruned_total 4" in findings[2].message


def test_two_peers_at_one_position_are_named() -> None:
    positions = [peer(a, metrics={"alertmanager_peer_position": float(i)}) for i, a in enumerate(PEERS)]
    assert check_cluster_metrics(view(peers=positions)) == []
    positions[2] = peer(PEERS[2], metrics={"alertmanager_peer_position": 0.0})
    findings = check_cluster_metrics(view(peers=positions))
    assert [f.subject for f in findings] == ["am-0 and am-2"] and "same peer position 0" in findings[0].message


def test_an_unreadable_member_is_a_finding() -> None:
    down = Peer("am-2", "http://am-2:9093", error="connection refused")
    findings = check_ha(view(peers=[peer(PEERS[0]), peer(PEERS[1]), down]))
    assert "ha/unreachable" in rules(findings) and "connection refused" in findings[0].message
