"""The dashboard's OpenAPI 3.1 document (``GET /api/openapi.json``) and the request schemas the app
validates bodies with — one source for both, so the published contract is the enforced one."""

from __future__ import annotations

import copy
from typing import Any

from obs_tests import __version__
from obs_tests.web.runs import LOAD_PROFILES, TEST_ID_PATTERN
from obs_tests.web.scenario_files import NAME_PATTERN

__all__ = ["RUN_REQUEST_SCHEMA", "openapi_document"]

RUN_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["scenario"],
    "properties": {
        "scenario": {
            "type": "string",
            "pattern": NAME_PATTERN,
            "description": "a name from GET /api/scenarios (the file name, with or without .yaml)",
        },
        "verbose": {"type": "boolean", "default": False, "description": "log every timeline event too"},
        "recording": {
            "type": "boolean",
            "default": False,
            "description": "turn the run into a promtool test file (GET /api/report/{test_id}.yml)",
        },
        "time_scale": {
            "type": ["number", "null"],
            "exclusiveMinimum": 0,
            "maximum": 1,
            "description": "rule time factor; another value than the running stack's restarts the stack at it "
            "[default: the scenario's setup.time_scale, else the server's]",
        },
        "load": {
            "enum": list(LOAD_PROFILES),
            "default": "scenario",
            "description": "scenario: the scenario's setup.load; none; or a fixed Locust load (light 2 users, "
            "nominal 5, heavy 20)",
        },
    },
}

