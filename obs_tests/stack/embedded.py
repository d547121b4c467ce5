"""The embedded stack: real Prometheus and Alertmanager, and the system under test the contract names
(``stack.system``; by default the demo trading system with its NATS, Redis and exporters), started as
local processes on free loopback ports.

Example::

    with EmbeddedStack(load_contract(Path("obs.yaml"))) as stack:
        prom = PrometheusClient(stack.url("prometheus"))
        stack.kill("gateway")      # a crash
        stack.start("gateway")     # back again

Start-up waits on conditions, never on sleeps: each component's health probe, then Prometheus
reporting every target ``up``, then the system's warm-up traffic proven to cross it (the demo's: signals
through gateway → agents → orchestrator).
Teardown is guaranteed on normal exit, exceptions, SIGINT and SIGTERM (handlers raise
``KeyboardInterrupt`` so every ``finally`` runs), at interpreter exit (``atexit``), and — if our own
process is SIGKILLed — by the kernel (parent-death signal) and the next run (state file).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import tempfile
import threading
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from obs_tests.clients.prometheus import PrometheusClient, Target
from obs_tests.config.contract import Contract
from obs_tests.core.interrupts import INTERRUPT_SIGNALS, note_signal, raise_interrupt
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.errors import ObsTestsError, StackStartError, UnknownComponent, WaitTimeout
from obs_tests.rules.rulefiles import plain_rule_files
from obs_tests.stack.components import Component, ComponentPlan, build_components, port_names
from obs_tests.stack.ports import allocate_ports
from obs_tests.stack.process import ManagedProcess, ProcessIdentity, Spawner, environ_copy
from obs_tests.stack.render import render_alertmanager_config, render_prometheus_config
from obs_tests.stack.state import (
    ComponentRecord,
    StackRecord,
    default_state_dir,
    new_stack_id,
    reap_stale,
    record_path,
    write_record,
)
from obs_tests.stack.system_under_test import ServicePlan, SystemUnderTest, WarmUp, load_system
from obs_tests.stack.timescale import scale_rule_files, validate_factor

__all__ = ["ComponentStatus", "EmbeddedStack"]

_FIRST_SCRAPE_BOUND = "Prometheus' first scrape lands ~5 s after it starts (target-update batching) + 1 scrape"


@dataclass(frozen=True)
class ComponentStatus:
    """A component as ``obs-tests status`` shows it."""

    name: str
    pid: int | None
    port: int
    url: str
    state: str  # running | paused | exited | not started
    ready: bool
    detail: str


def _ignore(signum: int, frame: types.FrameType | None) -> None:
    """Signals during teardown: teardown is already happening and is bounded in time."""
    note_signal(signum)


class EmbeddedStack:
    """Run the whole stack locally; see the module docstring."""

    def __init__(
        self,
        contract: Contract,
        *,
        workdir: Path | None = None,
        log_dir: Path | None = None,
        state_dir: Path | None = None,
        warm_up: bool = True,
        handle_signals: bool = True,
        detached: bool = False,
        origin: str = "api",
        remove_workdir: bool | None = None,
        seed: int = 1,
        startup_timeout: float | None = None,
        time_scale: float | None = None,
        stack_id: str | None = None,
    ) -> None:
        self.contract = contract
        #: what runs next to Prometheus and Alertmanager (``stack.system`` of the contract)
        self.system: SystemUnderTest | None = load_system(contract.stack.system)
        #: rule files are loaded with every ``for:`` and range window multiplied by this (1.0: as written);
        #: by default the contract's ``stack.time_scale``, as every command uses
        self.time_scale = validate_factor(contract.stack.time_scale if time_scale is None else time_scale)
        #: the rule files Prometheus loads (scaled copies when ``time_scale`` < 1)
        self.rule_files: list[Path] = []
        #: the state file is ``stack-<id>.json`` (``stack_id``: one `obs-tests up --detach` recorded first)
        self.id = stack_id or new_stack_id()
        self._requested_workdir = workdir
        self._log_dir = log_dir
        self.state_dir = state_dir or default_state_dir()
        self._warm_up = warm_up
        self._handle_signals = handle_signals
        self._detached = detached
        self._origin = origin
        self._remove_workdir = workdir is None if remove_workdir is None else remove_workdir
        self._seed = seed
        self.startup_timeout = startup_timeout or contract.stack.startup_timeout
        self.workdir: Path = Path()
        #: file_sd file of the Prometheus job ``load`` (Locust processes announce their metrics there; a
        #: :class:`~obs_tests.workloads.loadgen.LoadRun` given it keeps its files in the same directory)
        self.load_targets: Path | None = None
        self.components: dict[str, Component] = {}
        self._state_lock = threading.Lock()
        self.processes: dict[str, ManagedProcess] = {}
        self._spawner: Spawner | None = None
        self._record: StackRecord | None = None
        self._old_handlers: dict[int, Any] = {}
        self._closed = True
        #: set while no close is in progress; a second close() waits on it (see close)
        self._close_done = threading.Event()
        self._close_done.set()
        self._closer: int | None = None
        self._aborting = threading.Event()
        self._lock = threading.RLock()
        self.started_at = 0.0
        self.ready_at = 0.0
        #: seconds since start at which each start-up phase ended (for benchmarks and slow-start reports)
        self.timings: dict[str, float] = {}

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> EmbeddedStack:
        self._start_stack()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def component_names(self) -> list[str]:
        """The components this stack runs, in start order."""
        names = ["prometheus"]
        if self.contract.stack.alertmanager is not None:
            names.append("alertmanager")
        names += self.system.service_names if self.system is not None else []
        if self.contract.stack.node_exporter:
            names.append("node-exporter")
        return names

    def _start_stack(self) -> None:
        if not self._closed:
            return
        self._closed = False
        self.started_at = time.monotonic()
        self._install_signal_handlers()
        atexit.register(self.close)
        try:
            reap_stale(self.state_dir)
            self._prepare()
            self._mark("prepared")
            self._spawn_all()
            self._mark("spawned")
            self._wait_components_ready()
            self._mark("components_ready")
            self._check_aborted()
            warm = self._send_warm_up() if self._warm_up else None
            self._wait_targets_up()
            self._mark("targets_up")
            if warm is not None:
                self._wait_warm_up_visible(warm)
                self._mark("warm_up_visible")
            self._check_aborted()
            self.ready_at = time.monotonic()
            self._write_state(ready=True)
        except BaseException as exc:
            self.close()
            if self._aborting.is_set() and not isinstance(exc, KeyboardInterrupt):
                raise StackStartError("start aborted (the stack was asked to stop): every process stopped") from None
            raise

    def abort(self) -> None:
        """Abort a start in progress, from another thread (a server shutting down while its stack starts):
        the start stops waiting, stops what it started and raises :class:`StackStartError`. Without a start
        in progress it only makes a later start fail the same way."""
        self._aborting.set()

    def _check_aborted(self) -> None:
        if self._aborting.is_set():
            raise StackStartError("start aborted")

    def _mark(self, phase: str) -> None:
        self.timings[phase] = round(time.monotonic() - self.started_at, 3)

    def _prepare(self) -> None:
        if self._requested_workdir is not None:
            self.workdir = self._requested_workdir
            self.workdir.mkdir(parents=True, exist_ok=True)
        else:
            self.workdir = Path(tempfile.mkdtemp(prefix="obs-tests-stack-"))
        config_dir = self.workdir / "config"
        config_dir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "data").mkdir(exist_ok=True)
        names = self.component_names()
        wanted = [(n, p) for n in names for p in port_names(n, self.system)]
        free = iter(allocate_ports(len(wanted)))
        ports: dict[str, dict[str, int]] = {}
        for name, port_name in wanted:
            ports.setdefault(name, {})[port_name] = next(free)
        addresses = {n: f"127.0.0.1:{next(iter(p.values()))}" for n, p in ports.items()}
        # Locust runs keep their files beside the file they announce themselves in: inside the workdir,
        # reaped with the stack even when our process is SIGKILLed
        (self.workdir / "load").mkdir(exist_ok=True)
        self.load_targets = self.workdir / "load" / "targets.json"
        self.load_targets.write_text("[]", encoding="utf-8")
        # Prometheus loads a PrometheusRule manifest as the plain file of its groups (what the operator does)
        plain = plain_rule_files(self.contract.files.rule_files(), config_dir / "rules-plain")
        self.rule_files = scale_rule_files(
            [p.path for p in plain],
            self.time_scale,
            config_dir / "rules",
            min_range=4 * self.contract.stack.scrape_interval,
        )
        prom_cfg = render_prometheus_config(
            self.contract,
            {n: a for n, a in addresses.items() if n not in ("nats", "redis")},
            alertmanager=addresses.get("alertmanager"),
            rule_files=self.rule_files,
            load_targets=self.load_targets,
        )
        prom_path = config_dir / "prometheus.yml"
        prom_path.write_text(yaml.safe_dump(prom_cfg, sort_keys=False), encoding="utf-8")
        am_path: Path | None = None
        if "alertmanager" in names:
            am_cfg = render_alertmanager_config(self.contract.files.alertmanager_config, addresses)
            am_path = config_dir / "alertmanager.yml"
            am_path.write_text(yaml.safe_dump(am_cfg, sort_keys=False), encoding="utf-8")
        plan = ComponentPlan(
            ServicePlan(self.workdir, ports, seed=self._seed),
            prometheus_config=prom_path,
            alertmanager_config=am_path,
        )
        self.components = build_components(plan, names, self.system)
        log_dir = self._log_dir or self.workdir / "logs"
        self._spawner = Spawner()
        env = environ_copy(PYTHONUNBUFFERED="1")
        for name, comp in self.components.items():
            self.processes[name] = ManagedProcess(
                name,
                comp.argv,
                spawner=self._spawner,
                log_path=log_dir / f"{name}.log",
                env={**env, **comp.env},
                cwd=self.workdir,
            )
        self._write_state(ready=False)

    def _spawn_all(self) -> None:
        for name, proc in self.processes.items():
            self._check_aborted()
            try:
                proc.start()
            except OSError as exc:
                raise StackStartError(
                    f"cannot start {name} ({self.components[name].argv[0]}): {exc.strerror} — is the Debian "
                    "package installed? `make check` installs it"
                ) from None
        self._write_state(ready=False)

    def _remaining(self) -> float:
        return max(0.5, self.startup_timeout - (time.monotonic() - self.started_at))

    def _wait_components_ready(self, names: list[str] | None = None, timeout: float | None = None) -> None:
        pending = list(names or self.processes)
        last: dict[str, str] = {}

        def probe() -> Poll[None]:
            for name in list(pending):
                proc = self.processes[name]
                if not proc.running():
                    raise StackStartError(
                        f"{name} exited with status {proc.returncode()} during start-up; last output:\n"
                        f"{proc.log_tail()}"
                    )
                ok, detail = self.components[name].probe()
                last[name] = detail
                if ok:
                    pending.remove(name)
            seen = ", ".join(f"{n}: {last.get(n, '?')}" for n in pending)
            return Poll(not pending, None, f"not ready: {seen}")

        try:
            wait_for(
                probe,
                timeout=timeout if timeout is not None else self._remaining(),
                interval=0.05,
                expected="every component's health endpoint to answer",
                stop=self._aborting,
                bound="a few seconds (Python services import, NATS/Redis start in milliseconds)",
            )
        except WaitTimeout as exc:
            tails = "\n".join(f"--- {n} ---\n{self.processes[n].log_tail(8)}" for n in pending)
            raise StackStartError(f"{exc.message}\n{tails}") from None

    def _expected_targets(self) -> dict[str, int]:
        return {job.name: len(job.components) for job in self.contract.jobs}

    def _wait_targets_up(self) -> None:
        prom = self.prometheus()
        expected = self._expected_targets()

        def probe() -> Poll[list[Target]]:
            targets = prom.targets()
            counts: dict[str, int] = {}
            down: list[str] = []
            for t in targets:
                if t.job not in expected:  # e.g. the `load` job: Locust processes come and go
                    continue
                counts[t.job] = counts.get(t.job, 0) + 1
                if not t.up:
                    down.append(f"{t.job}/{t.labels.get('service', t.instance)} ({t.health})")
            missing = [f"{j} ({counts.get(j, 0)}/{n})" for j, n in expected.items() if counts.get(j, 0) != n]
            ok = not down and not missing
            return Poll(ok, targets, f"down: {down or 'none'}; incomplete jobs: {missing or 'none'}")

        try:
            wait_for(
                probe,
                timeout=self._remaining(),
                interval=0.1,
                expected="every target up in Prometheus",
                stop=self._aborting,
                bound=_FIRST_SCRAPE_BOUND,
                transient=(ObsTestsError,),
            )
        except WaitTimeout as exc:
            raise StackStartError(exc.message) from None

    def _send_warm_up(self) -> WarmUp | None:
        if self.system is None or self.system.warm_up is None:
            return None
        urls = {name: comp.url for name, comp in self.components.items()}
        try:
            return self.system.warm_up(urls, self._seed)
        except StackStartError as exc:
            raise StackStartError(f"{exc} (logs: {self.log_path('prometheus').parent})") from None

    def _wait_warm_up_visible(self, warm: WarmUp) -> None:
        prom = self.prometheus()

        def probe() -> Poll[float]:
            value = prom.query_value(warm.query, default=0.0) or 0.0
            return Poll(value >= warm.expected, value, f"{warm.query} = {value:g}")

        try:
            wait_for(
                probe,
                timeout=self._remaining(),
                interval=0.1,
                expected=f"{warm.description}: {warm.query} ≥ {warm.expected:g} in Prometheus",
                stop=self._aborting,
                bound=warm.bound,
                transient=(ObsTestsError,),
            )
        except WaitTimeout as exc:
            raise StackStartError(f"the warm-up traffic did not cross the system: {exc.message}") from None

    def close(self) -> None:
        """Stop every component (SIGTERM, then SIGKILL), remove temp files and the state file.

        Called while another thread closes the stack, it returns once that close is done: the caller (the
        main thread, about to exit) must not leave a half-removed working directory behind."""
        me = threading.get_ident()
        with self._lock:
            mine = not self._closed
            elsewhere = self._closed and self._closer not in (None, me)
            if mine:
                self._closed, self._closer = True, me
                self._close_done.clear()
        if not mine:
            if elsewhere:
                self._close_done.wait(timeout=60.0)
            return
        self._quiet_signals()
        try:
            procs = list(self.processes.values())
            for proc in procs:
                proc.terminate()
            deadline = time.monotonic() + 5.0
            for proc in procs:
                if not proc.wait(deadline - time.monotonic()):
                    proc.kill()
            for proc in procs:
                proc.close_log()
            if self._spawner is not None:
                self._spawner.close()
                self._spawner = None
            # under the state lock: after this, _write_state writes nothing (closed); by its path, not
            # self._record: an interrupt may have landed between a write and the assignment of self._record
            with self._state_lock, contextlib.suppress(FileNotFoundError):
                record_path(self.state_dir, self.id).unlink()
            if self._remove_workdir and self.workdir != Path():
                shutil.rmtree(self.workdir, ignore_errors=True)
        finally:
            try:
                atexit.unregister(self.close)
                self._restore_signal_handlers()
            finally:
                self._closer = None
                self._close_done.set()

    # -- signals ---------------------------------------------------------------------------------
    def _install_signal_handlers(self) -> None:
        if not self._handle_signals or threading.current_thread() is not threading.main_thread():
            return
        for sig in INTERRUPT_SIGNALS:
            with contextlib.suppress(ValueError, OSError):
                self._old_handlers[sig] = signal.signal(sig, raise_interrupt)

    def _quiet_signals(self) -> None:
        if self._old_handlers and threading.current_thread() is threading.main_thread():
            for sig in self._old_handlers:
                signal.signal(sig, _ignore)

    def _restore_signal_handlers(self) -> None:
        if self._old_handlers and threading.current_thread() is threading.main_thread():
            for sig, handler in self._old_handlers.items():
                signal.signal(sig, handler)
            self._old_handlers.clear()

    # -- state file ------------------------------------------------------------------------------
    def _write_state(self, *, ready: bool) -> None:
        # One writer at a time: concurrent scenarios pause and resume components from their own threads,
        # and the record written last must be built from the latest state.
        with self._state_lock:
            # a scenario thread reverting a fault while the stack closes must not write the record back
            if not self._closed:
                self._write_state_locked(ready=ready)

    def _write_state_locked(self, *, ready: bool) -> None:
        owner = ProcessIdentity.of(os.getpid())
        assert owner is not None
        record = StackRecord(
            id=self.id,
            owner_pid=owner.pid,
            owner_start_time=owner.start_time,
            workdir=str(self.workdir),
            contract=str(self.contract.source),
            started_at=time.time(),
            ready=ready,
            detached=self._detached,
            origin=self._origin,
            remove_workdir=self._remove_workdir,
            load_targets=str(self.load_targets or ""),
        )
        for name, comp in self.components.items():
            proc = self.processes.get(name)
            ident = proc.identity() if proc else None
            record.components[name] = ComponentRecord(
                name=name,
                pid=ident.pid if ident else None,
                start_time=ident.start_time if ident else None,
                ports=comp.ports,
                url=comp.url,
                log=str(proc.log_path) if proc else "",
                paused=bool(proc and proc.paused),
            )
        if self._record is not None:
            record.started_at = self._record.started_at
        write_record(self.state_dir, record)
        self._record = record

    # -- access ----------------------------------------------------------------------------------
    def _component(self, name: str) -> Component:
        try:
            return self.components[name]
        except KeyError:
            known = ", ".join(self.components) or "(stack not started)"
            raise UnknownComponent(f"unknown component '{name}' — this stack runs: {known}") from None

    def url(self, name: str) -> str:
        """Base URL of a component: ``http://127.0.0.1:PORT`` (``nats://``/``redis://`` for those)."""
        return self._component(name).url

    def port(self, name: str, port: str | None = None) -> int:
        """A component's main port, or its named port (``stack.port("nats", "monitor")``)."""
        comp = self._component(name)
        return comp.ports[port] if port else comp.port

    def pid(self, name: str) -> int | None:
        """The pid of a component's current process."""
        self._component(name)
        return self.processes[name].pid

    def log_path(self, name: str) -> Path:
        """Where a component's stdout/stderr go."""
        self._component(name)
        return self.processes[name].log_path

    def prometheus(self) -> PrometheusClient:
        """A client for this stack's Prometheus."""
        return PrometheusClient(self.url("prometheus"), timeout=5.0)

    @property
    def prometheus_url(self) -> str:
        """URL of the embedded Prometheus."""
        return self.url("prometheus")

    @property
    def alertmanager_url(self) -> str | None:
        """URL of the embedded Alertmanager (None when the contract has none)."""
        return self.url("alertmanager") if "alertmanager" in self.components else None

    @property
    def controllable(self) -> bool:
        """An embedded stack can kill/stop/pause its components."""
        return True

    # -- process control -------------------------------------------------------------------------
    def _control(self, name: str, action: Callable[[ManagedProcess], None]) -> None:
        self._component(name)
        action(self.processes[name])
        self._write_state(ready=True)

    def kill(self, name: str) -> None:
        """SIGKILL a component (a crash). Bring it back with :meth:`start`."""
        self._control(name, ManagedProcess.kill)

    def stop(self, name: str) -> None:
        """Stop a component cleanly (SIGTERM). Bring it back with :meth:`start`."""
        self._control(name, ManagedProcess.stop)

    def pause(self, name: str) -> None:
        """SIGSTOP a component: it hangs, scrapes of it time out. Undo with :meth:`resume`."""
        self._control(name, ManagedProcess.pause)

    def resume(self, name: str) -> None:
        """SIGCONT a paused component."""
        self._control(name, ManagedProcess.resume)

    def start(self, name: str | None = None, *, wait: bool = True) -> None:
        """Start the whole stack (no name) or bring back one stopped/killed component."""
        if name is None:
            self._start_stack()
            return
        self._control(name, ManagedProcess.start)
        if wait:
            self._wait_components_ready([name], timeout=30.0)

    def restart(self, name: str, *, wait: bool = True) -> None:
        """Stop a component cleanly and start it again on the same port."""
        self._control(name, ManagedProcess.restart)
        if wait:
            self._wait_components_ready([name], timeout=30.0)

    def heal(self, timeout: float = 30.0) -> list[str]:
        """Undo every process fault: resume paused, start exited components; wait until all are ready
        and every target is up again. Returns the names it had to fix."""
        fixed = []
        for name, proc in self.processes.items():
            if proc.paused:
                proc.resume()
                fixed.append(name)
            elif not proc.running():
                proc.start()
                fixed.append(name)
        if fixed:
            self._write_state(ready=True)
            self._wait_components_ready(fixed, timeout=timeout)
        self.started_at = time.monotonic()
        saved = self.startup_timeout
        self.startup_timeout = timeout
        try:
            self._wait_targets_up()
        finally:
            self.startup_timeout = saved
        return fixed

    def status(self) -> list[ComponentStatus]:
        """Each component: pid, port, state and whether its health probe passes now."""
        out = []
        for name, comp in self.components.items():
            proc = self.processes[name]
            if proc.pid is None:
                state, ready, detail = "not started", False, ""
            elif not proc.running():
                state, ready, detail = "exited", False, f"exit status {proc.returncode()}"
            elif proc.paused:
                state, ready, detail = "paused", False, "SIGSTOP"
            else:
                ready, detail = comp.probe()
                state = "running"
            out.append(ComponentStatus(name, proc.pid, comp.port, comp.url, state, ready, detail))
        return out

    def __iter__(self) -> Iterator[str]:
        return iter(self.components)
