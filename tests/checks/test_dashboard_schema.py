"""Dashboard files against the schema: problems located at file:line, bad JSON located, and null accepted
where Grafana writes it (and nowhere else)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from obs_tests.checks.dashboard_schema import validate_dashboard_file

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "dashboards"
COMMUNITY = FIXTURES / "community"


def test_schema_errors_are_located() -> None:
    dashboard, findings = validate_dashboard_file(FIXTURES / "broken" / "schema_error.json")
    assert dashboard is not None
    lines = [str(f) for f in findings]
    shown = "tests/fixtures/dashboards/broken/schema_error.json"
    assert any(f"{shown}:7: panels[0].gridPos.w: 30 is out of range — allowed: 1 ≤ w ≤ 24" in x for x in lines), lines
    assert any(f'{shown}:9: panels[1].id: expected an integer or null, got a string "2"' in x for x in lines)
    assert any(f"{shown}:10: panels[1].targets: expected a list" in x for x in lines)
    assert any(f"{shown}:5: templating.list[0]: missing required field 'name'" in x for x in lines)


def test_bad_json_is_located() -> None:
    dashboard, findings = validate_dashboard_file(FIXTURES / "broken" / "not_json.json")
    assert dashboard is None
    assert str(findings[0]).startswith(
        "[dashboard-schema] tests/fixtures/dashboards/broken/not_json.json:5:1: not valid JSON"
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        pytest.param("repeat", 5, "panels[6].repeat: expected a string or null, got an integer 5", id="repeat"),
        pytest.param("repeatDirection", "x", 'panels[6].repeatDirection: "x" is not allowed', id="direction"),
        pytest.param("type", None, "panels[6].type: expected a string, got null", id="null-type"),
    ],
)
def test_null_is_accepted_where_grafana_writes_it_and_nothing_else_is(field: str, value: Any, message: str) -> None:
    model = json.loads((COMMUNITY / "node_host_overview.json").read_text())
    assert model["panels"][6]["repeat"] is None and model["panels"][6]["maxPerRow"] is None  # accepted as is
    model["panels"][6][field] = value
    path = FIXTURES.parent / "tmp_dashboard.json"
    try:
        path.write_text(json.dumps(model, indent=2))
        _, findings = validate_dashboard_file(path)
    finally:
        path.unlink()
    messages = [f.message for f in findings]
    assert any(m.startswith(message) for m in messages), messages
    assert not any("null null" in m for m in messages)
    assert all(f.rule == "dashboard/schema" and f.line for f in findings)
