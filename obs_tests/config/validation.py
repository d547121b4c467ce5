"""JSON Schema validation of located YAML documents, with messages that say file, line, field and fix.

The schemas ship inside the package (``obs_tests/schemas/*.schema.json``) so editors and other tools can
use them too. :func:`validate_document` reports the single most relevant error as one line::

    obs.yaml:14: jobs[1].instanses: unknown field 'instanses' (did you mean 'instances'?) — known: ...
    scenarios/x.yaml:9: steps[2].wait_for_time: NaN is not a finite number — allowed: 0 < wait_for_time ≤ 86400

Numbers: :data:`Validator` is JSON Schema 2020-12 where a ``number`` is finite (jsonschema alone lets
NaN pass every ``minimum``/``maximum``: each comparison with NaN is false), and where a duration string
(``"90s"``) can have an upper bound, ``"x-maxSeconds": 3600``. :func:`validate_document` also refuses a
non-finite number or a string of more than :data:`MAX_STRING_CHARS` characters anywhere in a document,
whatever its schema says of that place.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from obs_tests.core.durations import parse_duration
from obs_tests.core.yamlfile import LocatedDocument, closest, format_path, shown
from obs_tests.errors import InputError

__all__ = ["MAX_STRING_CHARS", "Validator", "allowed_range", "describe_error", "load_schema", "validate_document"]

#: the longest string a contract or scenario may hold (a PromQL expression, a description)
MAX_STRING_CHARS = 10_000


def _finite_number(checker: Any, instance: Any) -> bool:
    if isinstance(instance, bool) or not isinstance(instance, (int, float)):
        return False
    return isinstance(instance, int) or math.isfinite(instance)


def _max_seconds(validator: Any, limit: Any, instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError]:
    if not isinstance(instance, str):
        return
    try:
        seconds = parse_duration(instance)
    except ValueError:
        return  # the pattern of the same schema says what is wrong
    if not seconds <= limit:
        yield ValidationError(f"{shown(instance, 40)} is longer than {_seconds(limit)}")


def _seconds(value: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if value >= size and value % size == 0:
            return f"{value / size:g}{unit}"
    return f"{value:g}s"


#: JSON Schema 2020-12 with finite numbers and the ``x-maxSeconds`` keyword for duration strings
Validator = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft202012Validator,
    validators={"x-maxSeconds": _max_seconds},
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("number", _finite_number),
)

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
    return shown(value, 60)


def allowed_range(schema: dict[str, Any], name: str = "value") -> str | None:
    """``0 < name ≤ 86400`` from a schema's minimum/maximum keywords (None when it has none)."""
    low: str | None = None
    high: str | None = None
    if "exclusiveMinimum" in schema:
        low = f"{_number(schema['exclusiveMinimum'])} <"
    elif "minimum" in schema:
        low = f"{_number(schema['minimum'])} ≤"
    if "exclusiveMaximum" in schema:
        high = f"< {_number(schema['exclusiveMaximum'])}"
    elif "maximum" in schema:
        high = f"≤ {_number(schema['maximum'])}"
    if low is None and high is None:
        return None
    return " ".join(p for p in (low, name, high) if p)


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def _range_hint(schema: dict[str, Any], path: list[str | int]) -> str:
    name = next((str(p) for p in reversed(path) if isinstance(p, str)), "value")
    allowed = allowed_range(schema, name)
    if allowed is not None:
        return f"allowed: {allowed}"
    return "write a finite number"


