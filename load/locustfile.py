"""Locust load for the mock trading gateway (``POST /webhook/tradingview``).

Run it as Locust users know it::

    locust -f load/locustfile.py --host http://127.0.0.1:PORT                      # web UI
    locust -f load/locustfile.py --headless -u 50 -r 50 -t 20s --host http://127.0.0.1:PORT
    locust -f load/locustfile.py,load/shapes/spike.py --headless --host …          # with a load shape
    locust -f load/locustfile.py --headless -T signals …                           # only the `signals` task

User class ``SignalUser`` (FastHttpUser). Tasks, by tag:

- ``signals`` — realistic trading signals (varied instruments, actions, confidence), each with a fresh
  ``X-Correlation-ID``; with probability ``--malformed-ratio`` the payload is malformed instead (empty,
  not JSON, not an object, missing/unknown/null fields, wrong types, out of range). A malformed payload
  MUST come back 400 — that is a *success* of the task; anything else is a failure.
- ``burst`` — one sender fires ``--burst-size`` valid signals back to back (a strategy flipping on a
  fast market), weight 1 against 20 for ``signals``.

``--malformed-ratio 1`` makes every user a broken sender (only malformed payloads).

Request names (Locust's stats rows, and the accounting): ``signal`` (valid), ``malformed:<kind>``.

Options (also as env vars): ``--malformed-ratio`` (OBS_MALFORMED_RATIO, default 0.05), ``--burst-size``
(OBS_BURST_SIZE, 20), ``--think-time`` seconds between tasks per user (OBS_THINK_TIME, 0),
``--max-requests`` (OBS_MAX_REQUESTS: stop after that many requests),
``--metrics-port`` (OBS_LOCUST_METRICS_PORT; 0 any free port, the default; -1 off): the load's own
Prometheus metrics (``load/metrics.py``), announced for scraping to the obs-tests stack serving ``--host``
(or in the file named by OBS_LOAD_TARGETS_FILE): a run by hand shows up in job ``load`` and on the load
dashboard.

At the end of a run it prints the load report (``load/report.py``): per request name the success rate,
average, median, p95, p99 and max response time and requests/s, next to what the gateway's latency
histogram counted over the same window; ``--load-report PATH`` (OBS_LOAD_REPORT) also writes it as JSON,
``--report-prometheus URL|off`` (OBS_LOAD_REPORT_PROMETHEUS) says where that histogram is read.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, events, tag, task
from locust.runners import MasterRunner, WorkerRunner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from load import metrics, report
from obs_tests.demo.traffic import INVALID_KINDS, invalid_signal, valid_signal

WEBHOOK = "/webhook/tradingview"
VALID = "signal"


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument(
        "--malformed-ratio",
        type=float,
        default=0.05,
        env_var="OBS_MALFORMED_RATIO",
        include_in_web_ui=True,
        help="share of malformed payloads sent by the `signals` task",
    )
    parser.add_argument(
        "--burst-size",
        type=int,
        default=20,
        env_var="OBS_BURST_SIZE",
        include_in_web_ui=True,
        help="signals per burst of the `burst` task",
    )
    parser.add_argument(
        "--max-requests",
        type=int,
        default=0,
        env_var="OBS_MAX_REQUESTS",
        help="stop after this many requests (per process; 0: no limit) — for exact volumes",
    )
    parser.add_argument(
        "--think-time",
        type=float,
        default=0.0,
        env_var="OBS_THINK_TIME",
        include_in_web_ui=True,
        help="seconds each user waits between tasks",
    )
    metrics.add_options(parser)
    report.add_options(parser)


_sent: dict[str, Any] = {"count": 0}


@events.init.add_listener
def _remember(environment: Any, **_: Any) -> None:
    _sent["environment"] = environment


# Distributed runs: every request a worker made reaches the master's final stats.
#
# A worker reports its stats every 3 s, and once more when the master says ``quit`` — but on its
# ``--run-time`` limit (or SIGTERM) the master sends ``quit`` and waits only 0.5 s for those last reports,
# while each worker first lets its users finish their tasks. On a busy machine the requests of a worker's
# final seconds went missing from the totals. So before the master quits, it asks every worker to stop
# and report, and waits (up to ``--stop-timeout`` + 30 s) until each has answered.
_FLUSH, _FLUSHED = "obs_flush", "obs_flushed"
_flushed: set[str] = set()


@events.init.add_listener
def _register_flush(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.register_message(_FLUSH, _stop_and_report)
    elif isinstance(runner, MasterRunner):
        runner.register_message(_FLUSHED, lambda environment, msg, **_: _flushed.add(msg.node_id))


def _stop_and_report(environment: Any, msg: Any, **_: Any) -> None:
    """Worker: stop the users (they finish their task; ``test_stop`` reports the stats), then answer."""
    environment.runner.stop()
    environment.runner.send_message(_FLUSHED)


@events.test_stop.add_listener
def _report_final_stats(environment: Any, **_: Any) -> None:
    """Worker: report the stats of the final seconds now; the report reaches the master before anything
    the worker sends after it (one ordered connection). Master: collect every worker's final report."""
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        data: dict[str, Any] = {}
        environment.events.report_to_master.fire(client_id=runner.client_id, data=data)
        runner.send_message("stats", data)
    elif isinstance(runner, MasterRunner):
        workers = {client.id for client in runner.clients.all}
        _flushed.clear()
        for worker in workers:
            runner.send_message(_FLUSH, client_id=worker)
        deadline = time.monotonic() + float(environment.stop_timeout or 0) + 30.0
        while not workers <= _flushed and time.monotonic() < deadline:
            gevent.sleep(0.05)


