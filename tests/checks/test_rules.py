from __future__ import annotations

from pathlib import Path

import pytest

from obs_tests.checks.rules import (
    LintPolicy,
    SelectorProbe,
    check_rule_groups,
    diagnose_selector,
    lint_rules,
    live_selectors,
    metric_type,
)
from obs_tests.promql import selectors
from obs_tests.rulefiles import load_rule_file

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


def test_live_selectors_skip_absent_and_alerts(tmp_path: Path) -> None:
    path = tmp_path / "r.yml"
    path.write_text(
        "groups:\n  - name: a\n    rules:\n      - alert: A\n"
        '        expr: absent(up{job="x"}) or ALERTS{alertname="B"} or foo > 1\n        for: 1m\n'
    )
    [rule] = load_rule_file(path).rules
    assert [s.metric for s in live_selectors(rule)] == ["foo"]


def _probe(expr: str, **kwargs: object) -> SelectorProbe:
    path_rule = load_rule_file(RULES / "short_window.yml").rules[0]
    return SelectorProbe(path_rule, selectors(expr)[0], **kwargs)  # type: ignore[arg-type]


def test_diagnose_missing_metric_suggests_closest() -> None:
    finding = diagnose_selector(
        _probe("gateway_webhook_total", matches=0, metric_exists=False), ["gateway_webhooks_total", "up"]
    )
    assert finding is not None
    assert "no metric gateway_webhook_total exists; closest existing: gateway_webhooks_total" in finding.message


def test_diagnose_label_matcher() -> None:
    probe = _probe(
        'gateway_webhooks_total{status="acepted"}',
        matches=0,
        matcher_matches={("status", "=", "acepted"): 0},
        label_values={"status": ["accepted", "error", "invalid"]},
    )
    finding = diagnose_selector(probe, [])
    assert finding is not None
    assert (
        'status="acepted" matches nothing (existing status values: "accepted", "error", "invalid")' in finding.message
    )


def test_diagnose_matching_selector() -> None:
    assert diagnose_selector(_probe("up", matches=3), []) is None


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


def test_rule_groups_match_time_scaled_copies() -> None:
    """With --time-scale Prometheus loads "NN-<name>" copies: they count as the original file's groups."""
    files = [load_rule_file(RULES / "recording_only.yml")]
    group = {"name": "node-recording", "interval": 0.6, "evaluationTime": 0.01, "rules": []}
    assert check_rule_groups(files, [{**group, "file": "/tmp/stack/config/rules/03-recording_only.yml"}]) == []
    wrong = check_rule_groups(files, [{**group, "file": "/tmp/stack/config/rules/03-other.yml"}])
    assert [f.message for f in wrong] == [
        "not loaded by Prometheus — is the file in rule_files, did the last reload fail?"
    ]