_NUM = {"type": "number"}
_OPT_NUM = {"type": ["number", "null"]}
_STATUS = {"enum": ["running", "passed", "failed", "stopped", "error"]}
_PHASE = {"enum": ["queued", "starting stack", "running", "reporting", "finished"]}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(ref: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "status"],
        "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
    },
    "ScenarioError": {
        "type": ["object", "null"],
        "required": ["message", "line"],
        "properties": {"message": {"type": "string"}, "line": {"type": ["integer", "null"]}},
    },
    "ScenarioSummary": {
        "type": "object",
        "required": ["name", "file", "title", "description", "valid", "error", "must_fire", "faults"],
        "properties": {
            "name": {"type": "string"},
            "file": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "type": {"type": ["string", "null"]},
            "components": {"type": "array", "items": {"type": "string"}},
            "must_fire": {"type": "array", "items": {"type": "string"}},
            "faults": {"type": "array", "items": {"type": "object"}},
            "valid": {"type": "boolean"},
            "error": {"$ref": "#/components/schemas/ScenarioError"},
        },
    },
    "ScenarioDetail": {
        "allOf": [
            {"$ref": "#/components/schemas/ScenarioSummary"},
            {"type": "object", "required": ["yaml"], "properties": {"yaml": {"type": "string"}}},
        ]
    },
    "ScenarioList": {
        "type": "object",
        "required": ["directory", "scenarios"],
        "properties": {
            "directory": {"type": "string"},
            "scenarios": {"type": "array", "items": {"$ref": "#/components/schemas/ScenarioSummary"}},
        },
    },
    "RunRequest": RUN_REQUEST_SCHEMA,
    "RunAccepted": {
        "type": "object",
        "required": ["test_id", "scenario", "status", "status_url", "stream_url"],
        "properties": {
            "test_id": {"type": "string", "pattern": TEST_ID_PATTERN},
            "scenario": {"type": "string"},
            "status": _STATUS,
            "status_url": {"type": "string"},
            "stream_url": {"type": "string"},
            "seq": {"type": "integer"},
        },
    },
    "Chaos": {
        "type": "object",
        "required": ["applied", "reverted", "revert_failed", "active", "faults"],
        "properties": {
            "applied": {"type": "integer"},
            "reverted": {"type": "integer"},
            "revert_failed": {"type": "integer"},
            "active": {"type": "array", "items": {"type": "string"}},
            "faults": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "applied_at", "reverted_at"],
                    "properties": {
                        "name": {"type": "string"},
                        "what": {"type": "string"},
                        "applied_at": _OPT_NUM,
                        "reverted_at": _OPT_NUM,
                    },
                },
            },
            "errors": {"type": "array", "items": {"type": "string"}},
        },
    },
    "AlertRow": {
        "type": "object",
        "required": ["alert", "labels", "state", "pending_at", "firing_at", "resolved_at"],
        "properties": {
            "alert": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "state": {"type": "string"},
            "pending_at": _OPT_NUM,
            "firing_at": _OPT_NUM,
            "resolved_at": _OPT_NUM,
            "expected": {"type": "boolean"},
            "fired_after": _OPT_NUM,
            "notified_after": _OPT_NUM,
            "resolved_after": _OPT_NUM,
            "fire_bound": _OPT_NUM,
            "resolve_bound": _OPT_NUM,
        },
    },
    "Assertion": {
        "type": "object",
        "required": ["name", "passed", "expected", "actual", "message"],
        "properties": {
            "name": {"type": "string"},
            "passed": {"type": "boolean"},
            "expected": {"type": "string"},
            "actual": {"type": "string"},
            "message": {"type": "string"},
        },
    },
    "ReportLinks": {
        "type": ["object", "null"],
        "required": ["json", "html", "svg", "recording"],
        "properties": {
            "json": {"type": "string"},
            "html": {"type": "string"},
            "svg": {"type": "string"},
            "recording": {"type": ["string", "null"]},
        },
    },
    "RunStatus": {
        "type": "object",
        "required": [
            "test_id",
            "scenario",
            "status",
            "phase",
            "duration",
            "assertions_passed",
            "assertions_total",
            "assertions",
            "alerts",
            "chaos",
            "log",
            "events",
            "report",
            "seq",
        ],
        "properties": {
            "test_id": {"type": "string", "pattern": TEST_ID_PATTERN},
            "scenario": {"type": "string"},
            "file": {"type": "string"},
            "status": _STATUS,
            "phase": _PHASE,
            "options": {"type": "object"},
            "time_scale": _OPT_NUM,
            "created_at": _NUM,
            "finished_at": _OPT_NUM,
            "duration": _NUM,
            "scenario_duration": _OPT_NUM,
            "error": {"type": "string"},
            "assertions_passed": {"type": "integer", "minimum": 0},
            "assertions_total": {"type": "integer", "minimum": 0},
            "assertions": {"type": "array", "items": {"$ref": "#/components/schemas/Assertion"}},
            "alerts": {"type": "array", "items": {"$ref": "#/components/schemas/AlertRow"}},
            "chaos": {"$ref": "#/components/schemas/Chaos"},
            "log": {"type": "array", "items": {"type": "object"}},
            "events": {"type": "array", "items": {"type": "object"}},
            "report": {"$ref": "#/components/schemas/ReportLinks"},
            "seq": {"type": "integer", "minimum": 0},
            "stopped": {"type": "boolean"},
            "faults_reverted": {"type": "boolean"},
        },
    },
    "RunList": {
        "type": "object",
        "required": ["seq", "active_run", "runs"],
        "properties": {
            "seq": {"type": "integer"},
            "active_run": {"type": ["string", "null"]},
            "runs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["test_id", "scenario", "status", "duration", "assertions_passed", "assertions_total"],
                    "properties": {
                        "test_id": {"type": "string"},
                        "scenario": {"type": "string"},
                        "status": _STATUS,
                        "created_at": _NUM,
                        "duration": _NUM,
                        "assertions_passed": {"type": "integer"},
                        "assertions_total": {"type": "integer"},
                        "report": {"$ref": "#/components/schemas/ReportLinks"},
                    },
                },
            },
        },
    },
    "Info": {
        "type": "object",
        "required": ["version", "stack", "links", "active_run", "stream", "auth_required"],
        "properties": {
            "version": {"type": "string"},
            "stack": {
                "type": "object",
                "required": ["state", "time_scale", "message", "components"],
                "properties": {
                    "state": {"enum": ["stopped", "starting", "ready", "error"]},
                    "time_scale": _NUM,
                    "message": {"type": "string"},
                    "components": {"type": "array", "items": {"type": "object"}},
                },
            },
            "links": {"type": "object", "additionalProperties": {"type": ["string", "null"]}},
            "default_time_scale": _NUM,
            "load_profiles": {"type": "array", "items": {"type": "string"}},
            "active_run": {"type": ["string", "null"]},
            "stream": {"type": "object"},
            "auth_required": {"type": "boolean"},
        },
    },
}

