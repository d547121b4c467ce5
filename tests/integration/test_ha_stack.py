"""The embedded stack in the HA topology — two Prometheus replicas, an Alertmanager cluster of three peers
gossiping over loopback — passes every HA check; and each check fails on a real broken HA member started
beside it: a peer without ``--cluster.peer``, a replica with another replica's external labels, a replica not
sending to one peer."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from obs_tests.chaos.faults import FaultSpec, build_fault
from obs_tests.checks.ha import check_alertmanagers, check_external_labels, check_ha, check_mesh, check_reloads
from obs_tests.checks.ha_view import HaView, fetch_ha
from obs_tests.clients.alertmanager import AlertmanagerClient
from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.clients.webhook_sink import SinkClient
from obs_tests.config.contract import Contract, load_contract
from obs_tests.config.topology import Topology
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.errors import UsageError
from obs_tests.scenarios.lanes import SharedStack, run_scenarios
from obs_tests.scenarios.model import Catalog, load_scenario
from obs_tests.stack.embedded import EmbeddedStack
from obs_tests.stack.ports import allocate_ports

from .helpers import ROOT, ProcessGroup, obs_tests

pytestmark = [pytest.mark.stack]

HA_SCENARIOS = (
    "ha-alertmanager-partition",
    "ha-alertmanager-peer-down",
    "ha-prometheus-failed-reload",
    "ha-prometheus-replica-down",
)


def ha_contract(replicas: int = 2, peers: int = 3) -> Contract:
    contract = load_contract(ROOT / "obs.yaml")
    topology = Topology(prometheus_replicas=replicas, alertmanager_peers=peers)
    return dataclasses.replace(contract, stack=dataclasses.replace(contract.stack, topology=topology))


@pytest.fixture(scope="module")
def ha_stack() -> Iterator[EmbeddedStack]:
    with EmbeddedStack(ha_contract()) as stack:
        yield stack


def view_of(
    stack: EmbeddedStack, *, extra_prometheus: tuple[str, ...] = (), extra_peers: tuple[str, ...] = ()
) -> HaView:
    names = {stack.url(n): n for n in stack.components}
    names.update(dict.fromkeys([*extra_prometheus, *extra_peers], "rogue"))
    return fetch_ha([*stack.prometheus_urls, *extra_prometheus], [*stack.alertmanager_urls, *extra_peers], names=names)


class Rogue:
    """One more Prometheus or Alertmanager beside the stack, started as its own members are, but broken."""

    def __init__(self, stack: EmbeddedStack, tmp: Path) -> None:
        self.stack, self.tmp = stack, tmp
        self.group = ProcessGroup(tmp)

    def start(self, argv: list[str], probe_url: str) -> str:
        proc = self.group.start(f"rogue-{len(self.group.procs)}", argv)
        return self.group.wait_ready(proc, probe_url, timeout=30)

    def prometheus(self, config: dict[str, object]) -> str:
        port = allocate_ports(1)[0]
        path = self.tmp / f"rogue-prometheus-{port}.yml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        argv = [
            "prometheus",
            f"--config.file={path}",
            f"--storage.tsdb.path={self.tmp / f'tsdb-{port}'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]
        return self.start(argv, f"http://127.0.0.1:{port}")

    def lone_peer(self) -> str:
        """An Alertmanager with the cluster's config and a cluster port, but no --cluster.peer."""
        http, cluster = allocate_ports(2)
        argv = [
            "prometheus-alertmanager",
            f"--config.file={self.stack.workdir / 'config' / 'alertmanager.yml'}",
            f"--storage.path={self.tmp / f'am-{http}'}",
            f"--web.listen-address=127.0.0.1:{http}",
            f"--cluster.listen-address=127.0.0.1:{cluster}",
            f"--cluster.advertise-address=127.0.0.1:{cluster}",
            "--cluster.settle-timeout=1s",
        ]
        return self.start(argv, f"http://127.0.0.1:{http}")

    def close(self) -> None:
        self.group.close()


@pytest.fixture
def rogue(ha_stack: EmbeddedStack, tmp_path: Path) -> Iterator[Rogue]:
    made = Rogue(ha_stack, tmp_path)
    try:
        yield made
    finally:
        made.close()


def replica_config(stack: EmbeddedStack, name: str) -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load((stack.workdir / "config" / f"{name}.yml").read_text(encoding="utf-8"))
    return loaded


def test_the_ha_stack_runs_every_replica_and_peer_and_passes_every_ha_check(ha_stack: EmbeddedStack) -> None:
    names = [s.name for s in ha_stack.status()]
    assert names[:5] == ["prometheus", "prometheus-2", "alertmanager", "alertmanager-2", "alertmanager-3"]
    assert all(s.ready for s in ha_stack.status()[:5])
    view = view_of(ha_stack)
    assert check_ha(view) == []
    assert {r.external_labels["replica"] for r in view.replicas} == {"prometheus", "prometheus-2"}
    assert all(len(p.members) == 3 and p.status == "ready" for p in view.peers)
    for url in ha_stack.alertmanager_urls:  # every peer runs one configuration and knows the others
        assert AlertmanagerClient(url).status()["cluster"]["status"] == "ready"


