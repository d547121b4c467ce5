"""Schema validation of located documents: finite numbers, stated ranges, duration bounds, one line each."""

from __future__ import annotations

from typing import Any

import pytest

from obs_tests.config.validation import MAX_STRING_CHARS, Validator, allowed_range, describe_error, validate_document
from obs_tests.core.yamlfile import LocatedDocument, load_located_text
from obs_tests.errors import InputError

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "within": {"type": "number", "exclusiveMinimum": 0, "maximum": 86400},
        "users": {"type": "integer", "minimum": 1, "maximum": 10000},
        "value": {"type": "number"},
        "interval": {"type": "string", "pattern": "^([0-9]+(ms|s|m|h))+$", "x-maxSeconds": 3600},
        "params": {"type": "object"},
    },
}


def check(text: str) -> None:
    doc = load_located_text(text, "x.yaml")
    errors = list(Validator(SCHEMA).iter_errors(doc.data))
    if errors:
        raise InputError(describe_error(errors[0], doc))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "within: .nan", "x.yaml:1: within: NaN is not a finite number — allowed: 0 < within ≤ 86400", id="nan"
        ),
        pytest.param(
            "within: .inf", "x.yaml:1: within: infinity is not a finite number — allowed: 0 < within", id="inf"
        ),
        pytest.param(
            "within: 1e300", "x.yaml:1: within: 1e+300 is out of range — allowed: 0 < within ≤ 86400", id="1e300"
        ),
        pytest.param("within: 0", "x.yaml:1: within: 0 is out of range — allowed: 0 < within ≤ 86400", id="zero"),
        pytest.param(
            "users: 100000000000",
            "x.yaml:1: users: 100000000000 is out of range — allowed: 1 ≤ users ≤ 10000",
            id="users",
        ),
        pytest.param(
            "users: -.inf", "x.yaml:1: users: -infinity is not a finite number — allowed: 1 ≤ users", id="-inf-int"
        ),
        pytest.param(
            "value: .nan", "x.yaml:1: value: NaN is not a finite number — write a finite number", id="unbounded"
        ),
        pytest.param("interval: 2h", 'x.yaml:1: interval: "2h" is longer than 1h — allowed: at most 1h', id="duration"),
        pytest.param("interval: " + "9" * 400 + "h", 'x.yaml:1: interval: "99999', id="duration-overflow"),
    ],
)
def test_numbers_out_of_range_are_refused_with_the_range(text: str, expected: str) -> None:
    with pytest.raises(InputError) as info:
        check(text)
    assert str(info.value).startswith(expected), str(info.value)


@pytest.mark.parametrize(
    "text", ["within: 86400", "within: 0.001", "users: 10000", "value: -1e300", "interval: 59m59s"]
)
def test_numbers_in_range_pass(text: str) -> None:
    check(text)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(float("nan"), "x.yaml:3: chaos[0].params.error_rate: NaN is not a finite number", id="nan"),
        pytest.param(float("inf"), "x.yaml:3: chaos[0].params.error_rate: infinity is not a finite number", id="inf"),
        pytest.param(
            "y" * (MAX_STRING_CHARS + 1), "x.yaml:3: chaos[0].params.error_rate: a string of 10,001", id="long"
        ),
    ],
)
def test_values_no_schema_covers_are_still_checked(value: Any, expected: str) -> None:
    fault = {"name": "f", "kind": "service", "target": "gateway", "params": {"error_rate": value}}
    doc = LocatedDocument("x.yaml", {"name": "x", "steps": [], "chaos": [fault]}, {("chaos", 0, "params"): 3})
    with pytest.raises(InputError) as info:
        validate_document(doc, "scenario", InputError)
    assert str(info.value).startswith(expected), str(info.value)
    fault["params"] = {"error_rate": 0.5}
    validate_document(doc, "scenario", InputError)


def test_non_finite_number_where_a_string_belongs_is_a_type_error() -> None:
    doc = load_located_text("version: 1\njobs: [{name: .nan, instances: 1}]\n", "obs.yaml")
    with pytest.raises(InputError, match=r"obs.yaml:2: jobs\[0\].name: expected a string, got a number NaN"):
        validate_document(doc, "contract", InputError)


def test_allowed_range_reads_the_schema() -> None:
    assert allowed_range({"minimum": 0, "maximum": 1}, "ratio") == "0 ≤ ratio ≤ 1"
    assert allowed_range({"exclusiveMinimum": 0}, "x") == "0 < x"
    assert allowed_range({"type": "number"}) is None
