"""Real nats-server, redis-server and the mock services as subprocesses on free loopback ports.

``stack`` (session) starts NATS, Redis and every service once; ``live`` (per test) hands it over and
clears every fault afterwards. ``Launcher`` starts extra processes for tests that pause, stop or
isolate something. Readiness is always polled with a deadline; teardown kills everything and asserts
that no process survives.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.procs import alive

T = TypeVar("T")
PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], T], *, timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll ``predicate`` until it returns a truthy value; fail with the last value seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = predicate()
        except (OSError, http.client.HTTPException, ValueError) as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last seen: {last!r}")
        time.sleep(interval)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float

    def json(self) -> Any:
        return orjson.loads(self.body)


def call(
    method: str,
    url: str,
    body: bytes | Any = None,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
    source: str | None = None,
) -> Reply:
    """One HTTP request on a fresh connection (closed afterwards); JSON-encodes non-bytes bodies."""
    parts = urlsplit(url)
    if body is not None and not isinstance(body, bytes):
        body = orjson.dumps(body)
    conn = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1",
        parts.port,
        timeout=timeout,
        source_address=(source, 0) if source else None,
    )
    start = time.monotonic()
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data, time.monotonic() - start)
    finally:
        conn.close()


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The samples of a /metrics endpoint keyed by (name, labels)."""
    text = call("GET", f"{url}/metrics").body.decode()
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def metric(url: str, name: str, **labels: str) -> float:
    """One sample's value (0.0 when the series is absent)."""
    return scrape(url).get((name, frozenset(labels.items())), 0.0)


def sample(url: str, name: str, **labels: str) -> float:
    """One sample's value; fails, naming the series of that name it did find, when it is absent."""
    samples = scrape(url)
    key = (name, frozenset(labels.items()))
    if key not in samples:
        found = sorted(str(dict(sorted(other))) for (sample_name, other) in samples if sample_name == name)
        raise AssertionError(
            f"{url}/metrics has no series {name}{dict(sorted(labels.items()))}; "
            f"label sets of {name} found: {', '.join(found) or 'none'}"
        )
    return samples[key]


@dataclass
class Proc:
    name: str
    argv: list[str]
    log_path: Path
    port: int | None = None
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_records(self) -> list[dict[str, Any]]:
        records = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                records.append(orjson.loads(line))
        return records

    def healthy(self) -> bool:
        return call("GET", f"{self.url}/healthz", timeout=1.0).status == 200

    def signal(self, sig: int) -> None:
        assert self.popen is not None
        self.popen.send_signal(sig)


