"""docker-compose.ha.yml over docker-compose.yml, checked offline: the shipped overlay describes a working HA
topology, a community-style HA compose pair obs-tests did not design passes too, and each broken copy —
a peer that names no other, replicas with one replica label, a replica not sending to a peer, the label kept
on the alerts, configs drifting apart — is reported as the live HA check would."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from obs_tests.checks.compose_file import compose_command
from obs_tests.checks.compose_ha import check_compose_ha_file

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    compose_command() is None,
    reason="docker-compose is not installed (apt-get install --no-install-recommends docker-compose; make test does)",
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("prometheus", "alertmanager", "grafana", "grafana_dashboards"):
        shutil.copytree(ROOT / name, tmp_path / name)
    for name in ("docker-compose.yml", "docker-compose.ha.yml", "Dockerfile"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def _messages(project: Path, label: str = "replica", single: str = "prometheus/prometheus.yml") -> list[str]:
    findings = check_compose_ha_file(
        project / "docker-compose.ha.yml", project / "docker-compose.yml", project / single, replica_label=label
    )
    return [f"{f.rule} {f.subject}: {f.message}".replace(f"{project}/", "") for f in findings]


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert text.count(old) >= count, old
    path.write_text(text.replace(old, new, count))


def test_the_shipped_ha_overlay_is_valid(project: Path) -> None:
    assert _messages(project) == []


def test_a_peer_that_names_no_other_is_not_in_the_mesh(project: Path) -> None:
    _edit(
        project / "docker-compose.ha.yml",
        "      - --cluster.peer=alertmanager:9094\n      - --cluster.peer=alertmanager-2:9094\n",
        "",
    )
    messages = _messages(project)
    assert len(messages) == 2, messages
    assert messages[0].startswith("ha/mesh docker-compose.ha.yml: alertmanager-3: does not name peer 'alertmanager'")
    assert "(--cluster.peer=alertmanager-2:9094)" in messages[1]


def test_a_peer_with_clustering_off(project: Path) -> None:
    _edit(project / "docker-compose.ha.yml", "--cluster.listen-address=0.0.0.0:9094", "--cluster.listen-address=")
    assert _messages(project) == [
        "ha/mesh docker-compose.ha.yml: alertmanager: --cluster.listen-address is empty: clustering is off, "
        "this peer notifies on its own"
    ]


def test_peers_reading_different_configs(project: Path) -> None:
    shutil.copytree(project / "alertmanager", project / "alertmanager-b")
    _edit(
        project / "docker-compose.ha.yml",
        "./alertmanager:/etc/alertmanager:ro",
        "./alertmanager-b:/etc/alertmanager:ro",
    )
    messages = _messages(project)
    assert len(messages) == 1 and messages[0].startswith("ha/config-hash ")
    assert "the peers read different Alertmanager configs" in messages[0]


def test_two_replicas_with_the_same_replica_label(project: Path) -> None:
    _edit(project / "docker-compose.ha.yml", "OBS_REPLICA: prometheus-2", "OBS_REPLICA: prometheus")
    assert _messages(project) == [
        "ha/external-labels docker-compose.ha.yml: replicas prometheus, prometheus-2 have the same "
        "replica=prometheus — give each its own"
    ]


def test_label_variables_without_the_expansion_feature_are_one_literal_value(project: Path) -> None:
    _edit(project / "docker-compose.ha.yml", "extra-scrape-metrics,expand-external-labels", "extra-scrape-metrics")
    messages = _messages(project)
    assert len(messages) == 3, messages
    assert all("runs without --enable-feature=expand-external-labels" in m for m in messages[:2])
    assert messages[2].endswith(
        "replicas prometheus, prometheus-2 have the same replica=${OBS_REPLICA} — give each its own"
    )


def test_a_label_variable_missing_from_the_environment(project: Path) -> None:
    _edit(project / "docker-compose.ha.yml", "      OBS_REPLICA: prometheus-2\n", "      OBS_OTHER: x\n")
    messages = _messages(project)
    assert messages[0] == (
        "ha/external-labels docker-compose.ha.yml: prometheus-2: external label replica=${OBS_REPLICA}: "
        "OBS_REPLICA is not in the service's environment"
    )
    assert "no external label 'replica' naming the replica" in messages[1]


def test_a_replica_that_does_not_send_to_one_peer(project: Path) -> None:
    _edit(project / "prometheus" / "prometheus-ha.yml", ', "alertmanager-3:9093"', "")
    messages = _messages(project)
    assert [m.split(":")[1].strip() for m in messages] == ["prometheus", "prometheus-2"]
    assert all(m.startswith("ha/alertmanagers ") and "does not send to peer 'alertmanager-3'" in m for m in messages)


def test_replicas_that_keep_the_replica_label_on_their_alerts(project: Path) -> None:
    _edit(project / "prometheus" / "prometheus-ha.yml", "regex: replica", "regex: prometheus_replica")
    messages = _messages(project)
    assert len(messages) == 2
    assert all(m.startswith("ha/replica-label-dropped ") for m in messages)
    assert "add alerting.alert_relabel_configs: [{action: labeldrop, regex: replica}]" in messages[0]


def test_the_ha_config_drifting_from_the_single_one(project: Path) -> None:
    _edit(project / "prometheus" / "prometheus.yml", "scrape_interval: 5s", "scrape_interval: 5s\n  # drift")
    _edit(project / "prometheus" / "prometheus.yml", '"bot:8000"', '"bot:8001"')
    messages = _messages(project)
    assert len(messages) == 2
    assert messages[0] == (
        "ha/rule-groups docker-compose.ha.yml: prometheus: prometheus/prometheus-ha.yml: scrape_configs differ "
        "from prometheus/prometheus.yml's — the replicas evaluate and scrape what it does"
    )


def test_one_replica_is_not_ha(project: Path) -> None:
    ha_file = project / "docker-compose.ha.yml"
    text = ha_file.read_text()
    start, end = text.index("  prometheus-2:\n"), text.index("  alertmanager:\n")
    ha_file.write_text(text[:start] + text[end:])
    messages = _messages(project)
    assert len(messages) == 1 and "1 Prometheus replica(s) and 3 Alertmanager peer(s)" in messages[0]


def test_an_invalid_overlay_is_reported_by_docker_compose(project: Path) -> None:
    _edit(project / "docker-compose.ha.yml", 'ports: ["127.0.0.1:9096:9093"]', "ports: 9096")
    messages = _messages(project)
    assert len(messages) == 1
    assert "docker-compose config (with docker-compose.yml):" in messages[0] and "ports" in messages[0]


# A pair in the style of community HA examples: replicas `prom-a`/`prom-b` with a config file each and
# literal labels, peers `am-0`…`am-2` gossiping on :9094 by default, the Operator's label name.
_COMMUNITY_BASE = """\
services:
  prom-a:
    image: prom/prometheus:v2.45.0
    command: --config.file=/etc/prometheus/prometheus.yml --storage.tsdb.path=/prometheus
    volumes: ["./prom-a:/etc/prometheus:ro"]
  am-0:
    image: prom/alertmanager:v0.26.0
    command: ["--config.file=/etc/am/config.yml", "--cluster.peer=am-1:9094", "--cluster.peer=am-2:9094"]
    volumes: ["./am:/etc/am:ro"]
