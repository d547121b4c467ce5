"""``obs-tests serve``: the scenario dashboard (REST API, live stream, page) on :5558."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from obs_tests.clients.base import normalise_url
from obs_tests.commands.options import (
    GroupedCommand,
    GroupedOption,
    Number,
    contract_option,
    report_dir_option,
    time_scale_option,
)
from obs_tests.config.contract import load_contract
from obs_tests.core.interrupts import signals_as_interrupts, signals_held_off
from obs_tests.errors import UsageError
from obs_tests.scenarios.model import Catalog

if TYPE_CHECKING:
    import uvicorn
    from starlette.applications import Starlette

    from obs_tests.web.runs import RunManager

__all__ = ["serve"]

_LEVEL_STYLE: dict[str, dict[str, Any]] = {
    "INFO": {},
    "SUCCESS": {"fg": "green"},
    "WARNING": {"fg": "yellow"},
    "ERROR": {"fg": "red"},
}


def _console() -> Callable[[str, str, str], None]:
    """The server's console echo: a line per run message, in colour on a terminal. Whether it is one is
    asked once: a verbose run logs every bus event, and asking at every line was a tenth of a busy
    server's work."""
    color = sys.stdout.isatty()

    def echo(test_id: str, level: str, message: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        where = f"[{test_id}] " if test_id else ""
        click.secho(f"{stamp} {level:7} {where}{message}", color=color, **_LEVEL_STYLE.get(level, {}))
        sys.stdout.flush()

    return echo


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise UsageError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} — is another dashboard running? use --port "
            "(0 picks a free one)"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@click.command("serve", cls=GroupedCommand)
@contract_option
@time_scale_option
@click.option(
    "--host",
    cls=GroupedOption,
    group="Server",
    envvar="OBS_DASHBOARD_HOST",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but loopback needs OBS_DASHBOARD_TOKEN.",
)
@click.option(
    "--port",
    cls=GroupedOption,
    group="Server",
    envvar="OBS_DASHBOARD_PORT",
    default=5558,
    show_default=True,
    type=Number(int, minimum=0, maximum=65535),
    help="Port to listen on (0: a free one, printed at start).",
)
@click.option(
    "--scenarios",
    "scenarios_dir",
    cls=GroupedOption,
    group="Scenarios",
    envvar="OBS_SCENARIOS_DIR",
    default=None,
    type=click.Path(path_type=Path, file_okay=False),
    help="Scenario directory [default: the contract's files.scenarios].",
)
@report_dir_option(
    "Run reports go to <report-dir>/dashboard/<test_id>/ (and the history is read from there).",
    group="Scenarios",
)
@click.option(
    "--grafana-url",
    cls=GroupedOption,
    group="Server",
    envvar="OBS_GRAFANA_URL",
    default=None,
    help="A Grafana to link to from the page [default: the contract's stack.grafana].",
)
@click.option(
    "--buffer",
    "buffer_size",
    cls=GroupedOption,
    group="Server",
    envvar="OBS_STREAM_BUFFER",
    default=10_000,
    show_default=True,
    type=Number(int, minimum=10, maximum=1_000_000),
    help="Stream messages kept for clients that reconnect.",
)
@click.option(
    "--start-stack/--lazy-stack",
    cls=GroupedOption,
    group="Stack",
    envvar="OBS_DASHBOARD_START_STACK",
    default=True,
    show_default=True,
    help="Start the embedded stack with the server, or at the first run.",
)
def serve(
    contract_path: Path,
    time_scale: float | None,
    host: str,
    port: int,
    scenarios_dir: Path | None,
    report_dir: Path,
    grafana_url: str | None,
    buffer_size: int,
    start_stack: bool,
) -> None:
    """The scenario dashboard: pick a scenario, run it on the embedded stack, watch it live.

    \b
    A page at http://127.0.0.1:5558/, a REST API (OpenAPI at /api/openapi.json) and a live stream
    (WebSocket or SSE at /api/stream, resumable with ?since=<seq>). One run at a time. Binding
    another address than loopback requires OBS_DASHBOARD_TOKEN (sent as Authorization: Bearer).

    \b
    Examples:
      obs-tests serve
      OBS_DASHBOARD_TOKEN=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))') \\
        obs-tests serve --host 0.0.0.0 --port 5558
    """
    from obs_tests.web.app import create_app  # noqa: PLC0415 - the web server's imports only when serving
    from obs_tests.web.security import TOKEN_ENV, check_binding, is_loopback  # noqa: PLC0415

    token = os.environ.get(TOKEN_ENV) or None
    check_binding(host, token)
    grafana_url = normalise_url(grafana_url, "Grafana") if grafana_url else None
    manager, directory = _run_manager(contract_path, scenarios_dir, report_dir, buffer_size, time_scale, grafana_url)
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host.strip('[]')}]" if ":" in host else host
    app = create_app(manager, token=token, loopback_only=is_loopback(host), start_stack=start_stack)
    server = _server(app)
    auth = " (token required)" if token else ""
    click.echo(f"obs-tests dashboard: http://{shown_host}:{bound_port}/{auth}")
    click.echo(
        f"scenarios: {directory} · reports: {report_dir}/dashboard · stack: "
        f"{'starting' if start_stack else 'at the first run'} (time scale {manager.default_scale:g})"
    )
    sys.stdout.flush()
    _run_until_stopped(server, sock, manager)


