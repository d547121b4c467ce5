from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from obs_tests.core.waiting import Poll, wait_for
from obs_tests.stack.process import (
    ManagedProcess,
    ProcessIdentity,
    Spawner,
    environ_copy,
    pid_alive,
    terminate_identities,
)


@pytest.fixture
def spawner() -> Iterator[Spawner]:
    s = Spawner()
    yield s
    s.close()


STOPPED = psutil.STATUS_STOPPED  # SIGSTOP: 'T' in /proc/<pid>/stat


def _state(pid: int) -> str:
    return psutil.Process(pid).status()


def _gone(pid: int) -> None:
    wait_for(lambda: Poll(not pid_alive(pid), pid), timeout=5, interval=0.02, expected=f"pid {pid} to exit")


def test_managed_process_lifecycle(tmp_path: Path, spawner: Spawner) -> None:
    proc = ManagedProcess("sleeper", ["sleep", "60"], spawner=spawner, log_path=tmp_path / "s.log")
    proc.start()
    first = proc.pid
    assert first and proc.running()
    proc.pause()
    wait_for(lambda: Poll(_state(first) == STOPPED, _state(first)), timeout=5, interval=0.01, expected="stopped")
    proc.resume()
    wait_for(lambda: Poll(_state(first) != STOPPED, _state(first)), timeout=5, interval=0.01, expected="running")
    proc.restart()
    assert proc.pid != first and proc.running()
    _gone(first)
    proc.kill()
    assert not proc.running()
    assert proc.returncode() == -signal.SIGKILL
    proc.start()
    assert proc.running()
    proc.stop()
    assert proc.returncode() == -signal.SIGTERM
    proc.close_log()


def test_stop_a_paused_process(tmp_path: Path, spawner: Spawner) -> None:
    proc = ManagedProcess("sleeper", ["sleep", "60"], spawner=spawner, log_path=tmp_path / "s.log")
    proc.start()
    proc.pause()
    proc.stop(grace=5)
    assert not proc.running()
    proc.close_log()


def test_stop_escalates_to_sigkill(tmp_path: Path, spawner: Spawner) -> None:
    script = (
        "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    )
    proc = ManagedProcess("stubborn", [sys.executable, "-c", script], spawner=spawner, log_path=tmp_path / "s.log")
    proc.start()
    wait_for(lambda: Poll("ready" in proc.log_tail(), proc.log_tail()), timeout=10, interval=0.02, expected="ready")
    proc.stop(grace=0.3)
    assert proc.returncode() == -signal.SIGKILL
    proc.close_log()


def test_output_goes_to_log(tmp_path: Path, spawner: Spawner) -> None:
    proc = ManagedProcess(
        "echo", ["sh", "-c", "echo hello; echo oops >&2"], spawner=spawner, log_path=tmp_path / "e.log"
    )
    proc.start()
    proc.wait(5)
    proc.close_log()
    assert proc.log_tail().splitlines() == ["hello", "oops"]


CHILD = """
import sys, time
from pathlib import Path
from obs_tests.stack.process import Spawner
s = Spawner()
p = s.spawn(["sleep", "300"])
print(p.pid, flush=True)
time.sleep(300)
"""


def test_children_die_when_owner_is_sigkilled() -> None:
    """The kernel kills our processes even when the owner gets no chance to clean up."""
    owner = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    child_pid = int(owner.stdout.readline())
    assert pid_alive(child_pid)
    owner.kill()
    owner.wait()
    owner.stdout.close()
    _gone(child_pid)


def test_identity_detects_pid_reuse() -> None:
    me = ProcessIdentity.of(os.getpid())
    assert me is not None and me.alive()
    assert not ProcessIdentity(me.pid, me.start_time + 1).alive()
    assert ProcessIdentity.of(2**22 + 12345) is None


def test_identity_start_time_is_the_kernels_ticks_since_boot() -> None:
    """State files of earlier runs hold field 22 of /proc/<pid>/stat: the identity must stay that number."""
    raw = Path(f"/proc/{os.getpid()}/stat").read_text()
    ticks = int(raw[raw.rfind(")") + 2 :].split()[19])
    me = ProcessIdentity.of(os.getpid())
    assert me is not None and me.start_time == ticks


def test_a_zombie_is_not_alive() -> None:
    child = subprocess.Popen(["true"])
    wait_for(
        lambda: Poll(_state(child.pid) == psutil.STATUS_ZOMBIE, _state(child.pid)),
        timeout=5,
        interval=0.01,
        expected="a zombie (exited, not reaped)",
    )
    ident = ProcessIdentity.of(child.pid)
    assert ident is not None and not ident.alive()
    assert not pid_alive(child.pid)
    child.wait()
    assert ProcessIdentity.of(child.pid) is None


def test_terminate_identities(tmp_path: Path, spawner: Spawner) -> None:
    proc = ManagedProcess("sleeper", ["sleep", "60"], spawner=spawner, log_path=tmp_path / "s.log")
    proc.start()
    ident = proc.identity()
    assert ident is not None
    proc.pause()
    started = time.monotonic()
    assert terminate_identities([ident, ProcessIdentity(ident.pid, ident.start_time + 1)]) == [ident.pid]
    proc.wait(5)
    assert time.monotonic() - started < 5
    assert not ident.alive()
    proc.close_log()


def test_environ_copy_while_another_thread_sets_and_unsets_a_variable() -> None:
    """As pytest does with PYTEST_CURRENT_TEST while `obs-tests check` starts stacks in background threads."""
    import threading  # noqa: PLC0415

    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            os.environ["OBS_TEST_CHURN"] = "1"
            os.environ.pop("OBS_TEST_CHURN", None)

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        copies = [environ_copy(EXTRA="x") for _ in range(3000)]
    finally:
        stop.set()
        thread.join()
    assert all(c["EXTRA"] == "x" and c["PATH"] == os.environ["PATH"] for c in copies)
    assert all(c.get("OBS_TEST_CHURN") in (None, "1") for c in copies)


def test_the_stacks_and_locusts_environment_leaves_coverages_subprocess_hook_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """make test measures the processes the tests start, but not the services and Locust (they got too slow)."""
    monkeypatch.setenv("COVERAGE_PROCESS_CONFIG", "{}")
    monkeypatch.setenv("COVERAGE_PROCESS_START", "pyproject.toml")
    env = environ_copy(PYTHONUNBUFFERED="1")
    assert "COVERAGE_PROCESS_CONFIG" not in env and "COVERAGE_PROCESS_START" not in env
    assert env["PYTHONUNBUFFERED"] == "1" and env["PATH"] == os.environ["PATH"]
