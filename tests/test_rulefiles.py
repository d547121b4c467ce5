from __future__ import annotations

from pathlib import Path

import pytest

from obs_tests.rulefiles import load_rule_file

RULES = Path(__file__).resolve().parent / "fixtures" / "rules"
ROOT = Path(__file__).resolve().parent.parent


PROJECT_RULES = sorted(
    [*(ROOT / "prometheus" / "alerts").glob("*.yml"), *(ROOT / "prometheus" / "rules").glob("*.yml")]
)


@pytest.mark.parametrize("path", PROJECT_RULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_project_rule_files_parse_cleanly(path: Path) -> None:
    parsed = load_rule_file(path)
    assert parsed.problems == []
    assert parsed.rules


def test_recording_only_group_with_interval() -> None:
    parsed = load_rule_file(RULES / "recording_only.yml")
    assert parsed.problems == []
    assert [r.kind for r in parsed.rules] == ["record", "record"]
    assert {r.group_interval for r in parsed.rules} == {30.0}
    assert parsed.rules[0].line == 6 and parsed.rules[0].expr_line == 7


def test_keep_firing_for_limit_and_templated_labels() -> None:
    parsed = load_rule_file(RULES / "keep_firing_limit.yml")
    assert parsed.problems == []
    [alert] = parsed.alerts
    assert (alert.for_seconds, alert.keep_firing_for_seconds) == (120.0, 600.0)
    assert alert.labels["team"] == "{{ $labels.service }}-owners"


def test_multi_document_is_read_and_flagged() -> None:
    parsed = load_rule_file(RULES / "multi_document.yml")
    assert [r.name for r in parsed.rules] == ["DiskAlmostFull", "job:up:avg"]
    assert parsed.rules[1].document == 1
    [problem] = parsed.problems
    assert problem.severity == "warning"
    assert "Prometheus only loads the first one" in problem.message


def test_empty_groups() -> None:
    parsed = load_rule_file(RULES / "empty_groups.yml")
    assert parsed.rules == [] and parsed.problems == []


def test_unknown_fields_are_located(tmp_path: Path) -> None:
    parsed = load_rule_file(RULES / "unknown_fields.yml")
    subjects = {p.subject.rsplit(":", 1)[1]: p.message for p in parsed.problems}
    assert "unknown field 'partial_response_strategy'" in subjects["3"]
    assert "unknown field 'severity'" in subjects["8"]


def test_yaml_error_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("groups:\n  - name: x\n    rules: [\n")
    [problem] = load_rule_file(path).problems
    assert "not valid YAML" in problem.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("groups:\n  - rules: []\n", "needs a 'name'"),
        ("groups:\n  - name: a\n    rules:\n      - expr: up\n", "needs exactly one of 'alert' or 'record'"),
        ("groups:\n  - name: a\n    rules:\n      - alert: X\n", "missing 'expr'"),
        ("groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: up\n        for: soon\n", "not a duration"),
        ("groups:\n  - name: a\n    rules: []\n  - name: a\n    rules: []\n", "appears twice"),
        ("rules: []\n", "expected a mapping with 'groups:'"),
        ("groups:\n  - name: a\n    rules:\n      - record: r\n        expr: up\n        for: 1m\n", "are for alerts"),
    ],
)
def test_structural_problems(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "r.yml"
    path.write_text(text)
    problems = load_rule_file(path).problems
    assert any(message in p.message for p in problems), problems
