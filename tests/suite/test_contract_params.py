"""One test per job, metric, alert rule and scenario of the contract, named after it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from obs_tests.config.contract import load_contract
from obs_tests.rules.rulefiles import load_rule_files

ROOT = Path(__file__).resolve().parents[2]

TESTS = """
def test_job(contract_job): pass
def test_histogram(contract_histogram): pass
def test_budgeted(contract_budgeted): pass
def test_alert(contract_alert): pass
def test_scenario(contract_scenario): pass
"""


def test_each_item_of_the_contract_is_a_test_named_after_it(tmp_path: Path) -> None:
    (tmp_path / "test_params.py").write_text(TESTS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OBS_", "PYTEST_"))}
    argv = [sys.executable, "-m", "pytest", "-q", "--collect-only", "-p", "no:cacheprovider"]
    argv += [f"--obs-contract={ROOT / 'obs.yaml'}", "test_params.py"]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    collected = {line.split("::", 1)[1] for line in done.stdout.splitlines() if "::" in line}
    contract = load_contract(ROOT / "obs.yaml")
    alerts = [rule.name for rf in load_rule_files(contract.files.rule_files()) for rule in rf.alerts]
    expected = (
        {f"test_job[{job.name}]" for job in contract.jobs}
        | {f"test_histogram[{m.name}]" for m in contract.metrics if m.type == "histogram"}
        | {f"test_budgeted[{m.name}]" for m in contract.metrics if m.max_series is not None}
        | {f"test_alert[{name}]" for name in alerts}
    )
    assert expected <= collected
    assert len(alerts) > 3 and "test_job[gateway]" in collected
    assert any(name.startswith("test_scenario[") for name in collected)


def _ran(tmp_path: Path, *options: str) -> str:
    (tmp_path / "test_params.py").write_text("def test_scenario(contract_scenario): pass\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OBS_", "PYTEST_"))}
    argv = [sys.executable, "-m", "pytest", "-rs", "-p", "no:cacheprovider", f"--obs-contract={ROOT / 'obs.yaml'}"]
    done = subprocess.run([*argv, *options, "test_params.py"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_an_ha_scenario_is_skipped_on_a_single_stack_and_runs_on_an_ha_one(tmp_path: Path) -> None:
    single = _ran(tmp_path, "-k", "ha-prometheus or gateway-down")
    assert "1 passed, 2 skipped" in single, single  # gateway-down; ha-prometheus-failed-reload, -replica-down
    assert (
        "needs the HA topology (Prometheus replicas and an Alertmanager cluster): obs-tests check --topology ha"
        in single
    )
    ha = _ran(tmp_path, "--obs-topology=ha", "-k", "ha-prometheus or gateway-down")
    assert "3 passed, 31 deselected" in ha and "SKIPPED" not in ha, ha
