from __future__ import annotations

import json
import math
from pathlib import Path

from obs_tests.demo.workload import workload_of_load
from obs_tests.workloads.load_spec import LoadSpec
from obs_tests.workloads.load_stats import LoadResult, _percentile, parse_stats

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
    return LoadResult(LoadSpec(), parse_stats(path), 0.0, 10.0, 0, tmp_path / "locust.log")


def test_percentiles_of_locust_histogram() -> None:
    times = {"2": 50, "5": 40, "30": 10}
    # Locust's rule: the slowest time at which no more than int(q * n) requests remain below it
    assert _percentile(times, 0.5) == 5.0
    assert _percentile(times, 0.9) == 30.0
    assert _percentile(times, 0.95) == 30.0
    assert math.isnan(_percentile({}, 0.5))


def test_result_report_without_locust_rows_comes_from_its_endpoints(tmp_path: Path) -> None:
    report = _result(tmp_path).report()
    assert [row.name for row in report.rows] == ["malformed:missing_field", "malformed:not_json", "signal"]
    assert (report.total.requests, report.total.failures, report.total.rps) == (110, 1, 11.0)
    missing = report.rows[0]
    assert missing.success_percent is not None and round(missing.success_percent, 1) == 83.3
    assert (report.rows[2].avg_ms, report.rows[2].median_ms, report.rows[2].max_ms) == (5.0, 5.0, 40.0)


def test_result_report_uses_locusts_rows_when_read(tmp_path: Path) -> None:
    rows = [dict(ROWS[0], start_time=100.0, last_request_timestamp=104.0)]
    result = LoadResult(LoadSpec(), {}, 0.0, 10.0, 0, stats=rows)
    assert result.report().total.rps == 25.0  # over Locust's own span (4 s), not the process' (10 s)


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
