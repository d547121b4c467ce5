"""The embedded stack's working directory, prepared without starting anything."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from obs_tests.config.contract import load_contract
from obs_tests.stack.system_under_test import load_system
from obs_tests.stack.workdir import component_ports, make_workdir, prepare_workdir

ROOT = Path(__file__).resolve().parents[2]
SYSTEM = load_system("obs_tests.demo.system")


def test_make_workdir_creates_the_directory_asked_for(tmp_path: Path) -> None:
    asked = tmp_path / "a" / "b"
    assert make_workdir(asked) == asked
    assert asked.is_dir()


def test_make_workdir_without_one_asked_for_is_a_fresh_temp_directory() -> None:
    made = make_workdir(None)
    try:
        assert made.is_dir()
        assert made.name.startswith("obs-tests-stack-")
        assert not any(made.iterdir())
    finally:
        made.rmdir()


def test_component_ports_are_distinct_and_named() -> None:
    assert SYSTEM is not None
    names = ["prometheus", "alertmanager", *SYSTEM.service_names]
    ports = component_ports(names, SYSTEM)
    assert list(ports) == names
    every = [port for named in ports.values() for port in named.values()]
    assert len(every) == len(set(every))
    assert "monitor" in ports["nats"]


def test_prepare_workdir_writes_configs_prometheus_accepts_and_builds_every_component(tmp_path: Path) -> None:
    assert SYSTEM is not None
    contract = load_contract(ROOT / "obs.yaml")
    names = ["prometheus", "alertmanager", *SYSTEM.service_names]
    prepared = prepare_workdir(contract, SYSTEM, names, tmp_path, time_scale=0.1, seed=3)
    assert list(prepared.components) == names
    assert json.loads(prepared.load_targets.read_text()) == []
    assert prepared.load_targets.parent == tmp_path / "load"
    assert (tmp_path / "data").is_dir()
    assert prepared.rule_files
    assert all(path.parent == tmp_path / "config" / "rules" for path in prepared.rule_files)
    prom_config = tmp_path / "config" / "prometheus.yml"
    rendered = yaml.safe_load(prom_config.read_text())
    assert rendered["rule_files"] == [str(path) for path in prepared.rule_files]
    alertmanager = prepared.components["alertmanager"].address
    assert rendered["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [alertmanager]
    assert (tmp_path / "config" / "alertmanager.yml").is_file()
    assert str(prom_config) in " ".join(prepared.components["prometheus"].argv)
    done = subprocess.run(["promtool", "check", "config", str(prom_config)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_prepare_workdir_without_alertmanager_writes_no_alertmanager_config(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text("groups:\n  - name: g\n    rules:\n      - {record: job:up:sum, expr: sum by (job) (up)}\n")
    source = tmp_path / "obs.yaml"
    source.write_text(
        "version: 1\nfiles: {rules: [rules.yml]}\n"
        "jobs:\n  - {name: prometheus, instances: 1, components: [prometheus]}\n"
    )
    prepared = prepare_workdir(load_contract(source), None, ["prometheus"], tmp_path / "work")
    assert list(prepared.components) == ["prometheus"]
    assert (tmp_path / "work" / "config" / "prometheus.yml").is_file()
    assert not (tmp_path / "work" / "config" / "alertmanager.yml").exists()
    assert prepared.rule_files == [rules]  # time scale 1: the plain rule file as written
