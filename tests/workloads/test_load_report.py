"""The load report agrees with Locust's own table, computed from the same recorded --json-file.

The fixtures are real Locust runs of the shipped locustfile against a lenient gateway on loopback
(``tests/fixtures/load/record_locust.py``): ``mixed`` (every 10th valid signal answered 503: failures),
``clean`` (none) and ``empty`` (no user: Locust wrote ``[]``). Beside each, ``*_locust_table.json`` holds
what Locust's ``StatsEntry`` computes from those stats — the numbers a Locust user knows.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.errors import UsageError
from obs_tests.workloads.load_report import (
    LoadRow,
    gateway_line,
    gateway_window,
    load_report,
    locust_percentile,
    read_report,
    report_lines,
)
from tests.loopback import lenient_gateway, serving

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "load"
ROOT = FIXTURES.parents[2]


def _recorded(name: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    stats = json.loads((FIXTURES / f"locust_{name}.json").read_text())
    table = json.loads((FIXTURES / f"locust_{name}_locust_table.json").read_text())
    return stats, table


def _agrees(row: LoadRow, locust: dict[str, Any]) -> None:
    assert (row.name if row.name != "Aggregated" else "Aggregated") == locust["name"]
    assert (row.requests, row.failures) == (locust["requests"], locust["failures"])
    assert row.success_percent == pytest.approx(100.0 * (1 - locust["fail_ratio"]))
    assert row.avg_ms == pytest.approx(locust["avg_ms"])
    assert (row.median_ms, row.p95_ms, row.p99_ms) == (locust["median_ms"], locust["p95_ms"], locust["p99_ms"])
    assert row.max_ms == pytest.approx(locust["max_ms"])
    assert row.rps == pytest.approx(locust["rps"])


@pytest.mark.parametrize("name", ["mixed", "clean"])
def test_load_report_rows_match_locusts_own_numbers(name: str) -> None:
    stats, table = _recorded(name)
    report = load_report(stats)
    by_name = {row.name: row for row in report.rows}
    assert sorted(by_name) == sorted(r["name"] for r in table["rows"])
    for locust in table["rows"]:
        _agrees(by_name[locust["name"]], locust)
    _agrees(report.total, table["aggregated"])


def test_load_report_with_failures_shows_a_success_rate_below_100() -> None:
    stats, _ = _recorded("mixed")
    report = load_report(stats)
    signal = next(row for row in report.rows if row.name == "signal")
    assert signal.failures > 0
    assert signal.success_percent == pytest.approx(100.0 * (signal.requests - signal.failures) / signal.requests)
    assert signal.success_percent is not None and signal.success_percent < 100.0
    malformed = [row for row in report.rows if row.name.startswith("malformed:")]
    assert malformed and all(row.success_percent == 100.0 for row in malformed)  # a 400 is their success
    text = "\n".join(report.lines())
    assert f"{signal.success_percent:.1f}%" in text


def test_load_report_of_a_run_without_requests_says_so_without_dividing_by_zero() -> None:
    stats, table = _recorded("empty")
    assert stats == [] and table["aggregated"]["requests"] == 0
    report = load_report(stats)
    assert report.rows == () and report.started_at is None
    total = report.total
    assert total.requests == 0
    assert (total.success_percent, total.avg_ms, total.median_ms, total.p99_ms, total.rps) == (None,) * 5
    assert report.lines() == ["Locust sent no request: no response time or rate to report (0 requests)"]
    assert json.dumps(report.to_json())  # no NaN or infinity in the document


def test_load_report_row_without_timed_requests_has_no_times() -> None:
    row = {"name": "async", "method": "GET", "num_requests": 3, "num_none_requests": 3, "num_failures": 0,
           "total_response_time": 0, "max_response_time": None, "min_response_time": None, "response_times": {},
           "start_time": 100.0, "last_request_timestamp": 102.0}  # fmt: skip
    report = load_report([row])
    (only,) = report.rows
    assert (only.requests, only.avg_ms, only.p95_ms, only.max_ms, only.rps) == (3, None, None, None, 1.5)
    assert "—" in report.lines()[2]


@pytest.mark.parametrize(
    ("times", "requests", "q", "expected"),
    [
        pytest.param({10: 1, 20: 1, 30: 1, 40: 1}, 4, 0.5, 30.0, id="median-of-four-is-the-upper-one"),
        pytest.param({5: 98, 300: 2}, 100, 0.99, 300.0, id="p99-sees-the-slowest-2-percent"),
        pytest.param({5: 99, 300: 1}, 100, 0.99, 300.0, id="one-slow-in-100-is-p99-in-locust"),
        pytest.param({5: 199, 300: 1}, 200, 0.99, 5.0, id="one-slow-in-200-is-above-p99"),
        pytest.param({}, 0, 0.95, 0.0, id="nothing"),
    ],
)
def test_locust_percentile_follows_locusts_rule(
    times: dict[int, int], requests: int, q: float, expected: float
) -> None:
    assert locust_percentile(times, requests, q) == expected


def test_report_lines_show_every_name_then_the_aggregate_and_the_gateway() -> None:
    stats, _ = _recorded("mixed")
    doc = load_report(stats).to_json()
    doc["gateway"] = {"metric": "gateway_processing_duration_seconds", "requests": 458.0, "p50_ms": 21.3,
                      "p95_ms": 44.0, "p99_ms": 180.0, "note": ""}  # fmt: skip
    lines = report_lines(doc)
    assert lines[0] == "Locust: 460 requests in 4.1s"
    assert lines[1].split() == ["name", "reqs", "fails", "success", "avg", "ms", "med", "ms", "p95", "ms", "p99", "ms",
                                "max", "ms", "req/s"]  # fmt: skip
    assert [line.split()[0] for line in lines[2:-1]] == [r["name"] for r in doc["rows"]] + ["Aggregated"]
    assert lines[-2].split()[:4] == ["Aggregated", "460", "41", "91.1%"]
    assert lines[-1] == (
        "gateway histogram gateway_processing_duration_seconds, same window: 458 requests (Locust: 460), "
        "p50 21 ms, p95 44 ms, p99 180 ms"
    )


def test_gateway_line_says_why_the_histogram_is_missing() -> None:
    line = gateway_line({"metric": "m", "requests": None, "note": "Prometheus has no series m_count"}, 10)
    assert line == "gateway histogram m: not available — Prometheus has no series m_count"
    assert gateway_line(None, 10) == ""


def test_gateway_window_of_an_unreachable_prometheus_is_a_note_not_an_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there
    window = gateway_window(PrometheusClient(f"http://127.0.0.1:{port}", timeout=1.0), 100.0, 110.0, timeout=0.5)
    assert window.requests is None and window.quantiles_ms == {}
    assert "Unreachable" in window.note or "unreachable" in window.note
    assert "not available" in gateway_line(window.to_json(), 5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("not json", "not JSON", id="not-json"),
        pytest.param('{"name": "signal"}', "a list of stats rows", id="an-object"),
        pytest.param('[{"num_requests": 1}]', "a list of stats rows", id="row-without-name"),
        pytest.param('[{"name": "x", "num_requests": "many"}]', "wrong type", id="wrong-type"),
    ],
)
def test_read_report_rejects_what_is_not_locust_stats(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "stats.json"
    path.write_text(text)
    with pytest.raises(UsageError, match=message) as info:
        read_report(path)
    assert str(path) in str(info.value)


def test_read_report_of_a_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read Locust's stats"):
        read_report(tmp_path / "absent.json")


def test_a_plain_locust_run_of_the_shipped_locustfile_prints_and_writes_the_report(tmp_path: Path) -> None:
    """``locust -f load/locustfile.py`` by hand (a lenient gateway on loopback, every 5th valid signal a 503):
    at its end it prints the table and writes the report, equal to the report of its own --json-file."""
    stats, written = tmp_path / "stats", tmp_path / "report.json"
    with serving(lenient_gateway(fail_every=5)) as url:
        argv = [sys.executable, "-m", "locust", "-f", str(ROOT / "load" / "locustfile.py"), "--headless",
                "--host", url, "-u", "3", "-r", "3", "-t", "2s", "--json-file", str(stats), "--metrics-port", "-1",
                "--think-time", "0.02", "--malformed-ratio", "0.2", "--stop-timeout", "5",
                "--exit-code-on-error", "0", "--load-report", str(written), "--report-prometheus", "off"]  # fmt: skip
        env = {**os.environ, "OBS_LOAD_TARGETS_FILE": ""}
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    from_json_file = read_report(stats.with_suffix(".json"))
    assert from_json_file.total.requests > 0 and from_json_file.total.failures > 0
    assert json.loads(written.read_text()) == from_json_file.to_json()
    printed = done.stdout[done.stdout.index("Load report (obs-tests)") :].splitlines()[1:]
    assert printed[: len(from_json_file.lines())] == from_json_file.lines()
    assert "Traceback" not in done.stderr


def test_plain_locust_with_an_unreachable_prometheus_still_prints_the_table(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    with serving(lenient_gateway()) as url:
        argv = [sys.executable, "-m", "locust", "-f", str(ROOT / "load" / "locustfile.py"), "--headless",
                "--host", url, "-u", "1", "-r", "1", "-t", "1s", "--metrics-port", "-1", "--think-time", "0.05",
                "--report-prometheus", f"http://127.0.0.1:{closed}", "--exit-code-on-error", "0"]  # fmt: skip
        env = {**os.environ, "OBS_LOAD_TARGETS_FILE": ""}
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    report = done.stdout[done.stdout.index("Load report (obs-tests)") :]
    assert "Aggregated" in report
    assert "gateway histogram gateway_processing_duration_seconds: not available — PrometheusUnreachable" in report