_TEST_ID_PARAM = {
    "name": "test_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": TEST_ID_PATTERN},
    "description": "as returned by POST /api/run",
}


def _paths() -> dict[str, Any]:
    bad_request = _error("invalid request (the message says which field and why)")
    unauthorized = _error("missing or wrong token (only when OBS_DASHBOARD_TOKEN is set)")
    forbidden = _error("a request from another origin, or a non-loopback Host on a loopback-bound dashboard")
    not_found = _error("no such scenario / run / report")
    common = {"401": unauthorized, "403": forbidden}
    return {
        "/api/info": {
            "get": {
                "operationId": "info",
                "summary": "Version, stack state and time scale, links (Prometheus, Alertmanager, Grafana), active "
                "run, stream position",
                "responses": {"200": _json("#/components/schemas/Info", "the server's state"), **common},
            }
        },
        "/api/scenarios": {
            "get": {
                "operationId": "listScenarios",
                "summary": "Every scenario file of the scenario directory, validated",
                "responses": {"200": _json("#/components/schemas/ScenarioList", "the scenarios"), **common},
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
                    "404": not_found,
                    **common,
                },
            }
        },
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
                    "400": bad_request,
                    "404": not_found,
                    "409": _error("a run is already going on this stack"),
                    "413": _error("request body too large"),
                    "415": _error("the body is not application/json"),
                    "422": _error("the scenario file is invalid (the message names the line and the field)"),
                    **common,
                },
            }
        },
        "/api/status/{test_id}": {
            "get": {
                "operationId": "runStatus",
                "summary": "Status, assertions passed/total, alerts with measured times, chaos, log, events",
                "parameters": [_TEST_ID_PARAM],
                "responses": {
                    "200": _json("#/components/schemas/RunStatus", "the run"),
                    "400": bad_request,
                    "404": not_found,
                    **common,
                },
            }
        },
        "/api/stop/{test_id}": {
            "post": {
                "operationId": "stopRun",
                "summary": "Stop a run: it ends, its faults are reverted; answers once they are",
                "parameters": [_TEST_ID_PARAM],
                "responses": {
                    "200": _json("#/components/schemas/RunStatus", "the run, stopped (faults_reverted)"),
                    "400": bad_request,
                    "404": not_found,
                    "409": _error("the run already finished"),
                    **common,
                },
            }
        },
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
                    "400": bad_request,
                    **common,
                },
            }
        },
        "/api/report/{test_id}.{format}": {
            "get": {
                "operationId": "report",
                "summary": "A finished run's report: json, html (self-contained), svg (timeline chart), yml "
                "(promtool recording)",
                "parameters": [
                    _TEST_ID_PARAM,
                    {
                        "name": "format",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": ["json", "html", "svg", "yml"]},
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
                    "400": bad_request,
                    "404": not_found,
                    "409": _error("the run is still going"),
                    **common,
                },
            }
        },
        "/api/stream": {
            "get": {
                "operationId": "stream",
                "summary": "Live stream: Server-Sent Events here, or a WebSocket on the same path",
                "description": "Every message is a JSON document valid against /api/stream.schema.json, with a "
                "sequence number (`seq`; the SSE event id). Resume with `since=<last seq>` (or SSE's "
                "Last-Event-ID); without it the stream starts now. A WebSocket upgrade of this path sends the "
                "same messages as text frames. A client too far behind the bounded buffer receives one "
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
                ],
                "responses": {
                    "200": {
                        "description": "the stream",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    "400": bad_request,
                    **common,
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
                    **common,
                },
            }
        },
    }


def openapi_document(*, token_required: bool) -> dict[str, Any]:
    """The OpenAPI document of this server (security schemes only when a token is required)."""
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "obs-tests scenario dashboard",
            "version": __version__,
            "description": "Run chaos scenarios on the embedded stack and watch them live. One run at a time. "
            "Errors are JSON: {error, status}.",
        },
        "paths": _paths(),
        "components": {"schemas": copy.deepcopy(_SCHEMAS)},
    }
    if token_required:
        doc["components"]["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "OBS_DASHBOARD_TOKEN"},
            "tokenQuery": {"type": "apiKey", "in": "query", "name": "token", "description": "OBS_DASHBOARD_TOKEN"},
        }
        doc["security"] = [{"bearer": []}, {"tokenQuery": []}]
    return doc
