"""``obs-tests serve``: options, bad input, and a SIGTERM mid-run that reverts the faults and leaves nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from obs_tests.cli import cli

from .helpers import Server, scenario_dir, serving


def test_help_lists_the_options_and_their_env_vars() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    for text in ("--host", "OBS_DASHBOARD_HOST", "--port", "5558", "--scenarios", "--report-dir", "--time-scale"):
        assert text in result.output
    assert "OBS_DASHBOARD_TOKEN" in result.output
    assert "Server:" in result.output and "Stack:" in result.output


def test_a_missing_scenario_directory_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "--port", "0", "--scenarios", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "no such scenario directory" in result.output


@pytest.mark.stack
@pytest.mark.slow
def test_sigterm_during_a_run_reverts_its_faults_and_stops_everything(tmp_path: Path) -> None:
    scenarios = scenario_dir(tmp_path / "scenarios", real=(), fixtures=("long-pause",))
    reports = tmp_path / "reports"
    server = Server(scenarios, reports)
    try:
        server.wait_stack("ready")
        test_id = server.run("long-pause", load="none")
        server.wait_fault_active(test_id)
        stack_processes = server.children()
        assert len(stack_processes) >= 10
    except BaseException:
        server.kill()
        raise
    assert server.stop() == 143  # SIGTERM (128 + 15); every child gone
    output = server.output
    assert "the dashboard is shutting down: stopping the run" in output
    assert "fault reverted: pause-exchange" in output
    assert f"[{test_id}] stopped" in output
    last = [line for line in output.splitlines() if line.strip()][-2:]
    assert "stack stopped" in output and last == [
        "obs-tests dashboard stopped (stack closed, faults reverted)",
        "Interrupted (SIGTERM).",
    ], output

    # the next server reads the run back from the report directory
    with serving(scenarios, reports, extra=("--lazy-stack",)) as again:
        (past,) = again.get("/api/runs").json()["runs"]
        assert past["test_id"] == test_id and past["status"] == "stopped"
        doc = again.status(test_id)
        assert doc["chaos"]["applied"] == doc["chaos"]["reverted"] and doc["chaos"]["active"] == []
        assert any("fault reverted: pause-exchange" in e["message"] for e in doc["log"])
        assert again.get(f"/api/report/{test_id}.html").status_code == 200
        assert again.post(f"/api/stop/{test_id}").status_code == 409
