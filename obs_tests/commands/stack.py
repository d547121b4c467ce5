"""``obs-tests up | status | down``: run the embedded stack by hand."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

from obs_tests.commands.options import (
    GroupedCommand,
    GroupedOption,
    contract_option,
    output_format_option,
    state_dir_option,
    time_scale_option,
)
from obs_tests.contract import load_contract
from obs_tests.errors import StackStartError
from obs_tests.stack.embedded import EmbeddedStack
from obs_tests.stack.state import (
    ComponentRecord,
    StackRecord,
    default_state_dir,
    list_records,
    reap_record,
    reap_stale,
    wait_owner_exit,
)

__all__ = ["down", "status", "up"]


def _component_state(comp: ComponentRecord) -> tuple[str, bool]:
    """(state, up) of a recorded component, from /proc and a TCP connect to its port."""
    ident = comp.identity()
    if ident is None or not ident.alive():
        return "exited", False
    try:
        stat = Path(f"/proc/{ident.pid}/stat").read_text()
        code = stat[stat.rfind(")") + 2 :].split()[0]
    except OSError:
        return "exited", False
    if code in ("T", "t"):
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
    return all_up


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
    type=float,
    default=None,
    envvar="OBS_STARTUP_TIMEOUT",
    help="Seconds to wait for the stack to be ready [default: the contract's startup_timeout].",
)
@time_scale_option
@click.option("--workdir", hidden=True, type=click.Path(path_type=Path), default=None)
def up(
    contract_path: Path,
    state_dir: Path | None,
    detach: bool,
    no_warm_up: bool,
    timeout: float | None,
    time_scale: float | None,
    workdir: Path | None,
) -> None:
    """Start the embedded stack (foreground until Ctrl-C, or --detach).

    \b
    Example:
      obs-tests up --detach && obs-tests status && obs-tests down
    """
    contract = load_contract(contract_path)
    states = state_dir or default_state_dir()
    if detach:
        _up_detached(contract_path, states, no_warm_up, timeout, time_scale)
        return
    stack = EmbeddedStack(
        contract,
        state_dir=states,
        warm_up=not no_warm_up,
        detached=workdir is not None,
        origin="up",
        workdir=workdir,
        remove_workdir=True,
        startup_timeout=timeout,
        time_scale=time_scale or contract.stack.time_scale,
    )
    with stack:
        record = next((r for r in list_records(states) if r.id == stack.id), None)
        elapsed = stack.ready_at - stack.started_at
        click.echo(f"stack ready in {elapsed:.1f}s — Prometheus {stack.prometheus_url}")
        if record is not None:
            _print_record(record)
        if workdir is None:
            click.echo("Press Ctrl-C to stop.")
        sys.stdout.flush()
        while True:
            signal.pause()


def _up_detached(
    contract_path: Path, states: Path, no_warm_up: bool, timeout: float | None, time_scale: float | None
) -> None:
    reap_stale(states)
    workdir = Path(tempfile.mkdtemp(prefix="obs-tests-stack-"))
    log_path = workdir / "up.log"
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
    ]
    if no_warm_up:
        argv.append("--no-warm-up")
    if timeout is not None:
        argv += ["--timeout", str(timeout)]
    if time_scale is not None:
        argv += ["--time-scale", str(time_scale)]
    with log_path.open("ab") as log:
        child = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    limit = (timeout or load_contract(contract_path).stack.startup_timeout) + 15.0
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if child.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-12:] if log_path.exists() else []
            raise StackStartError(
                f"the background stack exited with status {child.returncode} during start-up:\n" + "\n".join(tail)
            )
        record = next((r for r in list_records(states) if r.owner_pid == child.pid), None)
        if record is not None and record.ready:
            click.echo(f"stack {record.id} ready (supervisor pid {child.pid}, log {log_path})")
            _print_record(record)
            return
        time.sleep(0.1)  # poll spacing while the background stack starts
    child.terminate()
    raise StackStartError(f"the background stack was not ready within {limit:.0f}s; see {log_path}")


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
    type=float,
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
