"""The ``paths`` of the dashboard's OpenAPI document: every endpoint with its parameters and answers, one
function per group of endpoints (the server, scenarios, runs, history and reports, the stream).

Every call builds new dictionaries: a caller may change the document it is given."""

from __future__ import annotations

from typing import Any

from obs_tests.web.runs import TEST_ID_PATTERN

__all__ = ["api_paths"]


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(ref: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


def _bad_request() -> dict[str, Any]:
    return _error("invalid request (the message says which field and why)")


def _not_found() -> dict[str, Any]:
    return _error("no such scenario / run / report")


def _common() -> dict[str, Any]:
    """The answers every endpoint may give: 401 and 403 (see SecurityMiddleware)."""
    return {
        "401": _error("missing or wrong token (only when OBS_DASHBOARD_TOKEN is set)"),
        "403": _error("a request from another origin, or a non-loopback Host on a loopback-bound dashboard"),
    }


def _test_id_param() -> dict[str, Any]:
    return {
        "name": "test_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": TEST_ID_PATTERN},
        "description": "as returned by POST /api/run",
    }


def _server_paths() -> dict[str, Any]:
    """``GET /api/info``."""
    return {
        "/api/info": {
            "get": {
                "operationId": "info",
                "summary": "Version, stack state and time scale, links (Prometheus, Alertmanager, Grafana), active "
                "run, stream position",
                "responses": {"200": _json("#/components/schemas/Info", "the server's state"), **_common()},
            }
        },
    }


def _scenario_paths() -> dict[str, Any]:
    """``GET /api/scenarios`` and ``GET /api/scenarios/{name}``."""
    return {
        "/api/scenarios": {
            "get": {
                "operationId": "listScenarios",
                "summary": "Every scenario file of the scenario directory, validated",
                "responses": {"200": _json("#/components/schemas/ScenarioList", "the scenarios"), **_common()},
            }
        },
        "/api/scenarios/{name}": {
            "get": {
                "operationId": "getScenario",
                "summary": "One scenario: its YAML and its validation error (message and line) if any",
                "parameters": [
                    {
                        "name": "name",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                        "description": "a scenario name (file name without .yaml); paths are refused",
                    }
                ],
                "responses": {
                    "200": _json("#/components/schemas/ScenarioDetail", "the scenario"),
                    "400": _error("not a plain file name (a path, '..', odd characters)"),
                    "404": _not_found(),
                    **_common(),
                },
            }
        },
    }


def _run_paths() -> dict[str, Any]:
    """``POST /api/run``, ``GET /api/status/{test_id}`` and ``POST /api/stop/{test_id}``."""
    return {
        "/api/run": {
            "post": {
                "operationId": "startRun",
                "summary": "Start a scenario run on the dashboard's stack (one at a time)",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunRequest"}}},
                },
                "responses": {
                    "202": _json("#/components/schemas/RunAccepted", "the run started"),
                    "400": _bad_request(),
                    "404": _not_found(),
                    "409": _error("a run is already going on this stack"),
                    "413": _error("request body too large"),
                    "415": _error("the body is not application/json"),
                    "422": _error("the scenario file is invalid (the message names the line and the field)"),
                    **_common(),
                },
            }
        },
        "/api/status/{test_id}": {
            "get": {
                "operationId": "runStatus",
                "summary": "Status, assertions passed/total, alerts with measured times, chaos, log, events",
                "parameters": [_test_id_param()],
                "responses": {
                    "200": _json("#/components/schemas/RunStatus", "the run"),
                    "400": _bad_request(),
                    "404": _not_found(),
                    **_common(),
                },
            }
        },
        "/api/stop/{test_id}": {
            "post": {
                "operationId": "stopRun",
                "summary": "Stop a run: it ends, its faults are reverted; answers once they are",
                "parameters": [_test_id_param()],
                "responses": {
                    "200": _json("#/components/schemas/RunStatus", "the run, stopped (faults_reverted)"),
                    "400": _bad_request(),
                    "404": _not_found(),
                    "409": _error("the run already finished"),
                    **_common(),
                },
            }
        },
    }


def _history_paths() -> dict[str, Any]:
    """``GET /api/runs`` and ``GET /api/report/{test_id}.{format}``."""
    return {
        "/api/runs": {
            "get": {
                "operationId": "listRuns",
                "summary": "Runs, newest first: this server's and those whose reports are in the report directory",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
                    }
                ],
                "responses": {
                    "200": _json("#/components/schemas/RunList", "the runs"),
                    "400": _bad_request(),
                    **_common(),
                },
            }
        },
        "/api/report/{test_id}.{format}": {
            "get": {
                "operationId": "report",
                "summary": "A finished run's report: json, html (self-contained), svg (timeline chart), yml "
                "(promtool recording), events (a trading-bot run's event recording, JSON)",
                "parameters": [
                    _test_id_param(),
                    {
                        "name": "format",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": ["json", "html", "svg", "yml", "events"]},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "the report",
                        "content": {
                            "application/json": {"schema": {"type": "object"}},
                            "text/html": {"schema": {"type": "string"}},
                            "image/svg+xml": {"schema": {"type": "string"}},
                            "application/yaml": {"schema": {"type": "string"}},
                        },
                    },
                    "400": _bad_request(),
                    "404": _not_found(),
                    "409": _error("the run is still going"),
                    **_common(),
                },
            }
        },
    }


def _stream_paths() -> dict[str, Any]:
    """``GET /api/stream`` (SSE, or a WebSocket upgrade) and ``GET /api/stream.schema.json``."""
    return {
        "/api/stream": {
            "get": {
                "operationId": "stream",
                "summary": "Live stream: Server-Sent Events here, or a WebSocket on the same path",
                "description": "Every message is a JSON document valid against /api/stream.schema.json, with a "
                "sequence number (`seq`; the SSE event id). Resume with `since=<last seq>` (or SSE's "
                "Last-Event-ID); without it the stream starts now. A WebSocket upgrade of this path sends the "
                "same messages as text frames, one each, or with `batch=1` every message waiting for the client in "
                "one frame, a JSON document per line (what the page uses: under load, far fewer frames). A "
                "client too far behind the bounded buffer receives one "
                "`overflow` message naming the lost range.",
                "parameters": [
                    {"name": "since", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}},
                    {
                        "name": "test_id",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "pattern": TEST_ID_PATTERN},
                        "description": "only this run's messages (and server-wide ones)",
                    },
                    {
                        "name": "batch",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["0", "1", "false", "true"]},
                        "description": "WebSocket only: 1 sends every message waiting in one text frame, a JSON "
                        "document per line (default 0: a frame per message)",
                    },
                ],
                "responses": {
                    "200": {
                        "description": "the stream",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    "400": _bad_request(),
                    **_common(),
                },
            }
        },
        "/api/stream.schema.json": {
            "get": {
                "operationId": "streamSchema",
                "summary": "The JSON Schema of the stream messages",
                "responses": {
                    "200": {
                        "description": "JSON Schema",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    **_common(),
                },
            }
        },
    }


def api_paths() -> dict[str, Any]:
    """The document's ``paths``, endpoint group by group."""
    return {**_server_paths(), **_scenario_paths(), **_run_paths(), **_history_paths(), **_stream_paths()}
