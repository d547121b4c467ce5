"""Helpers for integration tests that run obs-tests in child processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from obs_tests.core.waiting import Poll, wait_for
from obs_tests.stack.probes import HttpProbe
from obs_tests.stack.process import ManagedProcess, ProcessIdentity, Spawner
from obs_tests.stack.state import StackRecord, list_records
from tests.procs import our_processes

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "obs.yaml"


def env_with_state(state_dir: Path) -> dict[str, str]:
    return {**os.environ, "OBS_STATE_DIR": str(state_dir), "OBS_CONTRACT": str(CONTRACT)}


def wait_ready_record(state_dir: Path, owner_pid: int | None = None, timeout: float = 60) -> StackRecord:
    """Wait for a ready stack record (of ``owner_pid`` if given) in ``state_dir``."""

    def probe() -> Poll[StackRecord | None]:
        records = [r for r in list_records(state_dir) if owner_pid is None or r.owner_pid == owner_pid]
        ready = [r for r in records if r.ready]
        return Poll(bool(ready), ready[0] if ready else None, f"records: {[(r.id, r.ready) for r in records]}")

    record = wait_for(probe, timeout=timeout, interval=0.1, expected="a ready stack in the state dir")
    assert record is not None
    return record


def identities(record: StackRecord) -> list[ProcessIdentity]:
    out = [c.identity() for c in record.components.values()]
    return [i for i in out if i is not None]


def assert_all_gone(idents: list[ProcessIdentity], timeout: float = 15) -> None:
    """Every listed process exits within ``timeout`` (a leak fails the test)."""

    def probe() -> Poll[list[int]]:
        alive = [i.pid for i in idents if i.alive()]
        return Poll(not alive, alive, f"still alive: {alive}")

    wait_for(probe, timeout=timeout, interval=0.05, expected="every stack process gone")


def python(*args: str, env: dict[str, str], **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        **kwargs,  # type: ignore[call-overload]
    )


def reap(proc: subprocess.Popen[str]) -> None:
    """Kill ``proc`` if it still runs (a test's ``finally``), wait for it and close its stdout."""
    proc.kill()
    proc.wait()
    assert proc.stdout is not None
    proc.stdout.close()


def obs_tests(
    *args: str, env: dict[str, str], timeout: float = 120, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """Run the CLI (in ``cwd``); past ``timeout`` it gets SIGTERM (so it tears its stack down), then the test
    fails."""
    argv = [sys.executable, "-m", "obs_tests.cli", *args]
    with subprocess.Popen(argv, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                out, err = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
            raise AssertionError(
                f"obs-tests {' '.join(args)} still running after {timeout:g}s (stopped with SIGTERM):\n{out}\n{err}"
            ) from None
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


PAUSED = """\
name: {name}
components: [{target}]
chaos:
  - {{name: pause-{target}, kind: pause, target: {target}, at: 0.2}}
steps:
  - wait_for_time: 120
"""


def write_paused_scenario(directory: Path, name: str, target: str) -> Path:
    """``<directory>/<name>.yaml``: a scenario that pauses ``target`` and then waits two minutes (to be
    interrupted)."""
    path = directory / f"{name}.yaml"
    path.write_text(PAUSED.format(name=name, target=target), encoding="utf-8")
    return path


class CliProcess:
    """``obs-tests <args>`` in a child process whose output lines are collected as they come, so a test
    can signal it at an observed moment (a line printed, a state file written)."""

    def __init__(self, args: tuple[str, ...], env: dict[str, str], cwd: Path) -> None:
        argv = [sys.executable, "-m", "obs_tests.cli", *args]
        self.proc = subprocess.Popen(
            argv, env=env, cwd=cwd, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_until(self, probe: Callable[[], Poll[T]], expected: str, timeout: float = 120) -> T:
        """``wait_for(probe)``, failing at once (with the output) if the process exits first."""

        def checked() -> Poll[T]:
            if self.proc.poll() is not None:
                raise AssertionError(f"exited {self.proc.returncode} before {expected}:\n{self.output}")
            return probe()

        return wait_for(checked, timeout=timeout, interval=0.05, expected=expected)

    def wait_line(self, text: str, timeout: float = 120) -> None:
        self.wait_until(lambda: Poll(any(text in line for line in self.lines), None), f"{text!r} printed", timeout)

    def finish(self, timeout: float = 90) -> int:
        """Wait for the process to exit (it was signalled); its exit status."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"still running {timeout:g}s after the signal:\n{self.output}") from None
        self._reader.join(timeout=10)
        return self.proc.returncode

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()
        self._reader.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class Isolated:
    """Runs obs-tests as a user would, with a home, temp dir and process marker of its own — so a test can
    prove a run leaves nothing: no process (by marker), no state file (in the default state dir under the
    home), nothing in its temp dir (stack workdirs, Locust dirs, `up --detach` logs)."""

    def __init__(self, tmp_path: Path) -> None:
        self.home = tmp_path / "home"
        self.tmp = tmp_path / "tmp"
        self.home.mkdir()
        self.tmp.mkdir()
        self.marker = uuid.uuid4().hex
        self.env = {k: v for k, v in os.environ.items() if k not in ("OBS_STATE_DIR", "PYTEST_ADDOPTS")}
        self.env.update(
            HOME=str(self.home), TMPDIR=str(self.tmp), OBS_TESTS_SESSION=self.marker, OBS_CONTRACT=str(CONTRACT)
        )
        self.started: list[CliProcess] = []

    @property
    def state(self) -> Path:
        """The default state dir (``~/.cache/obs-tests/stacks``) of this home."""
        return self.home / ".cache" / "obs-tests" / "stacks"

    def start(self, *args: str, cwd: Path = ROOT) -> CliProcess:
        proc = CliProcess(args, self.env, cwd)
        self.started.append(proc)
        return proc

    def run(self, *args: str, cwd: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "obs_tests.cli", *args]
        return subprocess.run(argv, env=self.env, cwd=cwd, capture_output=True, text=True, timeout=timeout)

    def starting(self, owner_pid: int | None = None) -> Callable[[], Poll[StackRecord | None]]:
        """Probe: a stack (of ``owner_pid``) recorded with component processes running, not ready yet."""

        def probe() -> Poll[StackRecord | None]:
            records = [r for r in list_records(self.state) if owner_pid is None or r.owner_pid == owner_pid]
            found = [r for r in records if not r.ready and any(c.pid for c in r.components.values())]
            return Poll(bool(found), found[0] if found else None, f"records: {[(r.id, r.ready) for r in records]}")

        return probe

    def ready(self, count: int, owner_pid: int | None = None) -> Callable[[], Poll[list[StackRecord]]]:
        """Probe: ``count`` stacks (of ``owner_pid``) recorded ready."""

        def probe() -> Poll[list[StackRecord]]:
            found = [r for r in list_records(self.state) if r.ready and owner_pid in (None, r.owner_pid)]
            return Poll(len(found) >= count, found, f"{len(found)} stacks ready")

        return probe

    def processes(self) -> dict[int, str]:
        return our_processes(session=self.marker)

    def assert_nothing_left(self, timeout: float = 20) -> None:
        """No process carrying our marker, no state file, nothing in the temp dir."""
        wait_for(
            lambda: Poll(not (left := self.processes()), left, f"still running: {left}"),
            timeout=timeout,
            interval=0.05,
            expected="every process of the run gone",
        )
        state_files = sorted(p.name for p in self.state.glob("*")) if self.state.is_dir() else []
        assert state_files == [], state_files
        left = sorted(str(p.relative_to(self.tmp)) for p in self.tmp.rglob("*"))
        assert left == [], f"left in the run's temp dir: {left[:40]}"

    def cleanup(self) -> None:
        """A test's ``finally``: kill what a failed test left running."""
        for proc in self.started:
            proc.kill()
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def sigterm_after_two_pauses(tmp_path: Path, *lanes: str) -> tuple[str, int | None, list[StackRecord]]:
    """``obs-tests scenario run <lanes>`` with two scenarios that each pause a component (orchestrator,
    exchange); SIGTERM once both pauses are applied. Returns its whole output, its exit status and the
    ready stack records it had then (for :func:`assert_all_gone`)."""
    for name, target in (("pause-orchestrator", "orchestrator"), ("pause-exchange", "exchange")):
        write_paused_scenario(tmp_path, name, target)
    state = tmp_path / "state"
    scenarios = [str(tmp_path / "pause-orchestrator.yaml"), str(tmp_path / "pause-exchange.yaml")]
    reports = ["--report-dir", str(tmp_path / "reports")]
    proc = python(
        "-m", "obs_tests.cli", "scenario", "run", *lanes, *reports, *scenarios, env=env_with_state(state), cwd=ROOT
    )
    assert proc.stdout is not None
    lines: list[str] = []
    applied: set[str] = set()
    for line in proc.stdout:
        lines.append(line.rstrip())
        if "fault applied: pause-" in line:
            applied.add(line.split("fault applied: ")[1].split()[0])
        if len(applied) == 2:
            break
    records = [r for r in list_records(state) if r.owner_pid == proc.pid and r.ready]
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=90)
    return "\n".join(lines) + "\n" + rest, proc.returncode, records


def check_stack_of_yours(
    prometheus_url: str,
    contract: Path,
    tmp_path: Path,
    keyword: str,
    *pytest_args: str,
    env: dict[str, str] | None = None,
) -> tuple[int, str]:
    """``obs-tests check`` against a running Prometheus (as a stack of yours), only the checks ``-k keyword``
    selects; its exit status and whole output."""
    args = ["check", "--contract", str(contract), "--prometheus-url", prometheus_url]
    args += ["--report-dir", str(tmp_path / "reports"), "-k", keyword]
    result = obs_tests(
        *args, *(["--", *pytest_args] if pytest_args else []), env=dict(os.environ) if env is None else env
    )
    return result.returncode, result.stdout + result.stderr


class ProcessGroup:
    """Real servers a test starts beside a stack (a broken HA member, the compose file's monitoring): each
    waited for until its ``/-/ready`` answers, all stopped by :meth:`close`."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.spawner = Spawner()
        self.procs: list[ManagedProcess] = []

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> ManagedProcess:
        proc = ManagedProcess(name, argv, spawner=self.spawner, log_path=self.logs / f"{name}.log", env=env)
        self.procs.append(proc)
        proc.start()
        return proc

    def wait_ready(self, proc: ManagedProcess, url: str, timeout: float = 60) -> str:
        def ready() -> Poll[str]:
            if not proc.running():
                raise AssertionError(f"{proc.name} exited {proc.returncode()}: {proc.log_tail()}")
            ok, detail = HttpProbe(f"{url}/-/ready", timeout=1.0)()
            return Poll(ok, url, detail)

        wait_for(ready, timeout=timeout, interval=0.1, expected=f"{proc.argv[0]} ready at {url}")
        return url

    def close(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            if not proc.wait(10):
                proc.kill()
            proc.close_log()
        self.spawner.close()
