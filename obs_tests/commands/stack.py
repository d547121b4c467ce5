"""``obs-tests up | status | down``: run the embedded stack by hand."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import click
import psutil

from obs_tests.commands.options import (
    TIMEOUT,
    GroupedCommand,
    GroupedOption,
    contract_option,
    output_format_option,
    state_dir_option,
    time_scale_option,
    topology_option,
)
from obs_tests.config.contract import load_contract, with_topology
from obs_tests.core.interrupts import signals_held_off
from obs_tests.core.waiting import Poll, wait_for
from obs_tests.errors import StackStartError, WaitTimeout
from obs_tests.stack.embedded import EmbeddedStack
from obs_tests.stack.process import ProcessIdentity, outlive_parent, signal_on_parent_death
from obs_tests.stack.state import (
    ComponentRecord,
    StackRecord,
    default_state_dir,
    list_records,
    new_stack_id,
    reap_record,
    reap_stale,
    wait_owner_exit,
    write_record,
)

__all__ = ["down", "status", "up"]

READY_LINE = "stack ready in"


def _component_state(comp: ComponentRecord) -> tuple[str, bool]:
    """(state, up) of a recorded component, from its process status and a TCP connect to its port."""
    ident = comp.identity()
    if ident is None or not ident.alive():
        return "exited", False
    try:
        status = psutil.Process(ident.pid).status()
    except psutil.Error:
        return "exited", False
    if status in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP):
        return "paused", False
    port = next(iter(comp.ports.values()), 0)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3):
            listening = True
    except OSError:
        listening = False
    return ("running" if listening else "starting"), listening


def _print_record(record: StackRecord) -> bool:
    owner = "running" if record.owner().alive() else "gone (stale)"
    kind = "detached" if record.detached else record.origin
    click.echo(
        f"stack {record.id}  owner pid {record.owner_pid} ({owner}, {kind})  ready={record.ready}  "
        f"contract {record.contract}"
    )
    click.echo(f"  {'COMPONENT':<20} {'PID':>8} {'PORT':>6}  {'STATE':<9} {'UP':<4} URL")
    all_up = True
    for comp in record.components.values():
        state, is_up = _component_state(comp)
        all_up &= is_up
        click.echo(
            f"  {comp.name:<20} {comp.pid or '-':>8} {next(iter(comp.ports.values()), 0):>6}  {state:<9} "
            f"{'up' if is_up else 'DOWN':<4} {comp.url}"
        )
    if record.load_targets and (gateway := record.components.get("gateway")):
        click.echo(
            f"  Locust: `locust -f load/locustfile.py --host {gateway.url}` shows up in Prometheus job load and on "
            f"the load dashboard (it announces its metrics in {record.load_targets})"
        )
    return all_up


def _stack_id(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"[0-9a-f]{12}", value):
        raise click.BadParameter(f"{value!r} — 12 hex digits (set by `obs-tests up --detach`)")
    return value


@click.command(cls=GroupedCommand)
@contract_option
@state_dir_option
@click.option(
    "--detach",
    "-d",
    cls=GroupedOption,
    group="Stack",
    is_flag=True,
    envvar="OBS_DETACH",
    help="Start in the background and return once the stack is ready.",
)
@click.option(
    "--no-warm-up",
    cls=GroupedOption,
    group="Stack",
    is_flag=True,
    help="Skip the warm-up signals that prove the pipeline end to end.",
)
@click.option(
    "--timeout",
    cls=GroupedOption,
    group="Stack",
    type=TIMEOUT,
    default=None,
    envvar="OBS_STARTUP_TIMEOUT",
    help="Seconds to wait for the stack to be ready [default: the contract's startup_timeout].",
)
@time_scale_option
@topology_option
@click.option("--workdir", hidden=True, type=click.Path(path_type=Path), default=None)
@click.option("--stack-id", hidden=True, default=None, callback=_stack_id)
def up(
    contract_path: Path,
    state_dir: Path | None,
    detach: bool,
    no_warm_up: bool,
    timeout: float | None,
    time_scale: float | None,
    topology: str | None,
    workdir: Path | None,
    stack_id: str | None,
) -> None:
    """Start the embedded stack (foreground until Ctrl-C, or --detach).

    Interrupted while it starts (Ctrl-C, SIGTERM; also --detach), it aborts the start: every process it
    started is stopped, nothing is left; exit status 128 + the signal (130, 143).

    \b
    Example:
      obs-tests up --detach && obs-tests status && obs-tests down
      obs-tests up --topology ha     # 2 Prometheus replicas, 3 Alertmanager peers in a cluster
    """
    contract = with_topology(load_contract(contract_path), topology)
    states = state_dir or default_state_dir()
    if detach:
        _up_detached(contract_path, states, no_warm_up, timeout, time_scale, topology)
        return
    supervisor = workdir is not None  # the background process of `up --detach`
    stack = EmbeddedStack(
        contract,
        state_dir=states,
        warm_up=not no_warm_up,
        detached=supervisor,
        origin="up",
        workdir=workdir,
        remove_workdir=True,
        startup_timeout=timeout,
        time_scale=time_scale or contract.stack.time_scale,
        stack_id=stack_id,
    )
    try:
        stack.start()
    except KeyboardInterrupt:
        click.echo("up interrupted while the stack was starting: start aborted, every process stopped", err=True)
        raise
    with stack:
        if supervisor:
            outlive_parent()  # ready: from now on the stack runs on after `up --detach` returns
        record = next((r for r in list_records(states) if r.id == stack.id), None)
        elapsed = stack.ready_at - stack.started_at
        click.echo(f"{READY_LINE} {elapsed:.1f}s — Prometheus {stack.prometheus_url}{_shape(stack)}")
        if record is not None:
            _print_record(record)
        if not supervisor:
            click.echo("Press Ctrl-C to stop.")
        sys.stdout.flush()
        while True:
            signal.pause()


def _shape(stack: EmbeddedStack) -> str:
    """`` (ha: 2 Prometheus replicas, 3 Alertmanager peers)`` after the ready line of an HA stack."""
    return f" ({stack.topology.describe()})" if stack.topology.ha else ""


def _up_detached(
    contract_path: Path,
    states: Path,
    no_warm_up: bool,
    timeout: float | None,
    time_scale: float | None,
    topology: str | None,
) -> None:
    """Start a supervisor process for the stack, return once the stack is ready. Interrupted (or failing)
    before that, stop the supervisor and everything it started: an interrupted `up` leaves nothing."""
    reap_stale(states)
    stack_id = new_stack_id()
    workdir = Path(tempfile.mkdtemp(prefix="obs-tests-stack-"))
    log_path = workdir / "up.log"
    _record_handover(states, stack_id, workdir, contract_path)
    argv = _supervisor_argv(contract_path, states, workdir, stack_id, no_warm_up, timeout, time_scale)
    argv += ["--topology", topology] if topology else []
    child: subprocess.Popen[bytes] | None = None
    # a handle of our own on the log: the supervisor removes the workdir (log included) when its start fails
    with log_path.open("ab") as log, log_path.open("rb") as output:
        try:
            child = _start_supervisor(argv, log)
            click.echo(f"starting stack {stack_id} (supervisor pid {child.pid}, log {log_path})")
            sys.stdout.flush()
            record = _wait_detached_ready(child, states, stack_id, output, log_path, contract_path, timeout)
        except BaseException as exc:
            _abort_detached(child, states, stack_id, workdir)
            if isinstance(exc, KeyboardInterrupt):
                click.echo(
                    f"up interrupted while stack {stack_id} was starting: start aborted, every process stopped",
                    err=True,
                )
            raise
    click.echo(f"stack {record.id} ready (supervisor pid {child.pid}, log {log_path})")
    _print_record(record)


def _record_handover(states: Path, stack_id: str, workdir: Path, contract_path: Path) -> None:
    """Record the stack as ours before the supervisor exists (owned by us until it records itself under the
    same id): if both of us die before it could clean up, `obs-tests down` still finds and removes the workdir."""
    me = ProcessIdentity.of(os.getpid())
    assert me is not None
    write_record(
        states,
        StackRecord(
            id=stack_id,
            owner_pid=me.pid,
            owner_start_time=me.start_time,
            workdir=str(workdir),
            contract=str(contract_path),
            started_at=time.time(),
            detached=True,
            origin="up",
        ),
    )


def _supervisor_argv(
    contract_path: Path,
    states: Path,
    workdir: Path,
    stack_id: str,
    no_warm_up: bool,
    timeout: float | None,
    time_scale: float | None,
) -> list[str]:
    """The supervisor's command line: ``obs-tests up`` in the foreground, in ``workdir``, as stack ``stack_id``."""
    argv = [
        sys.executable,
        "-m",
        "obs_tests.cli",
        "up",
        "--contract",
        str(contract_path),
        "--state-dir",
        str(states),
        "--workdir",
        str(workdir),
        "--stack-id",
        stack_id,
    ]
    if no_warm_up:
        argv.append("--no-warm-up")
    if timeout is not None:
        argv += ["--timeout", str(timeout)]
    if time_scale is not None:
        argv += ["--time-scale", str(time_scale)]
    return argv


