"""The HA overlay of the compose stack on real servers. There is no docker engine here, so the monitoring
services of ``docker-compose.yml`` + ``docker-compose.ha.yml`` — as ``docker-compose config`` merges them —
run as processes with their own command lines and environment: only what docker provides is put back (the
mounted directories become copies, service names and container ports become loopback ports). The two
Prometheus replicas and the three Alertmanager peers must then pass every live HA check: the peers form one
mesh from their ``--cluster.peer`` flags, each replica names itself through ``${OBS_REPLICA}`` (Prometheus'
``expand-external-labels``), sends to every peer and drops the replica label."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from obs_tests.checks.compose_file import compose_command
from obs_tests.checks.ha import check_ha
from obs_tests.checks.ha_view import fetch_ha
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.stack.ports import allocate_ports

from .helpers import ROOT, ProcessGroup

pytestmark = [
    pytest.mark.stack,
    pytest.mark.skipif(compose_command() is None, reason="docker-compose is not installed (make test installs it)"),
]

LOOPBACK = "127.0.0.1"
BINARIES = {"prom/prometheus": "prometheus", "prom/alertmanager": "prometheus-alertmanager"}


def merged_services() -> dict[str, dict[str, Any]]:
    """What ``docker-compose -f docker-compose.yml -f docker-compose.ha.yml config`` makes of the two files."""
    command = compose_command()
    assert command is not None
    files = ["-f", str(ROOT / "docker-compose.yml"), "-f", str(ROOT / "docker-compose.ha.yml")]
    env = {**os.environ, "OBS_GRAFANA_PASSWORD": "not-used"}
    done = subprocess.run([*command, *files, "config"], capture_output=True, text=True, env=env, check=True)
    services: dict[str, dict[str, Any]] = yaml.safe_load(done.stdout)["services"]
    return {n: s for n, s in services.items() if str(s.get("image", "")).partition(":")[0] in BINARIES}


class Monitoring:
    """The compose file's Prometheus and Alertmanager services as loopback processes."""

    def __init__(self, tmp: Path, services: dict[str, dict[str, Any]]) -> None:
        self.tmp, self.services = tmp, services
        self.group = ProcessGroup(tmp)
        self.web = {name: allocate_ports(1)[0] for name in services}
        self.gossip = {name: allocate_ports(1)[0] for name in services if "alertmanager" in services[name]["image"]}
        self.urls: dict[str, str] = {name: f"http://{LOOPBACK}:{port}" for name, port in self.web.items()}

    def address(self, match: re.Match[str]) -> str:
        """``service:9093`` / ``service:9094`` -> the loopback port that stands for it."""
        name, port = match.group(1), match.group(2)
        if port == "9094" and name in self.gossip:
            return f"{LOOPBACK}:{self.gossip[name]}"
        return f"{LOOPBACK}:{self.web[name]}" if name in self.web else match.group(0)

    def mounted(self, name: str, service: dict[str, Any]) -> dict[str, str]:
        """Each bind mount's container path -> a copy of it; named volumes -> an empty directory."""
        mounts = {}
        for i, volume in enumerate(service.get("volumes") or []):
            source, target = (volume["source"], volume["target"]) if isinstance(volume, dict) else volume.split(":")[:2]
            copy = self.tmp / name / f"mount-{i}"
            if Path(source).is_dir():
                shutil.copytree(source, copy)
                for path in copy.rglob("*.yml"):
                    path.write_text(re.sub(r"\b([a-z][\w-]*):(909[34])\b", self.address, path.read_text()))
            else:
                copy.mkdir(parents=True)
            mounts[target] = str(copy)
        return mounts

    def argv(self, name: str, service: dict[str, Any]) -> list[str]:
        mounts = self.mounted(name, service)
        argv = [BINARIES[service["image"].partition(":")[0]]]
        for given in service["command"]:
            arg = self.local(given, mounts)
            if arg.startswith("--cluster.listen-address=0.0.0.0:"):
                gossip = f"{LOOPBACK}:{self.gossip[name]}"
                argv += [f"--cluster.listen-address={gossip}", f"--cluster.advertise-address={gossip}"]
                continue
            argv.append(arg)
        return [*argv, f"--web.listen-address={LOOPBACK}:{self.web[name]}"]

    def local(self, arg: str, mounts: dict[str, str]) -> str:
        """A flag with container paths pointed at the copies and service addresses at loopback ports."""
        for target in sorted(mounts, key=len, reverse=True):
            arg = re.sub(rf"=({re.escape(target)})(/|$)", lambda m, t=target: f"={mounts[t]}{m.group(2)}", arg)
        return re.sub(r"\b([a-z][\w-]*):(909[34])\b", self.address, arg)

    def start(self) -> None:
        procs = []
        for name, service in sorted(self.services.items()):
            env = {**os.environ, **{k: str(v) for k, v in (service.get("environment") or {}).items()}}
            procs.append(self.group.start(name, self.argv(name, service), env=env))
        for proc in procs:
            self.group.wait_ready(proc, self.urls[proc.name])

    def close(self) -> None:
        self.group.close()


@pytest.fixture
def monitoring(tmp_path: Path) -> Iterator[Monitoring]:
    made = Monitoring(tmp_path, merged_services())
    try:
        made.start()
        yield made
    finally:
        made.close()


def test_the_ha_overlay_runs_two_replicas_and_three_peers_that_pass_every_ha_check(monitoring: Monitoring) -> None:
    assert sorted(monitoring.services) == [
        "alertmanager",
        "alertmanager-2",
        "alertmanager-3",
        "prometheus",
        "prometheus-2",
    ]
    replicas = [monitoring.urls["prometheus"], monitoring.urls["prometheus-2"]]
    peers = [monitoring.urls[n] for n in ("alertmanager", "alertmanager-2", "alertmanager-3")]
    names = {url: name for name, url in monitoring.urls.items()}

    def sound() -> Poll[list[str]]:
        findings = [str(f) for f in check_ha(fetch_ha(replicas, peers, names=names)) if f.severity == "error"]
        return Poll(not findings, findings, "; ".join(findings) or "no findings")

    wait_for(sound, timeout=60, interval=0.5, expected="no HA finding (the mesh settles, replicas find every peer)")
    view = fetch_ha(replicas, peers, names=names)
    assert [r.external_labels for r in view.replicas] == [
        {"obs_stack": "compose", "replica": "prometheus"},
        {"obs_stack": "compose", "replica": "prometheus-2"},
    ]
    assert all(len(p.members) == 3 for p in view.peers)
