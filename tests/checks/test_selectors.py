"""Live rule selectors: probing, diagnosis, expected_no_match (recorded answers, no server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from obs_tests.checks.selectors import (
    SelectorProbe,
    absent_selectors,
    check_no_match_declarations,
    declared_no_match,
    diagnose_selector,
    live_selectors,
    probe_rule,
    stale_no_match_finding,
)
from obs_tests.clients.prometheus import PrometheusClient, Sample
from obs_tests.config.contract import NoMatchExpected
from obs_tests.rules.promql import selectors
from obs_tests.rules.rulefiles import load_rule_file

RULES = Path(__file__).resolve().parents[1] / "fixtures" / "rules"
COMMUNITY = RULES / "community"


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


def test_a_metric_gone_now_is_not_called_a_typo_of_itself() -> None:
    """redis-server stopped: redis_connected_clients is a known name without current series. It was
    reported as 'no metric redis_connected_clients exists; closest existing: redis_connected_clients'."""
    finding = diagnose_selector(
        _probe("redis_connected_clients", matches=0, metric_exists=False), ["redis_connected_clients", "redis_up"]
    )
    assert finding is not None
    assert "redis_connected_clients has no series now, though Prometheus stored some of it" in finding.message
    assert "closest" not in finding.message and "typo" not in finding.message


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


def test_a_selector_written_twice_is_probed_once() -> None:
    """Defect 13: redis_memory_max_bytes appears twice in RedisMemoryNearLimit: one selector, one finding."""
    rule = next(r for r in load_rule_file(COMMUNITY / "host-and-redis.yml").rules if r.name == "RedisMemoryNearLimit")
    assert [s.text() for s in live_selectors(rule)] == ["redis_memory_used_bytes", "redis_memory_max_bytes"]
    fs = next(r for r in load_rule_file(COMMUNITY / "host-and-redis.yml").rules if r.name == "HostFilesystemAlmostFull")
    assert len(live_selectors(fs)) == 3  # avail, size, readonly: each once


def test_expected_no_match_declarations() -> None:
    """Defect 14: a selector may be declared to match nothing, with a reason; a stale entry is a finding."""
    files = [load_rule_file(COMMUNITY / "host-and-redis.yml"), load_rule_file(COMMUNITY / "operator-rules.yaml")]
    rules = {r.name: r for rf in files for r in rf.rules}
    declared = (
        NoMatchExpected("node_hwmon_temp_celsius", "a VM has no hardware sensors"),
        NoMatchExpected('node_systemd_unit_state{state="failed"}', "systemd collector off", "HostSystemdUnitFailed"),
        NoMatchExpected("node_hwmon_temp_celcius", "typo"),
        NoMatchExpected("redis_up", "wrong rule", "NoSuchRule"),
    )
    temp = rules["HostTemperatureHigh"]
    assert declared_no_match(temp, live_selectors(temp)[0], declared) == declared[0]
    unit = rules["HostSystemdUnitFailed"]
    assert declared_no_match(unit, live_selectors(unit)[0], declared) == declared[1]
    redis = rules["RedisDown"]
    assert declared_no_match(redis, live_selectors(redis)[0], declared) is None
    stale = check_no_match_declarations(files, declared)
    assert [(f.subject, f.rule) for f in stale] == [
        ("rules.expected_no_match[2]", "rule/expected-no-match"),
        ("rules.expected_no_match[3]", "rule/expected-no-match"),
    ]
    assert "closest: node_hwmon_temp_celsius" in stale[0].message
    assert "(there is no rule NoSuchRule)" in stale[1].message
    assert check_no_match_declarations(files, declared[:2]) == []
    assert stale_no_match_finding(0, declared[0], 3).severity == "warning"


def test_selector_findings_carry_ids() -> None:
    finding = diagnose_selector(_probe("gateway_webhook_total", matches=0, metric_exists=False), [])
    assert finding is not None and finding.rule == "rule/selector-no-match" and finding.line == 5


class RecordedSeries(PrometheusClient):
    """Answers the selector probes (``count(<selector>)``, ``count by (<label>) (<metric>)``) from a list of
    recorded series: a node_exporter without hwmon and systemd collectors, a redis_exporter without maxmemory."""

    SERIES: ClassVar[list[dict[str, str]]] = [
        {"__name__": "node_load5", "job": "node", "instance": "host:9100"},
        {"__name__": "node_systemd_unit_state", "job": "node", "instance": "host:9100", "state": "active"},
        {"__name__": "redis_up", "job": "redis", "instance": "redis:9121"},
        {"__name__": "redis_memory_used_bytes", "job": "redis", "instance": "redis:9121"},
    ]

    def __init__(self) -> None:
        super().__init__("http://recorded:9090")
        self.asked: list[str] = []

    def _matching(self, text: str) -> list[dict[str, str]]:
        [sel] = selectors(text)
        out = []
        for series in self.SERIES:
            if sel.metric and series["__name__"] != sel.metric:
                continue
            if all((series.get(k, "") == v) == (op == "=") for k, op, v in sel.matchers):
                out.append(series)
        return out

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        self.asked.append(expr)
        if expr.startswith("count by ("):
            label, _, rest = expr.removeprefix("count by (").partition(") (")
            values = sorted({s.get(label, "") for s in self._matching(rest.removesuffix(")"))})
            return [Sample({label: v}, 1.0, 0.0) for v in values]
        matched = self._matching(expr.removeprefix("count(").removesuffix(")"))
        return [Sample({}, float(len(matched)), 0.0)] if matched else []


def _rule(name: str) -> Any:
    return next(r for r in load_rule_file(COMMUNITY / "host-and-redis.yml").rules if r.name == name)


def test_probe_finds_a_missing_metric_and_a_matcher_that_excludes_everything() -> None:
    prom = RecordedSeries()
    names = sorted({s["__name__"] for s in prom.SERIES})
    [missing] = probe_rule(prom, _rule("HostTemperatureHigh"), names).findings
    assert missing.rule == "rule/selector-no-match"
    assert "no metric node_hwmon_temp_celsius exists" in missing.message
    [matcher] = probe_rule(prom, _rule("HostSystemdUnitFailed"), names).findings
    assert 'state="failed" matches nothing (existing state values: "active")' in matcher.message
    assert probe_rule(prom, _rule("RedisDown"), names).findings == []


def test_probe_reports_a_selector_written_twice_once() -> None:
    """Defect 13 at the probe: RedisMemoryNearLimit reads redis_memory_max_bytes twice."""
    prom = RecordedSeries()
    findings = probe_rule(prom, _rule("RedisMemoryNearLimit"), ["redis_memory_used_bytes"]).findings
    assert [f.message.split(":")[0] for f in findings] == ["selector redis_memory_max_bytes matches no series"]
    assert prom.asked.count("count(redis_memory_max_bytes)") == 1


def test_probe_accepts_what_the_contract_declares_and_flags_a_declaration_that_matches() -> None:
    """Defect 14: a declared selector is reported with its reason, not failed; one that matches now warns."""
    prom = RecordedSeries()
    declared = (
        NoMatchExpected("node_hwmon_temp_celsius", "a VM has no hardware sensors"),
        NoMatchExpected("redis_up", "copied from another stack"),
    )
    result = probe_rule(prom, _rule("HostTemperatureHigh"), [], declared)
    assert result.findings == []
    assert [(s.text(), d.reason) for s, d in result.declared] == [
        ("node_hwmon_temp_celsius", "a VM has no hardware sensors")
    ]
    [stale] = probe_rule(prom, _rule("RedisDown"), [], declared).findings
    assert (stale.severity, stale.rule, stale.subject) == (
        "warning",
        "rule/expected-no-match",
        "rules.expected_no_match[1]",
    )
    assert "matches 1 series now — remove the declaration" in stale.message


def test_an_absent_alert_on_a_misspelt_job_is_caught(tmp_path: Path) -> None:
    """absent(…{job="node-exporter"}) on a stack whose job is node fires forever: its selectors were skipped
    ('0 selector(s) match live series'). Now: absent() true now is a warning with the diagnosis."""
    path = tmp_path / "absent.yml"
    path.write_text(
        "groups:\n  - name: g\n    rules:\n"
        '      - alert: NodeGone\n        expr: absent(node_load5{job="node-exporter"})\n        for: 5m\n'
        '      - alert: NodeGoneRight\n        expr: absent(node_load5{job="node"})\n        for: 5m\n'
    )
    wrong, right = load_rule_file(path).rules
    assert [s.text() for s in absent_selectors(wrong)] == ['node_load5{job="node-exporter"}']
    prom = RecordedSeries()
    result = probe_rule(prom, wrong, ["node_load5"])
    [finding] = result.findings
    assert (finding.rule, finding.severity, finding.line) == ("rule/absent-true", "warning", 5)
    assert finding.message.startswith(
        'absent(node_load5{job="node-exporter"}) is true now, so the alert fires now: job="node-exporter" matches '
        'nothing (existing job values: "node")'
    )
    assert [s.text() for s in result.absent] == ['node_load5{job="node-exporter"}']
    assert probe_rule(prom, right, ["node_load5"]).findings == []
