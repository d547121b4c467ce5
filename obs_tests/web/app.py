"""The dashboard's ASGI application (Starlette): the page, the REST API, the live stream.

Routes (the OpenAPI document at ``/api/openapi.json`` describes each with its errors)::

    GET  /                               the page (static, works offline)
    GET  /api/info                       version, stack, links, active run, stream position
    GET  /api/scenarios                  every scenario, validated
    GET  /api/scenarios/{name}           one scenario's YAML and its validation error (line)
    POST /api/run                        {scenario, verbose, recording, time_scale, load} → 202 {test_id}
    GET  /api/status/{test_id}           status, assertions, alerts, chaos, bot events, log, events
    POST /api/stop/{test_id}             stop; answers once the faults are reverted
    GET  /api/runs                       history, newest first
    GET  /api/report/{test_id}.{fmt}     json | html | svg | yml | events
    GET  /api/stream                     SSE (or a WebSocket upgrade of the same path)

Errors are JSON ``{"error": message, "status": code}``; nothing returns a traceback. Numbers in a request
must be finite (a JSON body with ``NaN`` or ``Infinity``, which Python's json reads, is refused with the
field) and within the range the OpenAPI document states; answers never carry NaN (it would not be JSON).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import sys
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import jsonschema
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from obs_tests.config.validation import Validator, allowed_range, load_schema
from obs_tests.core.yamlfile import redacted, shown
from obs_tests.errors import (
    BadScenarioName,
    InputError,
    ObsTestsError,
    ReportNotReady,
    RequestInvalid,
    RunFinished,
    RunInProgress,
    ScenarioInvalid,
    UnknownRun,
    UnknownScenario,
)
from obs_tests.web.openapi import RUN_REQUEST_SCHEMA, openapi_document
from obs_tests.web.run_state import recording_name_problem
from obs_tests.web.runs import RunManager, RunOptions
from obs_tests.web.security import SecurityMiddleware
from obs_tests.web.stream import Stream

__all__ = ["MAX_BODY_BYTES", "STATIC_DIR", "JSONAnswer", "create_app"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_BODY_BYTES = 64 * 1024
_TEST_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$")
_REPORT = re.compile(r"^(?P<test_id>[^/]+)\.(?P<format>[a-z]+)$")
_HOST = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$")
_RUN_VALIDATOR = Validator(RUN_REQUEST_SCHEMA)
_RANGE_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")

Handler = Callable[[Request], Awaitable[Response]]


def _finite(value: Any) -> Any:
    """``value`` with every NaN/infinite number replaced by null (JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


class JSONAnswer(JSONResponse):
    """A JSON response that stays JSON: a non-finite number (never expected) becomes null, not a 500."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except ValueError:
            return super().render(_finite(content))


def _error(status: int, message: str) -> JSONResponse:
    return JSONAnswer({"error": message, "status": status}, status_code=status)


def _status_of(exc: ObsTestsError) -> int:
    if isinstance(exc, RequestInvalid):
        return exc.status
    if isinstance(exc, BadScenarioName):
        return 400
    if isinstance(exc, (UnknownScenario, UnknownRun)):
        return 404
    if isinstance(exc, ScenarioInvalid):
        return 422
    if isinstance(exc, (RunInProgress, RunFinished)):
        return 409
    if isinstance(exc, ReportNotReady):
        return 409 if exc.running else 404
    if isinstance(exc, InputError):
        return 400
    return 500


def _api(handler: Handler) -> Handler:
    """Map the project's errors to HTTP answers; an unexpected exception is a 500 without details."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ObsTestsError as exc:
            status = _status_of(exc)
            if status == 500:
                return _error(500, f"{type(exc).__name__}: {exc}")
            return _error(status, str(exc))

    return wrapped


def _short(value: Any, limit: int = 300) -> str:
    text = redacted(str(value))
    return text if len(text) <= limit else text[:limit] + "…"


async def _json_body(request: Request) -> Any:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise RequestInvalid(
            f"send the body as application/json (got {_short(ctype or 'no content type', 80)})", status=415
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise RequestInvalid(f"request body of {declared} bytes — at most {MAX_BODY_BYTES}", status=413)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise RequestInvalid(f"request body over {MAX_BODY_BYTES} bytes", status=413)
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise RequestInvalid(f"request body is not valid JSON: {_short(exc, 120)}") from None


def _validate_run_request(body: Any) -> RunOptions:
    recording = body.get("recording") if isinstance(body, dict) else None
    if isinstance(recording, str) and (problem := recording_name_problem(recording)) is not None:
        raise RequestInvalid(f"recording: {problem}")  # said better than the schema's pattern would
    errors = list(_RUN_VALIDATOR.iter_errors(body))
    if errors:
        error = jsonschema.exceptions.best_match(errors)
        where = ".".join(str(p) for p in error.absolute_path) or "body"
        schema = error.schema if isinstance(error.schema, dict) else {}
        value = error.instance
        types = schema.get("type", ())
        numeric = {"number", "integer"} & ({types} if isinstance(types, str) else set(types))
        if isinstance(value, float) and not math.isfinite(value) and error.validator == "type" and numeric:
            problem = f"{shown(value)} is not a finite number"
        elif error.validator in _RANGE_KEYWORDS:
            problem = f"{shown(value)} is out of range"
        else:
            problem = _short(error.message)
        allowed = allowed_range(schema, where) if problem != _short(error.message) else None
        reason = f"allowed: {allowed}" if allowed else "see RunRequest in /api/openapi.json"
        raise RequestInvalid(f"{where}: {problem} — {reason}")
    scale = body.get("time_scale")
    return RunOptions(
        verbose=bool(body.get("verbose", False)),
        recording=recording,
        time_scale=float(scale) if scale is not None else None,
        load=str(body.get("load", "scenario")),
    )


def _int_param(raw: str | None, name: str, minimum: int, maximum: int | None = None) -> int | None:
    if raw is None:
        return None
    # given but empty is no integer (the documented schema says so); isdigit() alone takes '²' and '٣'
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise RequestInvalid(f"{name}: {_short(raw, 40)!r} is not a non-negative integer")
    value = int(raw)
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise RequestInvalid(f"{name}: {value} — must be {bound}")
    return value


def _stream_params(query: Any, last_event_id: str | None) -> tuple[int | None, str | None]:
    since = _int_param(query.get("since"), "since", 0)
    if since is None and last_event_id:
        since = _int_param(last_event_id.strip(), "Last-Event-ID", 0)
    test_id = query.get("test_id") or None
    if test_id is not None and not _TEST_ID.match(test_id):
        raise RequestInvalid(f"test_id: {_short(test_id, 40)!r} — test ids look like 20261122-081618-a1b2c3")
    return since, test_id


def _batch_param(query: Any) -> bool:
    """``batch=1``: a WebSocket frame carries every message waiting, one JSON document per line."""
    value = query.get("batch")
    if value in (None, "0", "false"):
        return False
    if value in ("1", "true"):
        return True
    raise RequestInvalid(f"batch: {_short(value, 20)!r} — use batch=1 (messages batched per frame) or batch=0")


class _Routes:
    """One application's route handlers around its run manager, its route table and its lifespan."""

    def __init__(
        self,
        manager: RunManager,
        *,
        token: str | None,
        start_stack: bool,
        on_shutdown: Callable[[], None] | None,
    ) -> None:
        self.manager = manager
        self.stream = manager.stream
        self.token = token
        self.openapi = openapi_document(token_required=bool(token))
        self.start_stack = start_stack
        self.on_shutdown = on_shutdown

    def table(self) -> list[BaseRoute]:
        """Every route: path, methods, handler (``_api``: the project's errors answered as JSON)."""
        return [
            Route("/", self.page, methods=["GET"]),
            Route("/api/info", _api(self.info), methods=["GET"]),
            Route("/api/scenarios", _api(self.scenarios), methods=["GET"]),
            Route("/api/scenarios/{name:path}", _api(self.scenario), methods=["GET"]),
            Route("/api/run", _api(self.run), methods=["POST"]),
            Route("/api/status/{test_id}", _api(self.status), methods=["GET"]),
            Route("/api/stop/{test_id}", _api(self.stop), methods=["POST"]),
            Route("/api/runs", _api(self.runs), methods=["GET"]),
            Route("/api/report/{file:path}", _api(self.report), methods=["GET"]),
            Route("/api/openapi.json", self.openapi_json, methods=["GET"]),
            Route("/api/stream.schema.json", self.stream_schema, methods=["GET"]),
            Route("/api/stream", _api(self.sse), methods=["GET"]),
            WebSocketRoute("/api/stream", self.websocket),
            Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
        ]

    async def page(self, request: Request) -> Response:
        host = request.headers.get("host", "")
        ws = f" ws://{host} wss://{host}" if _HOST.match(host) else ""
        csp = (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self'{ws}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        )
        return FileResponse(STATIC_DIR / "index.html", headers={"content-security-policy": csp})

    async def info(self, request: Request) -> Response:
        doc = await run_in_threadpool(self.manager.info)
        doc["auth_required"] = bool(self.token)
        return JSONAnswer(doc)

    async def scenarios(self, request: Request) -> Response:
        items = await run_in_threadpool(self.manager.files.summaries)
        return JSONAnswer({"directory": self.manager.files.directory.name, "scenarios": items})

    async def scenario(self, request: Request) -> Response:
        doc = await run_in_threadpool(self.manager.files.preview, request.path_params["name"])
        return JSONAnswer(doc)

    async def run(self, request: Request) -> Response:
        body = await _json_body(request)
        options = _validate_run_request(body)
        started = await run_in_threadpool(self.manager.start, str(body["scenario"]), options)
        return JSONAnswer(
            {
                "test_id": started.test_id,
                "scenario": started.name,
                "status": started.status,
                "status_url": f"/api/status/{started.test_id}",
                "stream_url": f"/api/stream?test_id={started.test_id}",
                "seq": self.stream.seq,
            },
            status_code=202,
        )

    async def status(self, request: Request) -> Response:
        doc = await run_in_threadpool(self.manager.status, request.path_params["test_id"])
        return JSONAnswer(doc)

    async def stop(self, request: Request) -> Response:
        doc = await run_in_threadpool(self.manager.stop, request.path_params["test_id"])
        return JSONAnswer(doc)

    async def runs(self, request: Request) -> Response:
        limit = _int_param(request.query_params.get("limit"), "limit", 1, 500) or 100
        return JSONAnswer(await run_in_threadpool(self.manager.runs, limit))

    async def report(self, request: Request) -> Response:
        match = _REPORT.match(request.path_params["file"])
        if match is None or not _TEST_ID.match(match.group("test_id")):
            raise RequestInvalid(
                "reports are /api/report/<test_id>.<json|html|svg|yml|events>, e.g. 20261122-081618-a1b2c3.json"
            )
        content, media_type = await run_in_threadpool(
            self.manager.report, match.group("test_id"), match.group("format")
        )
        headers = {}
        if media_type.startswith(("text/html", "image/svg")):
            headers["content-security-policy"] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
        return Response(content, media_type=media_type, headers=headers)

    async def openapi_json(self, request: Request) -> Response:
        return JSONAnswer(self.openapi)

    async def stream_schema(self, request: Request) -> Response:
        return JSONAnswer(load_schema("stream"))

    async def sse(self, request: Request) -> Response:
        since, test_id = _stream_params(request.query_params, request.headers.get("last-event-id"))
        return StreamingResponse(
            _sse_events(self.stream, since, test_id),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    async def websocket(self, ws: WebSocket) -> None:
        try:
            since, test_id = _stream_params(ws.query_params, None)
            batch = _batch_param(ws.query_params)
        except RequestInvalid as exc:
            await ws.close(code=1008, reason=exc.message[:120])
            return
        await ws.accept()
        await _until_first_done(_pump(ws, self.stream, since, test_id, batch=batch), _watch_disconnect(ws))
        with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
            await ws.close(code=1001)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        if self.start_stack:
            self.manager.start_stack()
        try:
            yield
        finally:
            self.stream.close()
            await run_in_threadpool(self.manager.close)
            if self.on_shutdown is not None:
                self.on_shutdown()


async def _sse_events(stream: Stream, since: int | None, test_id: str | None) -> AsyncIterator[bytes]:
    """The stream as Server-Sent Events: a retry hint, then each message with its seq as the event id —
    every message waiting for the client in one chunk."""
    yield b"retry: 1000\n\n"
    async with contextlib.aclosing(stream.batches(since, test_id)) as batches:
        async for batch in batches:
            if batch is None:
                yield b": keep-alive\n\n"
                continue
            yield b"".join(b"id: %d\ndata: %s\n\n" % (seq, raw) for seq, raw in batch)


async def _pump(ws: WebSocket, stream: Stream, since: int | None, test_id: str | None, *, batch: bool) -> None:
    """Send the stream's messages to ``ws``: a text frame each, or with ``batch`` every message waiting for
    the client in one frame, a line each (keep-alives are the WebSocket's pings)."""
    async with contextlib.aclosing(stream.batches(since, test_id)) as batches:
        async for waiting in batches:
            if not waiting:
                continue
            if batch:
                await ws.send_text(b"\n".join(raw for _, raw in waiting).decode())
                continue
            for _, raw in waiting:
                await ws.send_text(raw.decode())


async def _watch_disconnect(ws: WebSocket) -> None:
    """Return when the client disconnects (what it sends is ignored)."""
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return


async def _until_first_done(*coroutines: Coroutine[Any, Any, None]) -> None:
    """Run ``coroutines`` until one ends, then cancel the others and wait for them to end."""
    tasks = [asyncio.create_task(c) for c in coroutines]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError, OSError):
                await task


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error(exc.status_code, str(exc.detail))


async def _server_error(request: Request, exc: Exception) -> Response:
    traceback.print_exception(exc, file=sys.stderr)
    return _error(500, "internal error (the server's log has the details)")


def create_app(
    manager: RunManager,
    *,
    token: str | None = None,
    loopback_only: bool = True,
    start_stack: bool = True,
    on_shutdown: Callable[[], None] | None = None,
) -> Starlette:
    """The dashboard application around ``manager`` (see the module docstring)."""
    routes = _Routes(manager, token=token, start_stack=start_stack, on_shutdown=on_shutdown)
    return Starlette(
        routes=routes.table(),
        middleware=[Middleware(SecurityMiddleware, token=token, loopback_only=loopback_only)],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        lifespan=routes.lifespan,
    )
