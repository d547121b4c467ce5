from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from obs_tests.workloads.load_spec import LoadSpec
from obs_tests.workloads.loadgen import LoadRun, run_load

# -- nothing of a run outlives it -----------------------------------------------------------------------

NOISY_LOCUSTFILE = """
import sys
from locust import HttpUser, constant, task

print("custom failure detail from the locustfile", file=sys.stderr, flush=True)


class Refused(HttpUser):
    wait_time = constant(0.05)

    @task
    def hit(self):
        self.client.get("/")
"""


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system temp dir of this test: empty, to prove a run leaves nothing in it."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    return temp


def test_a_run_with_failures_leaves_no_temp_dir(private_tmp: Path, closed_port: int, tmp_path: Path) -> None:
    """Every request refused (as in every fault scenario, Locust counts failures): its directory still goes,
    and Locust's output is kept only when it said something. It says nothing here — unless the machine is
    busy, when it warns (at WARNING level) that its CPU usage passed 90 %, which is worth keeping."""
    spec = LoadSpec(users=1, duration=1, stop_timeout=1, metrics=False)
    result = run_load(spec, f"http://127.0.0.1:{closed_port}", keep_logs=tmp_path / "reports")
    assert result.requests > 0 and result.failures == result.requests
    assert list(private_tmp.iterdir()) == []
    said = result.output.strip()
    if said:
        assert result.log is not None and said.splitlines()[-1] in result.log.read_text()
        assert list((tmp_path / "reports").iterdir()) == [result.log]
    else:
        assert result.log is None and not (tmp_path / "reports").exists()


def test_the_output_of_a_failed_run_is_kept_only_where_asked(
    private_tmp: Path, closed_port: int, tmp_path: Path
) -> None:
    locustfile = tmp_path / "noisy.py"
    locustfile.write_text(NOISY_LOCUSTFILE)
    spec = LoadSpec(users=1, duration=1, stop_timeout=1, metrics=False, locustfile=locustfile)
    kept = run_load(spec, f"http://127.0.0.1:{closed_port}", keep_logs=tmp_path / "reports")
    assert kept.failures > 0
    assert kept.log is not None and kept.log.parent == tmp_path / "reports"
    assert "custom failure detail" in kept.log.read_text() and "custom failure detail" in kept.output
    not_kept = run_load(spec, f"http://127.0.0.1:{closed_port}")
    assert not_kept.log is None and "custom failure detail" in not_kept.output
    assert list(private_tmp.iterdir()) == []


def test_a_stopped_run_keeps_its_stats_and_leaves_no_dir_beside_the_targets_file(
    private_tmp: Path, closed_port: int, tmp_path: Path
) -> None:
    """A run given a stack's targets file works beside it (reaped with the stack after a crash); stopped
    early, its stats are still there for wait() and its directory is gone."""
    load_dir = tmp_path / "stack" / "load"
    load_dir.mkdir(parents=True)
    targets = load_dir / "targets.json"
    targets.write_text("[]")
    spec = LoadSpec(users=1, duration=120, stop_timeout=1, metrics=False)
    with LoadRun(spec, f"http://127.0.0.1:{closed_port}", targets_file=targets) as run:
        assert run.workdir.parent == load_dir
        run.wait_sending(timeout=30)
        run.stop()
        assert not run.workdir.exists()
        result = run.wait()
    assert result.requests > 0
    assert sorted(p.name for p in load_dir.iterdir()) == ["targets.json"]
    assert list(private_tmp.iterdir()) == []