def _start_supervisor(argv: list[str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    """Start the supervisor in a session of its own, its output to ``log``."""
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C on the terminal reaches us; we stop it in order
        close_fds=True,
        # until the stack is ready: if we die (even SIGKILLed), the supervisor gets SIGTERM and
        # stops what it started
        preexec_fn=signal_on_parent_death(signal.SIGTERM),  # noqa: PLW1509 - async-signal-safe only
    )


def _wait_detached_ready(
    child: subprocess.Popen[bytes],
    states: Path,
    stack_id: str,
    output: IO[bytes],
    log_path: Path,
    contract_path: Path,
    timeout: float | None,
) -> StackRecord:
    limit = (timeout or load_contract(contract_path).stack.startup_timeout) + 15.0
    printed = bytearray()

    def probe() -> Poll[StackRecord | None]:
        printed.extend(output.read())
        if child.poll() is not None:
            printed.extend(output.read())
            tail = printed.decode("utf-8", "replace").strip().splitlines()[-12:]
            raise StackStartError(
                f"the background stack exited with status {child.returncode} during start-up:\n" + "\n".join(tail)
            )
        # handed over once the supervisor says so: it prints this after it stopped depending on us
        if READY_LINE.encode() not in printed:
            return Poll(False, None, "the supervisor has not reported ready yet")
        record = next((r for r in list_records(states) if r.id == stack_id), None)
        ready = record is not None and record.ready and record.owner_pid == child.pid
        return Poll(ready, record, "the stack is not recorded ready")

    try:
        record = wait_for(probe, timeout=limit, interval=0.1, expected="the background stack ready")
    except WaitTimeout:
        raise StackStartError(f"the background stack was not ready within {limit:.0f}s; see {log_path}") from None
    assert record is not None
    return record


def _abort_detached(child: subprocess.Popen[bytes] | None, states: Path, stack_id: str, workdir: Path) -> None:
    """Stop the supervisor (SIGTERM: it stops its components; SIGKILL if it hangs — the kernel then kills
    them), then remove whatever is left: its record, components still alive, the workdir."""
    with signals_held_off():  # a second Ctrl-C must not cut the abort short
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(30.0)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for record in list_records(states):
            if record.id == stack_id:
                reap_record(record)
        shutil.rmtree(workdir, ignore_errors=True)


@click.command(cls=GroupedCommand)
@state_dir_option
@output_format_option
def status(state_dir: Path | None, fmt: str) -> None:
    """Show each running stack: components, pids, ports, up/down.

    \b
    Exit status: 0 every component up · 1 something is down · 3 no stack running.
    """
    records = list_records(state_dir or default_state_dir())
    if fmt == "json":
        out = []
        for record in records:
            data = record.to_json()
            data["owner_alive"] = record.owner().alive()
            for name, comp in record.components.items():
                state, is_up = _component_state(comp)
                data["components"][name].update(state=state, up=is_up)
            out.append(data)
        click.echo(json.dumps(out, indent=2))
        all_up = all(c["up"] for d in out for c in d["components"].values())
    else:
        if not records:
            click.echo("no obs-tests stack is running")
        all_up = True
        for record in records:
            all_up &= _print_record(record)
    if not records:
        sys.exit(3)
    sys.exit(0 if all_up else 1)


@click.command(cls=GroupedCommand)
@state_dir_option
@click.option(
    "--all",
    "everything",
    cls=GroupedOption,
    group="Stack",
    is_flag=True,
    help="Also stop stacks started by other programs (pytest sessions, the Python API).",
)
@click.option(
    "--timeout",
    cls=GroupedOption,
    group="Stack",
    type=TIMEOUT,
    default=20.0,
    show_default=True,
    help="Seconds to wait for a stack's supervisor to shut down before killing it.",
)
def down(state_dir: Path | None, everything: bool, timeout: float) -> None:
    """Stop stacks started by `obs-tests up`, and reap anything a crashed run left behind."""
    states = state_dir or default_state_dir()
    stopped = 0
    for record in reap_stale(states):
        click.echo(f"reaped stale stack {record.id} (owner pid {record.owner_pid} was gone)")
        stopped += 1
    for record in list_records(states):
        if record.origin != "up" and not everything:
            click.echo(f"left stack {record.id} running (owned by pid {record.owner_pid}; use --all)")
            continue
        owner = record.owner()
        if owner.alive():
            os.kill(owner.pid, signal.SIGTERM)
            if not wait_owner_exit(record, timeout):
                os.kill(owner.pid, signal.SIGKILL)
                wait_owner_exit(record, 5.0)
        killed = reap_record(record)
        extra = f", killed {len(killed)} leftover processes" if killed else ""
        click.echo(f"stopped stack {record.id} ({len(record.components)} components{extra})")
        stopped += 1
    if not stopped:
        click.echo("no obs-tests stack is running")
