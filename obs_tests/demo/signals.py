"""Validation of trading-signal webhooks against ``obs_tests/schemas/signal.schema.json``.

The schema is compiled once with fastjsonschema (the gateway's hot path). Every rejection carries one
of :data:`REASONS` — the ``reason`` label of ``gateway_validation_errors_total`` — and a message that
names the field::

    >>> parse_signal(b'{"action": "buy"}')
    Traceback (most recent call last):
    ...
    obs_tests.errors.SignalRejected: missing_field: missing required field 'timestamp'
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, Final

import fastjsonschema
import orjson

from obs_tests.config.validation import load_schema
from obs_tests.errors import SignalRejected

__all__ = [
    "REASONS",
    "correlation_id_from",
    "parse_signal",
    "signal_schema",
]

REASONS: Final = (
    "empty_body",
    "invalid_json",
    "missing_field",
    "unknown_field",
    "wrong_type",
    "out_of_range",
    "too_large",
)

_CORRELATION_ID: Final = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


@cache
def signal_schema() -> dict[str, Any]:
    """The signal JSON Schema (draft 7)."""
    return load_schema("signal")


@cache
def _validator() -> Any:
    # fastjsonschema: 3 µs a signal vs jsonschema's 49, of ~75 µs per request (benchmarks/schema_validation.py)
    return fastjsonschema.compile(signal_schema())


_TYPE_RULES: Final = frozenset({"type"})
_MISSING_RULES: Final = frozenset({"required"})
_UNKNOWN_RULES: Final = frozenset({"additionalProperties"})


def _classify(exc: Any, doc: dict[str, Any]) -> SignalRejected:
    rule = exc.rule
    schema = signal_schema()
    if rule in _MISSING_RULES:
        missing = [name for name in schema["required"] if name not in doc]
        names = ", ".join(repr(name) for name in missing)
        return SignalRejected("missing_field", f"missing required field {names}")
    if rule in _UNKNOWN_RULES:
        unknown = sorted(name for name in doc if name not in schema["properties"])
        names = ", ".join(repr(name) for name in unknown)
        return SignalRejected("unknown_field", f"unknown field {names}; known: {', '.join(schema['properties'])}")
    field = exc.name[5:] if exc.name.startswith("data.") else exc.name
    detail = exc.message[len(exc.name) :].strip() if exc.message.startswith(exc.name) else exc.message
    value = doc.get(field)
    shown = orjson.dumps(value)[:60].decode("utf-8", "replace") if field in doc else "?"
    reason = "wrong_type" if rule in _TYPE_RULES else "out_of_range"
    return SignalRejected(reason, f"{field} {detail} (got {shown})")


def parse_signal(body: bytes) -> dict[str, Any]:
    """The validated signal of a webhook body; raises :class:`SignalRejected` otherwise.

    Non-object JSON (a list, a string …) is ``invalid_json``; NaN/Infinity tokens, invalid UTF-8 and
    numbers beyond a double are rejected by the JSON parser as ``invalid_json`` too.
    """
    if not body or body.isspace():
        raise SignalRejected("empty_body", "request body is empty; send a JSON object")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise SignalRejected("invalid_json", f"body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise SignalRejected("invalid_json", f"body must be a JSON object, got {type(doc).__name__}")
    try:
        _validator()(doc)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise _classify(exc, doc) from None
    return doc


def correlation_id_from(header: bytes | None) -> str | None:
    """The caller's ``X-Correlation-ID`` when it is 1..128 chars of ``[A-Za-z0-9._:-]``, else None."""
    if header is not None and _CORRELATION_ID.fullmatch(header):
        return header.decode("ascii")
    return None