"""
_COMMUNITY_HA = """\
services:
  prom-b:
    image: prom/prometheus:v2.45.0
    command: --config.file=/etc/prometheus/prometheus.yml --storage.tsdb.path=/prometheus
    volumes: ["./prom-b:/etc/prometheus:ro"]
  am-1:
    image: prom/alertmanager:v0.26.0
    command: ["--config.file=/etc/am/config.yml", "--cluster.peer=am-0:9094", "--cluster.peer=am-2:9094"]
    volumes: ["./am:/etc/am:ro"]
  am-2:
    image: prom/alertmanager:v0.26.0
    command: ["--config.file=/etc/am/config.yml", "--cluster.peer=am-0:9094", "--cluster.peer=am-1:9094"]
    volumes: ["./am:/etc/am:ro"]
"""
_COMMUNITY_PROMETHEUS = """\
global:
  scrape_interval: 30s
  external_labels: {{cluster: eu-1, prometheus_replica: {name}}}
rule_files: [/etc/prometheus/rules.yml]
alerting:
  alert_relabel_configs:
    - {{action: labeldrop, regex: prometheus_replica}}
  alertmanagers:
    - static_configs:
        - targets: [am-0:9093, am-1:9093, am-2:9093]
scrape_configs:
  - job_name: node
    static_configs: [{{targets: ["node-exporter:9100"]}}]