def describe_error(error: ValidationError, doc: LocatedDocument) -> str:
    """One line: ``file:line: field.path: what is wrong — how to fix``."""
    path: list[str | int] = list(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        return _unknown_field(error.instance, doc, path, schema)
    return f"{doc.where(path)}: {format_path(path)}: {_problem(error, schema, path)}"


def _unknown_field(
    instance: dict[str, Any], doc: LocatedDocument, path: list[str | int], schema: dict[str, Any]
) -> str:
    """The first key a mapping may not have, located at the key itself, with the closest known one."""
    allowed = sorted(schema.get("properties", {}))
    extras = [k for k in instance if k not in allowed]
    key = str(extras[0]) if extras else "?"
    key_path = [*path, key]
    hint = closest(key, allowed)
    did_you_mean = f" (did you mean '{hint[0]}'?)" if hint else ""
    return (
        f"{doc.where(key_path)}: {format_path(key_path)}: unknown field '{key}'{did_you_mean}"
        f" — known fields: {', '.join(allowed)}"
    )


def _problem(error: ValidationError, schema: dict[str, Any], path: list[str | int]) -> str:
    """What is wrong with the value at ``path``, and how to fix it."""
    validator = error.validator
    if validator == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else str(error.validator_value)
        return f"missing required field '{missing}' — add '{missing}:' here"
    if validator == "type":
        return _wrong_type(error, schema, path)
    if validator == "enum":
        values: Any = error.validator_value
        options = [str(o) for o in values]
        hint = closest(str(error.instance), options)
        did_you_mean = f" (did you mean '{hint[0]}'?)" if hint else ""
        return f"{_short(error.instance)} is not allowed{did_you_mean} — use one of: {', '.join(options)}"
    if validator == "pattern":
        what = schema.get("description") or f"must match {error.validator_value}"
        return f"{_short(error.instance)} is not valid — {what}"
    if validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{_short(error.instance)} is out of range — {_range_hint(schema, path)}"
    if validator == "x-maxSeconds":
        limit = float(schema.get("x-maxSeconds", 0))
        return f"{error.message} — allowed: at most {_seconds(limit)}"
    if validator == "maxLength":
        return f"a string of {len(str(error.instance)):,} characters — allowed: at most {schema.get('maxLength')}"
    if validator in ("minItems", "minLength", "minProperties"):
        return "must not be empty"
    if validator in ("oneOf", "anyOf"):
        described = schema.get("description")
        if described:
            return f"{_short(error.instance)} is not valid — {described}"
    return _short_message(error.message)


def _wrong_type(error: ValidationError, schema: dict[str, Any], path: list[str | int]) -> str:
    """A value of another type than the schema's — or NaN/±Inf where a number is expected."""
    wanted_types: Any = schema.get("type", ())
    numeric = {"number", "integer"} & ({wanted_types} if isinstance(wanted_types, str) else set(wanted_types))
    if numeric and isinstance(error.instance, float) and not math.isfinite(error.instance):
        return f"{_short(error.instance)} is not a finite number — {_range_hint(schema, path)}"
    wanted: Any = error.validator_value
    names = [wanted] if isinstance(wanted, str) else list(wanted)
    expected = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
    if error.instance is None:  # "got null null" said the same thing twice
        return f"expected {expected}, got null"
    return f"expected {expected}, got {_type_of(error.instance)} {_short(error.instance)}"


def _short_message(message: str) -> str:
    text = " ".join(message.split())
    return text if len(text) <= 200 else text[:199] + "…"


def _unusable_values(data: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Non-finite numbers and over-long strings anywhere in ``data``: (path, what is wrong — fix)."""
    pending: list[tuple[tuple[str | int, ...], Any]] = [((), data)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, float) and not math.isfinite(value):
            yield path, f"{shown(value)} is not a finite number — write a finite number"
        elif isinstance(value, str) and len(value) > MAX_STRING_CHARS:
            yield path, f"a string of {len(value):,} characters — allowed: at most {MAX_STRING_CHARS:,}"
        elif isinstance(value, dict):
            pending.extend(((*path, str(k)), v) for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            pending.extend(((*path, i), v) for i, v in reversed(list(enumerate(value))))


def validate_document(doc: LocatedDocument, schema_name: str, error: type[InputError]) -> None:
    """Raise ``error`` with a located one-line message if ``doc`` does not match the schema."""
    schema = load_schema(schema_name)
    validator = Validator(schema)
    errors = list(validator.iter_errors(doc.data))
    if not errors:
        for path, problem in _unusable_values(doc.data):
            raise error(f"{doc.where(path)}: {format_path(path)}: {problem}")
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
