"""``obs-tests check -m``: the marker selection reaches the suite, the summary counts what it left out, and
a selection pytest refuses (or one that leaves nothing) exits 2 with a line saying what -m takes.

The runs use ``-- --collect-only``: the suite is collected and selected as in a real run, nothing starts.
The command's other behaviour is tested in tests/test_cli.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from obs_tests.suite.markers import MARKERS

ROOT = Path(__file__).resolve().parents[2]
OBS_TESTS = Path(sys.executable).parent / "obs-tests"
SCENARIOS = sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))


def _check(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [str(OBS_TESTS), "check", "--contract", str(ROOT / "obs.yaml"), "--report-dir", str(tmp_path / "r"), *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OBS_", "PYTEST_"))}
    return subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)


def _selected(done: subprocess.CompletedProcess[str]) -> list[str]:
    """The node ids pytest's ``--collect-only -q`` listed."""
    return re.findall(r"^obs_tests/suite/\S+$", done.stdout, flags=re.MULTILINE)


def test_not_chaos_leaves_out_every_scenario_and_fault_check(tmp_path: Path) -> None:
    done = _check(tmp_path, "-m", "not chaos", "--", "--collect-only")
    assert done.returncode == 0, done.stdout + done.stderr
    selected = _selected(done)
    assert "obs_tests/suite/test_metrics.py::test_counters_never_decrease" in selected
    assert "obs_tests/suite/test_load.py::test_accounting_under_load" in selected
    assert not [s for s in selected if "test_scenario[" in s or "test_latency_histogram_matches_locust" in s]
    left_out = int(re.search(r"(\d+) deselected in", done.stdout).group(1))  # type: ignore[union-attr]
    assert left_out >= len(SCENARIOS) + 2  # the scenarios and the checks applying a fault of their own
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["deselected"] == left_out
    assert summary["selection"] == {"markers": "not chaos", "keyword": None}


def test_scenario_selects_the_scenario_runs_only(tmp_path: Path) -> None:
    done = _check(tmp_path, "-m", "scenario", "--", "--collect-only")
    assert done.returncode == 0, done.stdout + done.stderr
    selected = _selected(done)
    assert len(selected) == len(SCENARIOS)
    assert all(s.startswith("obs_tests/suite/test_chaos.py::test_scenario[") for s in selected)


def test_markers_combine_with_a_keyword(tmp_path: Path) -> None:
    done = _check(tmp_path, "-m", "state and not scenario", "-k", "counters", "--", "--collect-only")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _selected(done) == ["obs_tests/suite/test_metrics.py::test_counters_never_decrease"]


@pytest.mark.parametrize(
    ("expression", "pytest_says"),
    [
        pytest.param("not (", "Wrong expression passed to '-m': not (: at column 6", id="unclosed"),
        pytest.param("scenario and", "Wrong expression passed to '-m': scenario and", id="dangling-and"),
        pytest.param("chaso", "Unknown marker(s) in '-m' expression: chaso", id="unknown-marker"),
    ],
)
def test_a_refused_selection_exits_2_saying_what_m_takes(tmp_path: Path, expression: str, pytest_says: str) -> None:
    done = _check(tmp_path, "-m", expression)
    assert done.returncode == 2, done.stdout + done.stderr
    assert pytest_says in done.stderr
    hint = next(line for line in done.stderr.splitlines() if line.startswith("obs-tests check: -m takes"))
    assert all(name in hint for name in MARKERS)
    assert "Traceback" not in done.stdout + done.stderr
    assert "Summary" not in done.stdout  # nothing ran: no summary of nothing, no reports
    assert not (tmp_path / "r" / "summary.json").exists()


def test_a_selection_that_leaves_every_check_out_exits_2_saying_so(tmp_path: Path) -> None:
    done = _check(tmp_path, "-m", "browser and scenario")
    assert done.returncode == 2, done.stdout + done.stderr
    assert re.search(r"No check selected: -m 'browser and scenario' left out all \d+\. -m takes", done.stderr)
    assert "Traceback" not in done.stdout + done.stderr


def test_a_valid_selection_is_not_refused(tmp_path: Path) -> None:
    """The control for the refused ones: the same command with a well-formed expression over known markers."""
    done = _check(tmp_path, "-m", "(scenario or state) and not (edge_case or load)", "--", "--collect-only")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "obs_tests/suite/test_chaos.py::test_scenario[prometheus-restart]" in _selected(done)
    assert "-m takes" not in done.stderr
