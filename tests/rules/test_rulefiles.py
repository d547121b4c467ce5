from __future__ import annotations

from pathlib import Path

import pytest

from obs_tests.clients.tools import run_tool
from obs_tests.rules.rulefiles import load_rule_file, plain_rule_files
from obs_tests.stack.timescale import scale_rule_files

RULES = Path(__file__).resolve().parents[1] / "fixtures" / "rules"
ROOT = Path(__file__).resolve().parents[2]


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


COMMUNITY = RULES / "community"


def test_problems_carry_the_rule_id_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "r.yml"
    path.write_text("groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: up\n        for: soon\n")
    [problem] = load_rule_file(path).problems
    assert (problem.rule, problem.file, problem.line) == ("rule/syntax", str(path), 6)
    [multi] = load_rule_file(RULES / "multi_document.yml").problems
    assert (multi.rule, multi.line) == ("rule/multi-document", 13)  # where the second document starts


def test_prometheus_rule_manifests_are_read_and_other_kinds_ignored() -> None:
    parsed = load_rule_file(COMMUNITY / "operator-rules.yaml")
    assert parsed.problems == []  # several documents are normal here: no multi-document warning
    assert parsed.is_manifest
    assert [(r.name, r.manifest) for r in parsed.rules] == [
        ("RedisExporterScrapeError", "monitoring/redis-exporter-rules"),
        ("RedisReplicaMissing", "monitoring/redis-exporter-rules"),
        ("redis:commands:rate1m", "monitoring/redis-exporter-rules"),
        ("PrometheusNotificationsDropped", "monitoring/prometheus-self-rules"),
        ("PrometheusNoAlertmanager", "monitoring/prometheus-self-rules"),
    ]
    lines = (COMMUNITY / "operator-rules.yaml").read_text().splitlines()
    for rule in parsed.rules:
        assert lines[rule.line - 1].strip() == f"- {rule.kind if rule.kind == 'record' else 'alert'}: {rule.name}"
        assert lines[rule.expr_line - 1].strip().startswith("expr:")
    assert parsed.groups == ["redis-exporter", "prometheus-notifications"]
    assert {r.group_interval for r in parsed.rules if r.group == "prometheus-notifications"} == {30.0}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "apiVersion: example.org/v1\nkind: PrometheusRule\nspec:\n  groups: []\n",
            "the Prometheus Operator's is monitoring.coreos.com/v1",
            id="foreign-api-version",
        ),
        pytest.param(
            "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: x}\nspec: {}\n",
            "PrometheusRule x: expected 'spec.groups'",
            id="no-spec-groups",
        ),
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n",
            "no PrometheusRule in this file",
            id="only-other-kinds",
        ),
        pytest.param(
            "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: x}\nspec:\n  groups:\n"
            "    - name: g\n      rules:\n        - alert: A\n          expr: up\n          severity: page\n",
            "unknown field 'severity'",
            id="unknown-rule-field",
        ),
    ],
)
def test_manifest_problems_are_located(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    problems = load_rule_file(path).problems
    assert any(message in p.message for p in problems), problems


def test_plain_rule_files_extract_each_manifest_for_promtool(tmp_path: Path) -> None:
    plain = plain_rule_files([COMMUNITY / "host-and-redis.yml", COMMUNITY / "operator-rules.yaml"], tmp_path)
    assert plain[0].path == COMMUNITY / "host-and-redis.yml" and plain[0].source_line(7) == 7
    assert [p.manifest for p in plain[1:]] == ["monitoring/redis-exporter-rules", "monitoring/prometheus-self-rules"]
    result = run_tool(["promtool", "check", "rules", *(str(p.path) for p in plain[1:])])
    assert result.returncode == 0, result.output
    assert "SUCCESS: 3 rules found" in result.output and "SUCCESS: 2 rules found" in result.output
    # a line of the extracted file maps back to the manifest's line of the same rule
    extracted = plain[2].path.read_text().splitlines()
    number = next(i for i, text in enumerate(extracted, 1) if "alert: PrometheusNoAlertmanager" in text)
    manifest = (COMMUNITY / "operator-rules.yaml").read_text().splitlines()
    assert manifest[plain[2].source_line(number) - 1].strip() == "- alert: PrometheusNoAlertmanager"


def test_the_embedded_stack_loads_a_manifest_as_plain_groups_at_its_time_scale(tmp_path: Path) -> None:
    """What EmbeddedStack does: extract the manifests' groups, then scale them; promtool accepts the result."""
    plain = plain_rule_files([COMMUNITY / "operator-rules.yaml"], tmp_path / "plain")
    scaled = scale_rule_files([p.path for p in plain], 0.1, tmp_path / "scaled", min_range=4.0)
    text = "\n".join(p.read_text() for p in scaled)
    assert "increase(prometheus_notifications_dropped_total[30s])" in text
    assert "interval: 30s" in text  # group intervals are the stack's business, not scaled
