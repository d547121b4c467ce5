from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest

from obs_tests.demo.workload import workload_of_load
from obs_tests.errors import UsageError
from obs_tests.workloads.loadgen import LoadResult, LoadRun, LoadSpec, _parse_stats, _percentile, run_load

ROWS = [
    {
        "name": "signal",
        "method": "POST",
        "num_requests": 100,
        "num_failures": 0,
        "total_response_time": 500.0,
        "max_response_time": 40.0,
        "response_times": {"2": 50, "5": 40, "30": 10},
    },
    {
        "name": "malformed:missing_field",
        "method": "POST",
        "num_requests": 6,
        "num_failures": 1,
        "total_response_time": 12.0,
        "max_response_time": 3.0,
        "response_times": {"2": 6},
    },
    {
        "name": "malformed:not_json",
        "method": "POST",
        "num_requests": 4,
        "num_failures": 0,
        "total_response_time": 8.0,
        "max_response_time": 2.0,
        "response_times": {"2": 4},
    },
]


def _result(tmp_path: Path) -> LoadResult:
    path = tmp_path / "stats.json"
    path.write_text(json.dumps(ROWS))
    return LoadResult(LoadSpec(), _parse_stats(path), 0.0, 10.0, 0, tmp_path / "locust.log")


def test_percentiles_of_locust_histogram() -> None:
    times = {"2": 50, "5": 40, "30": 10}
    assert _percentile(times, 0.5) == 2.0
    assert _percentile(times, 0.9) == 5.0
    assert _percentile(times, 0.95) == 30.0
    assert math.isnan(_percentile({}, 0.5))


def test_result_aggregates(tmp_path: Path) -> None:
    result = _result(tmp_path)
    assert (result.requests, result.failures, result.rps) == (110, 1, 11.0)
    assert result.endpoint("signal").avg_ms == 5.0
    assert result.by_prefix("malformed:") == {"missing_field": 6, "not_json": 4}
    assert result.endpoint("nothing").requests == 0
    assert result.percentile_ms(0.5) == 2.0


def test_workload_from_locust_stats(tmp_path: Path) -> None:
    workload = workload_of_load(_result(tmp_path))
    assert workload.accepted == 100
    assert workload.invalid_by_reason == {"missing_field": 5, "invalid_json": 4}
    assert workload.errors == 0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (LoadSpec(users=0), "load.users: 0"),
        (LoadSpec(duration=0), "load.duration: 0"),
        (LoadSpec(malformed_ratio=1.5), "load.malformed_ratio: 1.5"),
        (LoadSpec(shape="sawtooth"), "unknown shape 'sawtooth' — known: step, spike, soak"),
        (LoadSpec(workers=-1), "load.workers: -1"),
        (LoadSpec(requests=-5), "load.requests: -5"),
    ],
)
def test_bad_specs(spec: LoadSpec, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        spec.validate()


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
    and an empty Locust output is not worth keeping."""
    spec = LoadSpec(users=1, duration=1, stop_timeout=1, metrics=False)
    result = run_load(spec, f"http://127.0.0.1:{closed_port}", keep_logs=tmp_path / "reports")
    assert result.requests > 0 and result.failures == result.requests
    assert list(private_tmp.iterdir()) == []
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
