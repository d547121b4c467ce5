"""The load's own metrics, for Prometheus: what Locust *offered*, next to what the gateway *served*.

On by default (``--metrics-port``, env OBS_LOCUST_METRICS_PORT: ``0`` = any free port, the default;
``-1`` = off). Every process that sends requests (a local run, or each worker) serves ``/metrics`` on 127.0.0.1 (or
OBS_LOCUST_METRICS_ADDR, e.g. ``0.0.0.0`` in a container) with:

- ``locust_requests_total{name, result}`` — requests sent, by Locust request name and success/failure;
- ``locust_request_duration_seconds{name}`` — response times as Locust measured them (histogram with
  the gateway's buckets, so both can be drawn on one panel);
- ``locust_users`` — users running in this process.

The process adds its address to the Prometheus ``file_sd`` file of the embedded stack's job ``load`` on
start and removes it on exit: the file OBS_LOAD_TARGETS_FILE names (empty: announce nowhere), else — a
plain ``locust --host URL`` — that of the running stack (``obs-tests up``, a pytest session, the Python API)
one of whose components serves ``--host``. A run by hand thus shows up in Prometheus and on the load
dashboard without extra flags. With the host given only in the web UI, the address is announced when the
test starts.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from locust import events
from locust.runners import MasterRunner, WorkerRunner
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from obs_tests.stack.load_targets import edit_targets, prune_dead
from obs_tests.stack.state import load_targets_for

__all__ = ["add_options"]

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_state: dict[str, Any] = {}


def add_options(parser: Any) -> None:
    """Register ``--metrics-port`` on Locust's parser."""
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        env_var="OBS_LOCUST_METRICS_PORT",
        help="serve the load's own Prometheus metrics on this port (0: any free port, -1: off) and announce them "
        "to the obs-tests stack serving --host",
    )


@events.init.add_listener
def _start(environment: Any, **_: Any) -> None:
    options = environment.parsed_options
    port = getattr(options, "metrics_port", -1) if options else -1
    if port is None or port < 0 or isinstance(environment.runner, MasterRunner):
        return
    role = "worker" if isinstance(environment.runner, WorkerRunner) else "local"
    registry = CollectorRegistry()
    _state["requests"] = Counter(
        "locust_requests", "Requests Locust sent, by request name and result.", ["name", "result"], registry=registry
    )
    _state["duration"] = Histogram(
        "locust_request_duration_seconds",
        "Response times Locust measured.",
        ["name"],
        buckets=BUCKETS,
        registry=registry,
    )
    users = Gauge("locust_users", "Users running in this Locust process.", registry=registry)
    users.set_function(lambda: float(environment.runner.user_count) if environment.runner else 0.0)
    bind = os.environ.get("OBS_LOCUST_METRICS_ADDR", "127.0.0.1")  # 0.0.0.0 in a container (docker-compose)
    server, _thread = start_http_server(port, addr=bind, registry=registry)
    _state["server"] = server
    _state["entry"] = {
        "targets": [f"127.0.0.1:{server.server_port}"],
        "labels": {"service": f"locust-{role}-{os.getpid()}"},
    }
    _announce(environment)


def _targets_file(environment: Any) -> Path | None:
    given = os.environ.get("OBS_LOAD_TARGETS_FILE")
    if given is not None:
        return Path(given) if given else None
    host = environment.host or getattr(environment.parsed_options, "host", None)
    return load_targets_for(host) if host else None


def _announce(environment: Any) -> None:
    """Add this process' metrics address to the targets file (once; removed again on quit)."""
    if "entry" not in _state or "unannounce" in _state or (path := _targets_file(environment)) is None:
        return
    entry = _state["entry"]
    address = entry["targets"]
    prune_dead(path)  # entries of Locust processes killed before they could remove theirs
    edit_targets(path, lambda entries: [e for e in entries if e["targets"] != address] + [entry])
    _state["unannounce"] = lambda: edit_targets(path, lambda entries: [e for e in entries if e["targets"] != address])


@events.test_start.add_listener
def _announce_at_start(environment: Any, **_: Any) -> None:
    # the host typed into the web UI (or sent to a worker by its master) is known from here on
    _announce(environment)


@events.request.add_listener
def _record(name: str, response_time: float, exception: Any, **_: Any) -> None:
    if "requests" not in _state:
        return
    _state["requests"].labels(name=name, result="failure" if exception else "success").inc()
    _state["duration"].labels(name=name).observe(response_time / 1000.0)


@events.quit.add_listener
def _stop(**_: Any) -> None:
    # Never block (or yield to gevent) here: Locust's shutdown would run a second time meanwhile and
    # overwrite the final stats. The HTTP server thread ends with the process.
    if "unannounce" in _state:
        with contextlib.suppress(OSError):
            _state.pop("unannounce")()