def test_a_peer_started_without_cluster_peer_is_not_in_the_mesh(ha_stack: EmbeddedStack, rogue: Rogue) -> None:
    lone = rogue.lone_peer()
    view = view_of(ha_stack, extra_peers=(lone,))
    mesh = check_mesh(view)
    alone = [f for f in mesh if f.subject.startswith("rogue")]
    assert len(alone) == 1 and "(only itself), expected 4" in alone[0].message, mesh
    sending = check_alertmanagers(view)  # and no replica sends to it
    assert {f.subject.split(" ")[0] for f in sending} == {"prometheus", "prometheus-2"}
    assert all("does not send its alerts to rogue" in f.message for f in sending)


def test_two_replicas_with_identical_external_labels_are_named(ha_stack: EmbeddedStack, rogue: Rogue) -> None:
    twin = rogue.prometheus(replica_config(ha_stack, "prometheus"))  # replica 1's config, label and all
    findings = check_external_labels(view_of(ha_stack, extra_prometheus=(twin,)))
    assert [f.subject for f in findings] == ["prometheus and rogue"], findings
    assert "identical external labels" in findings[0].message and "replica='prometheus'" in findings[0].message


def test_a_replica_not_sending_to_one_peer_is_named(ha_stack: EmbeddedStack, rogue: Rogue) -> None:
    config = replica_config(ha_stack, "prometheus-2")
    config["global"]["external_labels"]["replica"] = "prometheus-3"  # type: ignore[index]
    targets = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]  # type: ignore[index]
    left_out = targets.pop()
    partial = rogue.prometheus(config)
    client = PrometheusClient(partial)
    wait_for(  # its notifier discovers its Alertmanagers as scrape targets are: a few seconds after the start
        lambda: Poll(len(client.alertmanagers()["activeAlertmanagers"]) == len(targets), None),
        timeout=30,
        expected=f"the replica sending to its {len(targets)} Alertmanagers",
    )
    findings = check_alertmanagers(view_of(ha_stack, extra_prometheus=(partial,)))
    assert len(findings) == 1 and findings[0].subject.startswith("rogue"), findings
    assert f"does not send its alerts to alertmanager-3 (http://{left_out})" in findings[0].message


def health_json(stack: EmbeddedStack, *, extra_peers: tuple[str, ...] = ()) -> dict[str, dict[str, object]]:
    args = ["health", "--format", "json", "--watchdog-alert", ""]
    args += [a for url in stack.prometheus_urls for a in ("--prometheus-url", url)]
    args += [a for url in [*stack.alertmanager_urls, *extra_peers] for a in ("--alertmanager-url", url)]
    done = obs_tests(*args, env=dict(os.environ), timeout=60)
    results = json.loads(done.stdout)["checks"]
    return {r["name"]: r for r in results if r["name"].startswith("ha.")}


def test_health_of_the_ha_stack_by_urls_runs_every_ha_check(ha_stack: EmbeddedStack) -> None:
    checks = health_json(ha_stack)
    assert set(checks) >= {"ha.members", "ha.mesh", "ha.alertmanagers", "ha.external_labels", "ha.rule_groups"}
    assert {name: r["status"] for name, r in checks.items() if r["status"] != "OK"} == {}
    assert checks["ha.members"]["metrics"] == {"ha_prometheus_replicas": 2.0, "ha_alertmanager_peers": 3.0}


def test_health_names_a_peer_outside_the_mesh(ha_stack: EmbeddedStack, rogue: Rogue) -> None:
    checks = health_json(ha_stack, extra_peers=(rogue.lone_peer(),))
    assert checks["ha.mesh"]["status"] == "CRITICAL" and checks["ha.alertmanagers"]["status"] == "CRITICAL"
    problems = checks["ha.mesh"]["problems"]
    assert any("(only itself), expected 4" in p["message"] for p in problems), problems  # type: ignore[attr-defined]


def _notes(sink: SinkClient, since: float, status: str, alert: str = "GatewayDown") -> list[dict[str, Any]]:
    return sink.notifications(alertname=alert, status=status, since=since)


