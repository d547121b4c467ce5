"""The project's own test session leaves nothing behind: the private state dir it makes goes at its end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("given", [False, True], ids=["own-state-dir", "state-dir-given"])
def test_a_test_session_leaves_no_state_dir(tmp_path: Path, given: bool) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("OBS_STATE_DIR", "PYTEST_ADDOPTS")}
    env["TMPDIR"] = str(temp)
    if given:
        env["OBS_STATE_DIR"] = str(tmp_path / "state")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/core/test_waiting.py", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert [p.name for p in temp.iterdir() if p.name.startswith("obs-tests-")] == []
