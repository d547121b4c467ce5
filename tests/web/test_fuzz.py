"""Property-based fuzzing of the dashboard's API from its own OpenAPI document (schemathesis): valid and
invalid inputs for every operation, no 5xx, every answer as documented (status code, content type,
body schema), invalid inputs rejected.

The server has no valid scenario (only a broken one), so no input can start a run, and no stack: the
fuzzing exercises parsing, validation and error paths, fast. ``/api/stream`` is left out (an endless
response); the stream tests cover it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from .helpers import FIXTURES, Server, serving

pytestmark = pytest.mark.slow

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("fuzz")
    scenarios = root / "scenarios"
    scenarios.mkdir()
    (scenarios / "broken.yaml").write_text((FIXTURES / "broken.yaml").read_text())
    with serving(scenarios, root / "reports", extra=("--lazy-stack",)) as server:
        yield server


OPERATIONS = [
    ("/api/info", "GET"),
    ("/api/scenarios", "GET"),
    ("/api/scenarios/{name}", "GET"),
    ("/api/run", "POST"),
    ("/api/status/{test_id}", "GET"),
    ("/api/stop/{test_id}", "POST"),
    ("/api/runs", "GET"),
    ("/api/report/{test_id}.{format}", "GET"),
    ("/api/stream.schema.json", "GET"),
]


@pytest.fixture(scope="module")
def api_schema(fuzz_server: Server) -> Any:
    return schemathesis.openapi.from_url(fuzz_server.url + "/api/openapi.json")


def test_every_documented_operation_is_fuzzed(api_schema: Any) -> None:
    documented = {(op.ok().path, op.ok().method.upper()) for op in api_schema.get_all_operations()}
    assert documented == {*OPERATIONS, ("/api/stream", "GET")}


#: operations with inputs that can be invalid (a body, a constrained parameter)
CONSTRAINED = {
    "/api/run",
    "/api/status/{test_id}",
    "/api/stop/{test_id}",
    "/api/runs",
    "/api/report/{test_id}.{format}",
}
CASES = [
    pytest.param(path, method, mode, id=f"{method} {path} {mode.value}")
    for path, method in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or path in CONSTRAINED
]


@pytest.mark.parametrize(("path", "method", "mode"), CASES)
def test_api_answers_as_documented(
    api_schema: Any, fuzz_server: Server, path: str, method: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    # derandomize: the same examples every run, so CI never fails on a seed it did not try before (found
    # with random seeds: the empty `?limit=`, pinned by the test below); drop it locally to explore further
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True)
    def answers_as_documented(case: Any) -> None:
        case.call_and_validate(checks=CHECKS, session=fuzz_server.session)

    answers_as_documented()


def test_fuzzing_never_started_a_run_or_the_stack(fuzz_server: Server, tmp_path: Path) -> None:
    info = fuzz_server.info()
    assert info["stack"]["state"] == "stopped"
    assert fuzz_server.get("/api/runs").json()["runs"] == []


@pytest.mark.parametrize("value", ["", "²", "٣", "1.0", "-1", " 5"])
def test_a_given_limit_that_is_no_integer_is_rejected(fuzz_server: Server, value: str) -> None:
    """What the fuzzing found with some seeds: `?limit=` (given, empty) was taken for "absent" and answered 200,
    and str.isdigit() took '²' (int() then raised) and '٣' — the schema says integer, so 400 naming it."""
    response = fuzz_server.get(f"/api/runs?limit={quote(value)}")
    assert response.status_code == 400, response.text
    assert "limit: " in response.json()["error"]