def _exactly_one(
    sink: SinkClient, since: float, status: str, bound: float, alert: str = "GatewayDown"
) -> dict[str, Any]:
    """The one ``status`` notification of ``alert``; after the first arrives, watch the sink for the
    dedup bound (the last peer notifies what nobody has after (peers - 1) x peer_timeout) for a second."""

    def arrived() -> Poll[list[dict[str, Any]]]:
        notes = _notes(sink, since, status, alert)
        return Poll(bool(notes), notes, f"{len(notes)} {status} notification(s)")

    first = wait_for(arrived, timeout=30, interval=0.1, expected=f"a {status} {alert} notification")[0]
    until = float(first["received_at"]) + bound

    def watch() -> Poll[list[dict[str, Any]]]:
        notes = _notes(sink, since, status, alert)
        return Poll(len(notes) > 1 or time.time() >= until, notes, f"{len(notes)} {status} notification(s)")

    seen = wait_for(watch, timeout=bound + 5, interval=0.1, expected=f"the dedup bound of {bound:.1f} s over")
    assert len(seen) == 1, f"{status}: {len(seen)} notifications of one incident (2 replicas x 3 peers): {seen}"
    return first


def test_one_firing_alert_is_notified_exactly_once_across_replicas_and_peers(ha_stack: EmbeddedStack) -> None:
    # both replicas fire GatewayDown and send it to all three peers: six copies, one notification
    ha_stack.heal()
    sink = SinkClient(ha_stack.url("webhook-sink"))
    topology = ha_stack.topology
    bound = topology.dedup_bound  # + gossip and a group tick
    since = time.time()
    ha_stack.kill("gateway")
    try:
        firing = _exactly_one(sink, since, "firing", bound)
    finally:
        ha_stack.start("gateway")
    resolved = _exactly_one(sink, since, "resolved", bound)
    for note in (firing, resolved):
        assert note["receiver"] == "critical" and "replica" not in note["labels"], note


def test_a_failed_reload_on_one_replica_is_named(ha_stack: EmbeddedStack) -> None:
    """The failed_reload fault: the replica refuses the configuration (500), keeps its last good one, and
    ha/reload names it; reverted, the good one is back and reloaded."""
    fault = build_fault(FaultSpec("bad-config", "failed_reload", "prometheus-2"), ha_stack)
    good = ha_stack.config_file("prometheus-2").read_text(encoding="utf-8")
    try:
        fault.apply()
        findings = check_reloads(view_of(ha_stack))
        assert [f.subject.split(" ")[0] for f in findings] == ["prometheus-2"], findings
        assert "last configuration reload failed" in findings[0].message
    finally:
        fault.revert()
    assert ha_stack.config_file("prometheus-2").read_text(encoding="utf-8") == good
    assert check_reloads(view_of(ha_stack)) == []
    with pytest.raises(UsageError, match="'gateway' has no configuration obs-tests can break"):
        build_fault(FaultSpec("bad", "failed_reload", "gateway"), ha_stack).apply()


@pytest.mark.parametrize("name", HA_SCENARIOS)
def test_the_ha_scenarios_pass_on_the_ha_stack(ha_stack: EmbeddedStack, name: str) -> None:
    """scenarios/ha-*.yaml, each judged against its bound; the exactly-once counts are the webhook sink's."""
    catalog = Catalog.from_contract(ha_stack.contract, ha_stack.components)
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.yaml", catalog)
    (result,) = run_scenarios([scenario], SharedStack(ha_stack, name="ha stack"))
    assert result.passed, "\n".join(f"{a.name}: {a.message or a.actual}" for a in result.failures()) + (
        result.error or ""
    )
    if name.endswith("-down"):  # exactly once, firing and resolved, counted at the sink
        assert [a.name for a in result.assertions if a.name.endswith(" x1")] == [
            "AgentDown firing notification to critical x1",
            "AgentDown resolved notification to critical x1",
        ]


def test_the_first_peer_killed_the_next_notifies_still_exactly_once(ha_stack: EmbeddedStack) -> None:
    # the peer at position 0 notifies first; killed, the one at position 1 notifies after peer_timeout,
    # and the last one, seeing that in the gossiped notification log, does not
    ha_stack.heal()
    positions = {p.name: p.metrics.get("alertmanager_peer_position") for p in view_of(ha_stack).peers}
    first = next(name for name, position in positions.items() if position == 0.0)
    sink = SinkClient(ha_stack.url("webhook-sink"))
    topology = ha_stack.topology
    bound = topology.dedup_bound
    since = time.time()
    ha_stack.kill(first)
    try:
        # an alert group of its own (group_by: alertname, service): a peer paused or restarted by an earlier
        # test flushes an earlier incident's group out of phase with the others
        ha_stack.kill("agent-risk")
        try:
            _exactly_one(sink, since, "firing", bound, "AgentDown")
        finally:
            ha_stack.start("agent-risk")
        _exactly_one(sink, since, "resolved", bound, "AgentDown")
    finally:
        ha_stack.start(first)

    def meshed() -> Poll[list[Any]]:
        findings = check_mesh(view_of(ha_stack))
        return Poll(not findings, findings, "; ".join(f.message for f in findings))

    # back in the mesh, for whatever runs next on this stack
    wait_for(meshed, timeout=30, interval=0.2, expected=f"{first} back in the mesh")
