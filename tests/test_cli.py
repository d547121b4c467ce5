from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from obs_tests.cli import cli
from obs_tests.commands.check import OWN_PLUGIN, foreign_plugins
from obs_tests.commands.scenario import _finish as finish_scenarios
from obs_tests.scenarios.results import ScenarioResult
from obs_tests.workloads.load_report import load_report

ROOT = Path(__file__).resolve().parent.parent
BAD = Path(__file__).resolve().parent / "fixtures" / "contracts"


def _run(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(cli, args, env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _one_line_error(stderr: str, prefix: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(prefix), stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize(
    ("fixture", "fragment"),
    [
        pytest.param("unknown_field.yaml", "jobs[1].instanses: unknown field", id="unknown-field"),
        pytest.param("wrong_type.yaml", "jobs[0].instances: expected an integer", id="wrong-type"),
        pytest.param("missing_job_name.yaml", "jobs[0]: missing required field 'name'", id="missing-job-name"),
    ],
)
@pytest.mark.parametrize("command", ["check", "up"])
def test_bad_contract_exit_2(command: str, fixture: str, fragment: str) -> None:
    code, _, err = _run([command, "--contract", str(BAD / fixture)])
    assert code == 2
    line = _one_line_error(err, "ContractInvalid: ")
    assert fixture in line and fragment in line


def test_unknown_option_exit_2() -> None:
    code, _, err = _run(["check", "--promethues-url", "http://x"])
    assert code == 2
    line = _one_line_error(err, "UsageError: ")
    assert "No such option '--promethues-url'. Did you mean '--prometheus-url'?" in line
    assert "obs-tests check --help" in line


def test_unknown_command_exit_2() -> None:
    code, _, err = _run(["chek"])
    assert code == 2
    _one_line_error(err, "UsageError: ")


def test_unreachable_prometheus_exit_2(closed_port: int) -> None:
    code, _, err = _run(
        ["check", "--contract", str(ROOT / "obs.yaml"), "--prometheus-url", f"http://127.0.0.1:{closed_port}"]
    )
    assert code == 2
    line = _one_line_error(err, "PrometheusUnreachable: ")
    assert f"127.0.0.1:{closed_port}" in line


def test_prometheus_url_from_env(closed_port: int) -> None:
    code, _, err = _run(
        ["check", "--contract", str(ROOT / "obs.yaml")],
        env={"OBS_PROMETHEUS_URL": f"http://127.0.0.1:{closed_port}"},
    )
    assert code == 2
    _one_line_error(err, "PrometheusUnreachable: ")


def test_malformed_prometheus_url_exit_2() -> None:
    code, _, err = _run(["check", "--contract", str(ROOT / "obs.yaml"), "--prometheus-url", "prometheus:9090"])
    assert code == 2
    _one_line_error(err, "UsageError: --prometheus-url: Prometheus URL 'prometheus:9090' is not valid")


def test_status_without_stack(tmp_path: Path) -> None:
    code, out, _ = _run(["status", "--state-dir", str(tmp_path)])
    assert code == 3
    assert "no obs-tests stack is running" in out


def test_down_without_stack_is_idempotent(tmp_path: Path) -> None:
    code, out, _ = _run(["down", "--state-dir", str(tmp_path)])
    assert code == 0
    assert "no obs-tests stack is running" in out


def test_help_groups_options_and_shows_env() -> None:
    code, out, _ = _run(["check", "--help"])
    assert code == 0
    for section in ("Contract:", "Stack:", "Reports:", "Selection:", "Output:"):
        assert section in out
    assert "OBS_PROMETHEUS_URL" in out


def test_scale_rules_writes_promtool_checked_copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    out = tmp_path / "rules"
    (out / "alerts").mkdir(parents=True)
    (out / "alerts" / "99-stale.yml").write_text("groups: []\n")  # an earlier run's file goes away
    code, stdout, _ = _run(["scenario", "scale-rules", "--time-scale", "0.02", "-o", str(out)])
    assert code == 0, stdout
    alerts = sorted(p.name for p in (out / "alerts").iterdir())
    assert alerts == [f"{i:02d}-{p.name}" for i, p in enumerate(sorted((ROOT / "prometheus/alerts").glob("*.yml")))]
    assert sorted(p.name for p in (out / "rules").iterdir()) == ["00-gateway.yml", "01-pipeline.yml"]
    availability = (out / "alerts" / "00-availability.yml").read_text()
    assert "for: 1s200ms" in availability
    # windows never below 4 scrape intervals of the compose Prometheus (5 s)
    [gateway] = (out / "alerts").glob("*-gateway.yml")
    assert "[20s]" in gateway.read_text()
    assert "range windows ≥ 20s" in stdout


@pytest.mark.parametrize(
    ("factor", "message"),
    [("1", "is the rule files as written"), ("3", "0 < time_scale ≤ 1"), ("nan", "NaN is not a finite number")],
)
def test_scale_rules_bad_factor_exit_2(tmp_path: Path, factor: str, message: str) -> None:
    code, _, err = _run(["scenario", "scale-rules", "--time-scale", factor, "-o", str(tmp_path)])
    assert code == 2
    assert message in _one_line_error(err, "UsageError: ")


def test_scenario_run_compose_without_a_compose_stack_exit_2(tmp_path: Path, closed_port: int) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(
        f"services:\n  prometheus: {{ports: ['127.0.0.1:{closed_port}:9090']}}\n"
        f"  alertmanager: {{ports: ['127.0.0.1:{closed_port}:9093']}}\n"
    )
    scenario = str(ROOT / "scenarios/gateway-down.yaml")
    args = ["--compose", "--compose-file", str(compose), "--time-scale", "0.01", scenario]
    code, _, err = _run(["scenario", "run", *args])
    assert code == 2
    line = _one_line_error(err, "")
    assert "docker daemon unreachable" in line or "does not answer" in line


def test_scenario_run_compose_judges_bounds_at_the_scale_its_rules_run(tmp_path: Path) -> None:
    """Without --time-scale a compose stack runs the rule files as written: the scenario's deadlines are
    judged at real time, before any container is touched."""
    code, _, err = _run(["scenario", "run", "--compose", str(ROOT / "scenarios/gateway-down.yaml")])
    assert code == 2
    line = _one_line_error(err, "ScenarioInvalid: ")
    assert "the step can time out on a healthy stack" in line


def test_check_runs_without_other_installed_pytest_plugins() -> None:
    """`obs-tests check` loads its own pytest plugin only: the dev extras' plugins (schemathesis,
    hypothesis, ... installed here) are blocked by name, ours never is."""
    args = foreign_plugins()
    blocked = {args[i + 1].removeprefix("no:") for i in range(0, len(args), 2) if args[i] == "-p"}
    installed = {ep.name for ep in entry_points(group="pytest11")}
    assert OWN_PLUGIN in installed and OWN_PLUGIN not in blocked
    assert "schemathesis" in installed
    assert blocked == installed - {OWN_PLUGIN}


HOSTILE_CONFTEST = 'raise RuntimeError("HOSTILE {where} loaded")\n'
HOSTILE_INI = {
    "pytest.ini": "[pytest]\naddopts = --hostile-pytest-ini\n",
    "pyproject.toml": '[tool.pytest.ini_options]\naddopts = "--hostile-pyproject"\n',
    "tox.ini": "[pytest]\naddopts = --hostile-tox-ini\n",
    "setup.cfg": "[tool:pytest]\naddopts = --hostile-setup-cfg\n",
}


def test_check_ignores_the_test_configuration_of_the_directory_it_runs_in(tmp_path: Path) -> None:
    """A project's own conftest.py files (here and in a parent, and in tests/ as pytest's initial
    conftests) and its ini files (pytest.ini, pyproject.toml, tox.ini, setup.cfg) never reach the
    product's run: each would fail it."""
    project = tmp_path / "project"
    cwd = project / "sub"
    (cwd / "tests").mkdir(parents=True)
    for where in (project, cwd, cwd / "tests"):
        (where / "conftest.py").write_text(HOSTILE_CONFTEST.format(where=where.relative_to(tmp_path)))
    for directory in (project, cwd):
        for name, text in HOSTILE_INI.items():
            (directory / name).write_text(text)
    obs_tests = Path(sys.executable).parent / "obs-tests"
    env = {**os.environ, "OBS_CONTRACT": str(ROOT / "obs.yaml")}
    done = subprocess.run(
        [str(obs_tests), "check", "--report-dir", str(tmp_path / "reports"), "-k", "test_rule_files_valid"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert "HOSTILE" not in output and "hostile" not in output, output
    assert done.returncode == 0, output
    assert "PASS  rules: promtool check rules" in done.stdout


def test_scenario_run_summary_prints_the_load_table_of_a_scenario_with_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stats = json.loads((Path(__file__).parent / "fixtures" / "load" / "locust_mixed.json").read_text())
    result = ScenarioResult("gateway-down", "scenarios/gateway-down.yaml", "", status="passed", started_at=1.0)
    result.finished_at = 2.0
    result.load = {"requests": 460, "failures": 41, "report": load_report(stats).to_json()}
    quiet = ScenarioResult("steady", "scenarios/steady.yaml", "", status="passed", started_at=1.0, finished_at=2.0)
    with pytest.raises(SystemExit) as done:
        finish_scenarios([result, quiet], tmp_path, ("json",))
    assert done.value.code == 0
    out = capsys.readouterr().out
    table = out[out.index("PASSED  gateway-down") : out.index("PASSED  steady")]
    assert "          Locust: 460 requests in 4.1s" in table
    assert re.search(r"\n {10}signal +414 +41 +90\.1% +24 +21 +43 +190 +326 +100\.6\n", table)
    assert "Locust" not in out[out.index("PASSED  steady") :]


def _loaded(*names: str) -> list[Any]:
    from obs_tests.config.contract import load_contract  # noqa: PLC0415
    from obs_tests.scenarios.model import Catalog, load_scenario  # noqa: PLC0415

    catalog = Catalog.from_contract(load_contract(ROOT / "obs.yaml"))
    return [load_scenario(ROOT / "scenarios" / f"{name}.yaml", catalog) for name in names]


def test_scenario_run_picks_the_ha_stack_when_every_scenario_needs_it_and_skips_them_beside_others(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from obs_tests.commands.scenario import _shape_for  # noqa: PLC0415
    from obs_tests.config.contract import load_contract, with_topology  # noqa: PLC0415
    from obs_tests.errors import UsageError  # noqa: PLC0415

    contract = load_contract(ROOT / "obs.yaml")
    ha_only = _loaded("ha-alertmanager-peer-down", "ha-prometheus-replica-down")
    shaped, kept = _shape_for(contract, ha_only, given=False)
    assert shaped.stack.topology.ha and kept == ha_only
    mixed = _loaded("gateway-down", "ha-alertmanager-peer-down")
    shaped, kept = _shape_for(contract, mixed, given=False)
    assert not shaped.stack.topology.ha and [s.name for s in kept] == ["gateway-down"]
    assert "skipped (they need an HA stack: --topology ha): ha-alertmanager-peer-down" in capsys.readouterr().err
    with pytest.raises(UsageError, match="ha-alertmanager-peer-down, ha-prometheus-replica-down: they need an HA"):
        _shape_for(contract, ha_only, given=True)  # --topology single
    ha = with_topology(contract, "ha")
    assert _shape_for(ha, mixed, given=True) == (ha, mixed)  # an HA stack runs them all
