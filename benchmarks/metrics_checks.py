"""Metric checks against the embedded stack: how long they take, and how many queries per second the
Prometheus client achieves.

Usage: .venv/bin/python benchmarks/metrics_checks.py [--queries 3000] [--workers 16]

1. Runs the metric checks of the suite (`obs_tests/suite/test_metrics.py`) on a fresh embedded stack
   and prints the time of each check family and the total (stack start excluded).
2. Issues a realistic mix of instant queries (the kind the checks send: count by, timestamp, resets,
   rate, histogram_quantile) concurrently through PrometheusClient.query_many and prints queries/s
   (goal >= 200/s), next to the sequential rate for comparison.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from obs_tests.clients.prometheus import PrometheusClient  # noqa: E402
from obs_tests.config.contract import load_contract  # noqa: E402
from obs_tests.stack import EmbeddedStack  # noqa: E402
from obs_tests.suite.summary import SummaryCollector  # noqa: E402

QUERIES = [
    'count by (job, status) ({__name__="gateway_webhooks_total"})',
    "timestamp(exchange_price)",
    'resets(gateway_webhooks_total{job=~"gateway"}[10m]) > 0',
    "sum by (agent_type) (rate(agent_messages_processed_total[1m]))",
    "histogram_quantile(0.95, sum by (le) (rate(gateway_processing_duration_seconds_bucket[1m])))",
    'min by (job) (timestamp(up{job=~"gateway|agents"}))',
    "agent_confidence_score < 0 or agent_confidence_score > 1",
    'count({__name__=~"agent_processing_duration_seconds_bucket|agent_processing_duration_seconds_count"})',
]


def run_checks() -> dict[str, float]:
    collector = SummaryCollector()
    code = pytest.main(
        [
            "--pyargs",
            "obs_tests.suite.test_metrics",
            "-q",
            "-p",
            "no:cacheprovider",
            "--obs-contract",
            str(ROOT / "obs.yaml"),
            "-c",
            str(ROOT / "obs_tests" / "suite" / "pytest.ini"),
            "--rootdir",
            str(ROOT),
        ],
        plugins=[collector],
    )
    if code != 0:
        raise SystemExit(f"metric checks failed (pytest exit {code}); the benchmark needs a green run")
    by_check: dict[str, float] = defaultdict(float)
    for outcome in collector.outcomes:
        by_check[outcome.name.split("[")[0]] += outcome.duration
    return dict(by_check)


def query_rate(prom: PrometheusClient, total: int, workers: int) -> float:
    exprs = [QUERIES[i % len(QUERIES)] for i in range(total)]
    started = time.perf_counter()
    prom.query_many(exprs, workers=workers)
    return total / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    os.environ.setdefault("OBS_STATE_DIR", tempfile.mkdtemp(prefix="obs-bench-state-"))
    print("1) metric checks (pytest, embedded stack; stack start-up not counted)")
    by_check = run_checks()
    for name, seconds in sorted(by_check.items(), key=lambda kv: -kv[1]):
        print(f"   {name:<45} {seconds:6.2f} s")
    print(f"   {'total':<45} {sum(by_check.values()):6.2f} s")
    print()
    print("2) Prometheus client query rate")
    with EmbeddedStack(load_contract(ROOT / "obs.yaml")) as stack:
        prom = PrometheusClient(stack.prometheus_url, pool_size=args.workers * 2)
        query_rate(prom, 200, args.workers)  # warm connections and Prometheus caches
        sequential = query_rate(prom, min(args.queries, 500), 1)
        concurrent = query_rate(prom, args.queries, args.workers)
    print(f"   sequential:                 {sequential:7.0f} queries/s")
    print(f"   concurrent ({args.workers} workers):     {concurrent:7.0f} queries/s (goal >= 200)")


if __name__ == "__main__":
    main()
