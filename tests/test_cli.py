from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from obs_tests.cli import cli

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
    _one_line_error(err, "UsageError: Prometheus URL 'prometheus:9090' is not valid")


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
