"""A stack obs-tests did not design, for running suite modules without a server: the community-style rule
pack (one file of PrometheusRule manifests), a contract with a Prometheus by URL and no Alertmanager, and a
Prometheus that answers from recorded API responses (tests/fixtures/api)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.loopback import serving

TESTS = Path(__file__).resolve().parent.parent
API = TESTS / "fixtures" / "api"
COMMUNITY = TESTS / "fixtures" / "rules" / "community"

RECORDED = {
    "/api/v1/status/buildinfo": {"status": "success", "data": {"version": "2.42.0", "revision": "recorded"}},
    "/api/v1/status/config": json.loads((API / "status_config_foreign.json").read_text()),
    "/api/v1/targets": json.loads((API / "targets_foreign.json").read_text()),
    # the only query test_rule_lint sends: which job exports each metric its rules read over a window
    "/api/v1/query": json.loads((API / "query_metric_jobs_foreign.json").read_text()),
}


class _Recorded(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = RECORDED.get(urlsplit(self.path).path)
        data = json.dumps(body or {"status": "error", "errorType": "not_recorded", "error": self.path}).encode()
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorded_prometheus() -> Iterator[str]:
    """The URL of a Prometheus that answers buildinfo, status/config and targets from recordings."""
    with serving(_Recorded) as url:
        yield url


@pytest.fixture
def foreign(tmp_path: Path) -> Path:
    """The project of a stack obs-tests did not design: its contract is ``obs.yaml``."""
    (tmp_path / "rules").mkdir()
    for path in COMMUNITY.glob("*.y*ml"):
        shutil.copy(path, tmp_path / "rules")
    (tmp_path / "obs.yaml").write_text(
        "version: 1\n"
        "stack: {prometheus: http://prometheus.example:9090, alertmanager: null}\n"
        "files: {rules: [rules]}\n"
        "jobs:\n  - {name: node, instances: 1}\n  - {name: redis, instances: 1}\n"
        "policy:\n  alerts: {required_labels: [severity], required_annotations: [summary, description]}\n"
        "  levels: {rule/for: warning, coverage/*: warning}\n"
    )
    return tmp_path


def run_check(project: Path, prometheus: str, keyword: str) -> tuple[int, str, dict[str, object]]:
    """``obs-tests check`` on ``project`` against ``prometheus``, only the checks ``keyword`` selects:
    (exit code, output, report.json)."""
    done = subprocess.run(
        [sys.executable, "-m", "obs_tests.cli", "check", "--contract", str(project / "obs.yaml"),
         "--prometheus-url", prometheus, "--report-dir", str(project / "reports"), "-k", keyword],
        cwd=project, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    report = project / "reports" / "report.json"
    return done.returncode, done.stdout + done.stderr, json.loads(report.read_text()) if report.is_file() else {}
