"""What every mock service shares: options, ``/healthz``, ``/metrics``, ``/admin/faults``, lifecycle, serving.

A service subclasses :class:`Service`, registers its metrics on ``self.exposition.registry`` and its
routes on ``self.router``, starts its background work in :meth:`Service.start` (never blocking: the
HTTP server must answer at once) and reports its dependencies in :meth:`Service.health`.
:func:`serve` runs it under uvicorn (uvloop + httptools) until SIGTERM/SIGINT, then stops it within
well under a second: hung work units are released, background tasks cancelled, NATS drained.
uvicorn runs the service's :class:`~obs_tests.demo.http_connection.HttpProtocol` (one write per response, no
ASGI messages per request); a service with a log line per request uses :class:`BufferedJsonLogger`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import orjson
import uvicorn
import uvloop

from obs_tests.demo import corruptions
from obs_tests.demo.fault_modes import FaultState
from obs_tests.demo.http import AdminGuard, App, Router
from obs_tests.demo.http_connection import http_protocol
from obs_tests.demo.http_messages import Request, Response, json_response
from obs_tests.demo.logs import LEVELS, JsonLogger
from obs_tests.demo.service_metrics import CONTENT_TYPE, Exposition
from obs_tests.errors import FaultsInvalid

__all__ = ["BufferedJsonLogger", "CommonOptions", "Service", "serve"]

_WARNING: Final = LEVELS["WARNING"]
_MAX_BUFFERED_LINES: Final = 1024


class BufferedJsonLogger(JsonLogger):
    """A :class:`JsonLogger` for hot paths: lines are written once per event-loop iteration.

    DEBUG and INFO lines logged while the loop runs are collected and written together by a callback
    the loop runs right after the current batch of ready work (microseconds later: the lines still
    reach the log file at once for anyone reading it, but a burst of requests finishing together costs
    one ``write`` instead of one each). WARNING and ERROR lines, a full buffer, and any line logged
    without a running loop are written at once, after what is buffered (order is kept). The timestamp
    is formatted once per second.
    """

    __slots__ = ("_lines", "_second", "_stamp")

    def __init__(self, component: str, level: str = "INFO", fd: int = 1) -> None:
        super().__init__(component, level, fd)
        self._lines: list[bytes] = []
        self._second = -1
        self._stamp = ""

    def log(self, level: str, msg: str, **fields: Any) -> None:
        """Buffer one line at ``level`` (see the class doc for when it is written)."""
        rank = LEVELS[level]
        if rank < self._threshold:
            return
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        record = {
            "ts": f"{self._stamp}.{int((now - second) * 1000):03d}Z",
            "level": level,
            "component": self.component,
            "msg": msg,
        }
        record.update(fields)
        lines = self._lines
        lines.append(orjson.dumps(record, default=str, option=orjson.OPT_APPEND_NEWLINE))
        if rank < _WARNING and len(lines) < _MAX_BUFFERED_LINES:
            if len(lines) > 1:
                return  # a flush is already scheduled
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:
                pass  # no running loop: write now
            else:
                return
        self.flush()

    def flush(self) -> None:
        """Write every buffered line now (a closed or full stdout never breaks the service)."""
        lines = self._lines
        if not lines:
            return
        data = memoryview(b"".join(lines))
        lines.clear()
        try:
            while data:
                data = data[os.write(self._fd, data) :]
        except OSError:
            pass


@dataclass(frozen=True)
class CommonOptions:
    """The options every service takes (``--host``, ``--port``, ``--nats-url`` …)."""

    port: int
    host: str = "127.0.0.1"
    nats_url: str = "nats://127.0.0.1:4222"
    log_level: str = "INFO"
    admin_allow: tuple[str, ...] = ("127.0.0.0/8", "::1")
    seed: int | None = None


class Service:
    """Base of every mock service: common routes, fault state, metrics, logs and task handling."""

    component = "service"
    log_class: ClassVar[type[JsonLogger]] = JsonLogger
    """The logger of the service (:class:`BufferedJsonLogger` for one with a log line per request)."""

    def __init__(self, options: CommonOptions) -> None:
        self.options = options
        self.log = self.log_class(self.component, options.log_level)
        self.faults = FaultState(options.seed)
        self.exposition = Exposition()
        self.exposition.hooks.append(self._corrupt)
        self.registry = self.exposition.registry
        self.router = Router()
        self.admin = AdminGuard(options.admin_allow)
        self._tasks: list[asyncio.Task[Any]] = []
        self.router.add("GET", "/healthz", self._healthz)
        self.router.add("GET", "/metrics", self._metrics)
        faults = self.admin.wrap(self._faults)
        for method in ("GET", "PUT", "PATCH", "DELETE"):
            self.router.add(method, "/admin/faults", faults)

    # -- lifecycle -------------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``coro`` in the background until :meth:`stop`; a crash is logged, not swallowed silently."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        task.add_done_callback(self._task_done)
        self._tasks.append(task)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.log.error("background task crashed", task=task.get_name(), error=repr(task.exception()))

    async def start(self) -> None:
        """Start background work (connect, consume, tick); must return at once."""
        self.log.info("starting", port=self.options.port)

    async def stop(self) -> None:
        """Release hung work, cancel background tasks and wait (bounded) for them."""
        self.faults.release()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=0.3)
        self.log.info("stopped")

    def health(self) -> tuple[bool, dict[str, Any]]:
        """``(healthy, details)`` for ``/healthz``; details name each dependency's state."""
        return True, {}

    def app(self) -> App:
        """The ASGI application of this service."""
        return App(self.router, log=self.log, on_startup=self.start, on_shutdown=self.stop)

    # -- common routes ---------------------------------------------------------------------------

    async def _healthz(self, request: Request) -> Response:
        healthy, details = self.health()
        doc = {"status": "ok" if healthy else "degraded", "component": self.component, **details}
        return json_response(doc, 200 if healthy else 503)

    async def _metrics(self, request: Request) -> Response:
        delay = self.faults.metrics_delay_seconds
        if delay > 0:
            await asyncio.sleep(delay)
        await self.before_scrape()
        return Response(200, self.exposition.render(), CONTENT_TYPE)

    def _corrupt(self, text: bytes) -> bytes:
        names = self.faults.exposition
        return corruptions.apply(text, names) if names else text

    async def before_scrape(self) -> None:
        """Hook run before each ``/metrics`` rendering (the NATS exporter queries NATS here)."""

    async def _faults(self, request: Request) -> Response:
        if request.method == "GET":
            return json_response(self.faults.to_json())
        if request.method == "DELETE":
            self.faults.clear()
            self.log.info("faults cleared")
            return json_response(self.faults.to_json())
        try:
            doc = orjson.loads(request.body) if request.body else None
        except orjson.JSONDecodeError as exc:
            return json_response({"status": "rejected", "error": f"body is not JSON: {exc}"}, 400)
        try:
            if request.method == "PUT":
                self.faults.replace(doc)
            else:
                self.faults.merge(doc)
        except FaultsInvalid as exc:
            return json_response({"status": "rejected", "error": exc.message}, 400)
        self.log.info("faults set", faults=self.faults.to_json())
        return json_response(self.faults.to_json())