@dataclass
class Launcher:
    """Starts processes with logs in ``directory``; ``close`` kills all and proves none survived."""

    directory: Path
    procs: list[Proc] = field(default_factory=list)

    def start(self, name: str, argv: list[str], port: int | None = None) -> Proc:
        proc = Proc(name, argv, self.directory / f"{name}.log", port)
        with proc.log_path.open("ab") as log:
            proc.popen = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 -- prctl must run in the child; started from the main thread
            )
        self.procs.append(proc)
        return proc

    def service(self, name: str, service: str, *args: str, nats_url: str | None = None) -> Proc:
        port = free_port()
        argv = [sys.executable, "-m", "obs_tests.demo", service, "--port", str(port)]
        if nats_url is not None:
            argv += ["--nats-url", nats_url]
        return self.start(name, [*argv, *args], port)

    def nats(self, name: str = "nats") -> Nats:
        port, monitor = free_port(), free_port()
        store = self.directory / f"{name}-store"
        argv = ["nats-server", "-a", "127.0.0.1", "-p", str(port), "-m", str(monitor), "-js", "-sd", str(store)]
        proc = self.start(name, argv, port)
        nats = Nats(proc, f"nats://127.0.0.1:{port}", f"http://127.0.0.1:{monitor}")
        wait_for(lambda: call("GET", f"{nats.monitor_url}/healthz", timeout=1).status == 200, timeout=10, what=name)
        return nats

    def redis(self, name: str = "redis") -> Proc:
        port = free_port()
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        proc = self.start(name, argv, port)
        wait_for(lambda: redis_ping(port), timeout=10, what=name)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            if proc.popen is not None and proc.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.popen.send_signal(signal.SIGCONT)
                    proc.popen.terminate()
        deadline = time.monotonic() + 3
        for proc in self.procs:
            assert proc.popen is not None
            try:
                proc.popen.wait(max(0.01, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(5)
        survivors = [proc.name for proc in self.procs if alive(proc.pid)]
        self.procs.clear()
        assert not survivors, f"processes survived teardown: {survivors}"


def redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")


def redis_command(port: int, *args: str) -> bytes:
    """One raw RESP command (tests only need tiny replies)."""
    payload = f"*{len(args)}\r\n".encode() + b"".join(f"${len(arg.encode())}\r\n{arg}\r\n".encode() for arg in args)
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(payload)
        return sock.recv(65536)


@dataclass
class Nats:
    proc: Proc
    url: str
    monitor_url: str

    def jsz(self) -> dict[str, Any]:
        reply = call("GET", f"{self.monitor_url}/jsz?streams=true&consumers=true", timeout=2)
        doc: dict[str, Any] = reply.json()
        return doc

    def stream_last_seq(self, stream: str) -> int:
        for account in self.jsz().get("account_details") or []:
            for detail in account.get("stream_detail") or []:
                if detail["name"] == stream:
                    return int(detail["state"]["last_seq"])
        return 0

    def consumers(self) -> dict[str, dict[str, Any]]:
        found = {}
        for account in self.jsz().get("account_details") or []:
            for detail in account.get("stream_detail") or []:
                for consumer in detail.get("consumer_detail") or []:
                    found[consumer["name"]] = consumer
        return found


AGENTS = ("momentum", "risk", "sentiment", "correlation")
WORKFLOW_TIMEOUT = 4.0


@dataclass
class Stack:
    launcher: Launcher
    nats: Nats
    redis: Proc
    services: dict[str, Proc]

    @property
    def gateway(self) -> Proc:
        return self.services["gateway"]

    @property
    def orchestrator(self) -> Proc:
        return self.services["orchestrator"]

    @property
    def exchange(self) -> Proc:
        return self.services["exchange"]

    @property
    def sink(self) -> Proc:
        return self.services["sink"]

    @property
    def exporter(self) -> Proc:
        return self.services["nats-exporter"]

    def agent(self, agent_type: str) -> Proc:
        return self.services[f"agent-{agent_type}"]

    def settle(self, timeout: float = 15.0) -> None:
        """Wait until every consumer has nothing pending or unacked and no workflow is open."""

        def idle() -> bool:
            consumers = self.nats.consumers()
            busy = {
                name: (c["num_pending"], c["num_ack_pending"])
                for name, c in consumers.items()
                if c["num_pending"] or c["num_ack_pending"]
            }
            open_workflows = int(redis_command(self.redis.port or 0, "ZCARD", "workflows:open")[1:].strip() or 0)
            if busy or open_workflows:
                raise ValueError(f"busy consumers {busy}, open workflows {open_workflows}")
            return True

        wait_for(idle, timeout=timeout, what="an idle pipeline")


def start_stack(launcher: Launcher) -> Stack:
    nats = launcher.nats()
    redis = launcher.redis()
    services: dict[str, Proc] = {}
    services["gateway"] = launcher.service("gateway", "gateway", "--publish-timeout", "1", nats_url=nats.url)
    for agent in AGENTS:
        services[f"agent-{agent}"] = launcher.service(
            f"agent-{agent}", "agent", "--agent-type", agent, nats_url=nats.url
        )
    services["orchestrator"] = launcher.service(
        "orchestrator",
        "orchestrator",
        "--redis-url",
        f"redis://127.0.0.1:{redis.port}/0",
        "--workflow-timeout",
        str(WORKFLOW_TIMEOUT),
        nats_url=nats.url,
    )
    services["exchange"] = launcher.service(
        "exchange", "exchange", "--tick-seconds", "0.1", "--seed", "1", nats_url=nats.url
    )
    services["sink"] = launcher.service("sink", "sink")
    services["nats-exporter"] = launcher.service(
        "nats-exporter", "nats-exporter", "--nats-monitor-url", nats.monitor_url
    )
    for name, proc in services.items():
        wait_for(proc.healthy, timeout=30, what=f"{name} /healthz 200 (log: {proc.log_path})")
    return Stack(launcher, nats, redis, services)


@pytest.fixture(scope="package")  # stopped after the last demo test: it must not load the CPU of later tests
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    launcher = Launcher(tmp_path_factory.mktemp("services"))
    try:
        yield launcher
    finally:
        launcher.close()


@pytest.fixture(scope="package")
def stack(launcher: Launcher) -> Stack:
    return start_stack(launcher)


@pytest.fixture
def live(stack: Stack) -> Iterator[Stack]:
    """The shared stack; every fault is cleared after the test (and anything it left is drained)."""
    try:
        yield stack
    finally:
        for proc in stack.services.values():
            with contextlib.suppress(OSError, http.client.HTTPException):
                call("DELETE", f"{proc.url}/admin/faults", timeout=2)
        call("PUT", f"{stack.exchange.url}/admin/scenario", {"scenario": "sideways", "seed": 1})


@pytest.fixture
def private(tmp_path: Path) -> Iterator[Launcher]:
    """A launcher for processes that only this test uses (killed at its end)."""
    launcher = Launcher(tmp_path)
    try:
        yield launcher
    finally:
        launcher.close()


def signal_body(action: str = "buy", **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "timestamp": "2026-11-22T10:00:00Z",
        "instrument": "BTCUSD",
        "action": action,
        "confidence": 0.8,
        "price": 100.0,
        "stop_loss": 95.0,
        "take_profit": 110.0,
    }
    doc.update(changes)
    return doc


def post_signal(gateway: Proc, body: Any, correlation_id: str | None = None, timeout: float = 5.0) -> Reply:
    headers = {"Content-Type": "application/json"}
    if correlation_id is not None:
        headers["X-Correlation-ID"] = correlation_id
    return call("POST", f"{gateway.url}/webhook/tradingview", body, headers=headers, timeout=timeout)


def unique_id(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{time.monotonic_ns()}"
