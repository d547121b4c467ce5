"""The stack's topology: replica and peer names, and ``stack.topology`` in a contract — defaults, counts,
and the mistakes it names."""

from __future__ import annotations

from pathlib import Path

import pytest

from obs_tests.config.contract import load_contract, with_topology
from obs_tests.config.topology import Topology, monitoring_kind, replica_names
from obs_tests.errors import ContractInvalid

ROOT = Path(__file__).resolve().parents[2]


def contract_with(tmp_path: Path, stack: str) -> Path:
    path = tmp_path / "obs.yaml"
    path.write_text(f"version: 1\nstack:\n{stack}jobs:\n  - name: node\n    instances: 1\n", encoding="utf-8")
    return path


def test_names_of_replicas_and_peers() -> None:
    topology = Topology(prometheus_replicas=2, alertmanager_peers=3)
    assert topology.prometheus_names() == ["prometheus", "prometheus-2"]
    assert topology.alertmanager_names() == ["alertmanager", "alertmanager-2", "alertmanager-3"]
    assert topology.ha and topology.name == "ha"
    assert topology.describe() == "ha: 2 Prometheus replicas, 3 Alertmanager peers"
    assert replica_names("prometheus", 1) == ["prometheus"] and Topology().describe() == "single"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("prometheus", "prometheus"),
        ("prometheus-2", "prometheus"),
        ("alertmanager-5", "alertmanager"),
        ("node-exporter", "node-exporter"),
        ("gateway", None),
        ("prometheus-exporter", None),
        ("alertmanager-10", None),
    ],
)
def test_monitoring_kind(name: str, kind: str | None) -> None:
    assert monitoring_kind(name) == kind


def test_counts_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="prometheus_replicas: 6 is not between 1 and 5"):
        Topology(prometheus_replicas=6)


def test_the_default_is_single(tmp_path: Path) -> None:
    contract = load_contract(contract_with(tmp_path, "  prometheus: embedded\n"))
    assert contract.stack.topology == Topology() and not contract.stack.topology.ha


def test_ha_defaults_to_two_replicas_and_three_peers(tmp_path: Path) -> None:
    contract = load_contract(contract_with(tmp_path, "  topology: ha\n"))
    assert (contract.stack.topology.prometheus_replicas, contract.stack.topology.alertmanager_peers) == (2, 3)


def test_ha_counts_and_replica_label(tmp_path: Path) -> None:
    stack = "  topology: ha\n  prometheus_replicas: 3\n  alertmanager_peers: 2\n  replica_label: prometheus_replica\n"
    topology = load_contract(contract_with(tmp_path, stack)).stack.topology
    assert topology == Topology(prometheus_replicas=3, alertmanager_peers=2, replica_label="prometheus_replica")


def test_ha_without_alertmanager_has_no_peers(tmp_path: Path) -> None:
    topology = load_contract(contract_with(tmp_path, "  topology: ha\n  alertmanager: null\n")).stack.topology
    assert (topology.prometheus_replicas, topology.alertmanager_peers) == (2, 1)


@pytest.mark.parametrize(
    ("stack", "said"),
    [
        pytest.param(
            "  prometheus_replicas: 2\n",
            "obs.yaml:3: stack.prometheus_replicas: 2 needs `topology: ha`",
            id="count-without-ha",
        ),
        pytest.param(
            "  prometheus: http://prom:9090\n  topology: ha\n",
            "stack.topology: ha is a shape of the embedded stack — for your own HA stack, give every replica and peer",
            id="ha-on-own-stack",
        ),
        pytest.param(
            "  topology: ha\n  alertmanager: null\n  alertmanager_peers: 3\n",
            "stack.alertmanager_peers: 3 with `alertmanager: null`",
            id="peers-without-alertmanager",
        ),
        pytest.param(
            "  topology: pair\n", 'stack.topology: "pair" is not allowed — use one of: single, ha', id="unknown"
        ),
        pytest.param("  topology: ha\n  alertmanager_peers: 9\n", "stack.alertmanager_peers: 9", id="too-many"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, stack: str, said: str) -> None:
    with pytest.raises(ContractInvalid) as error:
        load_contract(contract_with(tmp_path, stack))
    assert said in str(error.value)


def test_with_topology_switches_the_bundled_contract() -> None:
    contract = load_contract(ROOT / "obs.yaml")
    ha = with_topology(contract, "ha")
    assert ha.stack.topology.describe() == "ha: 2 Prometheus replicas, 3 Alertmanager peers"
    assert with_topology(ha, "single").stack.topology == Topology() and with_topology(contract, None) is contract


def test_shaped_holds_the_ha_defaults_once() -> None:
    assert Topology.shaped("single", replica_label="prometheus_replica") == Topology(replica_label="prometheus_replica")
    ha = Topology.shaped("ha")
    assert (ha.prometheus_replicas, ha.alertmanager_peers, ha.name) == (2, 3, "ha")
    assert Topology.shaped("ha", prometheus_replicas=3, alertmanager_peers=2).alertmanager_peers == 2
    assert Topology.shaped("ha", alertmanager_peers=3, alertmanager=False).alertmanager_peers == 1
    with pytest.raises(ValueError, match="topology 'triple': use single or ha"):
        Topology.shaped("triple")


def test_the_dedup_bound_is_the_last_peers_wait_plus_a_margin() -> None:
    assert Topology.shaped("ha").dedup_bound == 2 * 0.7 + 2.0  # 3 peers, 0.7 s peer timeout
    assert Topology().dedup_bound == 2.0  # one Alertmanager: nothing waits, the flush margin only
    assert Topology(alertmanager_peers=5, peer_timeout=15.0).dedup_bound == 62.0
