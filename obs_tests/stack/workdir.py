"""The embedded stack's working directory, prepared before anything starts: a free loopback port for each
component, the rule files Prometheus loads (plain, scaled by the time scale), the Prometheus and
Alertmanager configs rendered with those addresses, the file the ``load`` job's targets are announced in —
and the components built from all that (their argv, ports and probes).

Layout::

    <workdir>/config/   prometheus.yml (prometheus-2.yml … for HA replicas), alertmanager.yml, rules-plain/, rules/
    <workdir>/data/     TSDB and Alertmanager storage (a directory per replica and peer)
    <workdir>/load/     targets.json (Locust runs keep their files beside it)

Example::

    workdir = make_workdir(None)
    files = prepare_workdir(contract, load_system(contract.stack.system), ["prometheus"], workdir)
    files.components["prometheus"].argv
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from obs_tests.config.contract import Contract
from obs_tests.config.topology import Topology
from obs_tests.rules.rulefiles import plain_rule_files
from obs_tests.stack.components import Component, ComponentPlan, build_components, port_names
from obs_tests.stack.ports import allocate_ports
from obs_tests.stack.render import render_alertmanager_config, render_prometheus_config
from obs_tests.stack.system_under_test import ServicePlan, SystemUnderTest
from obs_tests.stack.timescale import scale_rule_files

__all__ = ["PreparedWorkdir", "component_ports", "make_workdir", "prepare_workdir"]


@dataclass(frozen=True)
class PreparedWorkdir:
    """What :func:`prepare_workdir` wrote and built."""

    #: file_sd file of the Prometheus job ``load`` (``[]`` until a Locust run announces itself)
    load_targets: Path
    #: the rule files Prometheus loads (scaled copies when the time scale is < 1)
    rule_files: list[Path]
    #: the components by name, in start order, ready to spawn
    components: dict[str, Component]


def make_workdir(requested: Path | None) -> Path:
    """The directory asked for (created if missing), else a fresh temporary one. Created before anything
    else that may fail, so that the caller can remove it whatever happens next."""
    if requested is not None:
        requested.mkdir(parents=True, exist_ok=True)
        return requested
    return Path(tempfile.mkdtemp(prefix="obs-tests-stack-"))


def component_ports(
    names: list[str], system: SystemUnderTest | None, topology: Topology | None = None
) -> dict[str, dict[str, int]]:
    """A free loopback port for every port of every component: ``{component: {port name: port}}``."""
    wanted = [(n, p) for n in names for p in port_names(n, system, topology)]
    free = iter(allocate_ports(len(wanted)))
    ports: dict[str, dict[str, int]] = {}
    for name, port_name in wanted:
        ports.setdefault(name, {})[port_name] = next(free)
    return ports


def prepare_workdir(
    contract: Contract,
    system: SystemUnderTest | None,
    names: list[str],
    workdir: Path,
    *,
    time_scale: float = 1.0,
    seed: int = 1,
) -> PreparedWorkdir:
    """Allocate the ports of components ``names``, write the rule files and configs into ``workdir`` (made
    by :func:`make_workdir`) and build the components; nothing is started."""
    config_dir = workdir / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    (workdir / "data").mkdir(exist_ok=True)
    topology = contract.stack.topology
    ports = component_ports(names, system, topology)
    addresses = {n: f"127.0.0.1:{next(iter(p.values()))}" for n, p in ports.items()}
    # Locust runs keep their files beside the file they announce themselves in: inside the workdir,
    # reaped with the stack even when our process is SIGKILLed
    (workdir / "load").mkdir(exist_ok=True)
    load_targets = workdir / "load" / "targets.json"
    load_targets.write_text("[]", encoding="utf-8")
    rule_files = _rule_files(contract, config_dir, time_scale)
    scraped = {n: a for n, a in addresses.items() if n not in ("nats", "redis")}
    peers = [addresses[n] for n in topology.alertmanager_names() if n in addresses]
    configs: dict[str, Path] = {}
    for replica in (n for n in topology.prometheus_names() if n in names):
        configs[replica] = _write_yaml(
            config_dir / f"{replica}.yml",
            render_prometheus_config(
                contract,
                scraped,
                alertmanagers=peers,
                rule_files=rule_files,
                load_targets=load_targets,
                replica=(topology.replica_label, replica) if topology.prometheus_replicas > 1 else None,
            ),
        )
    am_path: Path | None = None
    if "alertmanager" in names:
        am_cfg = render_alertmanager_config(contract.files.alertmanager_config, addresses)
        am_path = _write_yaml(config_dir / "alertmanager.yml", am_cfg)
    plan = ComponentPlan(
        ServicePlan(workdir, ports, seed=seed),
        prometheus_config=configs.get("prometheus", config_dir / "prometheus.yml"),
        alertmanager_config=am_path,
        topology=topology,
        replica_configs=configs,
    )
    return PreparedWorkdir(load_targets, rule_files, build_components(plan, names, system))


def _rule_files(contract: Contract, config_dir: Path, time_scale: float) -> list[Path]:
    # Prometheus loads a PrometheusRule manifest as the plain file of its groups (what the operator does)
    plain = plain_rule_files(contract.files.rule_files(), config_dir / "rules-plain")
    return scale_rule_files(
        [p.path for p in plain],
        time_scale,
        config_dir / "rules",
        min_range=4 * contract.stack.scrape_interval,
    )


def _write_yaml(path: Path, document: object) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path
