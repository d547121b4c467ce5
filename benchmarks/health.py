"""`obs-tests health` against a Prometheus with many scrape targets: how long one health run takes.

Usage: .venv/bin/python benchmarks/health.py [--targets 250] [--runs 10] [--series 40]

Starts a real Prometheus (the project's alert and recording rules loaded, scraping itself, every target
every 5 s), a real Alertmanager, and one process serving ``--targets`` lightweight exporter endpoints
(one port each, ``--series`` series per endpoint); waits until every target is up, then times
``run_health`` (Prometheus + Alertmanager, with the contract-free checks) ``--runs`` times. Goal: ≤ 2 s
per run with ≥ 200 targets. The health check makes the same number of requests whatever the number of
targets (one /api/v1/targets, aggregate PromQL), so its time grows only with the size of the answers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from obs_tests.clients.alertmanager import AlertmanagerClient  # noqa: E402
from obs_tests.clients.prometheus import PrometheusClient  # noqa: E402
from obs_tests.core.waiting import Poll, wait_for  # noqa: E402
from obs_tests.health import HealthSettings, Status, run_health  # noqa: E402
from obs_tests.stack.ports import allocate_ports  # noqa: E402
from obs_tests.stack.process import ManagedProcess, Spawner  # noqa: E402

FARM = r"""
import asyncio, sys
ports = [int(p) for p in sys.argv[1].split(",")]
series = int(sys.argv[2])
lines = ["# HELP bench_requests_total Requests.", "# TYPE bench_requests_total counter"]
lines += [f'bench_requests_total{{code="{200 + i}"}} {i * 7}' for i in range(series)]
body = ("\n".join(lines) + "\n").encode()
head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: %d\r\n\r\n" % len(body)

async def handle(reader, writer):
    try:
        while True:
            request = await reader.readuntil(b"\r\n\r\n")
            if not request:
                break
            writer.write(head + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()

async def main():
    servers = [await asyncio.start_server(handle, "127.0.0.1", port) for port in ports]
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))

asyncio.run(main())
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=250)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--series", type=int, default=40)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="obs-bench-health-"))
    prom_port, am_port, *farm_ports = allocate_ports(2 + args.targets)
    rules = [str(p) for d in ("alerts", "rules") for p in sorted((ROOT / "prometheus" / d).glob("*.yml"))]
    config = {
        "global": {"scrape_interval": "5s", "scrape_timeout": "4s", "evaluation_interval": "5s"},
        "rule_files": rules,
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
        "scrape_configs": [
            {"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{prom_port}"]}]},
            {"job_name": "alertmanager", "static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]},
            {"job_name": "exporters", "static_configs": [{"targets": [f"127.0.0.1:{p}" for p in farm_ports]}]},
        ],
    }
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    (work / "alertmanager.yml").write_text(
        yaml.safe_dump({"route": {"receiver": "null"}, "receivers": [{"name": "null"}]})
    )
    spawner = Spawner()
    procs = [
        ManagedProcess(
            "farm",
            [sys.executable, "-c", FARM, ",".join(map(str, farm_ports)), str(args.series)],
            spawner=spawner,
            log_path=work / "farm.log",
        ),
        ManagedProcess(
            "alertmanager",
            [
                "/usr/bin/prometheus-alertmanager",
                f"--config.file={work / 'alertmanager.yml'}",
                f"--storage.path={work / 'am'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            spawner=spawner,
            log_path=work / "alertmanager.log",
        ),
        ManagedProcess(
            "prometheus",
            [
                "prometheus",
                f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                "--rules.alert.resend-delay=1s",
            ],
            spawner=spawner,
            log_path=work / "prometheus.log",
        ),
    ]
    try:
        for proc in procs:
            proc.start()
        prom = PrometheusClient(f"http://127.0.0.1:{prom_port}", timeout=10)
        total = args.targets + 2

        def all_up() -> Poll[float]:
            value = prom.query_value("count(up == 1)", default=0.0) or 0.0
            firing = prom.query_value('count(ALERTS{alertname="Watchdog", alertstate="firing"})', default=0.0)
            return Poll(value >= total and bool(firing), value, f"{value:g}/{total} targets up, watchdog {firing}")

        started = time.monotonic()
        wait_for(all_up, timeout=120, interval=0.25, expected=f"{total} targets up", transient=(Exception,))
        am = AlertmanagerClient(f"http://127.0.0.1:{am_port}")
        wait_for(
            lambda: Poll(any(a["labels"].get("alertname") == "Watchdog" for a in am.alerts()), None),
            timeout=30,
            expected="the Watchdog alert in Alertmanager",
        )
        print(f"{total} targets up {time.monotonic() - started:.1f}s after start ({args.series} series each)")
        settings = HealthSettings(
            prometheus_url=prom.base_url, alertmanager_url=f"http://127.0.0.1:{am_port}", watchdog_alert="Watchdog"
        )
        durations = []
        report = None
        for _ in range(args.runs):
            clock = time.monotonic()
            report = run_health(settings)
            durations.append(time.monotonic() - clock)
        assert report is not None
        targets = report.perfdata().get("targets_total", 0)
        print(f"health runs: {args.runs}, targets judged: {targets:g}, status {report.status.name}")
        if report.status is not Status.OK:
            print(report.to_text())
        print(
            json.dumps(
                {
                    "targets": int(targets),
                    "median_seconds": round(statistics.median(durations), 3),
                    "min_seconds": round(min(durations), 3),
                    "max_seconds": round(max(durations), 3),
                    "goal_seconds": 2.0,
                    "goal_met": max(durations) <= 2.0,
                }
            )
        )
    finally:
        for proc in procs:
            proc.stop()
        spawner.close()


if __name__ == "__main__":
    main()
