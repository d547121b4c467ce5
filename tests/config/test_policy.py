from __future__ import annotations

from pathlib import Path

import pytest

from obs_tests.commands.init import _narrowing
from obs_tests.config.contract import load_contract
from obs_tests.config.policy import (
    RULE_IDS,
    Accepted,
    Policy,
    judge,
    read_suppressions,
    unknown_levels,
    without_location,
)
from obs_tests.core.findings import Finding
from obs_tests.errors import ContractInvalid
from obs_tests.reports.junit import Case
from obs_tests.suite.lint_report import Section

ROOT = Path(__file__).resolve().parents[2]


def _f(rule: str, severity: str = "error", *, file: str | None = None, line: int | None = None) -> Finding:
    return Finding("c", f"subject of {rule}", f"message of {rule}", severity, rule=rule, file=file, line=line)


@pytest.mark.parametrize(
    ("levels", "rule", "expected"),
    [
        pytest.param({}, "coverage/rule-tests", "error", id="default-keeps-the-checks-level"),
        pytest.param({"coverage/rule-tests": "warning"}, "coverage/rule-tests", "warning", id="exact"),
        pytest.param({"coverage/*": "off"}, "coverage/routing-tests", "off", id="glob"),
        pytest.param({"*": "warning", "rule/*": "off", "rule/for": "error"}, "rule/for", "error", id="exact-wins"),
        pytest.param({"*": "warning", "rule/*": "off"}, "rule/rate-window", "off", id="longest-glob-wins"),
        pytest.param({"*": "warning", "rule/*": "off"}, "dashboard/unit", "warning", id="catch-all"),
    ],
)
def test_policy_level(levels: dict[str, str], rule: str, expected: str) -> None:
    assert Policy(levels=levels).level(rule, "error") == expected


def test_apply_sets_levels_drops_off_and_keeps_unnamed_findings() -> None:
    policy = Policy(levels={"coverage/*": "warning", "exposition/promtool": "off"})
    unnamed = Finding("c", "s", "m")
    out = policy.apply([_f("coverage/rule-tests"), _f("exposition/promtool"), _f("rule/for"), unnamed])
    assert [(f.rule, f.severity) for f in out] == [
        ("coverage/rule-tests", "warning"),
        ("rule/for", "error"),
        ("", "error"),
    ]


def test_a_warning_the_policy_raises_fails() -> None:
    verdict = judge([_f("dashboard/query-empty", "warning")], Policy(levels={"dashboard/query-empty": "error"}))
    assert not verdict.ok and verdict.errors[0].severity == "error"


RULES = """\
groups:
  - name: host
    rules:
      # obs-tests: ignore rule/required-annotation -- community pack: runbooks are in our wiki
      - alert: HostOutOfMemory
        expr: node_memory_MemAvailable_bytes < 1e8
        for: 2m
      - alert: HostHighLoad
        # obs-tests: ignore rule/for, rule/required-label -- fires on one evaluation on purpose (pager test)
        expr: node_load1 > 100
      - alert: HostDown
        expr: up == 0
      # obs-tests: ignore rule/for
      - alert: NoReason
        expr: up == 0
      # obs-tests: ignore rule/not-a-rule -- typo
      - alert: UnknownId
        expr: up == 0
"""


