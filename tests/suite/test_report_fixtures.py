"""What a check reports through the fixtures: errors fail it in one line, warnings and its summary line are
recorded for the reports, its report sections and directory are the session's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

TESTS = """
from obs_tests.core.findings import Finding
from obs_tests.suite.report_fixtures import report_sections

def test_an_error_fails(obs_findings):
    obs_findings([Finding("metrics", "gateway", "metric http_requests_total missing")])

def test_a_warning_is_recorded(obs_findings, request):
    verdict = obs_findings.judge([Finding("metrics", "gateway", "odd bucket", severity="warning")])
    assert verdict.warnings and not verdict.errors
    assert obs_findings.require(verdict) is verdict
    recorded = dict(request.node.user_properties)
    assert recorded["warnings"] == ["[metrics] gateway: odd bucket"]
    assert recorded["findings"][0]["severity"] == "warning"

def test_summary_line(obs_summary, request):
    obs_summary("gateway: 1/1 targets up")
    assert ("summary", "gateway: 1/1 targets up") in request.node.user_properties

def test_report_sections_and_dir(obs_report, obs_report_dir, pytestconfig):
    obs_report["coverage"] = {"metrics": 3}
    assert report_sections(pytestconfig) == {"coverage": {"metrics": 3}}
    assert obs_report_dir.is_dir() and obs_report_dir.name == "mine"
"""


def test_findings_summary_and_report_fixtures(tmp_path: Path) -> None:
    (tmp_path / "test_reported.py").write_text(TESTS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OBS_", "PYTEST_"))}
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--obs-contract={ROOT / 'obs.yaml'}"]
    argv += [f"--obs-report-dir={tmp_path / 'mine'}", "test_reported.py"]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "1 failed, 3 passed" in out
    assert "[metrics] gateway: metric http_requests_total missing" in out
    assert "Traceback" not in out and "obs_findings([" not in out  # one line, no traceback
