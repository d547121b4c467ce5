"""`obs-tests up | status | down | check` as a user runs them, in child processes."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from obs_tests.stack.state import list_records

from .helpers import ROOT, assert_all_gone, env_with_state, identities, obs_tests

pytestmark = [pytest.mark.stack, pytest.mark.slow]


def test_up_detach_status_down(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = env_with_state(state)
    up = obs_tests("up", "--detach", env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    assert re.search(r"stack \w+ ready \(supervisor pid \d+", up.stdout)
    [record] = list_records(state)
    idents = identities(record)
    supervisor = record.owner()
    try:
        status = obs_tests("status", env=env)
        assert status.returncode == 0, status.stdout
        for name in ("prometheus", "alertmanager", "gateway", "agent-risk", "nats", "redis", "webhook-sink"):
            assert re.search(rf"^\s+{name}\s+\d+\s+\d+\s+running\s+up\s", status.stdout, re.M), status.stdout
        as_json = json.loads(obs_tests("status", "--format", "json", env=env).stdout)
        assert as_json[0]["components"]["gateway"]["up"] is True
        # a component that dies shows as down, and status exits 1
        os.kill(record.components["exchange"].pid or 0, signal.SIGKILL)
        status = obs_tests("status", env=env)
        assert status.returncode == 1
        assert re.search(r"^\s+exchange\s+\d+\s+\d+\s+exited\s+DOWN", status.stdout, re.M), status.stdout
    finally:
        down = obs_tests("down", env=env)
    assert down.returncode == 0, down.stderr
    assert f"stopped stack {record.id}" in down.stdout
    assert_all_gone([*idents, supervisor])
    assert list_records(state) == []
    assert obs_tests("status", env=env).returncode == 3
    again = obs_tests("down", env=env)
    assert again.returncode == 0 and "no obs-tests stack is running" in again.stdout


@pytest.mark.timeout(900)
def test_check_on_embedded_stack_is_green(tmp_path: Path) -> None:
    """The whole `obs-tests check` (~2.5 min here: the 18 chaos scenarios run on 2 more stacks meanwhile).
    Nothing it creates outlives it but its reports: its temp dir is empty after (stack workdirs, Locust
    run dirs — also of the fault scenarios whose load counted failures)."""
    state = tmp_path / "state"
    reports = tmp_path / "reports"
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**env_with_state(state), "TMPDIR": str(temp)}
    result = obs_tests("check", "--report-dir", str(reports), env=env, timeout=780)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for job in (
        "prometheus",
        "alertmanager",
        "gateway",
        "orchestrator",
        "exchange",
        "bot",
        "nats",
        "redis",
        "webhook-sink",
    ):
        assert re.search(rf"PASS\s+targets: {job}: 1/1 targets up", out), out
    assert "PASS  targets: agents: 4/4 targets up" in out
    assert "PASS  targets: agent_confidence_score (gauge): 4 series with agent_type" in out
    # never silent: a line per phase in a log (no terminal), with its bound where it has one
    assert "\nstarting the embedded stack (at most 60s) …\n" in out
    assert re.search(r"^starting the embedded stack: done after [\d.]+s$", out, flags=re.M), out
    assert re.search(r"^chaos: \d+ scenarios run in the background on \d stack\(s\) of their own", out, flags=re.M)
    assert re.search(
        r"^chaos: waiting for the scenarios still running .*: done after [\d.]+s, \d+/\d+ done$", out, flags=re.M
    )
    assert re.search(r"^metrics: \d+ check\(s\) …$", out, flags=re.M), out
    assert "\x1b[K" not in out  # no status line drawn into a log
    assert (reports / "junit.xml").is_file()
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["counts"]["failed"] == 0 and summary["counts"]["passed"] >= 25
    assert (reports / "logs" / "gateway.log").is_file()
    assert list_records(state) == []
    assert sorted(p.name for p in temp.iterdir()) == []


def test_check_fails_naming_a_killed_gateway(tmp_path: Path) -> None:
    """A gateway killed while a check runs against the stack makes test_targets fail, naming the target."""
    state = tmp_path / "state"
    env = env_with_state(state)
    assert obs_tests("up", "--detach", env=env).returncode == 0
    try:
        [record] = list_records(state)
        gateway = record.components["gateway"]
        prom_url = record.components["prometheus"].url
        os.kill(gateway.pid or 0, signal.SIGKILL)
        from obs_tests.clients.prometheus import PrometheusClient  # noqa: PLC0415
        from obs_tests.core.waiting import Poll, wait_for  # noqa: PLC0415

        prom = PrometheusClient(prom_url)
        wait_for(
            lambda: Poll(any(t.job == "gateway" and not t.up for t in prom.targets()), None),
            timeout=15,
            expected="Prometheus to see the gateway down",
        )
        result = obs_tests(
            "check",
            "--prometheus-url",
            prom_url,
            "--report-dir",
            str(tmp_path / "r"),
            "-k",
            "targets",
            env=env,
        )
        assert result.returncode == 1, result.stdout + result.stderr
        port = gateway.ports["http"]
        assert re.search(
            rf"FAIL\s+targets: gateway: 0/1 targets up.*\n.*target 127\.0\.0\.1:{port} \(service=gateway\) is DOWN",
            result.stdout,
        ), result.stdout
        assert "connection refused" in result.stdout
        assert "PASS  targets: agents: 4/4 targets up" in result.stdout
    finally:
        assert obs_tests("down", env=env).returncode == 0


def test_python_is_this_venv() -> None:
    assert Path(sys.executable).exists()


def test_scenario_run_on_a_terminal_shows_what_it_waits_for_and_for_how_long_at_most(tmp_path: Path) -> None:
    """Issue 17: `scenario run` was silent for 6 s while its stack started, with no n/N. On a terminal (a
    pty, through script(1)) a status line names the wait in progress and its bound; the phases are lines."""
    command = shlex.join(
        [
            sys.executable,
            "-m",
            "obs_tests.cli",
            "scenario",
            "run",
            "--report-dir",
            str(tmp_path),
            "scenarios/steady-state.yaml",
        ]
    )
    result = subprocess.run(
        ["script", "-qec", command, "/dev/null"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**env_with_state(tmp_path / "state"), "TERM": "xterm"},
        check=False,
    )
    out = result.stdout.replace("\r\n", "\n")
    assert result.returncode == 0, out[-3000:]
    assert "starting the embedded stack (at most 60s) …" in out
    assert "[1/1] steady-state …" in out
    assert re.search(
        r"\x1b\[K  [\d.]+s of at most 60s · waiting for every target up in Prometheus \([\d.]+s of at most", out
    ), out
    assert re.search(
        r"^\[1/1\] steady-state: done after [\d.]+s, passed$", out.replace("\r\x1b[K", "\n"), flags=re.M
    ), out