def test_suppressions_cover_one_rule_and_need_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "host.yml"
    path.write_text(RULES)
    starts = [5, 8, 11, 14, 17]
    found, problems = read_suppressions(path, RULES, starts)
    assert [(s.rules, s.first, s.last) for s in found] == [
        (("rule/required-annotation",), 5, 7),
        (("rule/for", "rule/required-label"), 8, 10),
    ]
    assert found[0].reason == "community pack: runbooks are in our wiki"
    assert [(p.rule, p.line) for p in problems] == [("policy/suppression", 13), ("policy/suppression", 16)]
    assert "needs a reason" in problems[0].message and "unknown rule id(s) rule/not-a-rule" in problems[1].message
    findings = [
        _f("rule/required-annotation", file=str(path), line=5),  # HostOutOfMemory: suppressed
        _f("rule/required-label", file=str(path), line=8),  # HostHighLoad: suppressed
        _f("rule/for", file=str(path), line=9),  # HostHighLoad, its expr line: suppressed
        _f("rule/required-annotation", file=str(path), line=8),  # HostHighLoad: another id, kept
        _f("rule/for", file=str(path), line=11),  # HostDown: kept
        _f("rule/for", file=str(tmp_path / "other.yml"), line=9),  # another file: kept
    ]
    verdict = judge(findings, Policy(), found)
    assert verdict.suppressed == 3
    assert [(f.rule, f.line) for f in verdict.errors] == [
        ("rule/required-annotation", 8),
        ("rule/for", 11),
        ("rule/for", 9),
    ]


def test_every_rule_id_is_described_and_well_formed() -> None:
    for rule, meaning in RULE_IDS.items():
        family, _, name = rule.partition("/")
        assert family and name and meaning, rule
    assert unknown_levels({"coverage/*": "off", "rule/for": "error", "rule/nope": "off", "nothing/*": "off"}) == [
        "rule/nope",
        "nothing/*",
    ]


def test_contract_policy_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "obs.yaml"
    path.write_text(
        "version: 1\njobs: [{name: node, instances: 1}]\n"
        "policy:\n  alerts: {required_labels: [severity], required_annotations: [summary], min_for: 1m}\n"
        "  rate_window_multiple: 2\n  levels: {coverage/*: warning, exposition/promtool: off}\n"
        "rules:\n  expected_no_match:\n"
        "    - {selector: node_hwmon_temp_celsius, reason: no sensors in VMs}\n"
        "    - {selector: 'redis_rdb_last_bgsave_status', alert: RedisBackupFailed, reason: persistence off}\n"
    )
    contract = load_contract(path)
    assert contract.policy.alerts.required_labels == ("severity",)
    assert contract.policy.alerts.min_for == 60.0
    assert contract.policy.rate_window_multiple == 2.0
    assert contract.policy.level("coverage/routing-tests", "error") == "warning"
    first, second = contract.expected_no_match
    assert first.matches("AnyRule", 'node_hwmon_temp_celsius{chip="x"}', "node_hwmon_temp_celsius")
    assert not second.matches("OtherRule", "redis_rdb_last_bgsave_status", "redis_rdb_last_bgsave_status")


@pytest.mark.parametrize(
    ("policy", "fragment"),
    [
        pytest.param(
            "levels: {coverage/rule-test: warning}", "policy.levels.coverage/rule-test: no finding has", id="typo-id"
        ),
        pytest.param("levels: {coverage/*: ignore}", "policy.levels.coverage/*", id="bad-level"),
        pytest.param("alerts: {required_labels: [team-name]}", "policy.alerts.required_labels[0]", id="bad-label"),
        pytest.param("rate_window_multiple: 0", "policy.rate_window_multiple", id="multiple-zero"),
    ],
)
def test_a_bad_policy_is_a_located_contract_error(tmp_path: Path, policy: str, fragment: str) -> None:
    path = tmp_path / "obs.yaml"
    path.write_text(f"version: 1\njobs: [{{name: node, instances: 1}}]\npolicy:\n  {policy}\n")
    with pytest.raises(ContractInvalid) as info:
        load_contract(path)
    assert fragment in str(info.value)
    assert str(info.value).startswith(f"{path}:4:") or f"{path}:" in str(info.value)


def test_the_projects_contract_stays_strict() -> None:
    policy = load_contract(ROOT / "obs.yaml").policy
    assert policy == Policy()
    assert policy.alerts.required_labels == ("severity", "team")
    assert policy.alerts.required_annotations == ("summary", "description", "runbook_url")


