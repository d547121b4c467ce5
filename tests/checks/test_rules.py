from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from obs_tests.checks.rules import (
    LintPolicy,
    check_rule_groups,
    lint_rules,
    live_scrape_intervals,
    metric_type,
)
from obs_tests.config.policy import RULE_IDS, Policy
from obs_tests.core.durations import parse_duration
from obs_tests.core.findings import Finding
from obs_tests.rules.rulefiles import load_rule_file

RULES = Path(__file__).resolve().parents[1] / "fixtures" / "rules"
TYPES = {"agent_confidence_score": "gauge", "gateway_webhooks_total": "counter", "h_seconds": "histogram"}


def _lint(name: str, **kwargs: object) -> list[str]:
    findings = lint_rules([load_rule_file(RULES / name)], types=TYPES, **kwargs)  # type: ignore[arg-type]
    return [f"{f.subject}: {f.message}" for f in findings]


@pytest.mark.parametrize("name", ["recording_only.yml", "keep_firing_limit.yml", "empty_groups.yml"], ids=lambda n: n)
def test_valid_foreign_rule_files_lint_without_crash(name: str) -> None:
    assert _lint(name, intervals={"node": 15.0}, default_interval=15.0) == []


def test_multi_document_gives_only_a_warning() -> None:
    findings = lint_rules([load_rule_file(RULES / "multi_document.yml")], default_interval=15.0)
    assert [f.severity for f in findings] == ["warning"]


def test_syntax_error_is_located_at_the_expression() -> None:
    [message] = _lint("syntax_error.yml")
    assert message.startswith("alert Broken (")
    assert "syntax_error.yml:5): expression does not parse: unclosed left parenthesis" in message


def test_missing_runbook_url() -> None:
    [message] = _lint("no_runbook.yml")
    assert "alert NoRunbook" in message and "missing annotation(s) runbook_url" in message


def test_rate_window_shorter_than_four_scrapes() -> None:
    [message] = _lint("short_window.yml", intervals={"gateway": 1.0})
    assert (
        'rate(gateway_webhooks_total{job="gateway"}[2s]): the window is shorter than 4x the scrape interval' in message
    )
    assert "of gateway (1s) — use at least [4s]" in message
    assert _lint("short_window.yml", intervals={"gateway": 0.5}) == []


def test_window_uses_the_job_of_the_metric_when_no_job_matcher(tmp_path: Path) -> None:
    path = tmp_path / "r.yml"
    path.write_text(
        "groups:\n  - name: a\n    rules:\n      - record: r\n        expr: rate(gateway_webhooks_total[20s])\n"
    )
    findings = lint_rules(
        [load_rule_file(path)], intervals={"gateway": 15.0}, job_of={"gateway_webhooks_total": "gateway"}
    )
    assert "4x the scrape interval of gateway (15s)" in findings[0].message


def test_types_for_duplicate_names_and_runbook() -> None:
    messages = _lint("wrong_types.yml")
    text = "\n".join(messages)
    assert "rate() over agent_confidence_score, a gauge" in text
    assert "deriv() over gateway_webhooks_total, a counter" in text
    assert "alert NoFor" in text and "no 'for:'" in text
    assert "runbook_url 'not a url' is not an absolute http(s) URL" in text
    assert "alert name already used at" in text
    assert "missing label(s) team" in text


def test_runbook_must_exist_in_runbooks_dir(tmp_path: Path) -> None:
    (tmp_path / "runbooks").mkdir()
    path = tmp_path / "r.yml"
    path.write_text(
        "groups:\n  - name: a\n    rules:\n      - alert: A\n        expr: up == 0\n        for: 1m\n"
        "        labels: {severity: x, team: y}\n"
        "        annotations: {summary: s, description: d, runbook_url: 'https://h.org/blob/main/runbooks/A.md'}\n"
    )
    policy = LintPolicy(runbooks_dir=tmp_path / "runbooks")
    [finding] = lint_rules([load_rule_file(path)], policy=policy)
    assert "points at runbooks/A.md, which does not exist" in finding.message
    (tmp_path / "runbooks" / "A.md").write_text("# A\n")
    assert lint_rules([load_rule_file(path)], policy=policy) == []


def test_watchdog_needs_no_for() -> None:
    path = Path(__file__).resolve().parents[2] / "prometheus" / "alerts" / "meta.yml"
    assert lint_rules([load_rule_file(path)]) == []


def test_metric_type_by_declaration_and_convention() -> None:
    assert metric_type("agent_confidence_score", TYPES) == "gauge"
    assert metric_type("h_seconds_bucket", TYPES) == "counter"
    assert metric_type("foo_total", {}) == "counter"
    assert metric_type("foo", {}) is None


