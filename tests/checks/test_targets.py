from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from obs_tests.checks.targets import (
    MetricGroups,
    check_exporter_up,
    check_job_targets,
    check_metric_present,
    exporter_up_query,
    metric_groups_query,
    summarise_job,
)
from obs_tests.clients.prometheus import PrometheusClient, Sample, Target
from obs_tests.config.contract import Job, Metric

API = Path(__file__).resolve().parents[1] / "fixtures" / "api"


class RecordedPrometheus(PrometheusClient):
    """PrometheusClient whose API calls answer from a recorded response."""

    def __init__(self, recorded: dict[str, Any]) -> None:
        super().__init__("http://recorded:9090")
        self.recorded = recorded

    def api(self, path: str, params: Any = None, *, timeout: float | None = None, post: bool = False) -> Any:
        return self.recorded[path]["data"]


def _targets() -> list[Target]:
    recorded = json.loads((API / "targets_gateway_down.json").read_text())
    return RecordedPrometheus({"targets": recorded}).targets()


NOW = datetime.fromisoformat("2026-11-22T10:00:03.123+00:00").timestamp()


def test_recorded_targets_are_parsed() -> None:
    gateway = _targets()[0]
    assert (gateway.job, gateway.instance, gateway.up) == ("gateway", "127.0.0.1:40123", False)
    assert gateway.scrape_interval == 1.0
    assert gateway.last_scrape == pytest.approx(NOW - 2.0, abs=0.01)


def test_all_targets_up_passes() -> None:
    assert check_job_targets(Job("agents", 2), _targets(), NOW) == []
    assert summarise_job(Job("agents", 2), _targets()) == "agents: 2/2 targets up (127.0.0.1:40200, 127.0.0.1:40201)"


def test_down_target_is_named_with_its_error() -> None:
    [finding] = check_job_targets(Job("gateway", 1), _targets(), NOW)
    assert finding.subject == "job gateway"
    assert "target 127.0.0.1:40123 (service=gateway) is DOWN" in finding.message
    assert "connection refused" in finding.message
    assert "last scrape 2.0s ago" in finding.message


def test_missing_targets_are_counted() -> None:
    [finding] = check_job_targets(Job("agents", 4), _targets(), NOW)
    assert finding.message.startswith("2 targets, the contract expects 4: 127.0.0.1:40200 (service=agent-momentum)")


def test_unknown_job_suggests_closest() -> None:
    [finding] = check_job_targets(Job("agent", 1), _targets(), NOW)
    assert "no target for this job" in finding.message
    assert "(did you mean 'agents'?)" in finding.message


def _groups(*groups: tuple[dict[str, str], float]) -> MetricGroups:
    return MetricGroups(tuple(Sample(labels, value, 0.0) for labels, value in groups))


def test_metric_present_passes() -> None:
    metric = Metric("gateway_webhooks_total", "counter", job="gateway", labels=("source", "status"))
    groups = _groups(
        ({"job": "gateway", "source": "tradingview", "status": "accepted"}, 1),
        ({"job": "gateway", "source": "tradingview", "status": "invalid"}, 1),
    )
    assert check_metric_present(metric, groups) == []
    assert groups.series == 2
    assert metric_groups_query(metric) == 'count by (job, source, status) ({__name__="gateway_webhooks_total"})'


def test_histogram_is_queried_by_its_count() -> None:
    metric = Metric("gateway_processing_duration_seconds", "histogram")
    assert "gateway_processing_duration_seconds_count" in metric_groups_query(metric)


def test_missing_metric_suggests_closest_exported_names() -> None:
    metric = Metric("gateway_webhook_total", "counter", job="gateway")
    [finding] = check_metric_present(metric, _groups(), ["gateway_webhooks_total", "up", "agent_x"])
    assert "Prometheus has no series of gateway_webhook_total by job 'gateway'" in finding.message
    assert "closest exported names: gateway_webhooks_total" in finding.message


def test_a_metric_gone_now_says_so_not_closest_to_itself() -> None:
    metric = Metric("redis_commands_total", "counter", job="redis")
    [finding] = check_metric_present(metric, _groups(), ["redis_commands_total", "redis_up"])
    assert "no series of redis_commands_total by job 'redis' now, though it stored some before" in finding.message
    assert "closest" not in finding.message


def test_missing_label_is_reported_with_an_example() -> None:
    metric = Metric("agent_messages_processed_total", "counter", labels=("agent_type",))
    groups = _groups(({"job": "agents", "agent_type": "risk"}, 1), ({"job": "agents"}, 2))
    [finding] = check_metric_present(metric, groups)
    assert "2 of 3 series lack the declared label 'agent_type'" in finding.message
    assert 'agent_messages_processed_total{job="agents"}' in finding.message


def test_metric_from_the_wrong_job() -> None:
    metric = Metric("redis_up", "gauge", job="redis")
    [finding] = check_metric_present(metric, _groups(({"job": "nats"}, 1)))
    assert finding.message == "expected from job 'redis' but exported by nats"


def test_an_exporter_that_cannot_read_its_server_is_named() -> None:
    """redis-server stopped, redis_exporter up: the target is up, but redis_up = 0 says why every redis_*
    metric is gone (it was not named at all: 'redis: 1/1 targets up')."""
    job = Job("redis", instances=1)
    down = [Sample({"__name__": "redis_up", "job": "redis", "instance": "127.0.0.1:9121"}, 0.0, 0.0)]
    [finding] = check_exporter_up(job, down)
    assert finding.message.startswith("target 127.0.0.1:9121 is up, but its exporter reports redis_up = 0")
    assert check_exporter_up(job, []) == []
    assert summarise_job(job, [], down).endswith("; redis_up = 0 on 127.0.0.1:9121")
    assert exporter_up_query("redis") == '{__name__=~"[a-z][a-z0-9]*_up", job="redis"} == 0'