def test_lint_sections_apply_the_policy_to_findings_and_junit_cases() -> None:
    section = Section(
        "rule tests",
        findings=[_f("coverage/rule-tests"), _f("rule/unit-test")],
        cases=[
            Case("A", "x", failure="message of coverage/rule-tests"),
            Case("B", "x", failure="message of rule/unit-test\npromtool said: exp [1] got []"),
        ],
    )
    section.apply_policy(Policy(levels={"coverage/*": "off"}), [])
    assert [f.rule for f in section.errors] == ["rule/unit-test"]
    assert section.let_go == 1
    assert section.cases[0].failure is None
    assert section.cases[1].failure == "message of rule/unit-test\npromtool said: exp [1] got []"


def test_exceptions_accept_one_finding_by_rule_and_subject(tmp_path: Path) -> None:
    path = tmp_path / "obs.yaml"
    path.write_text(
        "version: 1\njobs: [{name: node, instances: 1}]\n"
        "policy:\n  exceptions:\n"
        "    - {rule: rule/for, subject: alert HostHighLoad, reason: 'baseline: fires on one evaluation'}\n"
    )
    policy = load_contract(path).policy
    accepted = Finding("rules", "alert HostHighLoad (rules/host.yml:12)", "no for:", rule="rule/for")
    other_alert = Finding("rules", "alert HostHighLoadX (rules/host.yml:20)", "no for:", rule="rule/for")
    other_rule = Finding("rules", "alert HostHighLoad (r.yml:12)", "no summary", rule="rule/required-annotation")
    assert policy.apply([accepted, other_alert, other_rule]) == [other_alert, other_rule]


def test_an_exception_matches_a_subject_without_its_location_and_nothing_wider() -> None:
    accepted = Accepted("dashboard/panel-empty", "dashboard 'Node' (node, node.json) panel 'Fans' (id 7)", "no fans")
    assert accepted.covers(
        Finding("d", "dashboard 'Node' (node, node.json) panel 'Fans' (id 7)", "m", rule="dashboard/panel-empty")
    )
    assert not accepted.covers(
        Finding("d", "dashboard 'Node' (node, node.json) panel 'Fans' (id 8)", "m", rule="dashboard/panel-empty")
    )
    assert without_location("alert X (rules/a.yml:12)") == "alert X"
    assert without_location("dashboard 'Node' (node, node.json)") == "dashboard 'Node' (node, node.json)"


def test_an_exception_with_contains_accepts_that_problem_and_not_a_new_one_beside_it(tmp_path: Path) -> None:
    """--baseline accepts the selector of a collector that is off; a typo added later to the same alert is red."""
    path = tmp_path / "obs.yaml"
    path.write_text(
        "version: 1\njobs: [{name: node, instances: 1}]\n"
        "policy:\n  exceptions:\n"
        "    - rule: rule/selector-no-match\n      subject: alert HostTemperatureHigh\n"
        "      reason: 'baseline: no sensors on a VM'\n      contains: node_hwmon_temp_celsius\n"
    )
    policy = load_contract(path).policy
    subject = "alert HostTemperatureHigh (rules/host.yml:71)"
    off = Finding(
        "rules", subject, "selector node_hwmon_temp_celsius matches no series: …", rule="rule/selector-no-match"
    )
    typo = Finding("rules", subject, "selector node_hwmon_tmp_crit matches no series: …", rule="rule/selector-no-match")
    assert policy.apply([off, typo]) == [typo]


def test_baseline_narrows_rule_findings_to_their_selector() -> None:
    selector = Finding(
        "r", "alert A (a.yml:3)", 'selector x{job="n"} matches no series: …', rule="rule/selector-no-match"
    )
    window = Finding("r", "alert A (a.yml:3)", "rate(x[30s]): the window is shorter than 4x …", rule="rule/rate-window")
    other = Finding("r", "alert A (a.yml:3)", "no annotation summary", rule="rule/required-annotation")
    assert [_narrowing(f) for f in (selector, window, other)] == ['x{job="n"}', "rate(x[30s])", ""]