def test_rule_groups_health() -> None:
    files = [load_rule_file(RULES / "recording_only.yml")]
    api = [
        {
            "name": "node-recording",
            "file": "/etc/prometheus/rules/recording_only.yml",
            "interval": 30,
            "evaluationTime": 0.01,
            "rules": [{"type": "recording", "name": "r1", "health": "ok", "lastError": ""}],
        }
    ]
    assert check_rule_groups(files, api) == []
    api[0]["rules"].append(
        {
            "type": "recording",
            "name": "r2",
            "health": "err",
            "lastError": "vector contains metrics with the same labelset",
        }
    )
    api[0]["evaluationTime"] = 31.0
    messages = [f.message for f in check_rule_groups(files, api)]
    assert any("longer than its 30s interval" in m for m in messages)
    assert "health err: vector contains metrics with the same labelset" in messages
    assert "not loaded by Prometheus" in check_rule_groups(files, [])[0].message
    # never evaluated: its rules say health unknown, which proves nothing (was passed as healthy)
    fresh = [
        {**api[0], "lastEvaluation": "0001-01-01T00:00:00Z", "rules": [{**api[0]["rules"][0], "health": "unknown"}]}
    ]
    [never] = check_rule_groups(files, fresh)
    assert never.message.startswith("loaded but never evaluated (interval 30s)")
    assert check_rule_groups(files, [{**fresh[0], "lastEvaluation": "2026-12-02T23:00:00Z", "evaluationTime": 0.1,
                                      "rules": [{**api[0]["rules"][0], "health": "ok"}]}]) == []  # fmt: skip


def test_rule_groups_match_time_scaled_copies() -> None:
    """With --time-scale Prometheus loads "NN-<name>" copies: they count as the original file's groups."""
    files = [load_rule_file(RULES / "recording_only.yml")]
    group = {"name": "node-recording", "interval": 0.6, "evaluationTime": 0.01, "rules": []}
    assert check_rule_groups(files, [{**group, "file": "/tmp/stack/config/rules/03-recording_only.yml"}]) == []
    wrong = check_rule_groups(files, [{**group, "file": "/tmp/stack/config/rules/03-other.yml"}])
    assert [f.message for f in wrong] == [
        "not loaded by Prometheus — is the file in rule_files, did the last reload fail?"
    ]


COMMUNITY = RULES / "community"
API = Path(__file__).resolve().parents[1] / "fixtures" / "api"


def _community(**kwargs: object) -> list[Finding]:
    files = [load_rule_file(COMMUNITY / "host-and-redis.yml"), load_rule_file(COMMUNITY / "operator-rules.yaml")]
    return lint_rules(files, **kwargs)  # type: ignore[arg-type]


def test_every_static_finding_has_a_rule_id_file_and_line() -> None:
    findings = _community(default_interval=15.0)
    assert findings
    for finding in findings:
        assert finding.rule in RULE_IDS, finding
        assert finding.file and finding.line, finding


def test_community_pack_fails_the_strict_default_policy() -> None:
    """Without a contract policy obs-tests stays strict: team label and runbook_url required."""
    rules = {f.rule for f in _community()}
    assert {"rule/required-label", "rule/required-annotation", "rule/for"} <= rules
    messages = [f.message for f in _community() if f.subject.startswith("alert RedisDown ")]
    assert any("missing label(s) team" in m for m in messages)
    assert any("missing annotation(s) runbook_url" in m for m in messages)


def test_alert_policy_comes_from_the_contract_policy() -> None:
    """Defect 1: the required labels and annotations are the contract's policy.alerts, not hard-coded."""
    policy = Policy.from_contract_data(
        {"alerts": {"required_labels": ["severity"], "required_annotations": ["summary", "description"]}}
    )
    rules = {f.rule for f in _community(policy=LintPolicy.from_policy(policy))}
    assert "rule/required-label" not in rules and "rule/required-annotation" not in rules
    stricter = Policy.from_contract_data({"alerts": {"required_labels": ["severity", "service"]}})
    [first, *_] = [f for f in _community(policy=LintPolicy.from_policy(stricter)) if f.rule == "rule/required-label"]
    assert "missing label(s) service" in first.message


