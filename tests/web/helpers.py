"""Run ``obs-tests serve`` in a child process and talk to it (REST, stream), for the dashboard's tests."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import requests

from obs_tests.core.waiting import Poll, wait_for

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "web"
SCALE = 0.02


#: the shipped examples of the trading-bot language (scenarios/trading-*.yaml), by file stem
BOT_EXAMPLES = tuple(sorted(p.stem for p in (ROOT / "scenarios").glob("trading-*.yaml")))


def scenario_dir(target: Path, *, real: tuple[str, ...] = ("exchange-down",), fixtures: tuple[str, ...] = ()) -> Path:
    """A scenario directory with copies of real scenarios and of test fixtures."""
    target.mkdir(parents=True, exist_ok=True)
    for name in real:
        shutil.copy(ROOT / "scenarios" / f"{name}.yaml", target / f"{name}.yaml")
    for name in fixtures:
        shutil.copy(FIXTURES / f"{name}.yaml", target / f"{name}.yaml")
    return target


class Server:
    """``obs-tests serve --port 0`` as a child process; :meth:`stop` sends SIGTERM and checks it ends."""

    def __init__(
        self,
        scenarios: Path,
        report_dir: Path,
        *,
        extra: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        token: str | None = None,
    ) -> None:
        self.token = token
        self.report_dir = report_dir
        environment = {**os.environ, **(env or {})}
        environment.pop("OBS_DASHBOARD_TOKEN", None)
        if token is not None:
            environment["OBS_DASHBOARD_TOKEN"] = token
        argv = [
            sys.executable,
            "-m",
            "obs_tests.cli",
            "serve",
            "--port",
            "0",
            "--contract",
            str(ROOT / "obs.yaml"),
            "--scenarios",
            str(scenarios),
            "--report-dir",
            str(report_dir),
            *extra,
        ]
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env=environment, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = self._wait_url()
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def _wait_url(self) -> str:
        def probe() -> Poll[str | None]:
            for line in self.lines:
                match = re.search(r"obs-tests dashboard: (http://\S+?)/?(\s|$)", line)
                if match:
                    return Poll(True, match.group(1))
            if self.proc.poll() is not None:
                raise AssertionError(f"obs-tests serve exited {self.proc.returncode}:\n{self.output}")
            return Poll(False, None, self.output[-500:])

        url = wait_for(probe, timeout=30, interval=0.05, expected="the dashboard's URL on stdout")
        assert url is not None
        return url

    def children(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.NoSuchProcess):
            return psutil.Process(self.proc.pid).children(recursive=True)
        return []

    # -- HTTP ------------------------------------------------------------------------------------
    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.url + path, timeout=30, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        if body is not None:
            kwargs["json"] = body
        return self.session.post(self.url + path, timeout=90, **kwargs)

    def info(self) -> dict[str, Any]:
        response = self.get("/api/info")
        assert response.status_code == 200, response.text
        doc: dict[str, Any] = response.json()
        return doc

    def wait_stack(self, state: str = "ready", timeout: float = 120) -> dict[str, Any]:
        def probe() -> Poll[dict[str, Any]]:
            stack = self.info()["stack"]
            if stack["state"] == "error":
                raise AssertionError(f"the dashboard's stack failed: {stack['message']}")
            return Poll(stack["state"] == state, stack, f"stack {stack['state']}: {stack['message']}")

        return wait_for(probe, timeout=timeout, interval=0.2, expected=f"the stack {state}")

    def run(self, scenario: str, **options: Any) -> str:
        response = self.post("/api/run", {"scenario": scenario, **options})
        assert response.status_code == 202, response.text
        test_id: str = response.json()["test_id"]
        return test_id

    def status(self, test_id: str) -> dict[str, Any]:
        response = self.get(f"/api/status/{test_id}")
        assert response.status_code == 200, response.text
        doc: dict[str, Any] = response.json()
        return doc

    def wait_status(self, test_id: str, done: Any, expected: str, timeout: float = 150) -> dict[str, Any]:
        def probe() -> Poll[dict[str, Any]]:
            doc = self.status(test_id)
            return Poll(bool(done(doc)), doc, f"{doc['status']}/{doc['phase']}: {doc['log'][-3:]}")

        return wait_for(probe, timeout=timeout, interval=0.2, expected=expected)

    def wait_finished(self, test_id: str, timeout: float = 150) -> dict[str, Any]:
        return self.wait_status(test_id, lambda d: d["status"] != "running", "the run to finish", timeout)

    def wait_fault_active(self, test_id: str, timeout: float = 120) -> dict[str, Any]:
        return self.wait_status(test_id, lambda d: d["chaos"]["active"], "a fault applied", timeout)

    def stop(self, timeout: float = 90) -> int:
        """SIGTERM, wait (SIGKILL after ``timeout``), check no child outlived it; the exit code."""
        children = self.children()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError(f"obs-tests serve ignored SIGTERM for {timeout}s:\n{self.output}") from None
        self._reader.join(timeout=10)
        self._close_pipe()
        self.session.close()

        def alive(process: psutil.Process) -> bool:
            try:
                return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                return False

        def gone() -> Poll[list[int]]:
            alive_pids = [c.pid for c in children if alive(c)]
            return Poll(not alive_pids, alive_pids, f"still alive: {alive_pids}")

        wait_for(gone, timeout=15, interval=0.1, expected="every process of the dashboard gone")
        return self.proc.returncode

    def _close_pipe(self) -> None:
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def kill(self) -> None:
        for child in self.children():
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait(10)
        self._reader.join(timeout=10)
        self._close_pipe()
        self.session.close()


@contextlib.contextmanager
def serving(scenarios: Path, report_dir: Path, **kwargs: Any) -> Iterator[Server]:
    """A server that is stopped (and checked) on every exit path."""
    server = Server(scenarios, report_dir, **kwargs)
    try:
        yield server
    finally:
        try:
            server.stop()
        except BaseException:
            server.kill()
            raise


def sse_messages(response: requests.Response) -> Iterator[dict[str, Any]]:
    """Parse a Server-Sent Events body into messages (with ``_id`` = the event id, ``_at`` = receive time)."""
    data: list[str] = []
    event_id: str | None = None
    for raw in response.iter_lines(decode_unicode=True):
        line = raw if isinstance(raw, str) else raw.decode()
        if line == "":
            if data:
                message = json.loads("\n".join(data))
                message["_id"] = event_id
                message["_at"] = time.time()
                yield message
            data, event_id = [], None
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line.startswith("id:"):
            event_id = line[3:].strip()
