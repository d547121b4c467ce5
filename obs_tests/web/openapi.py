"""The dashboard's OpenAPI 3.1 document (``GET /api/openapi.json``) and the request schemas the app
validates bodies with — one source for both, so the published contract is the enforced one."""

from __future__ import annotations

import copy
from typing import Any

from obs_tests import __version__
from obs_tests.chaos.faults import CHAOS_COUNTERS
from obs_tests.web.openapi_paths import api_paths
from obs_tests.web.run_state import RECORDING_NAME_MAX, RECORDING_NAME_PATTERN
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
        "verbose": {
            "type": "boolean",
            "default": False,
            "description": "log every timeline event (alert, notification, fault, revert, step) and every bus "
            "event of a trading-bot scenario as it arrives",
        },
        "recording": {
            "type": ["boolean", "string", "null"],
            "pattern": RECORDING_NAME_PATTERN,  # pattern and maxLength: for a string only
            "maxLength": RECORDING_NAME_MAX,
            "default": None,
            "description": "null: as the scenario says (its setup.recording); false: record nothing, even what "
            "the scenario asks for; true: record — a scenario with must_fire alerts as a promtool test "
            "(GET /api/report/{test_id}.yml), a trading-bot scenario's bus events to its setup.recording.output, "
            "else recordings/{scenario_name}.json (GET /api/report/{test_id}.events); a file name (no "
            "directory, ending .json, {scenario_name} substituted): a trading-bot scenario's bus events to "
            "recordings/<name>. Recordings are written under the run's directory, "
            "<report-dir>/dashboard/<test_id>/, never outside it",
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
_COUNT = {"type": "integer", "minimum": 0}
_BOT_RUN = {
    "type": ["object", "null"],
    "description": "a trading-bot run's recorded bus events and what event chaos did (null: no bot events); "
    "sampled while it runs (live), from its report once it ended",
    "required": ["live", "events", "chaos", "exchange", "recording"],
    "properties": {
        "live": {"type": "boolean"},
        "events": {
            "type": "object",
            "required": ["total", "by_name", "cycles", "missing", "missing_total", "corrupted"],
            "properties": {
                "total": _COUNT,
                "by_name": {"type": "object", "additionalProperties": _COUNT},
                "cycles": _COUNT,
                "missing": {"type": "object", "additionalProperties": _COUNT, "description": "lost, by name"},
                "missing_total": _COUNT,
                "corrupted": _COUNT,
            },
        },
        "chaos": {
            "type": "object",
            "required": list(CHAOS_COUNTERS),
            "properties": {key: {"type": "number", "minimum": 0} for key in CHAOS_COUNTERS},
        },
        "exchange": {"type": ["object", "null"], "description": "min_price, max_price, total_return_pct"},
        "recording": {"type": ["string", "null"], "description": "the event recording, in the run's directory"},
    },
}


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
    "BotRun": _BOT_RUN,
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
            "recording": {"type": ["string", "null"], "description": "the promtool recording"},
            "events": {"type": ["string", "null"], "description": "the event recording of a trading-bot run"},
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
            "bot",
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
            "bot": {"$ref": "#/components/schemas/BotRun"},
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
        "paths": api_paths(),
        "components": {"schemas": copy.deepcopy(_SCHEMAS)},
    }
    if token_required:
        doc["components"]["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "OBS_DASHBOARD_TOKEN"},
            "tokenQuery": {"type": "apiKey", "in": "query", "name": "token", "description": "OBS_DASHBOARD_TOKEN"},
        }
        doc["security"] = [{"bearer": []}, {"tokenQuery": []}]
    return doc
