"""The published OpenAPI document: what it promises, and that docs/serve.md documents the same API."""

from __future__ import annotations

import json
import re

import jsonschema

from obs_tests.web.openapi import RUN_REQUEST_SCHEMA, openapi_document

from .helpers import ROOT


def _serve_page() -> str:
    return (ROOT / "docs" / "serve.md").read_text()


def test_every_api_path_is_in_the_serve_page() -> None:
    section = _serve_page()
    for path, operations in openapi_document(token_required=False)["paths"].items():
        for method in operations:
            documented = path.replace("{format}", "{json,html,svg,yml}").replace(".{test_id}", "")
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
