"""The published OpenAPI document: what it promises, and that docs/serve.md documents the same API."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from obs_tests.config.validation import load_schema
from obs_tests.web.openapi import RUN_REQUEST_SCHEMA, openapi_document
from obs_tests.web.run_state import recording_name_problem
from obs_tests.web.views import bot_view

from .helpers import ROOT


def _serve_page() -> str:
    return (ROOT / "docs" / "serve.md").read_text()


def test_every_api_path_is_in_the_serve_page() -> None:
    section = _serve_page()
    for path, operations in openapi_document(token_required=False)["paths"].items():
        for method in operations:
            documented = path.replace("{format}", "{json,html,svg,yml,events}").replace(".{test_id}", "")
            assert f"`{method.upper()} {documented}" in section, f"{method.upper()} {path} missing from docs/serve.md"


def test_the_serve_page_run_example_is_a_valid_request() -> None:
    bodies = re.findall(r"-d '(\{[^']*\})'", _serve_page())
    assert bodies
    for body in bodies:
        jsonschema.validate(json.loads(body), RUN_REQUEST_SCHEMA)


def test_security_schemes_only_when_a_token_is_required() -> None:
    open_doc = openapi_document(token_required=False)
    guarded = openapi_document(token_required=True)
    assert "security" not in open_doc and "securitySchemes" not in open_doc["components"]
    assert guarded["security"] == [{"bearer": []}, {"tokenQuery": []}]
    jsonschema.Draft202012Validator.check_schema(RUN_REQUEST_SCHEMA)
    for schema in guarded["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("recording", [None, True, False, "crash.json", "{scenario_name}-2.json"])
def test_a_run_request_takes_verbose_and_every_kind_of_recording(recording: object) -> None:
    jsonschema.validate(
        {"scenario": "trading-flash-crash-recovery", "verbose": True, "recording": recording}, RUN_REQUEST_SCHEMA
    )


@pytest.mark.parametrize("recording", ["../x.json", "/tmp/x.json", "x.yaml", ".x.json", "", "x" * 121 + ".json", 3, []])
def test_the_published_schema_refuses_what_the_server_refuses(recording: object) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"scenario": "x", "recording": recording}, RUN_REQUEST_SCHEMA)
    if isinstance(recording, str):
        assert recording_name_problem(recording) is not None


SUMMARY = {"total": 9, "by_name": {"PositionPurchased": 1}, "cycles": 2, "missing": {"X": 1}, "corrupted": 0}


def test_the_bot_block_of_a_status_document_and_a_status_message_is_published() -> None:
    document = openapi_document(token_required=False)
    schemas = document["components"]["schemas"]
    assert "bot" in schemas["RunStatus"]["required"]
    live = bot_view(SUMMARY, {"by_rule": {"d": {"events_delayed": 2, "total_delay_ms": 12.5}}}, live=True)
    final = bot_view(SUMMARY, {"events_dropped": 1}, exchange={"min_price": 1.0}, recording="recordings/x.json")
    for view in (live, final, None):
        jsonschema.validate(view, schemas["BotRun"])
    with pytest.raises(jsonschema.ValidationError, match="'events_dropped' is a required property"):
        jsonschema.validate({**final, "chaos": {"events_delayed": 1}}, schemas["BotRun"])  # type: ignore[dict-item]
    status = {"status": "running", "phase": "running", "duration": 1.0, "assertions_passed": 0, "assertions_total": 0}
    message = {
        "seq": 4,
        "type": "status",
        "ts": 1.0,
        "test_id": "20261122-081618-a1b2c3",
        "data": {**status, "chaos": {"applied": 0, "reverted": 0, "active": []}, "bot": live},
    }
    stream = jsonschema.Draft202012Validator(load_schema("stream"))
    stream.validate(message)
    message["data"]["bot"] = {**live, "events": {"total": -1}}  # type: ignore[dict-item]
    assert not stream.is_valid(message)
