"""The shipped Prometheus/Alertmanager files are valid for the real tools and agree with the contract."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from obs_tests.config.contract import load_contract

ROOT = Path(__file__).resolve().parent.parent


def test_compose_prometheus_config_is_valid() -> None:
    result = subprocess.run(
        ["promtool", "check", "config", str(ROOT / "prometheus" / "prometheus.yml")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_prometheus_jobs_match_the_contract() -> None:
    """Every contract job is scraped with the same components (the `service` label) in compose; the only
    other job is `load` (the Locust workers of the compose `locust` profile, not part of the contract)."""
    contract = load_contract(ROOT / "obs.yaml")
    config = yaml.safe_load((ROOT / "prometheus" / "prometheus.yml").read_text())
    scraped = {
        job["job_name"]: [s["labels"]["service"] for s in job["static_configs"]]
        for job in config["scrape_configs"]
        if job["job_name"] != "load"
    }
    assert scraped == {job.name: list(job.components) for job in contract.jobs}
    assert [j["job_name"] for j in config["scrape_configs"] if "static_configs" not in j] == ["load"]


def test_rule_files_are_valid() -> None:
    files = load_contract(ROOT / "obs.yaml").files.rule_files()
    assert files
    result = subprocess.run(["promtool", "check", "rules", *map(str, files)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_config_is_valid() -> None:
    result = subprocess.run(
        ["amtool", "check-config", str(ROOT / "alertmanager" / "alertmanager.yml")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_required_labels_and_annotations() -> None:
    for path in load_contract(ROOT / "obs.yaml").files.rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                assert {"severity", "team"} <= set(rule.get("labels", {})), rule["alert"]
                assert {"summary", "description", "runbook_url"} <= set(rule.get("annotations", {})), rule["alert"]
