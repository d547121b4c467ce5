from __future__ import annotations

import json
from pathlib import Path

from obs_tests.checks.coverage import MetricsCoverage, check_coverage, dashboard_references, rule_references
from obs_tests.config.contract import Metric

RULES = """
groups:
  - name: a
    rules:
      - alert: GatewayErrors
        expr: rate(gateway_validation_errors_total[1m]) / rate(gateway_webhooks_total[1m]) > 0.01
      - record: job:up:sum
        expr: sum by (job) (up)
---
groups:
  - name: b
    rules:
      - alert: Broken
        expr: sum(rate(x[5m])
      - alert: UsesRecorded
        expr: job:up:sum < 1
"""


def test_rule_references(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(RULES)
    refs, recorded, problems = rule_references([path])
    assert refs["gateway_webhooks_total"] == ["rule GatewayErrors (rules.yml)"]
    assert refs["job:up:sum"] == ["rule UsesRecorded (rules.yml)"]
    assert recorded == {"job:up:sum"}
    assert problems == ["rules.yml: rule Broken: unclosed left parenthesis"]


def test_dashboard_references_expand_grafana_variables(tmp_path: Path) -> None:
    dashboard = {
        "panels": [
            {"title": "Rate", "targets": [{"expr": 'sum(rate(gateway_webhooks_total{job="$job"}[$__rate_interval]))'}]},
            {
                "title": "Row",
                "panels": [{"title": "Inner", "targets": [{"expr": 'agent_confidence_score{agent_type=~"${agent}"}'}]}],
            },
        ]
    }
    (tmp_path / "d.json").write_text(json.dumps(dashboard))
    refs, problems = dashboard_references(tmp_path)
    assert refs == {
        "gateway_webhooks_total": ["panel 'Rate' (d.json)"],
        "agent_confidence_score": ["panel 'Inner' (d.json)"],
    }
    assert problems == []


def test_coverage_sets_and_findings() -> None:
    declared = {
        "gateway_webhooks_total": Metric("gateway_webhooks_total", "counter"),
        "lat_seconds": Metric("lat_seconds", "histogram"),
        "ghost_total": Metric("ghost_total", "counter"),
    }
    exported = {"gateway_webhooks_total", "lat_seconds_bucket", "lat_seconds_count", "lat_seconds_sum", "extra_total"}
    refs = {"gateway_webhooks_total": ["rule A"], "up": ["rule B"], "typo_total": ["rule C", "panel 'X' (d.json)"]}
    coverage = MetricsCoverage(declared, exported, refs)
    assert coverage.declared_missing == ["ghost_total"]
    assert coverage.referenced_missing == {"typo_total": ["rule C", "panel 'X' (d.json)"]}
    assert coverage.exported_unused == ["extra_total"]
    messages = [f"{f.subject}: {f.message}" for f in check_coverage(coverage, "obs.yaml")]
    assert messages[0].startswith("metric ghost_total: declared in obs.yaml but no target exports it")
    assert messages[1].startswith("metric typo_total: read by rule C, panel 'X' (d.json) but no target exports it")
    assert messages[1].endswith(
        "(closest exported: extra_total) — the rule reading it can never fire and the panel queries reading it "
        "return nothing"
    )
    # a metric only a panel reads does not claim an alert can never fire
    only_panel = MetricsCoverage({}, exported, {"gateway_webhook_total": ["panel 'Y' (d.json)"]})
    [finding] = check_coverage(only_panel)
    assert "closest exported: gateway_webhooks_total" in finding.message
    assert finding.message.endswith("— the panel queries reading it return nothing")
    assert coverage.to_json()["referenced_missing"] == {"typo_total": ["rule C", "panel 'X' (d.json)"]}


def test_a_metric_gone_in_an_outage_is_not_a_name_to_fix() -> None:
    """redis-server down: its metrics were stored, have no series now; a recording rule's output (it has a
    job label, so it is 'exported') is never offered as the closest name."""
    declared = {"redis_commands_total": Metric("redis_commands_total", "counter")}
    exported = {"job:redis_commands:rate5m", "redis_up"}
    refs = {"redis_connected_clients": ["rule RedisTooManyClients (redis.yml)"], "redis_command": ["rule X (x.yml)"]}
    coverage = MetricsCoverage(declared, exported, refs, {"job:redis_commands:rate5m"})
    stored = ["redis_commands_total", "redis_connected_clients", "redis_up"]
    declared_gone, typo, read_gone = check_coverage(coverage, "obs.yaml", stored)
    assert declared_gone.message.endswith("now, though Prometheus stored series of it (is its target, or what its "
                                          "exporter reads, down?)")  # fmt: skip
    assert "remove the declaration" not in declared_gone.message
    assert read_gone.message.endswith("down?) — the rule reading it can never fire until it is back")
    assert "closest exported" not in typo.message  # job:redis_commands:rate5m is recorded, not a candidate
