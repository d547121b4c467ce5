from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from obs_tests.config.contract import load_contract
from obs_tests.errors import ConfigInvalid, ContractInvalid
from obs_tests.stack.components import component_names
from obs_tests.stack.render import (
    render_alertmanager_config,
    render_prometheus_config,
    rewrite_urls,
)
from obs_tests.stack.system_under_test import load_system

ROOT = Path(__file__).resolve().parents[2]


def _addresses() -> dict[str, str]:
    return {
        name: f"127.0.0.1:{20000 + i}" for i, name in enumerate(component_names(load_system("obs_tests.demo.system")))
    }


def test_prometheus_config_from_contract_passes_promtool(tmp_path: Path) -> None:
    contract = load_contract(ROOT / "obs.yaml")
    config = render_prometheus_config(
        contract, _addresses(), alertmanagers=["127.0.0.1:20001"], rule_files=contract.files.rule_files()
    )
    jobs = {c["job_name"]: c for c in config["scrape_configs"]}
    assert set(jobs) == {j.name for j in contract.jobs}
    agents = jobs["agents"]["static_configs"]
    assert [s["labels"]["service"] for s in agents] == [
        "agent-momentum",
        "agent-risk",
        "agent-sentiment",
        "agent-correlation",
    ]
    assert config["global"]["scrape_interval"] == "1s"
    assert config["global"]["evaluation_interval"] == "1s"
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:20001"]
    # within the alerts' endsAt (4 x the 1 s resend delay): a frozen Alertmanager holds no update back
    assert config["alerting"]["alertmanagers"][0]["timeout"] == "1s"
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run(["promtool", "check", "config", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_config_with_uneven_intervals_passes_promtool(tmp_path: Path) -> None:
    contract_file = tmp_path / "obs.yaml"
    contract_file.write_text(
        "version: 1\n"
        "stack: {scrape_interval: 1500ms, evaluation_interval: 1h}\n"
        "jobs:\n"
        "  - {name: gw, instances: 1, components: [gateway], scrape_interval: 90500ms}\n"
        "  - {name: sink, instances: 1, components: [webhook-sink]}\n"
    )
    config = render_prometheus_config(
        load_contract(contract_file), _addresses(), alertmanagers=[], rule_files=[], load_targets=tmp_path / "t.json"
    )
    assert config["global"]["scrape_interval"] == "1s500ms"
    assert config["global"]["evaluation_interval"] == "1h"
    jobs = {c["job_name"]: c for c in config["scrape_configs"]}
    assert jobs["gw"]["scrape_interval"] == jobs["gw"]["scrape_timeout"] == "1m30s500ms"
    assert jobs["sink"]["scrape_interval"] == jobs["load"]["scrape_interval"] == "1s500ms"
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run(["promtool", "check", "config", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_config_unknown_component(tmp_path: Path) -> None:
    contract_file = tmp_path / "obs.yaml"
    contract_file.write_text("version: 1\njobs:\n  - {name: gw, instances: 1, components: [gatewy]}\n")
    with pytest.raises(ContractInvalid, match="job 'gw': unknown component 'gatewy' — the embedded stack runs"):
        render_prometheus_config(load_contract(contract_file), _addresses(), alertmanagers=[], rule_files=[])


def test_prometheus_config_job_without_components(tmp_path: Path) -> None:
    contract_file = tmp_path / "obs.yaml"
    contract_file.write_text("version: 1\njobs:\n  - {name: gw, instances: 1}\n")
    with pytest.raises(ContractInvalid, match="job 'gw' has no 'components:'"):
        render_prometheus_config(load_contract(contract_file), _addresses(), alertmanagers=[], rule_files=[])


def test_alertmanager_config_rewrites_sink_and_passes_amtool(tmp_path: Path) -> None:
    addresses = {"webhook-sink": "127.0.0.1:31111"}
    config = render_alertmanager_config(ROOT / "alertmanager" / "alertmanager.yml", addresses)
    urls = [w["url"] for r in config["receivers"] for w in r.get("webhook_configs", [])]
    assert urls
    assert all(u.startswith("http://127.0.0.1:31111/hook/") for u in urls)
    assert config["route"] == yaml.safe_load((ROOT / "alertmanager" / "alertmanager.yml").read_text())["route"]
    path = tmp_path / "am.yml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run(["amtool", "check-config", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://webhook-sink:9095/hook/x", "http://127.0.0.1:5/hook/x"),
        ("https://webhook-sink/a", "https://127.0.0.1:5/a"),
        ("http://webhook-sink", "http://127.0.0.1:5"),
        ("http://other:9095/hook", "http://other:9095/hook"),
        ("webhook-sink", "webhook-sink"),
        ({"a": ["http://webhook-sink:1/x", 3]}, {"a": ["http://127.0.0.1:5/x", 3]}),
    ],
)
def test_rewrite_urls(value: object, expected: object) -> None:
    assert rewrite_urls(value, {"webhook-sink": "127.0.0.1:5"}) == expected


def test_alertmanager_config_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigInvalid, match="Alertmanager config not found"):
        render_alertmanager_config(tmp_path / "nope.yml", {})
