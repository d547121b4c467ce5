"""The layers contract (pyproject.toml ``[tool.importlinter]``) holds, and ``make lint`` fails on an import
that runs back up or into the demo: planted in a copy of the package, each is named by the lint."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _make_lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    venv = Path(sys.executable).parent.parent
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = ["make", "-s", "-C", str(tree), "-o", "venv", f"VENV={venv}", "lint-imports"]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "obs_tests", tmp_path / "obs_tests", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "Makefile"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_the_layers_hold_today(tree: Path) -> None:
    done = _make_lint_imports(tree)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 2 kept, 0 broken." in done.stdout


@pytest.mark.parametrize(
    ("module", "planted", "broken"),
    [
        pytest.param(
            "obs_tests/stack/ports.py",
            "from obs_tests.scenarios import runner as _planted",
            "obs_tests.stack is not allowed to import obs_tests.scenarios",
            id="stack-imports-scenarios",
        ),
        pytest.param(
            "obs_tests/errors.py",
            "import obs_tests.cli as _planted",
            "obs_tests.errors is not allowed to import obs_tests.cli",
            id="errors-imports-cli",
        ),
        pytest.param(
            "obs_tests/health/settings.py",
            "from obs_tests.demo import gateway as _planted",
            "obs_tests.health is not allowed to import obs_tests.demo",
            id="validator-imports-the-demo",
        ),
    ],
)
def test_make_lint_fails_on_a_planted_violation(tree: Path, module: str, planted: str, broken: str) -> None:
    path = tree / module
    path.write_text(path.read_text() + f"\n{planted}  # noqa: E402, F401\n")
    done = _make_lint_imports(tree)
    assert done.returncode != 0, done.stdout
    assert broken in done.stdout
    assert "BROKEN" in done.stdout