# after the listener above: the master's report counts the workers' final requests
events.test_stop.add_listener(report.report_at_stop)


@events.request.add_listener
def _count(**_: Any) -> None:
    """Marks the first request sent; with --max-requests, stops once that many requests were sent (users
    finish their current task)."""
    _sent["count"] += 1
    if _sent["count"] == 1 and (marker := os.environ.get("OBS_LOAD_SENDING_FILE")):
        # obs-tests waits for this file: the load (and a load fault) starts with the first request sent,
        # not when the Locust process was spawned (importing Locust takes 1-3 s on a busy machine).
        with open(marker, "a"):
            pass
    environment = _sent.get("environment")
    limit = int(getattr(environment.parsed_options, "max_requests", 0) or 0) if environment else 0
    if limit and _sent["count"] == limit:
        # Locust's own graceful shutdown (users finish their task, stats are written) is its SIGTERM handler.
        os.kill(os.getpid(), signal.SIGTERM)


def _headers() -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Correlation-ID": uuid.uuid4().hex}


class _GatewayUser(FastHttpUser):
    abstract = True

    def wait_time(self) -> float:
        return float(self.environment.parsed_options.think_time) if self.environment.parsed_options else 0.0

    def on_start(self) -> None:
        self.rng = random.Random()

    def send_valid(self) -> None:
        body = valid_signal(self.rng)
        with self.client.post(WEBHOOK, data=body, headers=_headers(), name=VALID, catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"valid signal answered {resp.status_code}: {resp.text[:200] if resp.text else ''}")

    def send_malformed(self, kind: str | None = None) -> None:
        kind = kind or self.rng.choice(list(INVALID_KINDS))
        body = invalid_signal(self.rng, kind)
        name = f"malformed:{kind}"
        with self.client.post(WEBHOOK, data=body, headers=_headers(), name=name, catch_response=True) as resp:
            if resp.status_code == 400:
                resp.success()  # rejecting a malformed payload is the right answer
            else:
                resp.failure(f"malformed payload ({kind}) answered {resp.status_code}, expected 400")


class SignalUser(_GatewayUser):
    """TradingView-style senders: valid signals, a share of malformed ones, occasional bursts."""

    weight = 10

    @tag("signals")
    @task(20)
    def signal(self) -> None:
        ratio = float(self.environment.parsed_options.malformed_ratio) if self.environment.parsed_options else 0.0
        if self.rng.random() < ratio:
            self.send_malformed()
        else:
            self.send_valid()

    @tag("burst")
    @task(1)
    def burst(self) -> None:
        size = int(self.environment.parsed_options.burst_size) if self.environment.parsed_options else 20
        for _ in range(size):
            self.send_valid()
