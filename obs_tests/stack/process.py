"""Child processes that cannot outlive their owner.

Every process obs-tests starts goes through :class:`Spawner`:

- it runs in its own session (so a signal to its group reaches its children and a Ctrl-C on the
  terminal does not race our orderly teardown);
- it gets the parent-death signal SIGKILL (``prctl(PR_SET_PDEATHSIG)``, set in the child before exec)
  so the kernel kills it if the thread that started it dies — even when our process is SIGKILLed and
  no Python cleanup runs. The child then checks its parent is still the one that forked it, closing
  the race where the owner dies between fork and prctl. The parent-death signal is tied to the
  *thread* that forked, so all spawning happens on one long-lived spawner thread.

:class:`ProcessIdentity` (pid + kernel start time) lets a later run tell "our process" from an
unrelated process that reused the pid before it kills anything.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psutil

__all__ = [
    "ManagedProcess",
    "ProcessIdentity",
    "Spawner",
    "environ_copy",
    "outlive_parent",
    "pid_alive",
    "process_start_time",
    "signal_on_parent_death",
    "terminate_identities",
]

_PR_SET_PDEATHSIG = 1
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


#: coverage.py's hook into the Python processes a measured run starts (the project's ``make test``): the
#: stacks' services and Locust, started with :func:`environ_copy`, are the system under test and the load,
#: not obs-tests — traced, they ran slower than the accounting and load tests allow
COVERAGE_HOOK = frozenset({"COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START"})


def environ_copy(**extra: str) -> dict[str, str]:
    """``os.environ`` as a dict, plus ``extra``, less :data:`COVERAGE_HOOK` — safe while another thread sets
    and unsets variables.

    ``dict(os.environ)`` lists the keys, then reads each one: a variable removed in between raises
    ``KeyError``. pytest removes ``PYTEST_CURRENT_TEST`` between tests, while `obs-tests check` starts
    stacks and loads in background threads; a variable removed meanwhile is simply not copied.
    """
    env: dict[str, str] = {}
    for key in list(os.environ):
        value = os.environ.get(key)
        if value is not None and key not in COVERAGE_HOOK:
            env[key] = value
    env.update(extra)
    return env


def _die_with(parent: int, sig: int = signal.SIGKILL) -> Callable[[], None]:
    """A preexec_fn: ``sig`` when the parent (thread) dies; exit at once if it already has."""

    def preexec() -> None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(111)

    return preexec


def signal_on_parent_death(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A ``preexec_fn`` for a child started by the calling thread: the kernel sends it ``sig`` when that
    thread ends — also when our process is SIGKILLed. With SIGTERM the child can tear down what it
    started; it keeps the signal across ``exec`` until it calls :func:`outlive_parent`."""
    return _die_with(os.getpid(), sig)


