"""The plugin's own options are checked like the CLI's: a number out of range is a usage error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from obs_tests.stack.run_settings import resolve_settings
from obs_tests.suite.plugin import GivenSettings

ROOT = Path(__file__).resolve().parents[2]


def _pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith(("OBS_", "PYTEST_"))},
    )  # fmt: skip


@pytest.mark.parametrize("text", ["0", "17", "nan", "2.5"])
def test_scenario_stacks_out_of_range_is_a_usage_error_naming_the_option(tmp_path: Path, text: str) -> None:
    (tmp_path / "test_mine.py").write_text("def test_needs_the_contract(contract):\n    assert contract\n")
    done = _pytest(tmp_path, f"--obs-contract={ROOT / 'obs.yaml'}", "--obs-scenario-stacks", text, "test_mine.py")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"--obs-scenario-stacks {text}: a whole number of stacks, 1 to 16" in done.stdout + done.stderr


def test_settings_handed_over_by_obs_tests_check_are_used_as_they_are(tmp_path: Path) -> None:
    """obs-tests check hands its resolved settings to the session: the plugin resolves nothing again (its own
    options, here a different time scale, are not read)."""
    given = {"contract": ROOT / "obs.yaml", "time_scale": "0.5"}
    settings = resolve_settings(given | {"report_dir": tmp_path / "mine", "log_dir": tmp_path / "logs"}, {})
    (tmp_path / "test_seen.py").write_text(
        "from obs_tests.suite.plugin import log_dir, run_settings\n\n"
        "def test_seen(pytestconfig, obs_report_dir):\n"
        "    seen = run_settings(pytestconfig)\n"
        "    assert (seen.time_scale, seen.time_scale_given, seen.contract.source.name) == (0.5, True, 'obs.yaml')\n"
        "    assert obs_report_dir.name == 'mine' and log_dir(pytestconfig).name == 'logs'\n"
    )
    args = [str(tmp_path / "test_seen.py"), "-q", "-p", "no:cacheprovider", "--obs-time-scale", "0.9"]
    assert pytest.main(args, plugins=[GivenSettings(settings)]) == pytest.ExitCode.OK


def test_a_users_tests_without_an_obs_yaml_fail_saying_why(tmp_path: Path) -> None:
    """Without obs.yaml, collection failed with a ContractInvalid wrapped in another plugin's hook warning.
    Now: tests that need no contract pass; those that do fail at setup with one line saying how to give it."""
    (tmp_path / "test_mine.py").write_text(
        "def test_plain():\n    assert True\n\n"
        "def test_needs_the_contract(contract):\n    assert contract\n\n"
        "def test_per_job(contract_job):\n    assert contract_job\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_mine.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith(("OBS_", "PYTEST_"))},
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "1 passed, 2 errors" in out
    assert "ERROR at setup of test_per_job[no-contract]" in out
    line = "ContractInvalid: obs.yaml: file not found — check the path (give --obs-contract=PATH or OBS_CONTRACT"
    assert out.count(line) >= 2  # each error's section (and, under CI=true, its untruncated summary line)
    assert "Warning" not in out and "Traceback" not in out and "During handling" not in out


def test_a_contract_given_as_a_separate_argument_does_not_hand_the_users_tests_to_another_rootdir(
    tmp_path: Path,
) -> None:
    """`pytest --obs-contract /path/to/checkout/obs.yaml` made pytest take that checkout as rootdir (pytest
    picks it from path arguments before plugins load), so its pytest settings applied to the user's tests:
    now a usage error with the fix; `--obs-contract=PATH` runs them under their own rootdir."""
    (tmp_path / "test_mine.py").write_text("def test_plain():\n    assert True\n")
    contract = ROOT / "obs.yaml"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OBS_", "PYTEST_"))}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args, "test_mine.py"]
        return subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)

    split = run("--obs-contract", str(contract))
    assert split.returncode == pytest.ExitCode.USAGE_ERROR, split.stdout + split.stderr
    assert (
        f"ERROR: --obs-contract {contract}: given as a separate argument, pytest took {ROOT} as the rootdir and its "
        f"pyproject.toml" in split.stderr
    )
    assert f"write --obs-contract={contract}, or set OBS_CONTRACT={contract}" in split.stderr
    joined = run(f"--obs-contract={contract}")
    assert joined.returncode == 0, joined.stdout + joined.stderr
    assert f"rootdir: {tmp_path}" in joined.stdout
