"""make test's coverage gate: obs_tests/ measured with branches, in the processes the tests start too, the
total printed, reports/coverage.xml written, and a run below the floor fails.

The behaviour is proven on a small package of this test's own with the project's coverage settings (a
pytest run inside the test, under a floor of its own): below the floor it fails and says so; a line
covered only in a subprocess counts.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
COVERAGE: dict[str, Any] = PYPROJECT["tool"]["coverage"]

MODULE = """
def used(x):
    if x > 0:
        return "positive"
    return "not positive"


def in_a_subprocess():
    return "measured there"
"""

TEST_IN_PROCESS = """
def test_used():
    from pkg.mod import used
    assert used(1) == "positive"
"""

TEST_WITH_A_SUBPROCESS = """
import subprocess, sys

def test_the_rest_in_a_subprocess():
    from pkg.mod import used
    assert used(0) == "not positive" and used(1) == "positive"  # 87.5 % without the subprocess
    code = "from pkg.mod import in_a_subprocess; print(in_a_subprocess())"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout == "measured there\\n"
"""


def test_make_test_measures_obs_tests_with_branches_in_subprocesses_against_a_floor() -> None:
    run, report = COVERAGE["run"], COVERAGE["report"]
    assert run["source"] == ["obs_tests"] and run["branch"] is True and run["parallel"] is True
    assert "subprocess" in run["patch"] and run["sigterm"] is True  # stack teardowns stop with SIGTERM
    assert report["fail_under"] > 50  # the measured total, not a floor that cannot fail
    assert COVERAGE["xml"]["output"] == "reports/coverage.xml"
    makefile = (ROOT / "Makefile").read_text()
    assert "COVERAGE_ARGS ?= --cov --cov-report=xml" in makefile
    assert re.search(r"^test:.*\n\t\$\(BIN\)/pytest \$\(PYTEST_ARGS\) \$\(COVERAGE_ARGS\)", makefile, re.M)
    workflow = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert "reports/coverage.xml" in workflow  # the CI job uploads it


def _project(tmp_path: Path, test: str, floor: float) -> Path:
    """A package and one test, under the project's coverage settings with ``floor``."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "mod.py").write_text(MODULE)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_mod.py").write_text(test)
    run = {**COVERAGE["run"], "source": ["pkg"]}
    lines = ["[tool.coverage.run]", *(f"{k} = {_toml(v)}" for k, v in run.items())]
    lines += ["[tool.coverage.report]", f"fail_under = {floor}", "precision = 1"]
    lines += ["[tool.coverage.xml]", f"output = {_toml(COVERAGE['xml']['output'])}"]
    (tmp_path / "pyproject.toml").write_text("\n".join(lines) + "\n")
    return tmp_path


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return f'"{value}"' if isinstance(value, str) else str(value)


def _make_test(project: Path) -> subprocess.CompletedProcess[str]:
    """What make test runs, in ``project`` (outside any coverage this session itself runs under)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:obs_tests", "--cov"]
    return subprocess.run(
        [*argv, "--cov-report=xml"], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )


def test_a_total_below_the_floor_fails_the_run_and_says_so(tmp_path: Path) -> None:
    result = _make_test(_project(tmp_path, TEST_IN_PROCESS, floor=90))
    assert result.returncode != 0, result.stdout
    assert "FAIL Required test coverage of 90.0% not reached. Total coverage: 62.50%" in result.stdout
    assert (tmp_path / "reports" / "coverage.xml").is_file()


def test_lines_run_in_a_subprocess_count_and_the_total_is_printed(tmp_path: Path) -> None:
    result = _make_test(_project(tmp_path, TEST_WITH_A_SUBPROCESS, floor=90))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Required test coverage of 90.0% reached. Total coverage: 100.00%" in result.stdout