def outlive_parent() -> None:
    """Clear this process' parent-death signal: from now on it runs on after the process that started it
    (a detached stack's supervisor, once its stack is ready and handed over)."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, 0, 0, 0, 0)


def process_start_time(pid: int) -> int | None:
    """The kernel start time (clock ticks since boot) of ``pid``, or None if it does not exist."""
    if pid <= 0:
        return None
    # psutil's create_time() is boot time + start ticks, with the boot time re-read from the wall clock
    # on every call: a clock step would change it. The ticks since boot never change (psutil identifies
    # processes by them too), so they are what a state file records; a boot time read on both sides of
    # create_time() proves no step came in between.
    try:
        for _ in range(3):
            booted = psutil.boot_time()
            created = psutil.Process(pid).create_time()
            if psutil.boot_time() == booted:
                break
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return round((created - booted) * _CLOCK_TICKS)


def _is_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.ZombieProcess:
        return True
    except psutil.Error:
        return False


def pid_alive(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


@dataclass(frozen=True)
class ProcessIdentity:
    """A pid plus its start time: survives pid reuse checks."""

    pid: int
    start_time: int

    @classmethod
    def of(cls, pid: int) -> ProcessIdentity | None:
        """The identity of the running process ``pid`` (None if it is gone)."""
        started = process_start_time(pid)
        return cls(pid, started) if started is not None else None

    def alive(self) -> bool:
        """True when this exact process (not a pid reuser) is still running."""
        return process_start_time(self.pid) == self.start_time and pid_alive(self.pid)


def terminate_identities(identities: Sequence[ProcessIdentity], grace: float = 5.0) -> list[int]:
    """SIGTERM (+SIGCONT) each still-running identity, SIGKILL what remains after ``grace``.

    Used to reap processes of a crashed run from its state file. Returns the pids signalled.
    """
    targets = [i for i in identities if i.alive()]
    for ident in targets:
        for sig in (signal.SIGTERM, signal.SIGCONT):
            with contextlib.suppress(ProcessLookupError):
                os.kill(ident.pid, sig)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(i.alive() for i in targets):
        time.sleep(0.05)  # poll spacing while processes exit
    for ident in targets:
        if ident.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(ident.pid, signal.SIGKILL)
    return [i.pid for i in targets]


class Spawner:
    """Starts processes from one dedicated thread so PR_SET_PDEATHSIG stays meaningful."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="obs-tests-spawner")

    def spawn(
        self,
        argv: Sequence[str],
        *,
        log: IO[bytes] | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` in a new session, stdout+stderr to ``log``, killed if its owner dies."""

        def start() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log if log is not None else subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
                close_fds=True,
                preexec_fn=_die_with(os.getpid()),  # noqa: PLW1509 - async-signal-safe calls only
            )

        return self._pool.submit(start).result()

    def close(self) -> None:
        """Stop the spawner thread (processes it started get SIGKILL from the kernel when it ends)."""
        self._pool.shutdown(wait=True)


class ManagedProcess:
    """One supervised OS process: start, kill, stop, pause (SIGSTOP), resume, restart.

    The process writes stdout and stderr to ``log_path`` (appending across restarts).
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        spawner: Spawner,
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self._spawner = spawner
        self._env = env
        self._cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._lock = threading.RLock()
        self.paused = False
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        """The pid of the current incarnation (None before start)."""
        return self._proc.pid if self._proc else None

    def identity(self) -> ProcessIdentity | None:
        """The pid + start time of the running incarnation."""
        pid = self.pid
        return ProcessIdentity.of(pid) if pid and self.running() else None

    def start(self) -> None:
        """Start the process (no-op if it is already running)."""
        with self._lock:
            if self.running():
                return
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            if self._log is None or self._log.closed:
                self._log = self.log_path.open("ab")
            self._proc = self._spawner.spawn(self.argv, log=self._log, env=self._env, cwd=self._cwd)
            self.paused = False

    def running(self) -> bool:
        """True while the process has not exited (a paused process is running)."""
        return self._proc is not None and self._proc.poll() is None

    def returncode(self) -> int | None:
        """Exit status once the process has exited."""
        return self._proc.poll() if self._proc else None

    def _signal_group(self, sig: int) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        try:
            os.killpg(self._proc.pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            self._proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL: the process dies at once, without cleanup (a crash)."""
        with self._lock:
            self._signal_group(signal.SIGKILL)
            self._reap(timeout=5.0)
            self.paused = False

    def terminate(self) -> None:
        """Send SIGTERM (and SIGCONT, so a paused process can act on it) without waiting."""
        with self._lock:
            self._signal_group(signal.SIGTERM)
            self._signal_group(signal.SIGCONT)

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the process to exit; True if it has."""
        return self._reap(timeout=max(timeout, 0.0))

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds: a clean shutdown."""
        with self._lock:
            if not self.running():
                self._reap(timeout=0)
                return
            self.terminate()
            if not self._reap(timeout=grace):
                self._signal_group(signal.SIGKILL)
                self._reap(timeout=5.0)
            self.paused = False

    def pause(self) -> None:
        """SIGSTOP: the process freezes (its port still accepts connections that never answer)."""
        with self._lock:
            self._signal_group(signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        with self._lock:
            self._signal_group(signal.SIGCONT)
            self.paused = False

    def restart(self, grace: float = 5.0) -> None:
        """Clean stop, then start again (same argv, same port)."""
        with self._lock:
            self.stop(grace)
            self.start()
            self.restarts += 1

    def _reap(self, timeout: float) -> bool:
        if self._proc is None:
            return True
        try:
            self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def close_log(self) -> None:
        """Close our handle on the log file (after the process is gone)."""
        if self._log is not None and not self._log.closed:
            self._log.close()

    def log_tail(self, lines: int = 15) -> str:
        """The last ``lines`` lines of the process' output (for error messages)."""
        try:
            data = self.log_path.read_bytes()[-8192:]
        except OSError:
            return ""
        text = data.decode("utf-8", "replace").splitlines()
        return "\n".join(text[-lines:])