@pytest.mark.parametrize(
    ("written", "flagged"),
    [
        pytest.param("", "no 'for:'", id="missing"),
        pytest.param("        for: 0m\n", "'for: 0' (the same as no 'for:')", id="0m"),
        pytest.param("        for: 0s\n", "'for: 0' (the same as no 'for:')", id="0s"),
        pytest.param("        for: 1m\n", None, id="1m"),
    ],
)
def test_for_zero_is_no_for(tmp_path: Path, written: str, flagged: str | None) -> None:
    """Defect 6: `for: 0m` fires on a single evaluation, exactly like a missing `for:`."""
    path = tmp_path / "r.yml"
    path.write_text(f"groups:\n  - name: a\n    rules:\n      - alert: A\n        expr: up == 0\n{written}")
    policy = LintPolicy(required_labels=(), required_annotations=())
    findings = lint_rules([load_rule_file(path)], policy=policy)
    if flagged is None:
        assert findings == []
    else:
        [finding] = findings
        assert finding.rule == "rule/for" and finding.line == 4
        assert finding.message.startswith(flagged) and "fires on a single evaluation" in finding.message


def test_min_for_from_the_policy(tmp_path: Path) -> None:
    path = tmp_path / "r.yml"
    path.write_text("groups:\n  - name: a\n    rules:\n      - alert: A\n        expr: up == 0\n        for: 1m\n")
    policy = LintPolicy.from_policy(
        Policy.from_contract_data({"alerts": {"required_labels": [], "required_annotations": [], "min_for": "5m"}})
    )
    [finding] = lint_rules([load_rule_file(path)], policy=policy)
    assert finding.rule == "rule/for"
    assert "for: 1m is shorter than the policy's minimum (policy.alerts.min_for: 5m)" in finding.message
    assert lint_rules([load_rule_file(path)], policy=replace(policy, min_for=60.0)) == []


def test_rate_windows_are_not_judged_without_a_known_interval() -> None:
    """Defect 7: no interval known -> no rate-window finding (never an assumed 1 s); 15 s -> [30s] flagged."""
    assert not [f for f in _community() if f.rule == "rule/rate-window"]
    [finding] = [f for f in _community(default_interval=15.0) if f.rule == "rule/rate-window"]
    assert finding.subject.startswith("alert HostCpuBusy (")
    assert 'rate(node_cpu_seconds_total{mode="idle"}[30s]): the window is shorter than 4x' in finding.message
    assert "(15s) — use at least [60s]" in finding.message


def test_rate_window_multiple_from_the_policy() -> None:
    loose = LintPolicy.from_policy(Policy.from_contract_data({"rate_window_multiple": 2}))
    assert not [f for f in _community(default_interval=15.0, policy=loose) if f.rule == "rule/rate-window"]
    strict = LintPolicy.from_policy(Policy.from_contract_data({"rate_window_multiple": 8}))
    windows = [f for f in _community(default_interval=15.0, policy=strict) if f.rule == "rule/rate-window"]
    assert {f.subject.split(" (")[0] for f in windows} >= {"alert HostCpuBusy", "alert RedisRejectingConnections"}
    assert all("8x the scrape interval" in f.message for f in windows)


def test_live_intervals_from_the_recorded_config_and_targets() -> None:
    config = json.loads((API / "status_config_foreign.json").read_text())["data"]["yaml"]
    targets = json.loads((API / "targets_foreign.json").read_text())["data"]["activeTargets"]
    by_job = {t["labels"]["job"]: parse_duration(t["scrapeInterval"]) for t in targets}
    jobs, default = live_scrape_intervals(config, by_job)
    assert jobs == {"prometheus": 15.0, "node": 30.0, "redis": 15.0, "postgres": 60.0}
    assert default == 15.0
    assert live_scrape_intervals("not: [valid", {"node": 30.0}) == ({"node": 30.0}, 60.0)


def test_group_findings_carry_ids() -> None:
    files = [load_rule_file(RULES / "recording_only.yml")]
    [missing] = check_rule_groups(files, [])
    assert (missing.rule, missing.line) == ("rule/group-health", 6)


def test_manifest_groups_are_found_by_name_on_the_live_prometheus() -> None:
    """The operator writes a PrometheusRule's groups to a file it names itself: match them by group name."""
    files = [load_rule_file(COMMUNITY / "operator-rules.yaml")]
    loaded = [
        {
            "name": name,
            "file": f"/etc/prometheus/rules/prometheus-rulefiles-0/monitoring-{name}-0a1b.yaml",
            "interval": 30,
            "evaluationTime": 0.001,
            "rules": [],
        }
        for name in ("redis-exporter", "prometheus-notifications")
    ]
    assert check_rule_groups(files, loaded) == []
    [missing] = check_rule_groups(files, loaded[:1])
    assert missing.subject == "group 'prometheus-notifications' (operator-rules.yaml)"
