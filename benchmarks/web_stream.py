"""Dashboard stream: server→client latency of every message over real scenario runs (issue 9).

Usage: .venv/bin/python benchmarks/web_stream.py [--runs 3] [--scenario exchange-down] [--clients 3]

Starts ``obs-tests serve --port 0`` (its own embedded stack), connects ``--clients`` WebSocket clients
and one SSE client before the first run, runs the scenario ``--runs`` times (verbose: every timeline
event is also a log line) and prints, per transport, the number of messages and the latency — receive
time minus the message's ``ts`` (stamped when the server published it) — p50 / p99 / max. Both ends are
on this machine, so the clocks agree. Goal: P99 < 100 ms. Exit status 1 when it is missed or a run
did not pass.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from obs_tests.core.waiting import Poll, wait_for  # noqa: E402


def _latencies(messages: list[dict[str, Any]]) -> list[float]:
    return sorted(m["_at"] - m["ts"] for m in messages if m["type"] not in ("hello", "overflow"))


def _summary(name: str, values: list[float]) -> tuple[str, float]:
    if not values:
        return f"{name:10} no messages", float("inf")
    p50 = values[len(values) // 2]
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    line = f"{name:10} {len(values):5} messages   p50 {p50 * 1000:6.1f} ms   p99 {p99 * 1000:6.1f} ms   "
    return line + f"max {values[-1] * 1000:6.1f} ms", p99


def _url(lines: list[str]) -> Poll[str]:
    for line in lines:
        match = re.search(r"obs-tests dashboard: (http://\S+?)/", line)
        if match:
            return Poll(True, match.group(1))
    return Poll(False, "")


def _finished(session: requests.Session, status_url: str) -> Poll[dict[str, Any]]:
    doc: dict[str, Any] = session.get(status_url, timeout=10).json()
    return Poll(doc["status"] != "running", doc, f"{doc['status']}/{doc['phase']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenario", default="exchange-down")
    parser.add_argument("--clients", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="obs-bench-web-"))
    scenarios = work / "scenarios"
    scenarios.mkdir()
    shutil.copy(ROOT / "scenarios" / f"{args.scenario}.yaml", scenarios)
    argv = [sys.executable, "-m", "obs_tests.cli", "serve", "--port", "0", "--scenarios", str(scenarios)]
    argv += ["--report-dir", str(work / "reports"), "--contract", str(ROOT / "obs.yaml")]
    env = {k: v for k, v in os.environ.items() if k != "OBS_DASHBOARD_TOKEN"}
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(line.rstrip() for line in proc.stdout or []), daemon=True).start()
    readers: list[threading.Thread] = []
    closers: list[Any] = []
    try:
        url = wait_for(lambda: _url(lines), timeout=30, expected="the dashboard's URL")
        session = requests.Session()
        started = time.monotonic()
        wait_for(
            lambda: Poll(session.get(url + "/api/info", timeout=5).json()["stack"]["state"] == "ready", None),
            timeout=120,
            interval=0.2,
            expected="the stack ready",
        )
        print(f"stack ready after {time.monotonic() - started:.1f}s; {args.clients} WebSocket clients + 1 SSE client")
        seq = session.get(url + "/api/info", timeout=5).json()["stream"]["seq"]
        received: dict[str, list[dict[str, Any]]] = {f"ws-{i}": [] for i in range(args.clients)}
        received["sse"] = []

        def read_ws(name: str) -> None:
            ws = connect(url.replace("http://", "ws://") + f"/api/stream?since={seq}", proxy=None).__enter__()
            closers.append(ws)
            try:
                for raw in ws:
                    message = json.loads(raw)
                    message["_at"] = time.time()
                    received[name].append(message)
            except Exception:  # noqa: BLE001 - closed at the end of the benchmark
                pass

        def read_sse() -> None:
            response = session.get(url + f"/api/stream?since={seq}", stream=True, timeout=(5, 600))
            closers.append(response)
            try:
                for line in response.iter_lines(decode_unicode=True):
                    if line and line.startswith("data:"):
                        message = json.loads(line[5:])
                        message["_at"] = time.time()
                        received["sse"].append(message)
            except Exception:  # noqa: BLE001 - closed at the end of the benchmark
                pass

        for name in received:
            thread = threading.Thread(
                target=read_sse if name == "sse" else read_ws, args=() if name == "sse" else (name,)
            )
            thread.daemon = True
            thread.start()
            readers.append(thread)
        statuses = []
        for _ in range(args.runs):
            test_id = session.post(url + "/api/run", json={"scenario": args.scenario, "verbose": True}, timeout=30)
            test_id.raise_for_status()
            run_id = test_id.json()["test_id"]
            doc = wait_for(
                lambda run_id=run_id: _finished(session, url + f"/api/status/{run_id}"),
                timeout=180,
                interval=0.25,
                expected="the run to finish",
            )
            statuses.append(doc["status"])
            print(
                f"run {run_id}: {doc['status']} ({doc['assertions_passed']}/{doc['assertions_total']}) "
                f"in {doc['duration']:.1f}s"
            )
        final = session.get(url + "/api/info", timeout=5).json()["stream"]["seq"]
        wait_for(
            lambda: Poll(all(m and m[-1]["seq"] >= final for m in received.values()), None),
            timeout=30,
            expected="every client at the last message",
        )
        worst = 0.0
        for name, messages in received.items():
            line, p99 = _summary(name, _latencies(messages))
            worst = max(worst, p99)
            print(line)
        everything = sorted(v for m in received.values() for v in _latencies(m))
        line, p99 = _summary("all", everything)
        print(line)
        ok = p99 < 0.1 and all(s == "passed" for s in statuses)
        print(f"goal P99 < 100 ms: {'met' if p99 < 0.1 else 'MISSED'}")
        return 0 if ok else 1
    finally:
        for closer in closers:
            closer.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(90)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
