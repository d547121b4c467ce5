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
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from obs_tests.clients.prometheus import PrometheusClient
from obs_tests.config.contract import Contract
from obs_tests.config.topology import monitoring_kind
from obs_tests.errors import StackStartError, UnknownComponent, UsageError
from obs_tests.stack.component_status import ComponentStatus, component_status
from obs_tests.stack.components import Component
from obs_tests.stack.load_targets import prune_dead
from obs_tests.stack.process import ManagedProcess, ProcessIdentity, Spawner, environ_copy
from obs_tests.stack.readiness import (
    expected_targets,
    send_warm_up,
    wait_cluster_formed,
    wait_components_ready,
    wait_targets_gone,
    wait_targets_up,
    wait_warm_up_visible,
)
from obs_tests.stack.signal_guard import SignalGuard
from obs_tests.stack.state import (
    ComponentRecord,
    StackRecord,
    default_state_dir,
    new_stack_id,
    reap_stale,
    record_path,
    write_record,
)
from obs_tests.stack.system_under_test import SystemUnderTest, WarmUp, load_system
from obs_tests.stack.timescale import validate_factor
from obs_tests.stack.workdir import make_workdir, prepare_workdir

__all__ = ["ComponentStatus", "EmbeddedStack"]


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
        #: one Prometheus and one Alertmanager, or replicas and a cluster of peers (``stack.topology``)
        self.topology = contract.stack.topology
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
        self._signals = SignalGuard(enabled=handle_signals)
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
        """The components this stack runs, in start order (every Prometheus replica and Alertmanager peer
        of the contract's topology first)."""
        names = self.topology.prometheus_names()
        if self.contract.stack.alertmanager is not None:
            names += self.topology.alertmanager_names()
        names += self.system.service_names if self.system is not None else []
        if self.contract.stack.node_exporter:
            names.append("node-exporter")
        return names

    def _start_stack(self) -> None:
        if not self._closed:
            return
        self._closed = False
        self.started_at = time.monotonic()
        self._signals.install()
        atexit.register(self.close)
        try:
            reap_stale(self.state_dir)
            self._prepare()
            self._mark("prepared")
            self._spawn_all()
            self._mark("spawned")
            self._wait_components_ready()
            self._mark("components_ready")
            if self.topology.alertmanager_peers > 1 and self.alertmanager_urls:
                wait_cluster_formed(self.alertmanager_urls, timeout=self._remaining(), stop=self._aborting)
                self._mark("cluster_formed")
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
        # the workdir first: whatever fails next, close() removes it
        self.workdir = make_workdir(self._requested_workdir)
        prepared = prepare_workdir(
            self.contract,
            self.system,
            self.component_names(),
            self.workdir,
            time_scale=self.time_scale,
            seed=self._seed,
        )
        self.load_targets, self.rule_files = prepared.load_targets, prepared.rule_files
        self.components = prepared.components
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
        wait_components_ready(
            self.processes,
            self.components,
            names or self.processes,
            timeout=timeout if timeout is not None else self._remaining(),
            stop=self._aborting,
        )

    def _wait_targets_up(self) -> None:
        expected = expected_targets(self.contract)
        for url in self.prometheus_urls:  # every replica scrapes every target
            wait_targets_up(
                PrometheusClient(url, timeout=5.0), expected, timeout=self._remaining(), stop=self._aborting
            )

    def _send_warm_up(self) -> WarmUp | None:
        return send_warm_up(self.system, self.components, self._seed, self.log_path("prometheus").parent)

    def _wait_warm_up_visible(self, warm: WarmUp) -> None:
        wait_warm_up_visible(self.prometheus(), warm, timeout=self._remaining(), stop=self._aborting)

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
        self._signals.quiet()
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
                self._signals.restore()
            finally:
                self._closer = None
                self._close_done.set()

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

    def config_file(self, name: str) -> Path:
        """The configuration file of Prometheus replica ``name`` (``config/<name>.yml`` in the workdir)."""
        self._component(name)
        if monitoring_kind(name) != "prometheus":
            raise UsageError(
                f"'{name}' has no configuration obs-tests can break — name a Prometheus replica: "
                + ", ".join(self.topology.prometheus_names())
            )
        return self.workdir / "config" / f"{name}.yml"

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
        """URL of the embedded Alertmanager (None when the contract has none); of its first peer in HA."""
        return self.url("alertmanager") if "alertmanager" in self.components else None

    @property
    def prometheus_urls(self) -> list[str]:
        """URL of every Prometheus replica (one in the single topology)."""
        return [self.url(n) for n in self.topology.prometheus_names() if n in self.components]

    @property
    def alertmanager_urls(self) -> list[str]:
        """URL of every Alertmanager peer (none without an Alertmanager)."""
        return [self.url(n) for n in self.topology.alertmanager_names() if n in self.components]

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
        """Undo every process fault: resume paused, start exited components; drop the load-job targets of
        Locust processes that are gone; wait until all are ready, the Alertmanager peers one mesh again and
        every target up. Returns the names of the components it had to fix."""
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
        gone = prune_dead(self.load_targets) if self.load_targets is not None else []
        if gone:  # Locust processes killed before they removed their entry: no target DOWN left behind
            wait_targets_gone(self.prometheus(), "load", gone, timeout=timeout, stop=self._aborting)
        self.started_at = time.monotonic()
        saved = self.startup_timeout
        self.startup_timeout = timeout
        try:
            # a peer started or resumed, or one that was away: until they are one mesh again, a peer may
            # count itself first and notify what another notifies too
            if self.topology.alertmanager_peers > 1 and self.alertmanager_urls:
                wait_cluster_formed(self.alertmanager_urls, timeout=timeout, stop=self._aborting)
            self._wait_targets_up()
        finally:
            self.startup_timeout = saved
        return fixed

    def status(self) -> list[ComponentStatus]:
        """Each component: pid, port, state and whether its health probe passes now."""
        return [component_status(name, comp, self.processes[name]) for name, comp in self.components.items()]

    def __iter__(self) -> Iterator[str]:
        return iter(self.components)
