from __future__ import annotations

import yaml

from obs_tests.checks.exposition import (
    LintProblem,
    check_exposition,
    lint_findings,
    lint_ignore_patterns,
    parse_promtool,
    yaml_list,
)
from obs_tests.config.contract import Metric

PROMTOOL = """fooBar metric names should be written in 'snake_case' not 'camelCase'
redis_total_error_replies counter metrics should have "_total" suffix
error while linting: text format parsing error in line 3: expected float as value, got "x"
"""


def test_parse_promtool() -> None:
    problems = parse_promtool(PROMTOOL)
    assert problems[0] == LintProblem("fooBar", "metric names should be written in 'snake_case' not 'camelCase'")
    assert problems[2].metric == "(parse)"
    assert "line 3" in problems[2].problem


def test_lint_ignore() -> None:
    findings, ignored = lint_findings("redis/x:1", parse_promtool(PROMTOOL), [r"^redis_\S+ counter metrics"])
    assert [str(i) for i in ignored] == ['redis_total_error_replies counter metrics should have "_total" suffix']
    assert len(findings) == 2
    assert findings[0].message.startswith("promtool: fooBar: metric names should be written in 'snake_case'")


EXPOSITION = """# HELP gateway_webhooks_total x
# TYPE gateway_webhooks_total counter
gateway_webhooks_total{source="tv",status="accepted"} 3.0
# HELP agent_confidence_score x
# TYPE agent_confidence_score gauge
agent_confidence_score{agent_type="risk",pod="a"} 0.5
# HELP lat_seconds x
# TYPE lat_seconds histogram
lat_seconds_bucket{le="+Inf"} 1.0
lat_seconds_count 1.0
lat_seconds_sum 0.1
"""


def test_contract_metrics_match() -> None:
    metrics = [
        Metric("gateway_webhooks_total", "counter", labels=("source", "status")),
        Metric("lat_seconds", "histogram"),
        Metric("not_here_total", "counter"),
    ]
    assert check_exposition("gw", EXPOSITION, metrics) == []


def test_type_mismatch() -> None:
    [finding] = check_exposition(
        "gw", EXPOSITION, [Metric("gateway_webhooks_total", "gauge", labels=("source", "status"))]
    )
    assert finding.message == "gateway_webhooks_total is exposed as counter (# TYPE), the contract declares gauge"


def test_missing_and_unexpected_labels() -> None:
    missing = check_exposition("gw", EXPOSITION, [Metric("gateway_webhooks_total", "counter", labels=("source",))])
    assert "has label(s) the contract does not declare: status" in missing[0].message
    extra = check_exposition(
        "agents", EXPOSITION, [Metric("agent_confidence_score", "gauge", labels=("agent_type", "tenant"))]
    )
    messages = [f.message for f in extra]
    assert "agent_confidence_score lacks the declared label(s) tenant" in messages
    assert any("does not declare: pod" in m for m in messages)


def test_unparseable_exposition() -> None:
    [finding] = check_exposition("gw", "# TYPE x counter\nx_total{ 1\n", [Metric("x_total", "counter")])
    assert "the exposition does not parse" in finding.message


THIRD_PARTY = """node_cpu_guest_seconds counter metrics should have "_total" suffix
node_cpu_seconds counter metrics should have "_total" suffix
node_disk_io_time_weighted_seconds counter metrics should have "_total" suffix
node_disk_read_time_seconds counter metrics should have "_total" suffix
node_disk_write_time_seconds counter metrics should have "_total" suffix
node_scrape_collector_duration_ms use base unit "seconds" instead of "milliseconds"
"""


def test_a_third_party_problem_says_how_to_accept_it_in_the_contract() -> None:
    """Defect 11: a name the user cannot change points at the job's lint_ignore, with a regex to paste."""
    findings, _ = lint_findings("node/host:9100", parse_promtool(THIRD_PARTY))
    first = findings[0]
    assert first.rule == "exposition/promtool"
    assert first.message == (
        'promtool: node_cpu_guest_seconds: counter metrics should have "_total" suffix — rename it where it is '
        "exported; an exporter whose names you cannot change (node_exporter, redis_exporter …) is accepted in the "
        "contract's job 'node': lint_ignore: ['^node_cpu_guest_seconds counter metrics should have \"_total\" "
        "suffix$']"
    )
    pasted = yaml.safe_load(first.message.split("job 'node': ")[1])["lint_ignore"]
    assert lint_findings("node/host:9100", parse_promtool(THIRD_PARTY), pasted)[0] == findings[1:]
    assert [str(p) for p in lint_findings("node/h", parse_promtool(THIRD_PARTY), pasted)[1]] == [
        'node_cpu_guest_seconds counter metrics should have "_total" suffix'
    ]


def test_lint_ignore_patterns_accept_exactly_a_jobs_problems() -> None:
    problems = parse_promtool(THIRD_PARTY)
    patterns = lint_ignore_patterns(problems)
    assert patterns == [
        '^node_\\S+ counter metrics should have "_total" suffix$',
        '^node_scrape_collector_duration_ms use base unit "seconds" instead of "milliseconds"$',
    ]
    findings, ignored = lint_findings("node/h", problems, yaml.safe_load(f"x: {yaml_list(patterns)}")["x"])
    assert findings == [] and len(ignored) == len(problems)
    other = parse_promtool("node_foo metric names should be written in 'snake_case' not 'camelCase'\n")
    assert lint_findings("node/h", other, patterns)[0]  # a different problem is not accepted


def test_a_parse_error_cannot_be_accepted() -> None:
    [finding] = lint_findings("x/h", parse_promtool("error while linting: text format parsing error in line 3\n"))[0]
    assert "lint_ignore cannot accept this" in finding.message


def test_an_empty_label_value_is_no_label() -> None:
    """redis_exporter writes err="" when the last scrape had no error; Prometheus stores no err label then,
    so a contract written from the live series (without err) is right."""
    exposition = (
        "# HELP redis_exporter_last_scrape_error The last scrape error status.\n"
        "# TYPE redis_exporter_last_scrape_error gauge\n"
        'redis_exporter_last_scrape_error{err=""} 0\n'
    )
    assert check_exposition("redis", exposition, [Metric("redis_exporter_last_scrape_error", "gauge")]) == []
    failing = exposition.replace('err=""', 'err="dial tcp: connection refused"')
    [finding] = check_exposition("redis", failing, [Metric("redis_exporter_last_scrape_error", "gauge")])
    assert "does not declare: err" in finding.message