def _run_manager(
    contract_path: Path,
    scenarios_dir: Path | None,
    report_dir: Path,
    buffer_size: int,
    time_scale: float | None,
    grafana_url: str | None,
) -> tuple[RunManager, Path]:
    """The dashboard's runs (the contract, a stream of ``buffer_size`` messages) and its scenario directory."""
    from obs_tests.web.runs import RunManager  # noqa: PLC0415 - the web server's modules only when serving
    from obs_tests.web.scenario_files import ScenarioFiles  # noqa: PLC0415
    from obs_tests.web.stream import Stream  # noqa: PLC0415

    contract = load_contract(contract_path)
    directory = scenarios_dir or contract.files.scenarios
    if not directory.is_dir():
        raise UsageError(
            f"{directory}: no such scenario directory — use --scenarios or files.scenarios in the contract"
        )
    files = ScenarioFiles(directory, Catalog.from_contract(contract))
    manager = RunManager(
        contract,
        files=files,
        report_dir=report_dir,
        stream=Stream(buffer_size),
        time_scale=time_scale,
        grafana_url=grafana_url,
        echo=_console(),
    )
    return manager, directory


def _server(app: Starlette) -> uvicorn.Server:
    import uvicorn  # noqa: PLC0415 - the server only when serving

    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=3,
        ws_ping_interval=20.0,
        # no permessage-deflate: compressing every message for every client separately was a quarter of
        # a busy server's work; the messages are small and the dashboard listens on loopback by default
        ws_per_message_deflate=False,
        # wsproto: websockets' sans-I/O protocol logs "ASGI callable returned without completing handshake"
        # for every WebSocket refused with an HTTP answer (401/403 and the reason), which wsproto sends cleanly
        ws="wsproto",
        lifespan="on",
    )
    return uvicorn.Server(config)


def _run_until_stopped(server: uvicorn.Server, sock: socket.socket, manager: RunManager) -> None:
    """Serve on ``sock`` until a signal; then close the stream, the runs (and their stack) and the socket."""
    try:
        # SIGINT/SIGTERM: uvicorn shuts down (the lifespan stops the run and the stack), then re-raises
        # the signal to the handler before it — the CLI's, which raises Interrupted: exit 130/143.
        with signals_as_interrupts((signal.SIGINT, signal.SIGTERM)):
            server.run(sockets=[sock])
    finally:
        # ... unless a second Ctrl-C forced the exit: close them here in every case, signals held off
        with signals_held_off():
            manager.stream.close()
            manager.close()
            sock.close()
        click.echo("obs-tests dashboard stopped (stack closed, faults reverted)")