"""


@pytest.fixture
def community(tmp_path: Path) -> Path:
    (tmp_path / "docker-compose.yml").write_text(_COMMUNITY_BASE)
    (tmp_path / "docker-compose.ha.yml").write_text(_COMMUNITY_HA)
    for name in ("prom-a", "prom-b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "prometheus.yml").write_text(_COMMUNITY_PROMETHEUS.format(name=name))
    (tmp_path / "am").mkdir()
    (tmp_path / "am" / "config.yml").write_text(textwrap.dedent("route: {receiver: x}\nreceivers: [{name: x}]\n"))
    return tmp_path


def test_a_community_style_ha_pair_passes(community: Path) -> None:
    assert _messages(community, "prometheus_replica", "prom-a/prometheus.yml") == []


def test_a_community_style_pair_with_one_label_on_both_replicas_fails(community: Path) -> None:
    _edit(community / "prom-b" / "prometheus.yml", "prometheus_replica: prom-b", "prometheus_replica: prom-a")
    _edit(community / "prom-b" / "prometheus.yml", "cluster: eu-1", "cluster: eu-2")
    messages = _messages(community, "prometheus_replica", "prom-a/prometheus.yml")
    assert messages[0].endswith("replicas prom-a, prom-b have the same prometheus_replica=prom-a — give each its own")
    assert "the replicas' external labels differ in more than 'prometheus_replica'" in messages[1]
    assert "'cluster': 'eu-2'" in messages[1]


def test_a_community_style_pair_whose_replica_misses_a_peer_fails(community: Path) -> None:
    _edit(community / "prom-b" / "prometheus.yml", "am-0:9093, am-1:9093, am-2:9093", "am-0:9093, am-1:9093")
    _edit(
        community / "docker-compose.ha.yml",
        '"--cluster.peer=am-0:9094", "--cluster.peer=am-1:9094"',
        '"--cluster.peer=am-0:9094"',
    )
    assert _messages(community, "prometheus_replica", "prom-a/prometheus.yml") == [
        "ha/mesh docker-compose.ha.yml: am-2: does not name peer 'am-1' (--cluster.peer=am-1:9094): a peer that "
        "joins no one forms a mesh of its own and notifies every alert again",
        "ha/alertmanagers docker-compose.ha.yml: prom-b: does not send to peer 'am-2' (am-2:9093 in "
        "alerting.alertmanagers): its alerts are lost while the peers it sends to are down",
    ]


def test_an_unreadable_replica_config_is_a_finding_not_a_crash(project: Path) -> None:
    (project / "prometheus" / "prometheus-ha.yml").write_text("global: [unclosed\n")
    messages = _messages(project)
    assert messages == [
        f" docker-compose.ha.yml: {name}: prometheus/prometheus-ha.yml:2: not valid YAML: did not find expected "
        "',' or ']' — fix the syntax at that line"
        for name in ("prometheus", "prometheus-2")
    ]
