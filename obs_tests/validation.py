"""JSON Schema validation of located YAML documents, with messages that say file, line, field and fix.

The schemas ship inside the package (``obs_tests/schemas/*.schema.json``) so editors and other tools can
use them too. :func:`validate_document` reports the single most relevant error as one line::

    obs.yaml:14: jobs[1].instanses: unknown field 'instanses' (did you mean 'instances'?) — known: ...
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from obs_tests.errors import InputError
from obs_tests.yamlfile import LocatedDocument, closest, format_path

__all__ = ["describe_error", "load_schema", "validate_document"]

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Load ``obs_tests/schemas/<name>.schema.json``."""
    text = resources.files("obs_tests.schemas").joinpath(f"{name}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def describe_error(error: ValidationError, doc: LocatedDocument) -> str:
    """One line: ``file:line: field.path: what is wrong — how to fix``."""
    path: list[str | int] = list(error.absolute_path)
    validator = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    if validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(schema.get("properties", {}))
        extras = [k for k in error.instance if k not in allowed]
        key = str(extras[0]) if extras else "?"
        key_path = [*path, key]
        hint = closest(key, allowed)
        did_you_mean = f" (did you mean '{hint[0]}'?)" if hint else ""
        return (
            f"{doc.where(key_path)}: {format_path(key_path)}: unknown field '{key}'{did_you_mean}"
            f" — known fields: {', '.join(allowed)}"
        )
    if validator == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else str(error.validator_value)
        return f"{doc.where(path)}: {format_path(path)}: missing required field '{missing}' — add '{missing}:' here"
    if validator == "type":
        wanted: Any = error.validator_value
        names = [wanted] if isinstance(wanted, str) else list(wanted)
        expected = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
        return (
            f"{doc.where(path)}: {format_path(path)}: expected {expected}, "
            f"got {_type_of(error.instance)} {_short(error.instance)}"
        )
    if validator == "enum":
        values: Any = error.validator_value
        options = [str(o) for o in values]
        hint = closest(str(error.instance), options)
        did_you_mean = f" (did you mean '{hint[0]}'?)" if hint else ""
        return (
            f"{doc.where(path)}: {format_path(path)}: {_short(error.instance)} is not allowed{did_you_mean}"
            f" — use one of: {', '.join(options)}"
        )
    if validator == "pattern":
        what = schema.get("description") or f"must match {error.validator_value}"
        return f"{doc.where(path)}: {format_path(path)}: {_short(error.instance)} is not valid — {what}"
    if validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{doc.where(path)}: {format_path(path)}: {error.message}"
    if validator in ("minItems", "minLength", "minProperties"):
        return f"{doc.where(path)}: {format_path(path)}: must not be empty"
    if validator in ("oneOf", "anyOf"):
        described = schema.get("description")
        if described:
            return f"{doc.where(path)}: {format_path(path)}: {_short(error.instance)} is not valid — {described}"
    return f"{doc.where(path)}: {format_path(path)}: {error.message}"


def validate_document(doc: LocatedDocument, schema_name: str, error: type[InputError]) -> None:
    """Raise ``error`` with a located one-line message if ``doc`` does not match the schema."""
    schema = load_schema(schema_name)
    validator = jsonschema.Draft202012Validator(schema)
    errors = list(validator.iter_errors(doc.data))
    if not errors:
        return
    chosen = best_match(errors)
    # best_match prefers shallow errors; a deeper, more specific one usually helps the user more.
    deepest = max(errors, key=lambda e: len(e.absolute_path))
    if len(deepest.absolute_path) > len(chosen.absolute_path) and chosen.validator in ("oneOf", "anyOf"):
        chosen = deepest
    message = describe_error(chosen, doc)
    more = len(errors) - 1
    if more:
        message += f" (+{more} more problem{'s' if more > 1 else ''})"
    raise error(message)
