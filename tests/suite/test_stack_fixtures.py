"""The stack fixtures on a stack given by URL: nothing is started, and what needs the embedded stack, an
Alertmanager or a Grafana skips saying why."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

TESTS = """
from obs_tests.stack.external import ExternalStack

def test_stack(stack, healthy_stack, prom):
    assert isinstance(stack, ExternalStack) and healthy_stack is stack
    assert prom.base_url == "http://127.0.0.1:9"

def test_mock_system(mock_system):
    raise AssertionError("skipped")

def test_load(load):
    raise AssertionError("skipped")

def test_alertmanager(alertmanager):
    raise AssertionError("skipped")

def test_grafana(grafana):
    raise AssertionError("skipped")
"""


def test_a_stack_given_by_url_starts_nothing_and_the_rest_skips_saying_why(tmp_path: Path) -> None:
    (tmp_path / "test_given.py").write_text(TESTS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OBS_", "PYTEST_"))}
    argv = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "test_given.py"]
    argv += [f"--obs-contract={ROOT / 'obs.yaml'}", "--prometheus-url", "http://127.0.0.1:9"]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "1 passed, 4 skipped" in out
    assert out.count("drives a workload through the system under test: needs the embedded stack") == 2
    assert "the stack has no Alertmanager (give --alertmanager-url)" in out
    assert "no Grafana URL given" in out
