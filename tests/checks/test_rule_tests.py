from __future__ import annotations

from pathlib import Path

import yaml

from obs_tests.checks.rule_tests import (
    check_rule_test_coverage,
    junit_cases,
    load_rule_test_file,
    parse_promtool_test,
    plain_test_file,
)
from obs_tests.rules.rulefiles import load_rule_file

OUTPUT = """Unit Testing:  t.yml
  FAILED:
    name: fires,
    alertname: Down, time: 2m,
        exp:[
            0:
              Labels:{alertname="Down", instance="y", job="a", severity="critical"}
              Annotations:{summary="x down"}
            ],
        got:[
            0:
              Labels:{alertname="Down", instance="x", job="a", severity="critical"}
              Annotations:{summary="x down"}
            ]
"""

TEST_FILE = """rule_files: [rules.yml]
tests:
  - name: fires
    interval: 1m
    input_series: []
    alert_rule_test:
      - {eval_time: 2m, alertname: Down, exp_alerts: [{exp_labels: {severity: critical}}]}
  - name: quiet
    interval: 1m
    alert_rule_test:
      - {eval_time: 2m, alertname: Down, exp_alerts: []}
    promql_expr_test:
      - {expr: up, eval_time: 1m, exp_samples: []}
"""


def test_parse_failure_block() -> None:
    [failure] = parse_promtool_test(OUTPUT)
    assert (failure.group, failure.subject, failure.eval_time) == ("fires", "Down", "2m")
    assert 'instance="y"' in failure.text and 'instance="x"' in failure.text


def test_success_has_no_failures() -> None:
    assert parse_promtool_test("Unit Testing:  t.yml\n  SUCCESS\n") == []


def test_inventory_and_junit(tmp_path: Path) -> None:
    path = tmp_path / "t.yml"
    path.write_text(TEST_FILE)
    inventory = load_rule_test_file(path)
    assert [(c.group, c.kind, c.subject, c.fires) for c in inventory.cases] == [
        ("fires", "alert", "Down", True),
        ("quiet", "alert", "Down", False),
        ("quiet", "expr", "up", False),
    ]
    cases = junit_cases(inventory, 1, parse_promtool_test(OUTPUT), OUTPUT)
    assert [c.name for c in cases] == ["fires / Down @ 2m", "quiet / Down @ 2m", "quiet / up @ 1m"]
    assert cases[0].failure is not None and "got:[" in cases[0].failure
    assert cases[1].failure is None and cases[2].failure is None


def test_broken_test_file_is_one_failing_case(tmp_path: Path) -> None:
    path = tmp_path / "t.yml"
    path.write_text("tests: [\n")
    inventory = load_rule_test_file(path)
    [case] = junit_cases(inventory, 1, [], "yaml error")
    assert case.name == "load" and case.failure


def test_coverage(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "groups:\n  - name: g\n    rules:\n"
        "      - {alert: Down, expr: up == 0, for: 1m}\n"
        "      - {alert: Untested, expr: up == 2, for: 1m}\n"
        "      - {alert: Dog, expr: vector(1)}\n"
    )
    tests = tmp_path / "t.yml"
    tests.write_text(
        TEST_FILE
        + "      - {eval_time: 1m, alertname: Dog, exp_alerts: [{exp_labels: {}}]}\n".replace(
            "      - {eval_time: 1m", "  - name: dog\n    alert_rule_test:\n      - {eval_time: 1m"
        )
    )
    alerts = load_rule_file(rules).alerts
    findings = check_rule_test_coverage(alerts, [load_rule_test_file(tests)])
    assert [f.subject.split(" (")[0] for f in findings] == ["alert Untested"]
    assert "missing a case where it fires" in findings[0].message
    assert "a case where it must not fire" in findings[0].message


def test_a_failure_at_a_normalised_eval_time_is_not_dropped(tmp_path: Path) -> None:
    """promtool prints `time: 1m30s` for `eval_time: 90s`: the case fails, it does not pass silently."""
    path = tmp_path / "t.yml"
    path.write_text(
        TEST_FILE.replace(
            "eval_time: 2m, alertname: Down, exp_alerts: [{", "eval_time: 120s, alertname: Down, exp_alerts: [{"
        )
    )
    cases = junit_cases(load_rule_test_file(path), 1, parse_promtool_test(OUTPUT), OUTPUT)
    assert [c.name for c in cases if c.failure] == ["fires / Down @ 120s"]


def test_a_failure_matching_no_known_case_is_a_case_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "t.yml"
    path.write_text(TEST_FILE.replace("name: fires", "name: renamed"))
    cases = junit_cases(load_rule_test_file(path), 1, parse_promtool_test(OUTPUT), OUTPUT)
    assert [c.name for c in cases if c.failure] == ["fires / Down @ 2m"]


def test_plain_test_file_loads_the_groups_of_a_manifest(tmp_path: Path) -> None:
    community = Path(__file__).resolve().parents[1] / "fixtures" / "rules" / "community"
    original = community / "tests" / "operator_test.yml"
    assert plain_test_file(original, {}, tmp_path) == original
    extracted = {(community / "operator-rules.yaml").resolve(): [tmp_path / "a.yml", tmp_path / "b.yml"]}
    copy = plain_test_file(original, extracted, tmp_path)
    assert copy.parent == tmp_path
    assert yaml.safe_load(copy.read_text())["rule_files"] == [str(tmp_path / "a.yml"), str(tmp_path / "b.yml")]
