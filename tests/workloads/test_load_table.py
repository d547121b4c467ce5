from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from obs_tests.workloads.load_table import main

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "load"
ROOT = FIXTURES.parents[2]


def test_load_report_command_prints_the_table_and_exits_2_on_bad_input(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "obs_tests.workloads.load_table"]
    done = subprocess.run([*command, str(FIXTURES / "locust_clean.json")], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0 and done.stdout.splitlines()[0] == "Locust: 390 requests in 3.9s"
    as_json = subprocess.run([*command, str(FIXTURES / "locust_clean.json"), "--json"], capture_output=True, text=True)
    doc = json.loads(as_json.stdout)
    assert doc["total"]["requests"] == 390 and not math.isnan(doc["total"]["avg_ms"])
    (tmp_path / "bad.json").write_text("[1]")
    bad = subprocess.run([*command, str(tmp_path / "bad.json")], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("UsageError: ") and "Traceback" not in bad.stderr


@pytest.mark.parametrize("argv", [[], ["a.json", "b.json"], ["--help"]], ids=["nothing", "two-files", "an-option"])
def test_load_table_usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("usage: python -m obs_tests.workloads.load_table")


def test_load_table_of_an_empty_run_says_there_was_no_request(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(FIXTURES / "locust_empty.json")]) == 0
    assert capsys.readouterr().out == "Locust sent no request: no response time or rate to report (0 requests)\n"
