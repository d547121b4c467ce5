"""Dashboard checks against the embedded stack: panel queries validated per second (goal >= 200/s).

Usage: .venv/bin/python benchmarks/dashboards.py [--rounds 20] [--workers 8]

On a fresh embedded stack with a workload (so panels have data), for the bundled dashboards:

1. end to end — ``run_dashboard`` per dashboard: variables resolved on Prometheus, every panel query
   expanded, run as Grafana runs it (range query over the dashboard's 15 min, Grafana's step) and
   classified; panel queries validated per second, rounds repeated;
2. execution only — the planned queries run again with 1, 4, 8 and 16 concurrent workers;
3. static — JSON Schema + lint of every dashboard, dashboards per second.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from obs_tests.checks.dashboard_schema import validate_dashboard_file  # noqa: E402
from obs_tests.checks.dashboards_lint import lint_dashboards  # noqa: E402
from obs_tests.checks.live_queries import run_dashboard, run_queries, wait_visible  # noqa: E402
from obs_tests.checks.query_plan import max_step, plan_queries  # noqa: E402
from obs_tests.config.contract import load_contract  # noqa: E402
from obs_tests.dashboards.dashboard_json import dashboard_files, load_dashboard  # noqa: E402
from obs_tests.dashboards.templating import TimeRange  # noqa: E402
from obs_tests.dashboards.variables import resolve_variables  # noqa: E402
from obs_tests.demo.traffic import mixed_workload, send_concurrently  # noqa: E402
from obs_tests.demo.workload import wait_drained, wait_scraped_after  # noqa: E402
from obs_tests.stack import EmbeddedStack  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    contract = load_contract(ROOT / "obs.yaml")
    files = dashboard_files(ROOT / "grafana_dashboards")
    dashboards = [load_dashboard(f) for f in files]
    scrape = contract.stack.scrape_interval

    started = time.perf_counter()
    for _ in range(args.rounds):
        for path in files:
            validate_dashboard_file(path)
        lint_dashboards(dashboards)
    static_rate = args.rounds * len(files) / (time.perf_counter() - started)

    with EmbeddedStack(contract) as stack:
        prom = stack.prometheus()
        begin = prom.now()
        send_concurrently(stack.url("gateway"), mixed_workload(300, 60, seed=5, prefix="BENCH"))
        scraped = wait_scraped_after(prom, ["gateway", "agents", "orchestrator"], wait_drained(prom, begin))
        wait_visible(prom, scraped, max_step(dashboards, scrape))

        rates, queries, statuses = [], 0, {}
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            count = 0
            for dashboard in dashboards:
                report = run_dashboard(
                    dashboard,
                    prom,
                    scrape_interval=scrape,
                    workers=args.workers,
                    expected_empty=contract.dashboards.expected_empty,
                )
                count += len(report.executed)
                for result in report.executed:
                    statuses[result.status] = statuses.get(result.status, 0) + 1
            rates.append(count / (time.perf_counter() - t0))
            queries = count

        span = TimeRange.parse("now-15m", "now")
        planned = []
        for dashboard in dashboards:
            jobs, _ = plan_queries(dashboard, resolve_variables(dashboard, prom, span), span, scrape_interval=scrape)
            planned += [(dashboard, job) for job in jobs]
        by_workers = {}
        for workers in (1, 4, 8, 16):
            t0 = time.perf_counter()
            for _ in range(max(1, args.rounds // 2)):
                for dashboard in dashboards:
                    run_queries(prom, [j for d, j in planned if d is dashboard], span, dashboard.label, workers)
            by_workers[workers] = len(planned) * max(1, args.rounds // 2) / (time.perf_counter() - t0)

    print(f"{len(dashboards)} dashboards, {queries} panel queries per round, {args.rounds} rounds")
    print(f"statuses over all rounds: {statuses}")
    print()
    print("| dashboard checks | per second |")
    print("|---|---|")
    print(
        f"| **end to end** (variables + expansion + range query + classification), {args.workers} workers, "
        f"median of {args.rounds} rounds | **{statistics.median(rates):.0f} panel queries/s** |"
    )
    print(f"| end to end, worst round | {min(rates):.0f} panel queries/s |")
    for workers, rate in by_workers.items():
        print(f"| execution only, {workers} worker{'s' if workers > 1 else ''} | {rate:.0f} panel queries/s |")
    print(f"| static: schema + lint | {static_rate:.0f} dashboards/s |")
    goal = statistics.median(rates)
    print()
    print(f"goal >= 200 panel queries/s: {'met' if goal >= 200 else 'NOT met'} ({goal:.0f}/s)")


if __name__ == "__main__":
    main()
