"""Dashboard stream under load (issue 20.1): sustained rate, bursts, 100 clients, reconnects, a large
message, the server's RSS/CPU, and runs unharmed when every client leaves or the server is killed.

Usage: .venv/bin/python benchmarks/web_stream_load.py [--clients 100] [--duration 65] [--reconnect-every 40]

Starts ``obs-tests serve --port 0`` (its own embedded stack) with three generated trading-bot scenarios
(verbose: every bus event is a stream message) and ``--clients`` stream clients, half WebSocket, half SSE,
two of them reconnecting with ``since=<last seq>`` after every ``--reconnect-every`` messages. Phases:

1. sustained — a run with a fast-polling bot for ``--duration`` s (≥ 200 messages/s); its first log line
   quotes the scenario's description, 10,000 characters: the largest message a scenario can produce
   (scenario strings are capped at 10,000 characters);
2. burst — a run polling 25 times faster for a few seconds;
3. every client leaves — abruptly (TCP shut down, no goodbye) in the middle of a run; the run must pass,
   and two clients coming back with their last ``seq`` must receive everything they missed;
4. the server killed — SIGKILL of ``obs-tests serve`` mid-run. A run is a thread of the serve process and
   the stack its children, so the run ends with it: the check is that no stack process outlives it;
5. the page's server side killed, in this process: the same app served by uvicorn in a thread
   (``ThreadedServer``), ``--clients`` clients, a run going; a ``--large-kb`` KB log message published
   into the run's stream reaches every client; then the server's event loop is stopped dead and every
   connection dropped — the run, in its own thread, must go on and pass.

Prints the figures and the success criteria; exit status 1 when one is missed.
"""

from __future__ import annotations

import argparse
import contextlib
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
from typing import Any, Literal

import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from obs_tests.config.contract import load_contract  # noqa: E402
from obs_tests.core.waiting import Poll, wait_for  # noqa: E402
from obs_tests.scenarios.model import Catalog  # noqa: E402
from obs_tests.web.app import create_app  # noqa: E402
from obs_tests.web.process_resources import ResourceMonitor  # noqa: E402
from obs_tests.web.run_state import RunOptions  # noqa: E402
from obs_tests.web.runs import RunManager  # noqa: E402
from obs_tests.web.scenario_files import ScenarioFiles  # noqa: E402
from obs_tests.web.stream import Stream  # noqa: E402
from obs_tests.web.stream_load import StreamClient, ThreadedServer, audit, percentile  # noqa: E402

STALL = 20.0  # seconds without a message on a connection while runs go: a stall (SSE heartbeats every 15 s)
CYCLES_PER_S = 80  # a bot polling every 1.2 s at the stack's time scale 0.01: ~3 stream messages a cycle
SCENARIO = """name: "{name}"
description: "{description}"
setup:
  exchange: {{scenario: sideways, initial_price: 50000.0, pair: "BTC/USDT", seed: 3}}
  bot: {{initial_capital: 10000.0, pool_count: 5, poll_interval: {poll}}}
steps:
  - wait_for_cycles: {cycles}
  - assert:
      event_count: {{BotMonitoringCycleStarted: {{min: {cycles}}}}}
"""


def write_scenarios(directory: Path, duration: float) -> None:
    directory.mkdir(parents=True)
    filler = ("stream load " * 834)[:10_000]
    files = {
        "stream-sustained": ("Stream sustained", filler, 1.2, int(duration * CYCLES_PER_S)),
        "stream-burst": ("Stream burst", "a burst", 0.05, 200),
        "stream-leave": ("Stream every client leaves", "clients leave", 1.2, 600),
        "stream-killed": ("Stream server killed", "server killed", 1.2, 3000),
    }
    for stem, (name, description, poll, cycles) in files.items():
        text = SCENARIO.format(name=name, description=description, poll=poll, cycles=cycles)
        (directory / f"{stem}.yaml").write_text(text)


