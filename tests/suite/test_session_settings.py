"""The plugin's options: in their own group of ``pytest --help``, and — when the contract cannot be read —
still the directories and the Grafana URL the user gave (a test that needs no contract uses them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OBS_", "PYTEST_"))}
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    return subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)


def test_the_options_have_their_own_group_in_help(tmp_path: Path) -> None:
    done = _pytest(tmp_path, "--help")
    assert done.returncode == 0, done.stdout + done.stderr
    group = done.stdout.split("obs-tests: validate a monitoring stack:", 1)[1]
    for flag in ("--obs-contract", "--prometheus-url", "--obs-time-scale", "--obs-report-dir", "--obs-log-dir"):
        assert flag in group


def test_without_a_readable_contract_the_options_given_are_still_used(tmp_path: Path) -> None:
    (tmp_path / "test_options.py").write_text(
        "from pathlib import Path\n"
        "from obs_tests.suite.session_settings import grafana_url, log_dir, report_dir\n\n"
        "def test_options(pytestconfig):\n"
        "    assert log_dir(pytestconfig) == Path('my-logs')\n"
        "    assert report_dir(pytestconfig) == Path('my-reports')\n"
        "    assert grafana_url(pytestconfig) == 'http://grafana:3000'\n"
    )
    args = ["--obs-contract=missing.yaml", "--obs-log-dir=my-logs", "--obs-report-dir=my-reports"]
    done = _pytest(tmp_path, *args, "--grafana-url=http://grafana:3000", "test_options.py")
    assert done.returncode == 0, done.stdout + done.stderr


def test_without_any_option_reports_go_to_reports(tmp_path: Path) -> None:
    (tmp_path / "test_default.py").write_text(
        "from pathlib import Path\n"
        "from obs_tests.suite.session_settings import log_dir, report_dir\n\n"
        "def test_default(pytestconfig):\n"
        "    assert report_dir(pytestconfig) == Path('reports') and log_dir(pytestconfig) is None\n"
    )
    done = _pytest(tmp_path, "test_default.py")
    assert done.returncode == 0, done.stdout + done.stderr
