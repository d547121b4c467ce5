"""The load report at the end of a Locust run, as obs-tests reports every Locust run: per request name the
success rate, average, median, p95, p99 and max response time (ms) and requests/s — Locust's own numbers
(``obs_tests.workloads.load_report``) — next to what the gateway's latency histogram
(``gateway_processing_duration_seconds``) counted over the same window.

Printed when the test stops (by the process that holds the stats: a local run or the master). The histogram
is read from the Prometheus of the obs-tests stack serving ``--host`` (``obs-tests up``, a pytest session, the
Python API), or from ``--report-prometheus URL``; ``--report-prometheus off`` (env OBS_LOAD_REPORT_PROMETHEUS)
skips it. ``--load-report PATH`` (OBS_LOAD_REPORT) also writes the report there as JSON (the document of the
scenario and check reports' load sections).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from locust.runners import WorkerRunner

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.errors import ObsTestsError
from obs_tests.stack.state import prometheus_for
from obs_tests.workloads.load_report import LoadReport, load_report

__all__ = ["add_options", "report_at_stop"]


def add_options(parser: Any) -> None:
    """Register ``--load-report`` and ``--report-prometheus`` on Locust's parser."""
    parser.add_argument(
        "--load-report",
        default="",
        env_var="OBS_LOAD_REPORT",
        help="also write the load report (Locust's table beside the gateway histogram's) to this JSON file",
    )
    parser.add_argument(
        "--report-prometheus",
        default="",
        env_var="OBS_LOAD_REPORT_PROMETHEUS",
        help="the Prometheus whose gateway histogram the load report compares with (default: the obs-tests stack "
        "serving --host; off: none)",
    )


def _prometheus(environment: Any) -> str | None:
    options = environment.parsed_options
    given = str(getattr(options, "report_prometheus", "") or "") if options else ""
    if given == "off":
        return None
    if given:
        return given
    host = environment.host or (getattr(options, "host", None) if options else None)
    return prometheus_for(host) if host else None


def _report(environment: Any) -> LoadReport:
    report = load_report([entry.serialize() for entry in environment.stats.entries.values()])
    url = _prometheus(environment)
    if url is None:
        return report
    try:
        return report.compared(PrometheusClient(url, timeout=5.0), timeout=10.0)
    except ObsTestsError as exc:  # a URL it cannot use: the table still stands
        print(f"load report: the gateway histogram is not read ({type(exc).__name__}: {exc})", flush=True)
        return report


def report_at_stop(environment: Any, **_: Any) -> None:
    """``test_stop`` listener: print the load report (and write it with ``--load-report``). Register it after
    the listener that collects the workers' final stats, so the report counts every request."""
    if isinstance(environment.runner, WorkerRunner):
        return
    report = _report(environment)
    print("\nLoad report (obs-tests)\n" + "\n".join(report.lines()), flush=True)
    options = environment.parsed_options
    path = str(getattr(options, "load_report", "") or "") if options else ""
    if path:
        try:
            Path(path).write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"load report: cannot write {path} ({exc.strerror or exc})", flush=True)