class _UvicornLogBridge(logging.Handler):
    """uvicorn's own (rare) warnings and errors as JSON log lines."""

    def __init__(self, log: JsonLogger) -> None:
        super().__init__(logging.WARNING)
        self.json_log = log

    def emit(self, record: logging.LogRecord) -> None:
        level = "ERROR" if record.levelno >= logging.ERROR else "WARNING"
        self.json_log.log(level, record.getMessage(), source=record.name)


class _Server(uvicorn.Server):
    """uvicorn's server, releasing hung requests as soon as a stop signal arrives."""

    def __init__(self, config: uvicorn.Config, service: Service) -> None:
        super().__init__(config)
        self.service = service

    def handle_exit(self, sig: int, frame: Any) -> None:
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().call_soon_threadsafe(self.service.faults.release)
        super().handle_exit(sig, frame)


async def _serve(service: Service) -> bool:
    app = service.app()
    config = uvicorn.Config(
        app,
        host=service.options.host,
        port=service.options.port,
        loop="uvloop",
        http=http_protocol(app),
        ws="none",
        lifespan="on",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        log_config=None,
        log_level="warning",
        timeout_graceful_shutdown=0.3,  # type: ignore[arg-type]  # annotated int, used as float
        timeout_keep_alive=30,
        backlog=4096,
    )
    server = _Server(config, service)
    await server.serve()
    return bool(server.started)


def serve(service: Service) -> int:
    """Serve ``service`` until SIGTERM/SIGINT; the process exit code (0 clean, 1 could not start)."""
    bridge = _UvicornLogBridge(service.log)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        logger.handlers = [bridge]
        logger.propagate = False
    # uvicorn re-raises the stop signal after its graceful shutdown; a no-op handler makes that a
    # clean return instead of death by signal.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            started = runner.run(_serve(service))
    finally:
        if isinstance(service.log, BufferedJsonLogger):
            service.log.flush()
    return 0 if started else 1