class Serve:
    """``obs-tests serve --port 0`` in a child process, its console in ``work/serve.log``: read by a
    thread of this process, its verbose echo (a line per bus event) took the GIL from the clients."""

    def __init__(self, work: Path) -> None:
        argv = [sys.executable, "-m", "obs_tests.cli", "serve", "--port", "0", "--scenarios", str(work / "scenarios")]
        argv += ["--report-dir", str(work / "reports"), "--contract", str(ROOT / "obs.yaml")]
        env = {k: v for k, v in os.environ.items() if k != "OBS_DASHBOARD_TOKEN"}
        self.console = work / "serve.log"
        with self.console.open("wb") as out:
            self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.url = wait_for(self._url, timeout=30, expected="the dashboard's URL")
        self.session = requests.Session()

    @property
    def lines(self) -> list[str]:
        return self.console.read_text(errors="replace").splitlines()

    def _url(self) -> Poll[str]:
        with self.console.open(errors="replace") as console:
            head = console.read(20_000)
        match = re.search(r"obs-tests dashboard: (http://\S+?)/", head)
        if match:
            return Poll(True, match.group(1))
        return Poll(False, "", "\n".join(head.splitlines()[-5:]))

    def info(self) -> dict[str, Any]:
        doc: dict[str, Any] = self.session.get(self.url + "/api/info", timeout=30).json()
        return doc

    def seq(self) -> int:
        return int(self.info()["stream"]["seq"])

    def run(self, scenario: str) -> str:
        response = self.session.post(self.url + "/api/run", json={"scenario": scenario, "verbose": True}, timeout=30)
        response.raise_for_status()
        return str(response.json()["test_id"])

    def finished(self, test_id: str, timeout: float) -> dict[str, Any]:
        def probe() -> Poll[dict[str, Any]]:
            doc: dict[str, Any] = self.session.get(self.url + f"/api/status/{test_id}", timeout=10).json()
            return Poll(doc["status"] != "running", doc, f"{doc['status']}/{doc['phase']}")

        return wait_for(
            probe,
            timeout=timeout,
            interval=0.25,
            expected=f"run {test_id} to finish",
            transient=(requests.RequestException,),  # a server too busy to answer in 10 s: ask again
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _verdict(doc: dict[str, Any]) -> str:
    """``passed``, or the status with why: the error or the first failed assertion."""
    if doc["status"] == "passed":
        return "passed"
    failed = [a for a in doc.get("assertions") or [] if not a.get("passed")]
    why = doc.get("error") or (failed[0].get("message") if failed else "")
    return f"{doc['status']} ({why})"


class BufferFull:
    """When the server's stream buffer first holds ``buffer`` messages: the end of its warm-up (from then on
    every message replaces the oldest, so memory for the stream stops growing), as seconds of ``monitor``."""

    def __init__(self, serve: Serve, monitor: ResourceMonitor) -> None:
        info = serve.info()["stream"]
        self.size, self.full_at_seq = int(info["buffer"]), int(info["seq"]) + int(info["buffer"])
        self.serve, self.monitor = serve, monitor
        self.at: float | None = None
        self._thread = threading.Thread(target=self._watch, name="buffer-full", daemon=True)

    def start(self) -> BufferFull:
        self._thread.start()
        return self

    def _watch(self) -> None:
        with contextlib.suppress(Exception):  # the server gone: never full (the criterion says so)
            wait_for(
                lambda: Poll(self.serve.seq() >= self.full_at_seq, None),
                timeout=3600,
                interval=0.5,
                expected="the stream buffer full",
            )
            self.at = self.monitor.elapsed()

    def describe(self) -> str:
        if self.at is None:
            return f"the stream buffer ({self.size:,} messages) never filled — run longer (--duration)"
        return f"until the stream buffer held {self.size:,} messages, {self.at:.0f} s in"


class Bench:
    """The phases, the figures they produce (``self.figures``) and the criteria (``self.criteria``)."""

    def __init__(self, serve: Serve, args: argparse.Namespace) -> None:
        self.serve = serve
        self.args = args
        self.criteria: list[tuple[str, bool, str]] = []
        self.statuses: dict[str, str] = {}
        self.clients: list[StreamClient] = []
        self.head = 0

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.criteria.append((name, ok, detail))

    def connect(self) -> None:
        args = self.args
        self.head = self.serve.seq()
        for i in range(args.clients):
            every = args.reconnect_every if i >= args.clients - 2 else 0
            transport: Literal["ws", "sse"] = "ws" if i % 2 == 0 else "sse"
            client = StreamClient(self.serve.url, transport, since=self.head, reconnect_every=every, stall=STALL)
            self.clients.append(client.start())
        wait_for(
            lambda: Poll(all(c.hellos for c in self.clients), None, f"{sum(bool(c.hellos) for c in self.clients)}"),
            timeout=60,
            expected="every client connected",
        )
        ws = sum(c.transport == "ws" for c in self.clients)
        print(f"{len(self.clients)} clients connected ({ws} WebSocket, {len(self.clients) - ws} SSE)")

    def timed_run(self, scenario: str, timeout: float) -> tuple[float, int, dict[str, Any]]:
        """Run ``scenario``; the wall time, the messages it published and its final status."""
        before, started = self.serve.seq(), time.monotonic()
        test_id = self.serve.run(scenario)
        doc = self.serve.finished(test_id, timeout)
        wall, published = time.monotonic() - started, self.serve.seq() - before
        self.statuses[scenario] = _verdict(doc)
        print(
            f"{scenario}: {doc['status']} ({doc['assertions_passed']}/{doc['assertions_total']}) in "
            f"{doc['duration']:.1f} s; {published:,} messages in {wall:.1f} s = {published / wall:.0f}/s"
        )
        return wall, published, doc

    def caught_up(self, clients: list[StreamClient], seq: int, timeout: float = 120) -> None:
        """Until every client has ``seq`` (one deadline for all)."""

        def probe() -> Poll[None]:
            behind = [c for c in clients if c.last < seq]
            return Poll(not behind, None, f"{len(behind)} behind, e.g. {behind[0].describe() if behind else ''}")

        wait_for(probe, timeout=timeout, interval=0.1, expected=f"every client at seq {seq}")

    def latency_line(self, name: str, values: list[float]) -> tuple[float, float]:
        """Prints the line; (P99, max) of ``values``."""
        ordered = sorted(values)
        p50, p99 = percentile(ordered, 0.5), percentile(ordered, 0.99)
        top = ordered[-1] if ordered else float("inf")
        print(
            f"  {name:10} {len(ordered):9,} deliveries  p50 {p50 * 1000:6.1f} ms  p99 {p99 * 1000:6.1f} ms  "
            f"max {top * 1000:7.1f} ms"
        )
        return p99, top

    def sustained_and_burst(self) -> int:
        """Phases 1 and 2; the last seq of phase 2 (every client has it)."""
        args = self.args
        wall, published, _ = self.timed_run("stream-sustained", timeout=args.duration * 4 + 120)
        rate = published / wall
        ok = wall >= 60 and rate >= 200
        self.check(
            "sustained ≥ 200 messages/s for ≥ 60 s", ok, f"{published:,} messages in {wall:.1f} s = {rate:.0f}/s"
        )
        end = self.serve.seq()
        self.caught_up(self.clients, end)
        marks = [len(c.latencies) for c in self.clients]
        bwall, bpublished, _ = self.timed_run("stream-burst", timeout=120)
        end = self.serve.seq()
        self.caught_up(self.clients, end)
        print("delivery latency (arrival of its frame - server ts; replays after a reconnect not counted):")
        sustained = [v for c, m in zip(self.clients, marks, strict=True) for v in c.latencies[:m]]
        burst = [v for c, m in zip(self.clients, marks, strict=True) for v in c.latencies[m:]]
        p99, _ = self.latency_line("sustained", sustained)
        burst_p99, burst_max = self.latency_line("burst", burst)
        for transport in ("ws", "sse"):
            self.latency_line(transport, [v for c in self.clients if c.transport == transport for v in c.latencies])
        all_p99, _ = self.latency_line("all", [v for c in self.clients for v in c.latencies])
        self.check(
            f"P99 delivery < 100 ms at the sustained rate, {len(self.clients)} clients",
            p99 < 0.1,
            f"{p99 * 1000:.1f} ms (with the burst: {all_p99 * 1000:.1f} ms)",
        )
        # the burst runs the bot flat out (~4x the sustained rate), past what two cores deliver to every
        # client as it comes: it queues by design, its backlog (the max) growing with the burst's length,
        # which the bot decides (650-5,600 messages for the same 200 cycles) — so it is printed, not bounded.
        # Judged: the rate, every client caught up after it (above) and, with the rest, nothing lost (audit)
        self.check(
            "burst delivered at ≥ 200 messages/s, every client caught up after it",
            bpublished / bwall >= 200,
            f"{bpublished:,} messages at {bpublished / bwall:.0f}/s; P99 {burst_p99 * 1000:.1f} ms, "
            f"max {burst_max * 1000:.1f} ms",
        )
        return end

    def reconnects(self) -> None:
        smallest = min(c.largest for c in self.clients)
        worst = max(c.largest_latency for c in self.clients)
        print(f"largest message of a run: {smallest / 1024:.1f} KB to every client (slowest {worst * 1000:.0f} ms)")
        stalls = sum(c.stalls for c in self.clients)
        errors = [e for c in self.clients for e in c.errors if not e.startswith("stalled")]
        self.check("no delivery stall", not stalls, f"{stalls} connections silent {STALL:.0f} s while runs went")
        print(f"client errors (reconnected): {len(errors)}{': ' + errors[0] if errors else ''}")
        reconnecting = [c for c in self.clients if c.reconnect_every]
        reconnects = sum(c.connections - 1 for c in reconnecting)
        self.check(
            "≥ 200 reconnects with since=", reconnects >= 200, f"{reconnects} reconnects by {len(reconnecting)} clients"
        )

    def audit_all(self, end: int) -> None:
        bad = []
        for i, client in enumerate(self.clients):
            delivery = audit(client.seqs, self.head + 1, end)
            if not delivery.ok or client.bad_hello:
                bad.append(f"client {i} ({client.transport}): {delivery.describe()}, bad hellos {client.bad_hello}")
        detail = f"{len(self.clients)} clients x {end - self.head:,} messages" if not bad else "; ".join(bad[:3])
        self.check("0 lost, 0 duplicated (by seq)", not bad, detail)

    def everyone_leaves(self) -> None:
        """Phase 3: every client drops mid-run; the run passes; two come back and miss nothing."""
        test_id = self.serve.run("stream-leave")
        mid = self.serve.seq() + 300
        wait_for(lambda: Poll(self.serve.seq() >= mid, None), timeout=60, interval=0.1, expected="300 messages")
        for client in self.clients:
            client.stop(abrupt=True, wait=False)
        left_at = self.serve.seq()
        doc = self.serve.finished(test_id, timeout=180)
        self.statuses["stream-leave"] = _verdict(doc)
        final = self.serve.seq()
        back = [next(c for c in self.clients if c.transport == t and not c.reconnect_every) for t in ("ws", "sse")]
        resumed = [StreamClient(self.serve.url, c.transport, since=c.last).start() for c in back]
        self.caught_up(resumed, final)
        misses = [audit([*old.seqs, *new.seqs], self.head + 1, final) for old, new in zip(back, resumed, strict=True)]
        for new in resumed:
            new.stop()
        detail = f"run {doc['status']}, {final - left_at} messages published after every client left; resumed: " + (
            "; ".join(d.describe() for d in misses)
        )
        ok = doc["status"] == "passed" and all(d.ok for d in misses)
        if doc["status"] != "passed":  # what the server said last, to tell why
            print("\n".join(["stream-leave failed; the server's last output:", *self.serve.lines[-25:]]))
            print("the run's last log lines:", *[f"  {e}" for e in list(doc.get("log") or [])[-15:]], sep="\n")
        detail = detail.replace(f"run {doc['status']}", f"run {_verdict(doc)}")
        self.check("run unharmed when every client disconnects", ok, detail)

    def server_killed(self) -> None:
        """Phase 4: SIGKILL the serve process mid-run; the run ends with it, its stack must not outlive it."""
        test_id = self.serve.run("stream-killed")
        wait_for(lambda: Poll(self.serve.seq() > 500, None), timeout=60, interval=0.1, expected="the run going")
        children = psutil.Process(self.serve.proc.pid).children(recursive=True)
        self.serve.proc.kill()
        self.serve.proc.wait(10)

        def gone() -> Poll[list[int]]:
            alive = [c.pid for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
            return Poll(not alive, alive, f"alive: {alive}")

        try:
            wait_for(gone, timeout=20, interval=0.1, expected="every stack process gone")
        except Exception as exc:  # noqa: BLE001 - reported as a missed criterion
            self.check("server killed: no stack process outlives it", False, str(exc))
            return
        detail = f"run {test_id} ended with the server (a run is a thread of it); {len(children)} stack processes gone"
        self.check("server killed: no stack process outlives it", True, detail)


def server_side_killed(work: Path, args: argparse.Namespace, check: Any) -> None:
    """Phase 5 (see the module docstring): a large message to every client, then the server side killed."""
    contract = load_contract(ROOT / "obs.yaml")
    files = ScenarioFiles(work / "scenarios", Catalog.from_contract(contract))
    stream = Stream()
    manager = RunManager(contract, files=files, report_dir=work / "reports-inprocess", stream=stream)
    server = ThreadedServer(create_app(manager)).start()
    clients: list[StreamClient] = []
    try:
        wait_for(lambda: Poll(manager.stack_info()["state"] == "ready", None), timeout=120, expected="stack ready")
        clients = [
            StreamClient(server.url, "ws" if i % 2 == 0 else "sse", since=stream.seq).start()
            for i in range(args.clients)
        ]
        wait_for(lambda: Poll(all(c.hellos for c in clients), None), timeout=60, expected="every client connected")
        run = manager.start("stream-leave", RunOptions(verbose=True))
        going = stream.seq + 200
        wait_for(lambda: Poll(stream.seq >= going, None), timeout=60, interval=0.05, expected="the run going")
        big = ("a large verbose log line " * (args.large_kb * 1024 // 25 + 1))[: args.large_kb * 1024]
        seq = stream.publish("log", {"level": "INFO", "message": big, "t": 0.0}, run.test_id)
        for client in clients:
            client.wait_for(seq, timeout=120)
        smallest = min(c.largest for c in clients)
        worst = max(c.largest_latency for c in clients)
        detail = (
            f"{args.large_kb} KB log line to {len(clients)} clients under a run: each got {smallest / 1024:.0f} KB, "
            f"slowest in {worst * 1000:.0f} ms; the stream caps no size (a WebSocket client must accept it)"
        )
        check("large message ≥ 256 KB delivered", smallest >= 256 * 1024, detail)
        killed_at = stream.seq
        server.kill()
        doc = wait_for(
            lambda: Poll(manager.status(run.test_id)["status"] != "running", manager.status(run.test_id)),
            timeout=180,
            interval=0.25,
            expected="the run to finish",
        )
        detail = (
            f"server loop stopped dead at seq {killed_at}; the run published {stream.seq - killed_at} more "
            f"messages and ended {doc['status']} ({doc['assertions_passed']}/{doc['assertions_total']})"
        )
        check("run unharmed when the page's server side is killed", doc["status"] == "passed", detail)
    finally:
        for client in clients:
            client.stop(abrupt=True, wait=False)
        manager.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--duration", type=float, default=65.0, help="seconds of the sustained run")
    parser.add_argument("--reconnect-every", type=int, default=40, help="messages per connection (2 clients)")
    parser.add_argument("--large-kb", type=int, default=300)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="obs-bench-stream-load-"))
    write_scenarios(work / "scenarios", args.duration)
    serve = Serve(work)
    bench = Bench(serve, args)
    try:
        started = time.monotonic()
        wait_for(lambda: Poll(serve.info()["stack"]["state"] == "ready", None), timeout=120, expected="the stack ready")
        print(f"stack ready after {time.monotonic() - started:.1f} s")
        monitor = ResourceMonitor(serve.proc.pid).start()
        buffer_full = BufferFull(serve, monitor).start()
        try:
            bench.connect()
            end = bench.sustained_and_burst()
        finally:
            monitor.stop()
            warmed = buffer_full.at
            resources = monitor.summary(warmup=15, warmed=warmed)
            print(f"server process: {resources.describe()}; warm-up: {buffer_full.describe()}")
            bench.check("resource use stable", resources.stable and warmed is not None, resources.describe())
        bench.reconnects()
        bench.audit_all(end)
        bench.everyone_leaves()
        runs = ", ".join(f"{k} {v}" for k, v in bench.statuses.items())
        bench.check("every run passed", all(v == "passed" for v in bench.statuses.values()), runs)
        bench.server_killed()
        bench.clients = []
        server_side_killed(work, args, bench.check)
    except Exception as exc:  # noqa: BLE001 - a phase that could not finish is a missed criterion, with why
        bench.check("every phase completed", False, f"{type(exc).__name__}: {str(exc)[:400]}")
        for client in bench.clients[:3]:
            print(f"  {client.describe()}")
    finally:
        for client in bench.clients:
            client.stop(abrupt=True, wait=False)
        for client in bench.clients:
            client.join(2)
        serve.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("criteria:")
    for name, ok, detail in bench.criteria:
        print(f"  {'met   ' if ok else 'MISSED'} {name}: {detail}")
    return 0 if all(ok for _, ok, _ in bench.criteria) else 1


if __name__ == "__main__":
    sys.exit(main())
