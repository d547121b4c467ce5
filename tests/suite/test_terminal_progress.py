"""What the session waits for is a line past pytest's output capturing, unless asked to be quiet (-qq)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = """
from obs_tests.suite.terminal_progress import session_progress

def test_wait(pytestconfig):
    progress = session_progress(pytestconfig)
    assert session_progress(pytestconfig) is progress
    with progress.phase("waiting for the thing", at_most=5.0):
        print("captured, not shown")
"""


@pytest.mark.parametrize(("quiet", "shown"), [("-q", True), ("-qq", False)], ids=["q", "qq"])
def test_a_phase_is_shown_past_capturing(tmp_path: Path, quiet: str, shown: bool) -> None:
    (tmp_path / "test_waits.py").write_text(TESTS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OBS_", "PYTEST_"))}
    argv = [sys.executable, "-m", "pytest", quiet, "-p", "no:cacheprovider", "test_waits.py"]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert ("waiting for the thing (at most 5.0s)" in done.stdout) is shown, done.stdout
    assert "captured, not shown" not in done.stdout
