"""Run Locust headless in child processes and read back what it sent.

Locust (gevent) never runs inside the test process: ``LoadRun`` starts ``locust`` as a subprocess — one
process, or a master and N workers — with ``--json-file`` and ``--stop-timeout`` so every request a
user started is finished and counted before the run ends (without it, requests killed in flight reach
the gateway but not Locust's stats). A running load is stopped on every exit path (context manager,
``atexit``, and the parent-death signal of the spawner), and its temporary directory removed once its
stats are read: nothing of a run outlives it. Locust's output of a run that counted failures is kept
only where the caller asks (``keep_logs``: a report directory); ``LoadResult.output`` always has its end.
What to run and Locust's command lines are :mod:`obs_tests.workloads.load_spec`; the stats read back,
:mod:`obs_tests.workloads.load_stats`.

Example::

    result = run_load(LoadSpec(users=50, duration=20), host=stack.url("gateway"))
    result.requests, result.failures, result.endpoint("signal").p95_ms
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from obs_tests.core.waiting import Poll, wait_for
from obs_tests.errors import ObsTestsError, ToolError, UsageError
from obs_tests.stack.ports import allocate_ports
from obs_tests.stack.process import ManagedProcess, Spawner
from obs_tests.workloads.load_spec import LoadSpec, locust_env, master_argv, worker_argv
from obs_tests.workloads.load_stats import LoadResult, parse_rows, read_rows

__all__ = ["LoadRun", "run_load"]


class LoadRun:
    """One Locust run against ``host``; use as a context manager (stopped on every exit path).

    Its files (stats, Locust's output) go to ``workdir`` when given (the caller's, kept), else to a
    temporary directory removed when the run is over (:meth:`stop`, :meth:`wait`): beside ``targets_file``
    when there is one — inside the stack's working directory, so ``obs-tests down`` removes it with the
    stack if our process is SIGKILLed — else in the system temp dir. With ``keep_logs``, Locust's output
    of a run that counted failures is copied there first.
    """

    def __init__(
        self,
        spec: LoadSpec,
        host: str,
        *,
        targets_file: Path | None = None,
        workdir: Path | None = None,
        env: Mapping[str, str] | None = None,
        keep_logs: Path | None = None,
    ) -> None:
        spec.validate()
        self.spec = spec
        self.host = host
        self.targets_file = targets_file
        self.keep_logs = keep_logs
        self._own_workdir = workdir is None
        parent = targets_file.parent if targets_file is not None else None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="obs-tests-load-", dir=parent))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._extra_env = dict(env or {})
        self._spawner: Spawner | None = None
        self.master: ManagedProcess | None = None
        self.workers: list[ManagedProcess] = []
        self.started_at = 0.0
        self.stats_file = self.workdir / "stats.json"
        self._outcome: LoadResult | ObsTestsError | None = None
        self._finished = False
        self._finish_lock = threading.Lock()  # a scenario's revert and its cleanup may stop a run at once
        self._finisher: int | None = None  # the thread finishing the run
        self._finish_done = threading.Event()  # set while no finishing is in progress
        self._finish_done.set()
        atexit.register(self.stop)

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> LoadRun:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start Locust (master + workers when ``spec.workers`` > 0); returns at once."""
        if self.master is not None:
            return
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        self._spawner = Spawner()
        env = locust_env(self.spec, self._extra_env, sending_file=self.sending_file, targets_file=self.targets_file)
        port = allocate_ports(1)[0] if self.spec.workers else None
        self.master = ManagedProcess(
            "locust",
            master_argv(self.spec, self.host, self.stats_file, port),
            spawner=self._spawner,
            log_path=self.workdir / "locust.log",
            env=env,
        )
        self.started_at = time.time()
        self.master.start()
        for index in range(self.spec.workers):
            worker = ManagedProcess(
                f"locust-worker-{index}",
                worker_argv(self.spec, port),
                spawner=self._spawner,
                log_path=self.workdir / f"locust-worker-{index}.log",
                env=env,
            )
            self.workers.append(worker)
            worker.start()

    def running(self) -> bool:
        """True while the master (or the single process) runs."""
        return self.master is not None and self.master.running()

    @property
    def sending_file(self) -> Path:
        """Created by the locustfile when the first request is sent."""
        return self.workdir / "sending"

    def wait_sending(self, timeout: float = 60.0) -> float:
        """Wait until Locust sent its first request (starting Locust takes 1-3 s); returns when it was.
        ``ToolError`` when Locust exits first, ``WaitTimeout`` when it sends nothing in ``timeout`` s."""
        assert self.master is not None, "start() first"
        master = self.master

        def probe() -> Poll[float]:
            try:
                return Poll(True, self.sending_file.stat().st_mtime)
            except FileNotFoundError:
                pass
            if not master.running():
                raise ToolError(
                    f"Locust exited (status {master.returncode()}) before sending a request; "
                    f"last output:\n{master.log_tail(12)}"
                )
            return Poll(False, 0.0, "no request sent yet")

        return wait_for(
            probe,
            timeout=timeout,
            expected=f"Locust sending requests to {self.host}",
            bound="Locust starts in 1-3 s",
            interval=0.05,
        )

    def wait(self, timeout: float | None = None) -> LoadResult:
        """Wait for the run to end by itself; returns Locust's final stats."""
        assert self.master is not None, "start() first"
        limit = timeout if timeout is not None else self._expected_seconds() + self.spec.stop_timeout + 60.0
        if not self._finished and not self.master.wait(limit):
            tail = self.master.log_tail(12)
            self.stop()
            raise ToolError(
                f"Locust did not finish within {limit:.0f}s (expected ~{self._expected_seconds():.0f}s); "
                f"stopped it — its last output:\n{tail}"
            )
        self._finish()
        if isinstance(self._outcome, ObsTestsError):
            raise self._outcome
        assert self._outcome is not None
        return self._outcome

    def _expected_seconds(self) -> float:
        if self.spec.shape == "soak":
            return float(self.spec.shape_env.get("OBS_SOAK_RAMP", 30)) + float(
                self.spec.shape_env.get("OBS_SOAK_SECONDS", 600)
            )
        if self.spec.shape:
            return 120.0
        return self.spec.duration

    def _finish(self) -> None:
        """Once Locust has exited: read its stats (or why there are none), keep its output if asked,
        remove the run's temporary directory. Idempotent."""
        me = threading.get_ident()
        with self._finish_lock:
            mine = not self._finished
            elsewhere = self._finished and self._finisher not in (None, me)
            if mine:
                self._finished, self._finisher = True, me
                self._finish_done.clear()
        if not mine:
            if elsewhere:  # another thread is finishing: return once it is done (its files gone)
                self._finish_done.wait(timeout=60.0)
            return
        try:
            if self.master is not None and self.master.pid is not None:
                for worker in self.workers:
                    if not worker.wait(15.0):
                        worker.stop()
                self._outcome = self._read_outcome(self.master)
        finally:
            try:
                self._cleanup()
                if self._own_workdir:
                    shutil.rmtree(self.workdir, ignore_errors=True)
            finally:
                self._finisher = None
                self._finish_done.set()

    def _read_outcome(self, master: ManagedProcess) -> LoadResult | ObsTestsError:
        ended = time.time()
        code = master.returncode()
        tail = master.log_tail(40)
        outcome: LoadResult | ObsTestsError
        if self.stats_file.is_file():
            try:
                rows = read_rows(self.stats_file)
                endpoints = parse_rows(rows)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                return ToolError(f"Locust's stats file is unreadable ({exc}); last output:\n{tail}")
            outcome = LoadResult(self.spec, endpoints, self.started_at, ended, code or 0, output=tail, stats=rows)
            if outcome.failures:
                outcome.log = self._keep_output()
            return outcome
        short = "\n".join(tail.splitlines()[-12:])
        if "error:" in short or "usage:" in short:
            message = next((line for line in short.splitlines() if "error:" in line), short)
            return UsageError(f"Locust rejected its arguments: {message.strip()}")
        kept = self._keep_output()
        where = f" (kept in {kept})" if kept else ""
        return ToolError(f"Locust exited with status {code} without stats{where}; last output:\n{short}")

    def _keep_output(self) -> Path | None:
        """Copy Locust's non-empty output files into ``keep_logs`` (if given); the first copy."""
        if self.keep_logs is None or self.master is None:
            return None
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.started_at or time.time()))
        kept: Path | None = None
        for proc in (self.master, *self.workers):
            target = self.keep_logs / f"{proc.name}-{stamp}-{self.workdir.name}.log"
            try:
                if proc.log_path.stat().st_size == 0:
                    continue  # nothing to explain (Locust's stats are in the result)
                self.keep_logs.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(proc.log_path, target)
            except OSError:
                continue
            kept = kept or target
        return kept

    def stop(self, grace: float | None = None) -> None:
        """Stop the load now (SIGTERM: users stop, stats are written; SIGKILL after ``grace``), then read
        its stats for :meth:`wait` and remove its temporary directory."""
        wait = grace if grace is not None else self.spec.stop_timeout + 10.0
        try:
            for proc in [p for p in (self.master, *self.workers) if p is not None]:
                proc.stop(grace=wait)
        finally:
            self._finish()

    def _cleanup(self) -> None:
        for proc in [p for p in (self.master, *self.workers) if p is not None]:
            proc.close_log()
        if self._spawner is not None:
            self._spawner.close()
            self._spawner = None
        atexit.unregister(self.stop)


def run_load(
    spec: LoadSpec,
    host: str,
    *,
    targets_file: Path | None = None,
    workdir: Path | None = None,
    keep_logs: Path | None = None,
) -> LoadResult:
    """Run a load to completion and return its stats (the load is stopped if anything goes wrong)."""
    run = LoadRun(spec, host, targets_file=targets_file, workdir=workdir, keep_logs=keep_logs)
    with run:
        result = run.wait()
    return result
