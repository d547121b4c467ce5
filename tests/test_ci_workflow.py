"""The CI workflow (.github/workflows/ci.yml): it passes actionlint (with shellcheck over its run: steps),
runs on push, pull request and nightly, and only invokes make targets, obs-tests commands and files that
exist — each guard proven to fail on a broken workflow."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from obs_tests.cli import cli

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert found, f"{name} is not installed — it is part of the dev extras: pip install -c constraints.txt -e '.[dev]'"
    return found


def _actionlint(workflow: Path) -> subprocess.CompletedProcess[str]:
    """actionlint on one workflow file; shellcheck (dev extras) on PATH so it also checks the run: steps."""
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(workflow.parent)}
    return subprocess.run(
        [_tool("actionlint"), "-no-color", str(workflow)],
        cwd=workflow.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _workflow(text: str | None = None) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(text if text is not None else WORKFLOW.read_text())
    return data


def _run_steps(workflow: dict[Any, Any]) -> list[str]:
    return [str(step["run"]) for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]


def make_targets_used(workflow: dict[Any, Any]) -> set[str]:
    """Targets of every ``make ...`` command in the workflow's run: steps."""
    targets: set[str] = set()
    for script in _run_steps(workflow):
        for match in re.finditer(r"(?:^|&&|;|\|\||\()[ \t]*make((?:[ \t]+[A-Za-z][\w-]*)+)", script, re.MULTILINE):
            targets.update(match.group(1).split())
    return targets


def makefile_targets(text: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"^([A-Za-z][\w-]*)\s*:(?!=)", text, re.MULTILINE)}


def obs_tests_commands_used(workflow: dict[Any, Any]) -> set[str]:
    """Subcommands of every ``obs-tests <command>`` in the run: steps."""
    return {m.group(1) for s in _run_steps(workflow) for m in re.finditer(r"obs-tests\s+([a-z][\w-]*)", s)}


def test_workflow_passes_actionlint() -> None:
    _tool("shellcheck")
    done = _actionlint(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = WORKFLOW.read_text().replace("runs-on: ubuntu-24.04\n    container: debian:12", "container: debian:12", 1)
    broken = broken.replace('"$GITHUB_STEP_SUMMARY"', "$GITHUB_STEP_SUMMARY ${{ matrix.os }}", 1)
    (tmp_path / "ci.yml").write_text(broken)
    done = _actionlint(tmp_path / "ci.yml")
    assert done.returncode == 1
    assert '"runs-on" section is missing in job "static"' in done.stdout
    assert 'property "os" is not defined in object type {}' in done.stdout


def test_runs_on_push_pull_request_and_nightly() -> None:
    workflow = _workflow()
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert {"push", "pull_request", "schedule"} <= set(triggers)
    assert triggers["schedule"][0]["cron"]
    assert set(workflow["jobs"]) == {"static", "tests", "embedded", "compose"}


def test_every_job_uploads_its_reports_even_on_failure() -> None:
    for name, job in _workflow()["jobs"].items():
        uploads = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
        assert uploads, f"job {name} uploads nothing"
        assert uploads[0].get("if") == "always()", name
        assert uploads[0]["with"]["path"] == "reports/"


def test_make_targets_exist() -> None:
    used = make_targets_used(_workflow())
    assert {"deps", "venv", "check", "lint", "test"} <= used
    missing = used - makefile_targets((ROOT / "Makefile").read_text())
    assert not missing, f"the workflow runs make targets the Makefile lacks: {sorted(missing)}"


def test_missing_make_target_is_found() -> None:
    workflow = _workflow("jobs: {a: {steps: [{run: 'make deps venv && make nightly-extra'}]}}")
    assert make_targets_used(workflow) == {"deps", "venv", "nightly-extra"}
    assert make_targets_used(workflow) - makefile_targets((ROOT / "Makefile").read_text()) == {"nightly-extra"}


def test_obs_tests_commands_exist() -> None:
    used = obs_tests_commands_used(_workflow())
    assert used == {"lint", "check", "health"}
    assert used <= set(cli.commands)
    assert obs_tests_commands_used(_workflow("jobs: {a: {steps: [{run: obs-tests healthz}]}}")) - set(cli.commands)


@pytest.mark.parametrize("path", ["scripts/production_health_check.sh", "obs.yaml", "constraints.txt", "Makefile"])
def test_files_the_workflow_relies_on_exist(path: str) -> None:
    assert (ROOT / path).is_file()


def test_compose_job_runs_the_documented_commands() -> None:
    scripts = "\n".join(str(s.get("run", "")) for s in _workflow()["jobs"]["compose"]["steps"])
    assert "docker compose up -d --build --wait" in scripts
    assert "docker compose config --quiet" in scripts
    assert '--grafana-url "$GRAFANA"' in scripts
    assert "obs-tests health" in scripts and "--json-file reports/health.json" in scripts


def test_the_project_tests_run_in_ci_with_their_junit_published() -> None:
    """The workflow ran lint, check and compose but never the project's own tests (make test)."""
    job = _workflow()["jobs"]["tests"]
    assert job.get("container") == "debian:12"
    assert any(str(step.get("run", "")).strip() == "make test" for step in job["steps"])
    assert job["env"]["OBS_TEST_JUNIT"] == "reports/tests-junit.xml"
    # make test passes it to pytest (and without it, nothing changes)
    dry = subprocess.run(
        ["make", "-n", "test", "OBS_TEST_JUNIT=reports/tests-junit.xml"], cwd=ROOT, capture_output=True, text=True
    )
    assert "--junitxml=reports/tests-junit.xml" in dry.stdout, dry.stdout + dry.stderr


def test_every_job_publishes_a_test_report_and_caches_pip() -> None:
    for name, job in _workflow()["jobs"].items():
        reports = [s for s in job["steps"] if str(s.get("uses", "")).startswith("mikepenz/action-junit-report@")]
        assert reports and reports[0].get("if") == "always()", f"job {name} publishes no test report"
        assert reports[0]["with"]["report_paths"].startswith("reports/"), name
        assert job["permissions"]["checks"] == "write", name
        cached = any(str(s.get("uses", "")).startswith("actions/cache@") for s in job["steps"]) or any(
            str(s.get("uses", "")).startswith("actions/setup-python@") and s["with"].get("cache") == "pip"
            for s in job["steps"]
        )
        assert cached, f"job {name} does not cache pip"


def _health_step() -> dict[str, Any]:
    steps = _workflow()["jobs"]["compose"]["steps"]
    step: dict[str, Any] = next(s for s in steps if "obs-tests health" in str(s.get("run", "")))
    return step


@pytest.mark.parametrize(("status", "fails"), [(0, False), (1, False), (2, True), (3, True)])
def test_a_critical_health_result_fails_the_job(tmp_path: Path, status: int, fails: bool) -> None:
    """The health step piped into tee without pipefail: a CRITICAL (2) never failed the job. Run as GitHub
    runs a `shell: bash` step (bash --noprofile --norc -eo pipefail), with an obs-tests that exits ``status``."""
    step = _health_step()
    assert step.get("shell") == "bash" and step.get("if") == "always()"
    fake = tmp_path / "bin" / "obs-tests"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\necho 'HEALTH status {status}'\nexit {status}\n")
    fake.chmod(0o755)
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", str(step["run"])],
        cwd=tmp_path,
        env={"PATH": f"{fake.parent}:/usr/bin:/bin", "PROM": "p", "AM": "a", "GRAFANA": "g"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode != 0) == fails, (done.returncode, done.stdout, done.stderr)
    assert (tmp_path / "reports" / "health.txt").read_text() == f"HEALTH status {status}\n"
