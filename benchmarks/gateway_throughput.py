"""Gateway throughput: Locust against the gateway on one core, full instrumentation (A) vs none (B).

Usage: .venv/bin/python benchmarks/gateway_throughput.py [--rounds 3] [--seconds 12] [--users 64]
       [--gateway-cpu 0] [--locust-cpu 1] [--nats-cpu 1] [--locust-workers 0] [--publish-timeout 2]

Starts nats-server (JetStream, temp store, free loopback ports) once, then for each round a fresh
gateway (``python -m obs_tests.demo gateway``, pinned with ``taskset -c GATEWAY_CPU``) and a
headless Locust run of ``load/locustfile.py`` (``SignalUser``, FastHttpUser, think time 0, malformed
ratio 0; this process and so Locust are pinned to LOCUST_CPU) for ``--seconds``. Rounds alternate A
(full instrumentation) and B (``--no-instrumentation``) in the order A B, B A, A B, … so a drift of the
machine over time hits both modes alike; the SIGNALS stream is purged before each round.

Measured over a steady window of whole seconds inside each round (ramp-up and the end cut off):
req/s (Locust's per-second counts), the CPU seconds per second of the gateway, NATS, Locust and of
every other process on the machine (psutil), and the gateway's CPU µs per request. Over the whole
round: p50/p99 latency (Locust's histogram, whole milliseconds), request and failure counts, and
``gateway_webhooks_total{status="accepted"}`` — which must equal Locust's request count in A and stay 0
in B. Prints one line per round, then the medians per mode, the instrumentation overhead (CPU µs per
request and req/s, A vs B) and the gateway's extrapolated capacity on its core (1 s / CPU per request).
Exit status 1 when a request failed or a count is off.

Goal (issue): >= 5,000 req/s on one core with full instrumentation and the NATS publish; overhead of
instrumentation <= 10 %. Every child process is stopped on every exit path (and killed by the kernel if
this process dies: ``obs_tests.stack.process.Spawner``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import signal
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nats  # noqa: E402
import nats.js.errors  # noqa: E402
import orjson  # noqa: E402
import psutil  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from obs_tests.stack.ports import allocate_ports  # noqa: E402
from obs_tests.stack.process import ManagedProcess, Spawner  # noqa: E402
from obs_tests.workloads import LoadRun, LoadSpec  # noqa: E402

MODES = {"A": "full instrumentation", "B": "--no-instrumentation"}


def cpu_seconds(pid: int | None) -> float:
    """utime + stime of a process (all its threads), in seconds; 0 when it is gone."""
    if pid is None:
        return 0.0
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return times.user + times.system


def machine_busy_seconds() -> float:
    """CPU seconds spent by the whole machine outside idle and iowait (guest time is inside user)."""
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq + t.steal


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError as exc:
            last = exc
        time.sleep(0.05)
    raise SystemExit(f"timed out after {timeout:g}s waiting for {what} (last error: {last})")


def accepted_count(gateway_url: str) -> float:
    """``gateway_webhooks_total{source="tradingview",status="accepted"}``."""
    _, body = http_get(f"{gateway_url}/metrics")
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == "gateway_webhooks_total" and sample.labels.get("status") == "accepted":
                return float(sample.value)
    return math.nan


def nats_in_msgs(monitor_url: str) -> int:
    return int(orjson.loads(http_get(f"{monitor_url}/varz")[1])["in_msgs"])


async def _purge(nats_url: str) -> None:
    nc = await nats.connect(nats_url, connect_timeout=2)
    try:
        js = nc.jetstream(timeout=5)
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.purge_stream("SIGNALS")
    finally:
        await nc.close()


@dataclass
class Sample:
    at: float
    gateway: float
    nats: float
    locust: float
    machine: float
    own: float

    @classmethod
    def take(cls, gateway: int | None, nats_pid: int | None, locust: list[int]) -> Sample:
        return cls(
            time.time(),
            cpu_seconds(gateway),
            cpu_seconds(nats_pid),
            sum(cpu_seconds(pid) for pid in locust),
            machine_busy_seconds(),
            cpu_seconds(os.getpid()),
        )


@dataclass
class Round:
    index: int
    mode: str
    seconds: float
    window_requests: int
    requests: int
    failures: int
    p50_ms: float
    p99_ms: float
    gateway_cpu: float
    nats_cpu: float
    locust_cpu: float
    other_cpu: float
    accepted: float

    @property
    def rps(self) -> float:
        return self.window_requests / self.seconds

    @property
    def us_per_request(self) -> float:
        return 1e6 * self.gateway_cpu * self.seconds / max(self.window_requests, 1)

    def problems(self) -> list[str]:
        found = []
        if self.failures:
            found.append(f"round {self.index} ({self.mode}): {self.failures} of {self.requests} requests failed")
        expected = float(self.requests) if self.mode == "A" else 0.0
        if self.accepted != expected:
            found.append(
                f'round {self.index} ({self.mode}): gateway_webhooks_total{{status="accepted"}} is '
                f"{self.accepted:g}, expected {expected:g} (Locust sent {self.requests})"
            )
        return found


def sleep_until(moment: float) -> None:
    while (left := moment - time.time()) > 0:
        time.sleep(min(left, 0.25))


def run_round(
    index: int,
    mode: str,
    args: argparse.Namespace,
    spawner: Spawner,
    workdir: Path,
    nats_url: str,
    monitor_url: str,
    nats_pid: int | None,
) -> Round:
    asyncio.run(_purge(nats_url))
    port = allocate_ports(1)[0]
    url = f"http://127.0.0.1:{port}"
    argv = ["taskset", "-c", args.gateway_cpu, sys.executable, "-m", "obs_tests.demo", "gateway"]
    argv += ["--port", str(port), "--nats-url", nats_url, "--publish-timeout", f"{args.publish_timeout:g}"]
    if mode == "B":
        argv.append("--no-instrumentation")
    gateway = ManagedProcess(
        f"gateway-{index}", argv, spawner=spawner, log_path=workdir / f"gateway-{index}{mode}.log", cwd=ROOT
    )
    gateway.start()
    try:
        wait_until(lambda: http_get(f"{url}/healthz", 1.0)[0] == 200, 30, f"gateway {url} healthy")
        before_accepted = accepted_count(url)
        in_msgs = nats_in_msgs(monitor_url)
        spec = LoadSpec(
            users=args.users,
            spawn_rate=args.users,
            duration=args.seconds,
            malformed_ratio=0.0,
            think_time=0.0,
            workers=args.locust_workers,
            stop_timeout=10.0,
            metrics=False,
        )
        with LoadRun(spec, url, workdir=workdir / f"locust-{index}{mode}") as run:
            wait_until(lambda: nats_in_msgs(monitor_url) > in_msgs, 60, "the first signals to reach NATS")
            first = time.time()
            locust_pids = [p.pid for p in (run.master, *run.workers) if p is not None and p.pid is not None]
            w0 = math.ceil(first + args.warmup)
            w1 = math.floor(first + args.seconds - 1.0)
            if w1 - w0 < 2:
                raise SystemExit(f"--seconds {args.seconds:g} leaves no steady window after --warmup {args.warmup:g}")
            sleep_until(w0)
            start = Sample.take(gateway.pid, nats_pid, locust_pids)
            sleep_until(w1)
            end = Sample.take(gateway.pid, nats_pid, locust_pids)
            result = run.wait()
            stats = orjson.loads(run.stats_file.read_bytes())
        per_second: dict[int, int] = {}
        for row in stats:
            for sec, count in (row.get("num_reqs_per_sec") or {}).items():
                per_second[int(sec)] = per_second.get(int(sec), 0) + int(count)
        window_requests = sum(per_second.get(sec, 0) for sec in range(w0, w1))
        accepted = accepted_count(url) - before_accepted
    finally:
        gateway.stop(grace=5.0)
        gateway.close_log()
    span = end.at - start.at
    gateway_cpu = (end.gateway - start.gateway) / span
    nats_cpu = (end.nats - start.nats) / span
    locust_cpu = (end.locust - start.locust) / span
    machine = (end.machine - start.machine) / span
    other = machine - gateway_cpu - nats_cpu - locust_cpu - (end.own - start.own) / span
    return Round(
        index=index,
        mode=mode,
        seconds=float(w1 - w0),
        window_requests=window_requests,
        requests=result.requests,
        failures=result.failures,
        p50_ms=result.percentile_ms(0.5),
        p99_ms=result.percentile_ms(0.99),
        gateway_cpu=gateway_cpu,
        nats_cpu=nats_cpu,
        locust_cpu=locust_cpu,
        other_cpu=max(other, 0.0),
        accepted=accepted,
    )


HEADER = (
    f"{'round':>5} {'mode':<4} {'req/s':>7} {'p50 ms':>6} {'p99 ms':>6} {'gw CPU':>6} {'µs/req':>6} "
    f"{'NATS':>5} {'Locust':>6} {'other':>5} {'requests':>8} {'fail':>4} {'accepted':>8}"
)


def round_line(r: Round) -> str:
    return (
        f"{r.index:>5} {r.mode:<4} {r.rps:>7.0f} {r.p50_ms:>6.0f} {r.p99_ms:>6.0f} {r.gateway_cpu:>6.2f} "
        f"{r.us_per_request:>6.1f} {r.nats_cpu:>5.2f} {r.locust_cpu:>6.2f} {r.other_cpu:>5.2f} "
        f"{r.requests:>8} {r.failures:>4} {r.accepted:>8.0f}"
    )


def summarize(rounds: list[Round]) -> None:
    print()
    print("median per mode (CPU columns in CPU-seconds per second; the gateway has one core)")
    print(f"{'mode':<26} {'req/s':>7} {'p50 ms':>6} {'p99 ms':>6} {'gw CPU':>6} {'µs/req':>6} {'capacity/core':>13}")
    medians: dict[str, dict[str, float]] = {}
    for mode, label in MODES.items():
        mine = [r for r in rounds if r.mode == mode]
        if not mine:
            continue
        m = {
            "rps": statistics.median(r.rps for r in mine),
            "p50": statistics.median(r.p50_ms for r in mine),
            "p99": statistics.median(r.p99_ms for r in mine),
            "cpu": statistics.median(r.gateway_cpu for r in mine),
            "us": statistics.median(r.us_per_request for r in mine),
            "locust": statistics.median(r.locust_cpu for r in mine),
        }
        medians[mode] = m
        print(
            f"{mode + ' ' + label:<26} {m['rps']:>7.0f} {m['p50']:>6.0f} {m['p99']:>6.0f} {m['cpu']:>6.2f} "
            f"{m['us']:>6.1f} {1e6 / m['us']:>13.0f}"
        )
    if "A" in medians and "B" in medians:
        a, b = medians["A"], medians["B"]
        print()
        print(
            f"instrumentation overhead: CPU per request {100 * (a['us'] / b['us'] - 1):+.1f} % "
            f"({a['us']:.1f} vs {b['us']:.1f} µs), req/s {100 * (a['rps'] / b['rps'] - 1):+.1f} % "
            f"({a['rps']:.0f} vs {b['rps']:.0f})  — goal: overhead <= 10 %"
        )
        bound = "Locust" if a["cpu"] < 0.9 and a["locust"] >= 0.9 else "gateway" if a["cpu"] >= 0.9 else "latency"
        print(
            f"A: {a['rps']:.0f} req/s measured (goal >= 5000) with the gateway at {a['cpu']:.2f} of its core; "
            f"limited by: {bound}; the gateway's capacity on one core at {a['us']:.1f} µs/request: "
            f"{1e6 / a['us']:.0f} req/s"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds per mode (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=12.0, help="Locust run time per round (default: %(default)s)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds cut off at the start of each round")
    parser.add_argument("--users", type=int, default=64, help="Locust users (default: %(default)s)")
    parser.add_argument("--locust-workers", type=int, default=0, help="Locust workers (0: one process)")
    parser.add_argument("--gateway-cpu", default="0", help="taskset CPU list of the gateway (default: %(default)s)")
    parser.add_argument("--locust-cpu", default="1", help="CPU list of Locust and this script (default: %(default)s)")
    parser.add_argument("--nats-cpu", default="1", help="taskset CPU list of nats-server (default: %(default)s)")
    parser.add_argument("--publish-timeout", type=float, default=2.0, help="gateway JetStream ack timeout, s")
    args = parser.parse_args()

    # Before any thread exists: the spawner thread and so Locust inherit this affinity.
    os.sched_setaffinity(0, {int(cpu) for cpu in args.locust_cpu.split(",")})

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    print(
        f"{os.cpu_count()} CPUs; gateway on CPU {args.gateway_cpu}, Locust ({args.users} users, "
        f"{args.locust_workers or 'no'} workers) on CPU {args.locust_cpu}, nats-server on CPU {args.nats_cpu}; "
        f"{args.rounds} rounds per mode of {args.seconds:g} s",
        flush=True,
    )
    rounds: list[Round] = []
    spawner = Spawner()
    nats_proc: ManagedProcess | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="obs-tests-gateway-bench-") as tmp:
            workdir = Path(tmp)
            port, monitor = allocate_ports(2)
            nats_argv = ["taskset", "-c", args.nats_cpu, "nats-server", "-a", "127.0.0.1", "-p", str(port)]
            nats_argv += ["-m", str(monitor), "-js", "-sd", str(workdir / "nats")]
            nats_proc = ManagedProcess("nats", nats_argv, spawner=spawner, log_path=workdir / "nats.log")
            nats_proc.start()
            nats_url, monitor_url = f"nats://127.0.0.1:{port}", f"http://127.0.0.1:{monitor}"
            wait_until(lambda: http_get(f"{monitor_url}/healthz", 1.0)[0] == 200, 15, "nats-server healthy")
            print(HEADER, flush=True)
            index = 0
            for pair in range(args.rounds):
                for mode in ("A", "B") if pair % 2 == 0 else ("B", "A"):
                    index += 1
                    done = run_round(index, mode, args, spawner, workdir, nats_url, monitor_url, nats_proc.pid)
                    rounds.append(done)
                    print(round_line(done), flush=True)
            nats_proc.stop(grace=5.0)
            nats_proc.close_log()
    finally:
        if nats_proc is not None:
            nats_proc.stop(grace=2.0)
            nats_proc.close_log()
        spawner.close()
    summarize(rounds)
    problems = [problem for r in rounds for problem in r.problems()]
    for problem in problems:
        print(f"FAILED: {problem}")
    if not problems:
        print("every request succeeded; accepted == Locust's requests in every A round, 0 in every B round")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
